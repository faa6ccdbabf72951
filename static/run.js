/*
 * The run page (/runs/{id}): charts, live updates, the log tail and the
 * sample grid picker. The page is complete without this script; it draws
 * the charts and keeps everything current from the run's event stream.
 *
 * Everything follows the run's event stream without reloading: `run`
 * messages (epochs into the charts and the epoch table), `status` messages
 * (the header, its facts and actions), `eval_status` messages, and on a
 * checkpoint, evaluation or sample event the tables' JSON, read once per
 * burst. After a dropped stream (a server restart) it reads the run again
 * and catches up. No timer polls the server.
 */
(function () {
  "use strict";

  const page = document.getElementById("run-page");
  const advmix = window.advmix;
  if (!page || !advmix || !advmix.lineChart) return;
  page.classList.add("has-js");

  const run = JSON.parse(page.dataset.run);
  const runId = run.id;
  const LIVE = new Set(["queued", "running"]);
  // The metric names come from the server (protocol's EpochMetrics::FIELDS).
  const EPOCH_FIELDS = run.metric_fields;

  let metrics = run.metrics.slice().sort((a, b) => a.epoch - b.epoch);
  let status = run.status;
  let autoattack = run.autoattack_acc;
  let autoattackEpoch = run.autoattack_epoch;
  let epochsDone = run.epochs_done;
  const secondsBefore = run.seconds_before || 0;
  let finalShown = false;

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
    // The header follows the epochs: the newest accuracies ("Latest") and the
    // best so far, the earlier epoch winning a tie as on the server.
    if (row.epoch === lastEpoch()) {
      stat("stat-clean", row.test_clean_acc);
      stat("stat-robust", row.test_pgd_acc);
    }
    const best = metrics.reduce((b, m) => (b == null || m.test_pgd_acc > b.test_pgd_acc ? m : b), null);
    if (best) stat("stat-best", best.test_pgd_acc, `at epoch ${best.epoch}`);
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

  // ---- the header, from the run as the server reports it --------------------

  const $ = (id) => document.getElementById(id);
  const pct = (v) => (typeof v === "number" ? (v * 100).toFixed(1) : "—");
  let startedAt = run.started_at || null;

  /** An element with text, built without parsing markup. */
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === "className") node.className = v;
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    if (text != null) node.textContent = String(text);
    return node;
  }

  function stat(id, value, suffix) {
    const dd = $(id);
    if (!dd) return;
    dd.replaceChildren(el("span", { className: "stat" }, pct(value)));
    if (typeof value === "number") dd.append(" %");
    if (suffix) dd.append(" ", el("span", { className: "muted" }, suffix));
  }

  function fact(id, show, fill) {
    const row = $(id);
    if (!row) return;
    row.hidden = !show;
    const dd = row.querySelector("dd");
    if (show && dd && fill) fill(dd);
  }

  /** A <time> in the reader's locale, as the page's own are. */
  function timeNode(iso) {
    const holder = el("span");
    holder.append(el("time", { datetime: iso }, iso));
    localizeTimes(holder);
    return holder.firstChild;
  }

  /** Applies the run as `GET /api/v1/runs/{id}` or a `status` message has it. */
  function applyRun(r) {
    if (!r || r.id !== runId) return;
    const header = $("run-header");
    if (header) header.dataset.status = r.status;
    const badge = $("run-status");
    if (badge) {
      badge.textContent = r.status;
      badge.className = `status status-${r.status}`;
    }
    epochsDone = Math.max(r.epochs_done || 0, 0);
    autoattack = r.autoattack_acc;
    autoattackEpoch = r.autoattack_epoch;
    stat("stat-best", r.best_robust_acc, r.best_epoch != null ? `at epoch ${r.best_epoch}` : null);
    stat("stat-clean", r.final_clean_acc);
    stat("stat-robust", r.final_robust_acc);
    // "Final" only once the run has ended; until then it is the latest epoch's.
    const liveNow = r.status === "queued" || r.status === "running";
    for (const dt of document.querySelectorAll(".final-label")) {
      dt.textContent = `${liveNow ? "Latest" : "Final"} ${dt.dataset.what}`;
    }
    stat("stat-aa", r.autoattack_acc);
    startedAt = r.started_at;
    const live = LIVE.has(r.status);
    fact("fact-started", r.status !== "queued" && r.started_at, (dd) => dd.replaceChildren(timeNode(r.started_at)));
    fact("fact-finished", r.status !== "queued" && r.finished_at, (dd) => dd.replaceChildren(timeNode(r.finished_at)));
    fact("fact-device", true, (dd) => {
      dd.replaceChildren(r.device ? r.device : el("span", { className: "muted" }, "assigned when a slot is free"));
      if (r.slot) dd.append(" ", el("span", { className: "muted" }, `(slot ${r.slot})`));
    });
    const where = r.executor;
    fact("fact-executor", live && where, (dd) => {
      dd.textContent = `${where.where} · ${where.state}${where.reason ? ` (${where.reason})` : ""}`;
    });
    fact("fact-attempt", true, (dd) => (dd.textContent = r.attempt));
    fact("fact-priority", true, (dd) => (dd.textContent = r.priority));
    fact("fact-handle", r.handle != null, (dd) => (dd.textContent = r.handle));
    fact("fact-exit", r.exit_code != null, (dd) => (dd.textContent = r.exit_code));
    const failure = r.status === "failed" || r.status === "lost";
    fact("fact-error", r.error != null, (dd) => {
      dd.textContent = r.error;
      dd.className = failure ? "run-error" : "";
      const dt = dd.previousElementSibling;
      if (dt) dt.textContent = failure ? "error" : "reason";
    });
    if (r.status !== "running") {
      for (const id of ["fact-eta", "run-eta", "run-stage"]) {
        const node = $(id);
        if (node) node.hidden = true;
      }
      endsAt = null;
    }
    const show = (id, on) => {
      const node = $(id);
      if (node) node.hidden = !on;
    };
    show("action-stop", live);
    show("action-resume", ["failed", "stopped", "lost", "pruned"].includes(r.status));
    show("run-delete", r.status !== "running");
    show("run-delete-hint", r.status === "running");
    const resume = document.querySelector("#action-resume button");
    if (resume) {
      resume.textContent = r.status === "pruned" ? "Continue anyway"
        : r.resume_from_checkpoint ? "Resume from checkpoint" : "Resume (starts over)";
    }
    setStatus(r.status);
    tickDuration();
    redraw();
    showEpochs();
  }

  function setStatus(next) {
    if (!next || next === status) return;
    status = next;
    // "Stopping…" and the like described the moment of the action, not now.
    const notice = $("run-notice");
    if (notice && !notice.classList.contains("notice-error")) notice.remove();
    // A stop or failure writes a last checkpoint, sample grid and log lines.
    refreshTables();
    refreshSamples();
    pollLog();
  }

  // The elapsed clock ticks between events; the server's value is only the
  // starting point. Ended runs keep the duration the server computed.
  function tickDuration() {
    const row = $("fact-duration");
    if (!row) return;
    const value = row.querySelector(".value");
    const dt = row.querySelector("dt");
    if (status === "running" && startedAt) {
      // Earlier attempts count: a resumed run took all of them.
      const seconds = secondsBefore + Math.max(0, (Date.now() - Date.parse(startedAt)) / 1000);
      if (value) value.textContent = durationText(seconds);
      if (dt) dt.textContent = "running for";
      row.hidden = false;
    } else if (dt && status !== "running") {
      dt.textContent = "took";
    }
  }
  setInterval(() => {
    if (status === "running") {
      tickDuration();
      tickEta();
    }
  }, 1000);

  // ---- progress inside an epoch and in the final stage ------------------------

  const P = advmix.progress;
  let endsAt = (() => {
    const node = $("run-eta");
    return node && node.dataset.endsAt ? Number(node.dataset.endsAt) : null;
  })();

  /** Applies a `progress` event: the stage's bar and line, and the ETA. */
  function applyProgress(line) {
    if (status !== "running") return;
    const box = $("run-stage");
    if (box) box.hidden = false;
    const bar = $("stage-progress");
    if (bar) bar.value = P.fraction(line);
    const text = $("stage-text");
    if (text) text.textContent = P.describe(line);
    const epochsBar = $("epochs-progress");
    if (epochsBar) epochsBar.value = Math.max(epochsDone, P.epochs(line));
    endsAt = P.endsAt(line);
    tickEta();
  }

  /** Counts the trainer's estimate down between its events. */
  function tickEta() {
    if (endsAt == null) return;
    const text = P.duration((endsAt - Date.now()) / 1000);
    for (const id of ["run-eta", "fact-eta"]) {
      const node = $(id);
      if (!node) continue;
      node.hidden = false;
      const value = node.querySelector(".value");
      if (value) value.textContent = text;
    }
    const basis = document.querySelector("#fact-eta .basis");
    if (basis) basis.textContent = "(the trainer's estimate: the epochs, their evaluations and the final attack)";
  }

  const durationText = (s) => advmix.progress.duration(s);

  async function reloadRun() {
    try {
      applyRun(await advmix.fetchJson(`/api/v1/runs/${runId}`));
    } catch (e) {
      // Deleted elsewhere: the run page no longer has anything to show.
      if (e.status === 404) window.location.assign("/");
    }
  }

  // ---- the epoch table ----------------------------------------------------------

  const TABLE_EPOCHS = 20;

  function epochRow(m) {
    const tr = el("tr", { "data-epoch": m.epoch });
    const cells = [
      m.epoch, m.lr.toFixed(4), m.train_loss.toFixed(4), m.train_clean_loss.toFixed(4), pct(m.train_acc),
      pct(m.test_clean_acc), pct(m.test_pgd_acc), m.epoch_seconds.toFixed(1), m.images_per_second.toFixed(0),
    ];
    for (const text of cells) tr.append(el("td", { className: "num" }, text));
    return tr;
  }

  function showTable() {
    const body = $("metrics-rows");
    if (!body) return;
    const shown = metrics.slice(-TABLE_EPOCHS);
    body.replaceChildren(...shown.map(epochRow));
    const wrap = body.closest(".table-wrap");
    if (wrap) wrap.hidden = shown.length === 0;
    const empty = $("metrics-empty");
    if (empty) empty.hidden = shown.length > 0;
    const note = $("metrics-note");
    if (note) {
      note.hidden = metrics.length <= shown.length;
      note.firstChild.textContent = `The last ${shown.length} of `;
    }
    const total = $("metrics-total");
    if (total) total.textContent = metrics.length;
  }

  // ---- checkpoints and evaluations, from their JSON -----------------------------

  const csrf = () => {
    const input = document.querySelector('input[name="csrf"]');
    return input ? input.value : "";
  };
  const evalPoints = () => {
    const input = document.querySelector('.evaluate-form input[name="n"]');
    return input ? input.value : "1000";
  };
  const human = (bytes) => {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let v = bytes;
    let u = 0;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u += 1;
    }
    return u === 0 ? `${bytes} B` : `${v.toFixed(1)} ${units[u]}`;
  };

  function checkpointRow(c, points) {
    const tr = el("tr", { "data-checkpoint-id": c.id, "data-kind": c.kind });
    tr.append(el("td", { className: "num" }, c.epoch), el("td", {}, c.kind), el("td", { className: "num", title: `${c.bytes} bytes` }, human(c.bytes)));
    tr.append(el("td", { className: "sha256", title: c.sha256 }, c.sha256));
    const link = el("a", { className: "download", href: `/api/v1/checkpoints/${c.id}/download`, download: true }, "Download");
    tr.append(el("td").appendChild(link).parentNode);
    const evaluated = el("td", { className: "evaluated" });
    if ((c.evaluated || []).length === 0) {
      evaluated.append(el("span", { className: "muted" }, "—"));
    } else {
      const list = el("ul");
      c.evaluated.forEach((line) => list.append(el("li", {}, line)));
      evaluated.append(list);
    }
    tr.append(evaluated);
    const form = el("form", { method: "post", action: `/checkpoints/${c.id}/evaluate`, className: "evaluate-form" });
    form.append(el("input", { type: "hidden", name: "csrf", value: csrf() }));
    form.append(el("label", { className: "visually-hidden", for: `attack-${c.id}` }, "Attack"));
    const select = el("select", { id: `attack-${c.id}`, name: "attack" });
    for (const [value, label] of [["aa-fast", "AutoAttack (fast)"], ["aa-standard", "AutoAttack (standard)"], ["pgd", "PGD-20"]]) {
      select.append(el("option", { value, selected: value === "aa-fast" }, label));
    }
    form.append(select);
    form.append(el("label", { className: "visually-hidden", for: `points-${c.id}` }, "Points"));
    form.append(el("input", { id: `points-${c.id}`, name: "n", type: "number", min: 1, max: 10000, value: points, title: "test points" }));
    form.append(el("button", { type: "submit", className: "secondary" }, "Evaluate"));
    tr.append(el("td").appendChild(form).parentNode);
    return tr;
  }

  /** A running job's newest progress line, else how far its attacks got. */
  function evalProgress(e) {
    const line = e.progress;
    if (line && line.type === "progress") {
      const ends = advmix.progress.endsAt(line);
      const left = ends == null ? "" : `, about ${advmix.progress.duration((ends - Date.now()) / 1000)} left`;
      return { text: advmix.progress.describe(line) + left };
    }
    if (e.attack_index == null || e.attack_of == null || e.robust_left == null || !e.attack) return null;
    return { text: `attack ${e.attack_index} of ${e.attack_of} (${e.attack}) done, ${e.robust_left} of ${e.n} points still robust` };
  }

  function evalRow(e) {
    const tr = el("tr", { "data-eval-id": e.id, "data-status": e.status });
    tr.append(el("td", {}, e.suite), el("td", {}, e.source === "final" ? "final stage" : "job"));
    tr.append(el("td", { className: "num" }, e.epoch == null ? "—" : e.epoch), el("td", { className: "num" }, e.n));
    const cell = el("td");
    cell.append(el("span", { className: `status status-${e.status}` }, e.status));
    const progress = e.status === "running" ? evalProgress(e) : null;
    if (progress) cell.append(" ", el("span", { className: "muted eval-progress" }, progress.text));
    if (e.error) cell.append(" ", el("span", { className: "eval-error" }, e.error));
    tr.append(cell, el("td", { className: "num" }, pct(e.clean_acc)), el("td", { className: "num" }, pct(e.robust_acc)));
    const steps = (e.attacks || []).map((a) => `${a.attack} ${pct(a.robust_acc)} (${Math.round(a.seconds)} s)`).join(" · ");
    tr.append(el("td", { className: "muted" }, steps));
    return tr;
  }

  /** Fills a table body from rows, showing it or its empty note. */
  function fill(bodyId, emptyId, rows) {
    const body = $(bodyId);
    if (!body) return;
    body.replaceChildren(...rows);
    const wrap = body.closest(".table-wrap");
    if (wrap) wrap.hidden = rows.length === 0;
    const empty = $(emptyId);
    if (empty) empty.hidden = rows.length > 0;
  }

  let tablesTimer = null;
  /** One fetch per burst of events: a checkpoint and an eval often come together. */
  function refreshTables() {
    if (tablesTimer != null) return;
    tablesTimer = setTimeout(async () => {
      tablesTimer = null;
      try {
        const points = evalPoints();
        const [checkpoints, evals] = await Promise.all([
          advmix.fetchJson(`/api/v1/runs/${runId}/checkpoints`),
          advmix.fetchJson(`/api/v1/runs/${runId}/evals`),
        ]);
        fill("checkpoint-rows", "checkpoints-empty", checkpoints.map((c) => checkpointRow(c, points)));
        fill("eval-rows", "evals-empty", evals.map(evalRow));
      } catch (e) {
        // The next event or reconnect tries again.
      }
    }, 200);
  }

  function upsertEval(e) {
    const body = $("eval-rows");
    if (!body) return refreshTables();
    const old = body.querySelector(`tr[data-eval-id="${e.id}"]`);
    if (old) old.replaceWith(evalRow(e));
    else refreshTables();
  }

  // ---- sample grids, from their JSON ----------------------------------------------

  async function refreshSamples() {
    let samples;
    try {
      samples = await advmix.fetchJson(`/api/v1/runs/${runId}/samples`);
    } catch (e) {
      return;
    }
    if (!samples.length) return;
    const section = $("run-samples");
    if (!section) return;
    const following = viewingLatestSample();
    let select = $("sample-epoch");
    if (!select) {
      const head = section.querySelector(".panel-head");
      const form = el("form", { method: "get", action: `/runs/${runId}`, className: "sample-picker", id: "sample-picker" });
      form.append(el("label", { for: "sample-epoch" }, "Epoch"));
      select = el("select", { id: "sample-epoch", name: "samples" });
      form.append(select);
      if (head) head.append(form);
    }
    const chosen = following ? null : select.value;
    select.replaceChildren(...samples.map((s) => el("option", { value: s.epoch, "data-url": s.url }, s.epoch)));
    select.value = chosen != null ? chosen : String(samples[samples.length - 1].epoch);
    let image = $("sample-image");
    if (!image) {
      const empty = section.querySelector(".empty");
      const figure = el("figure", { className: "sample-grid" });
      image = el("img", { id: "sample-image", alt: "Sample grid at epoch 0: clean images, training inputs and PGD examples" });
      const figcaption = el("figcaption");
      figcaption.append(el("strong", { id: "sample-caption-epoch" }, "Epoch 0."), ` ${run.sample_caption || ""}`);
      figure.append(image, figcaption);
      if (empty) empty.replaceWith(figure);
      else section.append(figure);
    }
    if (following || !image.getAttribute("src")) showSample(select.options[select.selectedIndex]);
  }

  function showSample(option) {
    const image = $("sample-image");
    const caption = $("sample-caption-epoch");
    if (!option || !image) return;
    image.src = option.dataset.url;
    image.alt = image.alt.replace(/epoch \d+/, `epoch ${option.value}`);
    if (caption) caption.textContent = `Epoch ${option.value}.`;
  }

  // ---- live events -------------------------------------------------------------

  function onEvent(message) {
    const event = message && message.event;
    if (!event || message.run_id !== runId) return;
    // An epoch that this page never saw (between rendering and subscribing,
    // or skipped by a lagging stream): fetch them all.
    const seen = lastEpoch() || 0;
    // (`progress` names the epoch in progress, which is not one to fetch.)
    const missed = event.type !== "progress" && typeof event.epoch === "number";
    if (missed && event.epoch > seen + (event.type === "epoch" ? 1 : 0)) reloadMetrics();
    switch (event.type) {
      case "epoch":
        addEpoch(event);
        showTable();
        pollLog();
        break;
      case "checkpoint":
        refreshTables();
        break;
      case "samples":
        refreshSamples();
        break;
      case "started":
        pollLog();
        break;
      case "finished":
      case "failed":
      case "stopped":
        reloadMetrics();
        pollLog();
        break;
      case "progress":
        applyProgress(event);
        // The final stage's row appears with its first progress.
        if (event.stage === "final" && !finalShown) {
          finalShown = true;
          refreshTables();
        }
        break;
      case "eval_progress":
      case "eval":
        refreshTables();
        if (event.type === "eval") reloadRun();
        pollLog();
        break;
      default:
        break;
    }
  }

  advmix.live(`/api/v1/runs/${runId}/events`, onEvent, {
    named: {
      status(message) {
        if (message && message.run_id === runId) applyRun(message.run);
      },
      eval_status(message) {
        if (message && message.run_id === runId && message.eval) upsertEval(message.eval);
      },
    },
    // Back after the stream dropped (a server restart): catch up on what
    // happened meanwhile, from where the page was.
    onReconnect() {
      reloadRun();
      reloadMetrics().then(showTable);
      refreshTables();
      refreshSamples();
      pollLog();
    },
  });

  // ---- log tail ----------------------------------------------------------------

  const log = () => $("log");
  let logBusy = false;
  let logAgain = false;
  let logLast = 0;

  function atBottom(node) {
    return node.scrollHeight - node.scrollTop - node.clientHeight < 8;
  }

  /** Reads the log tail when an event says it grew, at most once a second. */
  async function pollLog() {
    const wait = 1000 - (Date.now() - logLast);
    if (logBusy || wait > 0) {
      if (!logAgain) {
        logAgain = true;
        setTimeout(() => {
          logAgain = false;
          pollLog();
        }, Math.max(wait, 250));
      }
      return;
    }
    const node = log();
    if (!node) return;
    logBusy = true;
    logLast = Date.now();
    try {
      // The server cuts the tail at a whole line, and answers empty (not
      // an error) before the trainer has written anything.
      const response = await fetch(`/runs/${runId}/log.txt`);
      if (!response.ok) return;
      const text = await response.text();
      if (text === "" || text === node.textContent) return;
      const follow = node.hidden || atBottom(node);
      node.textContent = text;
      node.hidden = false;
      const empty = $("log-empty");
      if (empty) empty.hidden = true;
      if (follow) node.scrollTop = node.scrollHeight;
    } catch (e) {
      // The next event tries again.
    } finally {
      logBusy = false;
    }
  }

  const initialLog = log();
  if (initialLog) initialLog.scrollTop = initialLog.scrollHeight;

  // ---- sample grids --------------------------------------------------------------

  function viewingLatestSample() {
    const select = document.getElementById("sample-epoch");
    return !select || select.selectedIndex === select.options.length - 1;
  }

  page.addEventListener("change", (e) => {
    const select = e.target;
    if (!(select instanceof HTMLSelectElement) || select.id !== "sample-epoch") return;
    const option = select.options[select.selectedIndex];
    showSample(option);
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
