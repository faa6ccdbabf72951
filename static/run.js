/*
 * The run page (/runs/{id}): charts, live updates, the log tail and the
 * sample grid picker. The page is complete without this script; it draws
 * the charts and keeps everything current from the run's event stream.
 *
 * Parts of the page that the server renders (header and actions, epoch
 * table, checkpoints, samples) are refreshed by fetching the page again and
 * swapping those sections, so the markup has one source: templates/run.html.
 * Charts and the epoch count follow each `epoch` event directly.
 */
(function () {
  "use strict";

  const page = document.getElementById("run-page");
  const advmix = window.advmix;
  if (!page || !advmix || !advmix.lineChart) return;
  page.classList.add("has-js");

  const run = JSON.parse(page.dataset.run);
  const runId = run.id;
  const pageUrl = `/runs/${runId}`;
  const LIVE = new Set(["queued", "running"]);
  const LOG_POLL_MS = 2000;
  const EPOCH_FIELDS = [
    "epoch", "lr", "train_loss", "train_acc", "train_clean_loss", "train_clean_acc", "test_clean_loss",
    "test_clean_acc", "test_pgd_loss", "test_pgd_acc", "epoch_seconds", "images_per_second",
  ];

  let metrics = run.metrics.slice().sort((a, b) => a.epoch - b.epoch);
  let status = run.status;
  let autoattack = run.autoattack_acc;
  let autoattackEpoch = run.autoattack_epoch;
  let epochsDone = run.epochs_done;

  // ---- charts ----------------------------------------------------------------

  const points = (key) => metrics.map((m) => [m.epoch, m[key]]);
  const lastEpoch = () => (metrics.length ? metrics[metrics.length - 1].epoch : null);

  const accSeries = () => [
    { label: "clean", points: points("test_clean_acc") },
    { label: "PGD", points: points("test_pgd_acc") },
  ];
  const accMarkers = () =>
    autoattack == null || lastEpoch() == null
      ? []
      : [{ x: autoattackEpoch == null ? lastEpoch() : autoattackEpoch, y: autoattack, label: "AutoAttack" }];
  const lossSeries = () => [
    { label: "train (method inputs)", points: points("train_loss") },
    { label: "train (clean)", points: points("train_clean_loss") },
  ];
  const lrSeries = () => [{ label: "learning rate", points: points("lr") }];
  const speedSeries = () => [{ label: "images/s", points: points("images_per_second") }];

  const charts = {
    acc: advmix.lineChart(document.getElementById("chart-acc"), {
      title: "Test accuracy", xLabel: "epoch", yLabel: "accuracy",
      series: accSeries(), markers: accMarkers(), percent: true,
    }),
    loss: advmix.lineChart(document.getElementById("chart-loss"), {
      title: "Training loss", xLabel: "epoch", yLabel: "loss",
      series: lossSeries(), allowLog: true, smoothing: true,
    }),
    lr: advmix.lineChart(document.getElementById("chart-lr"), {
      title: "Learning rate", xLabel: "epoch", yLabel: "lr", series: lrSeries(), allowLog: true,
    }),
    speed: advmix.lineChart(document.getElementById("chart-speed"), {
      title: "Throughput", xLabel: "epoch", yLabel: "images/s", series: speedSeries(),
    }),
  };

  function redraw() {
    charts.acc.setSeries(accSeries());
    charts.acc.setMarkers(accMarkers());
    charts.loss.setSeries(lossSeries());
    charts.lr.setSeries(lrSeries());
    charts.speed.setSeries(speedSeries());
  }

  function showEpochs() {
    const done = Math.max(epochsDone, lastEpoch() || 0);
    const text = document.getElementById("epochs-done");
    if (text) text.textContent = `${done} / ${run.epochs}`;
    const bar = document.getElementById("epochs-progress");
    if (bar) bar.value = done;
  }

  function addEpoch(event) {
    const row = {};
    for (const key of EPOCH_FIELDS) row[key] = event[key];
    const at = metrics.findIndex((m) => m.epoch === row.epoch);
    if (at >= 0) metrics[at] = row;
    else {
      metrics.push(row);
      metrics.sort((a, b) => a.epoch - b.epoch);
    }
    epochsDone = Math.max(epochsDone, row.epoch);
    redraw();
    showEpochs();
  }

  async function reloadMetrics() {
    try {
      const fetched = await advmix.fetchJson(`/api/v1/runs/${runId}/metrics`);
      // Merged, not replaced: an epoch event may have arrived meanwhile.
      const byEpoch = new Map(fetched.map((m) => [m.epoch, m]));
      const newest = fetched.reduce((n, m) => Math.max(n, m.epoch), 0);
      for (const m of metrics) if (m.epoch > newest) byEpoch.set(m.epoch, m);
      metrics = Array.from(byEpoch.values()).sort((a, b) => a.epoch - b.epoch);
      const summary = await advmix.fetchJson(`/api/v1/runs/${runId}`);
      autoattack = summary.autoattack_acc;
      autoattackEpoch = summary.autoattack_epoch;
      epochsDone = summary.epochs_done;
      redraw();
      showEpochs();
    } catch (e) {
      // The next event or reconnect tries again.
    }
  }

  // ---- server-rendered sections ---------------------------------------------

  const pending = new Set();
  let refreshTimer = null;
  let refreshing = false;

  /** Refetches the page soon and swaps the sections with these ids. */
  function refresh(ids, delay) {
    ids.forEach((id) => pending.add(id));
    if (refreshTimer != null) return;
    refreshTimer = setTimeout(doRefresh, delay == null ? 150 : delay);
  }

  async function doRefresh() {
    refreshTimer = null;
    if (refreshing) {
      refresh([], 300);
      return;
    }
    const ids = Array.from(pending);
    pending.clear();
    if (!ids.length) return;
    refreshing = true;
    try {
      const response = await fetch(pageUrl, { headers: { Accept: "text/html" } });
      if (response.status === 404) {
        // Deleted elsewhere: the run page no longer has anything to show.
        window.location.assign("/");
        return;
      }
      if (!response.ok) throw new Error(String(response.status));
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const id of ids) swap(id, fresh);
      const header = document.getElementById("run-header");
      if (header) setStatus(header.dataset.status);
    } catch (e) {
      ids.forEach((id) => pending.add(id));
      refresh([], 2000);
    } finally {
      refreshing = false;
    }
  }

  function swap(id, fresh) {
    const old = document.getElementById(id);
    const replacement = fresh.getElementById(id);
    if (!old || !replacement) return;
    // An older grid the reader picked stays; the picker gains the new epoch on reload.
    if (id === "run-samples" && !viewingLatestSample()) return;
    // Keep what the reader opened: the delete confirmation, the command line.
    const open = new Set(Array.from(old.querySelectorAll("details[open]"), (d) => d.className));
    const node = document.importNode(replacement, true);
    node.querySelectorAll("details").forEach((d) => {
      if (open.has(d.className)) d.open = true;
    });
    old.replaceWith(node);
    localizeTimes(node);
  }

  function setStatus(next) {
    if (!next || next === status) return;
    const wasLive = LIVE.has(status);
    status = next;
    // "Stopping…" and the like described the moment of the action, not now.
    const notice = document.getElementById("run-notice");
    if (notice && !notice.classList.contains("notice-error")) notice.remove();
    if (wasLive && !LIVE.has(status)) {
      // A stop or failure writes a last checkpoint and log lines.
      refresh(["run-checkpoints", "run-samples", "run-metrics"]);
      pollLog();
    }
    if (LIVE.has(status)) scheduleLog();
  }

  // The trainer's last event arrives just before the server records how the
  // run ended, so look again until the status has settled.
  let settleTries = 0;
  function settle() {
    settleTries = 20;
    const again = () => {
      if (!LIVE.has(status) || settleTries-- <= 0) return;
      refresh(["run-header"], 0);
      setTimeout(again, 1000);
    };
    setTimeout(again, 300);
  }

  // ---- live events -------------------------------------------------------------

  function onEvent(message) {
    const event = message && message.event;
    if (!event || message.run_id !== runId) return;
    // An epoch that this page never saw (between rendering and subscribing,
    // or skipped by a lagging stream): fetch them all.
    const seen = lastEpoch() || 0;
    if (typeof event.epoch === "number" && event.epoch > seen + (event.type === "epoch" ? 1 : 0)) reloadMetrics();
    switch (event.type) {
      case "epoch":
        addEpoch(event);
        refresh(["run-header", "run-metrics"], 500);
        // The trainer logs the epoch's line right after the event.
        setTimeout(pollLog, 300);
        break;
      case "checkpoint":
        refresh(["run-checkpoints", "run-header"]);
        break;
      case "samples":
        refresh(["run-samples"]);
        break;
      case "started":
        refresh(["run-header"]);
        scheduleLog();
        break;
      case "finished":
      case "failed":
      case "stopped":
        reloadMetrics();
        refresh(["run-header", "run-checkpoints", "run-samples", "run-metrics"]);
        settle();
        break;
      case "eval_progress":
        refresh(["run-evals"]);
        break;
      case "eval":
        reloadMetrics();
        refresh(["run-header", "run-evals"]);
        break;
      default:
        // `status` and anything newer: the header shows the run as it is.
        refresh(["run-header"]);
    }
  }

  advmix.live(`/api/v1/runs/${runId}/events`, onEvent, {
    onReconnect() {
      reloadMetrics();
      refresh(["run-header", "run-metrics", "run-checkpoints", "run-samples", "run-evals"]);
      pollLog();
    },
  });

  // ---- log tail ----------------------------------------------------------------

  const log = () => document.getElementById("log");
  let logTimer = null;

  function atBottom(el) {
    return el.scrollHeight - el.scrollTop - el.clientHeight < 8;
  }

  async function pollLog() {
    const el = log();
    if (!el) return;
    try {
      // The server cuts the tail at a whole line, and answers empty (not
      // an error) before the trainer has written anything.
      const response = await fetch(`/runs/${runId}/log.txt`);
      if (!response.ok) return;
      const text = await response.text();
      if (text === "" || text === el.textContent) return;
      const follow = el.hidden || atBottom(el);
      el.textContent = text;
      el.hidden = false;
      const empty = document.getElementById("log-empty");
      if (empty) empty.hidden = true;
      if (follow) el.scrollTop = el.scrollHeight;
    } catch (e) {
      // Try again on the next tick.
    }
  }

  function scheduleLog() {
    if (logTimer != null) return;
    const tick = async () => {
      logTimer = null;
      if (!document.hidden) await pollLog();
      if (LIVE.has(status)) logTimer = setTimeout(tick, LOG_POLL_MS);
    };
    logTimer = setTimeout(tick, status === "running" ? 0 : LOG_POLL_MS);
  }

  const initialLog = log();
  if (initialLog) initialLog.scrollTop = initialLog.scrollHeight;
  if (LIVE.has(status)) scheduleLog();

  // ---- sample grids --------------------------------------------------------------

  function viewingLatestSample() {
    const select = document.getElementById("sample-epoch");
    return !select || select.selectedIndex === select.options.length - 1;
  }

  page.addEventListener("change", (e) => {
    const select = e.target;
    if (!(select instanceof HTMLSelectElement) || select.id !== "sample-epoch") return;
    const option = select.options[select.selectedIndex];
    const image = document.getElementById("sample-image");
    const caption = document.getElementById("sample-caption-epoch");
    if (!option || !image) return;
    image.src = option.dataset.url;
    image.alt = image.alt.replace(/epoch \d+/, `epoch ${option.value}`);
    if (caption) caption.textContent = `Epoch ${option.value}.`;
    const url = new URL(window.location.href);
    url.searchParams.set("samples", option.value);
    url.searchParams.delete("notice");
    url.searchParams.delete("kind");
    window.history.replaceState(null, "", url);
  });

  // ---- small things -----------------------------------------------------------------

  function localizeTimes(root) {
    root.querySelectorAll("time[datetime]").forEach((t) => {
      const date = new Date(t.getAttribute("datetime"));
      if (!Number.isNaN(date.getTime())) {
        t.title = t.getAttribute("datetime");
        t.textContent = date.toLocaleString();
      }
    });
  }
  localizeTimes(page);

  // A notice belongs to the action just taken, not to a later reload.
  const url = new URL(window.location.href);
  if (url.searchParams.has("notice")) {
    url.searchParams.delete("notice");
    url.searchParams.delete("kind");
    window.history.replaceState(null, "", url);
  }
})();
