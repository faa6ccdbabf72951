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

  // One line per group of runs (mean ± std) instead of one per run;
  // remembered per browser, like the smoothing weight.
  const BANDS_KEY = "advmix.compare.bands";
  let bands = advmix.storedFlag(BANDS_KEY);
  let last = null; // the series last fetched, redrawn when the toggle flips

  // Each run's group, as the results table groups them: by its "Group by"
  // keys (never the seed, which is what the mean is over) and never across
  // datasets or ε. A key's values come from the config diff; a key missing
  // there has one value for all runs, so it splits nothing.
  function groupsOfRuns() {
    const diff = new Map();
    document.querySelectorAll("#config-diff tbody tr").forEach((row) => {
      const key = row.querySelector("th code");
      if (key) diff.set(key.textContent.trim(), [...row.querySelectorAll("td")].map((td) => td.textContent.trim()));
    });
    const by = [...document.querySelectorAll('#compare-results input[name="by"]:checked')].map((i) => i.value);
    const keys = [...new Set([...by, "dataset", "epsilon"])].filter((k) => k !== "seed" && diff.has(k));
    const groups = new Map();
    ids.forEach((id, i) => {
      const values = keys.map((k) => diff.get(k)[i] ?? "—");
      const key = JSON.stringify(values);
      if (!groups.has(key)) {
        const name = keys.length ? keys.map((k, j) => `${k === "epsilon" ? "ε" : k}=${values[j]}`).join(" ") : "all runs";
        // The first run's colour, so its swatch in the table says which.
        groups.set(key, { name, color: colour(i), members: [] });
      }
      groups.get(key).members.push(i);
    });
    return [...groups.values()];
  }

  // Mean line per group; with two runs or more, a band of ± the sample
  // standard deviation (advmix.meanStd) at each epoch some run reached.
  function grouped(list, group, n, band) {
    const stats = advmix.meanStd(group.members.map((i) => list[i].points));
    return {
      points: stats.map(([x, mean]) => [x, mean]),
      band: band && n > 1 ? stats.map(([x, mean, std]) => [x, mean - std, mean + std]) : undefined,
    };
  }

  // Published results for the runs' threat model, as dashed lines.
  const references = JSON.parse(box.dataset.references || "[]");
  const accChart = advmix.lineChart(document.getElementById("compare-acc"), {
    title: "Test accuracy: PGD, and clean faded",
    xLabel: "epoch",
    yLabel: "accuracy",
    percent: true,
    series: [],
    references,
    bandsToggle: {
      id: "compare-bands",
      storageKey: BANDS_KEY,
      onChange: (on) => {
        bands = on;
        if (last) drawAcc(last.pgd, last.clean);
      },
    },
  });
  const lossChart = advmix.lineChart(document.getElementById("compare-loss"), {
    title: "Training loss",
    xLabel: "epoch",
    yLabel: "loss",
    allowLog: true,
    smoothing: true,
    series: [],
  });

  const autoattackX = (s, aa) => (aa.epoch != null ? aa.epoch : s.points[s.points.length - 1][0]);

  function drawAcc(pgd, clean) {
    if (bands) {
      // Only runs with points count towards n, as only they are averaged.
      const counted = (list, g) => g.members.filter((i) => list[i].points.length > 0).length;
      const groups = groupsOfRuns().filter((g) => counted(pgd, g) + counted(clean, g) > 0);
      accChart.setSeries([
        ...groups.map((g) => {
          const n = counted(pgd, g);
          return { label: `${g.name} (n=${n}) · PGD`, color: g.color, ...grouped(pgd, g, n, true) };
        }),
        // The clean mean faded, without a band: the PGD curves are the point.
        ...groups.map((g) => {
          const n = counted(clean, g);
          return { label: `${g.name} (n=${n}) · clean`, color: `${g.color}80`, ...grouped(clean, g, n, false) };
        }),
      ]);
      accChart.setMarkers(
        groups.flatMap((g) =>
          g.members
            .map((i) => [pgd[i], autoattack.get(pgd[i].run_id)])
            .filter(([s, aa]) => aa && (aa.epoch != null || s.points.length > 0))
            .map(([s, aa]) => ({ x: autoattackX(s, aa), y: aa.y, label: `${g.name} · AutoAttack`, color: g.color })),
        ),
      );
      return;
    }
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
          x: autoattackX(s, aa),
          y: aa.y,
          label: `${s.name} · AutoAttack`,
          color: colour(i),
        })),
    );
  }

  async function draw() {
    try {
      const [pgd, clean, loss] = await Promise.all([series("test_pgd_acc"), series("test_clean_acc"), series("train_loss")]);
      last = { pgd, clean };
      drawAcc(pgd, clean);
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
