// The Runs page, live: rows on this page follow their trainers' events
// (status, progress, accuracy), and runs created since the page was rendered
// are announced with a refresh link instead of reshuffling the table under
// the reader. Without JavaScript the page is the same table, just static.
(() => {
  "use strict";

  const panel = document.querySelector(".runs-panel");
  const table = document.getElementById("runs");
  const compareForm = document.getElementById("compare-form");

  // ---- selection for Compare

  if (compareForm) {
    const button = document.getElementById("compare-selected");
    const selectAll = document.getElementById("select-all");
    const boxes = () => [...compareForm.querySelectorAll('input[type="checkbox"][name="run"]')];
    const sync = () => {
      const ticked = boxes().filter((b) => b.checked).length;
      button.disabled = ticked < 2;
      button.title = ticked < 2 ? "Tick at least two runs to compare them" : "";
      if (selectAll) {
        selectAll.checked = ticked > 0 && ticked === boxes().length;
        selectAll.indeterminate = ticked > 0 && ticked < boxes().length;
      }
    };
    compareForm.addEventListener("change", (e) => {
      if (e.target === selectAll) boxes().forEach((b) => { b.checked = selectAll.checked; });
      sync();
    });
    if (selectAll) selectAll.hidden = false;
    sync();
  }

  if (!panel) return;

  // ---- live updates

  const maxId = Number(panel.dataset.maxId || 0);
  const newIds = new Set();
  const notice = document.getElementById("new-runs");

  const percent = (v) => (typeof v === "number" && Number.isFinite(v) ? (v * 100).toFixed(1) : "—");

  const duration = (seconds) => advmix.progress.duration(seconds);

  const rowOf = (id) => (table ? table.querySelector(`tbody tr[data-run-id="${Number(id)}"]`) : null);

  function setText(row, selector, text) {
    const cell = row.querySelector(selector);
    if (cell && cell.textContent !== text) cell.textContent = text;
  }

  function setStatus(row, status) {
    if (!status) return;
    row.dataset.status = status;
    const badge = row.querySelector(".status");
    if (badge) {
      badge.className = `status status-${status}`;
      badge.textContent = status;
    }
    updateEta(row);
  }

  function updateEta(row) {
    const eta = row.querySelector(".eta");
    if (!eta) return;
    const running = row.dataset.status === "running";
    // The trainer's own estimate counts evaluations and the final attack.
    if (running && row.dataset.endsAt) {
      eta.textContent = `ETA ${duration((Number(row.dataset.endsAt) - Date.now()) / 1000)}`;
      return;
    }
    const left = Number(row.dataset.epochs) - Number(row.dataset.epochsDone);
    const mean = Number(row.dataset.epochSeconds);
    const show = running && left > 0 && row.dataset.epochSeconds !== "" && mean > 0;
    eta.textContent = show ? `ETA ${duration(mean * left)}` : "";
  }

  function applyProgress(row, line) {
    if (row.dataset.status !== "running") setStatus(row, "running");
    const P = advmix.progress;
    const bar = row.querySelector(".progress progress");
    if (bar) {
      bar.value = Math.max(Number(row.dataset.epochsDone || 0), P.epochs(line));
      bar.title = P.describe(line);
    }
    const ends = P.endsAt(line);
    row.dataset.endsAt = ends == null ? "" : String(Math.round(ends));
    updateEta(row);
  }

  if (table) {
    setInterval(() => {
      table.querySelectorAll('tbody tr[data-status="running"]').forEach(updateEta);
    }, 1000);
  }

  function setProgress(row, done, epochs) {
    if (Number.isFinite(epochs) && epochs > 0) row.dataset.epochs = String(epochs);
    if (!Number.isFinite(done)) return;
    row.dataset.epochsDone = String(done);
    const bar = row.querySelector(".progress progress");
    if (bar) {
      bar.max = Number(row.dataset.epochs);
      // An epoch ends after its batches: the bar may already be inside the next.
      const now = Number(bar.value) || 0;
      bar.value = now > done && now < done + 1 ? now : done;
    }
    setText(row, ".progress .progress-text", `${done}/${row.dataset.epochs}`);
    updateEta(row);
  }

  function setBest(row, acc, epoch) {
    const cell = row.querySelector(".best-robust");
    if (!cell) return;
    cell.dataset.value = String(acc ?? "");
    cell.textContent = "";
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = percent(acc);
    cell.append(value);
    if (epoch != null) {
      const ep = document.createElement("span");
      ep.className = "muted epoch";
      ep.textContent = `ep ${epoch}`;
      cell.append(" ", ep);
    }
  }

  function applyEpoch(row, e) {
    if (row.dataset.status !== "running") setStatus(row, "running");
    // A running mean over the epochs seen so far, as the server computes it.
    const n = Number(row.dataset.timedEpochs || 0);
    const mean = Number(row.dataset.epochSeconds || 0);
    if (typeof e.epoch_seconds === "number") {
      row.dataset.epochSeconds = String((mean * n + e.epoch_seconds) / (n + 1));
      row.dataset.timedEpochs = String(n + 1);
    }
    setProgress(row, e.epoch, NaN);
    setText(row, ".final-clean", percent(e.test_clean_acc));
    setText(row, ".final-robust", percent(e.test_pgd_acc));
    const bestCell = row.querySelector(".best-robust");
    const best = bestCell && bestCell.dataset.value !== "" ? Number(bestCell.dataset.value) : NaN;
    // Ties keep the earlier epoch, as the server does.
    if (typeof e.test_pgd_acc === "number" && !(e.test_pgd_acc <= best)) setBest(row, e.test_pgd_acc, e.epoch);
  }

  function applyRun(row, run) {
    setStatus(row, run.status);
    setProgress(row, run.epochs_done, run.epochs);
    setBest(row, run.best_robust_acc, run.best_epoch);
    setText(row, ".final-clean", percent(run.final_clean_acc));
    setText(row, ".final-robust", percent(run.final_robust_acc));
    setText(row, ".autoattack", percent(run.autoattack_acc));
  }

  function announce(id) {
    if (id <= maxId || newIds.has(id) || !notice) return;
    newIds.add(id);
    const link = notice.querySelector("a");
    link.textContent = `${newIds.size} new run${newIds.size === 1 ? "" : "s"} — refresh`;
    notice.hidden = false;
  }

  const TERMINAL = { finished: "succeeded", failed: "failed", stopped: "stopped" };

  function onEvent(message) {
    const { run_id: id, event } = message || {};
    if (!event || id == null) return;
    const row = rowOf(id);
    if (!row) {
      announce(Number(id));
      return;
    }
    switch (event.type) {
      case "started":
        setStatus(row, "running");
        break;
      case "epoch":
        applyEpoch(row, event);
        break;
      case "progress":
        applyProgress(row, event);
        break;
      case "finished":
        setBest(row, event.best_robust_acc, event.best_epoch);
        setText(row, ".final-clean", percent(event.final_clean_acc));
        setText(row, ".final-robust", percent(event.final_robust_acc));
        setStatus(row, TERMINAL.finished);
        break;
      case "failed":
      case "stopped":
        setStatus(row, TERMINAL[event.type]);
        break;
      case "eval":
        // The AutoAttack column follows the server's rule for which
        // evaluation counts: ask it rather than guess from the event.
        fetchJson(`/api/v1/runs/${id}`).then((run) => applyRun(row, run)).catch(() => {});
        break;
      default:
    }
  }

  const fetchJson = advmix.fetchJson;

  // After a reconnect the stream has skipped whatever happened meanwhile:
  // reload this page's rows and look for runs created in the gap.
  async function catchUp() {
    try {
      if (panel.dataset.api && table) {
        const list = await fetchJson(panel.dataset.api);
        for (const run of list.runs || []) {
          const row = rowOf(run.id);
          if (row) applyRun(row, run);
        }
      }
      const newest = await fetchJson("/api/v1/runs?sort=id&order=desc&per_page=100");
      for (const run of newest.runs || []) announce(run.id);
    } catch (err) {
      console.warn("advmix: could not refresh the runs", err);
    }
  }

  if (window.advmix && advmix.live) {
    advmix.live("/api/v1/events", onEvent, { onReconnect: catchUp });
  } else if (window.EventSource) {
    const source = new EventSource("/api/v1/events");
    let opened = false;
    source.addEventListener("open", () => {
      if (opened) catchUp();
      opened = true;
    });
    source.addEventListener("run", (m) => {
      try {
        onEvent(JSON.parse(m.data));
      } catch (err) {
        console.warn("advmix: bad event", err);
      }
    });
  }
})();
