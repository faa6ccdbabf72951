// The Compare page's charts: each run's curves overlaid, one colour per run
// (the swatches in the results table say which), from the server's
// downsampled /api/v1/series. Curves of runs still training follow their
// epochs live.
(() => {
  "use strict";

  const box = document.getElementById("compare-charts");
  if (!box || !window.advmix || !advmix.lineChart) return;

  const ids = box.dataset.runs.split(",").filter(Boolean).map(Number);
  const colour = (i) => advmix.palette(i);
  const MAX_POINTS = 400;

  document.querySelectorAll("#compare-metrics tbody tr[data-run-id]").forEach((row) => {
    const i = ids.indexOf(Number(row.dataset.runId));
    const swatch = row.querySelector(".swatch");
    if (swatch && i >= 0) swatch.style.background = colour(i);
  });

  // AutoAttack accuracy, from the metrics table, as a marker per run at the
  // epoch it was measured (the last one when the epoch is unknown).
  const autoattack = new Map();
  document.querySelectorAll("#compare-metrics tbody tr[data-autoattack]").forEach((row) => {
    const epoch = row.dataset.autoattackEpoch;
    autoattack.set(Number(row.dataset.runId), { y: Number(row.dataset.autoattack), epoch: epoch ? Number(epoch) : null });
  });

  const fetchJson = advmix.fetchJson;

  const series = (metric) =>
    fetchJson(`/api/v1/series?runs=${ids.join(",")}&metric=${metric}&max_points=${MAX_POINTS}`).then((body) => {
      // The response keeps the order asked for, but match by id to be sure
      // each run keeps its colour.
      const byId = new Map((body.series || []).map((s) => [s.run_id, s]));
      return ids.map((id) => byId.get(id) || { run_id: id, name: `#${id}`, points: [] });
    });

  // Published results for the runs' threat model, as dashed lines.
  const references = JSON.parse(box.dataset.references || "[]");
  const accChart = advmix.lineChart(document.getElementById("compare-acc"), {
    title: "Test accuracy: PGD, and clean faded",
    xLabel: "epoch",
    yLabel: "accuracy",
    percent: true,
    series: [],
    references,
  });
  const lossChart = advmix.lineChart(document.getElementById("compare-loss"), {
    title: "Training loss",
    xLabel: "epoch",
    yLabel: "loss",
    allowLog: true,
    smoothing: true,
    series: [],
  });

  async function draw() {
    try {
      const [pgd, clean, loss] = await Promise.all([series("test_pgd_acc"), series("test_clean_acc"), series("train_loss")]);
      accChart.setSeries([
        ...pgd.map((s, i) => ({ label: `${s.name} · PGD`, points: s.points, color: colour(i) })),
        // The same hue at half opacity: the chart draws solid lines only.
        ...clean.map((s, i) => ({ label: `${s.name} · clean`, points: s.points, color: `${colour(i)}80` })),
      ]);
      accChart.setMarkers(
        pgd
          .map((s, i) => [s, i, autoattack.get(s.run_id)])
          .filter(([s, , aa]) => aa && (aa.epoch != null || s.points.length > 0))
          .map(([s, i, aa]) => ({
            x: aa.epoch != null ? aa.epoch : s.points[s.points.length - 1][0],
            y: aa.y,
            label: `${s.name} · AutoAttack`,
            color: colour(i),
          })),
      );
      lossChart.setSeries(loss.map((s, i) => ({ label: s.name, points: s.points, color: colour(i) })));
    } catch (err) {
      box.insertAdjacentHTML("beforeend", '<p class="notice" role="status">The curves could not be loaded; reload to try again.</p>');
      console.warn("advmix: series", err);
    }
  }
  draw();

  // Redraw at most twice a second however many compared runs report epochs.
  let pending = null;
  const redrawSoon = () => {
    if (!pending) pending = setTimeout(() => { pending = null; draw(); }, 500);
  };
  if (advmix.live) {
    const watched = new Set(ids);
    advmix.live(
      "/api/v1/events",
      (m) => {
        if (m && watched.has(Number(m.run_id)) && m.event && m.event.type === "epoch") redrawSoon();
      },
      { onReconnect: redrawSoon },
    );
  }
})();
