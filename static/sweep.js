// The sweep page's charts and live state. Tables are rendered by the server;
// this draws the three charts from the page's data (#sweep[data-sweep]) and
// keeps progress, statuses and charts current from the event stream.
(() => {
  'use strict';
  const root = document.getElementById('sweep');
  const A = window.advmix;
  if (!root || !A) return;

  const data = JSON.parse(root.dataset.sweep);
  const METRIC = 'test_pgd_acc';
  // Hundreds of runs: the server downsamples each series to this many points.
  const MAX_POINTS = 400;
  // Well under a second, so the page follows the trainer closely, yet a burst
  // of events (many runs finishing an epoch together) costs one fetch.
  const SERIES_DELAY_MS = 250;
  const RUNS_DELAY_MS = 600;
  const PER_PAGE = 500;
  const STATUS_AFTER = { started: 'running', finished: 'succeeded', failed: 'failed', stopped: 'stopped' };

  let runs = data.runs;
  let byId = new Map(runs.map((r) => [r.id, r]));
  let series = [];
  let colorParam = data.color;
  // The parameter chart follows the results table's first key, else the colour.
  const firstBy = (data.by && data.by[0]) || null;
  let chosen = data.chosen;
  const charts = {};
  let paramDrawn = null;
  // One line per group (mean ± std over its runs) instead of one per run;
  // remembered per browser, like the smoothing weight.
  const BANDS_KEY = 'advmix.sweep.bands';
  let bands = A.storedFlag(BANDS_KEY);

  // Values as the server writes them in run names and tables.
  const display = (v) => (v === undefined || v === null ? '—' : typeof v === 'string' ? v : JSON.stringify(v));
  const paramInfo = (name) => data.params.find((p) => p.name === name);

  const label = (run) => {
    const parts = data.params
      .filter((p) => run.params && p.name in run.params)
      .map((p) => `${p.name}=${display(run.params[p.name])}`);
    return parts.length ? parts.join(' ') : run.name;
  };

  // Runs sharing a value of the colour parameter share a colour; with
  // nothing to colour by, each run gets its own.
  const colorOf = (run) => {
    const info = colorParam && paramInfo(colorParam);
    if (!info) return A.palette(runs.indexOf(run));
    const i = info.values.indexOf(display(run.params[colorParam]));
    return A.palette(i < 0 ? info.values.length : i);
  };

  function reset(id) {
    if (charts[id]) {
      charts[id].destroy();
      delete charts[id];
    }
  }

  function showEmpty(id, text) {
    const el = document.getElementById(id);
    reset(id);
    el.replaceChildren();
    const p = document.createElement('p');
    p.className = 'chart-empty';
    p.textContent = text;
    el.append(p);
  }

  function container(id) {
    const el = document.getElementById(id);
    el.querySelectorAll('.chart-empty').forEach((p) => p.remove());
    return el;
  }

  // What a run's group is made of: the results table's keys, else the
  // colour parameter; never the seed, which is what the mean is over; and,
  // as in the results table, never across datasets or ε.
  function groupKeys() {
    const swept = data.params.map((p) => p.name);
    let keys = (data.by || []).filter((k) => k !== 'seed');
    if (keys.length === 0 && colorParam && colorParam !== 'seed') keys = [colorParam];
    const wanted = new Set([...keys, ...['dataset', 'epsilon'].filter((k) => swept.includes(k))]);
    // In the parameters' order, so that labels read like run names.
    return [...swept.filter((k) => wanted.has(k)), ...keys.filter((k) => !swept.includes(k))];
  }

  // The drawn runs' series grouped: per group the mean at each epoch where
  // one of its runs has a point, and with two runs or more a band of ± the
  // sample standard deviation (A.meanStd). A group of one run is its line.
  function groupedLines(drawn) {
    const keys = groupKeys();
    const groups = new Map();
    drawn.forEach((s) => {
      const run = byId.get(s.run_id);
      const values = keys.map((k) => display(run.params ? run.params[k] : undefined));
      const key = JSON.stringify(values);
      if (!groups.has(key)) groups.set(key, { values, runs: [], points: [] });
      groups.get(key).runs.push(run);
      groups.get(key).points.push(s.points);
    });
    // Groups in the order of the parameters' values, as the results table.
    const rank = (k, v) => {
      const info = paramInfo(k);
      const i = info ? info.values.indexOf(v) : -1;
      return i < 0 ? Number.MAX_SAFE_INTEGER : i;
    };
    const order = (a, b) => {
      for (let j = 0; j < keys.length; j++) {
        const d = rank(keys[j], a.values[j]) - rank(keys[j], b.values[j]) || a.values[j].localeCompare(b.values[j]);
        if (d) return d;
      }
      return 0;
    };
    const byColour = colorParam && keys.includes(colorParam);
    return [...groups.values()].sort(order).map((g, i) => {
      const stats = A.meanStd(g.points);
      const name = keys.length ? keys.map((k, j) => `${k === 'epsilon' ? 'ε' : k}=${g.values[j]}`).join(' ') : 'all runs';
      return {
        name,
        label: `${name} (n=${g.runs.length})`,
        runs: g.runs,
        // The colour parameter's colours when it is one of the keys, so the
        // legend matches the per-run view; else one colour per group.
        color: byColour ? colorOf(g.runs[0]) : A.palette(i),
        points: stats.map(([x, mean]) => [x, mean]),
        band: g.runs.length > 1 ? stats.map(([x, mean, std]) => [x, mean - std, mean + std]) : undefined,
      };
    });
  }

  const hasAutoattack = (run) => run.autoattack_acc !== null && run.autoattack_acc !== undefined;
  const lastEpoch = (s) => s.points[s.points.length - 1][0];

  // The panels' headings title the charts, so the charts carry none.
  function drawRobust() {
    const id = 'chart-robust';
    const drawn = series.filter((s) => s.points.length > 0 && byId.has(s.run_id));
    if (drawn.length === 0) return showEmpty(id, 'No epochs yet');
    let lines;
    let markers;
    if (bands) {
      const groups = groupedLines(drawn);
      lines = groups.map((g) => ({ label: g.label, points: g.points, color: g.color, band: g.band }));
      // Each run's AutoAttack accuracy stays a marker of its own (the spread
      // shows), in its group's colour and legend entry.
      const lastOf = new Map(drawn.map((s) => [s.run_id, lastEpoch(s)]));
      markers = groups.flatMap((g) =>
        g.runs.filter(hasAutoattack).map((run) => ({
          x: run.autoattack_epoch ?? lastOf.get(run.id),
          y: run.autoattack_acc,
          label: `AutoAttack ${g.name}`,
          color: g.color,
        })),
      );
    } else {
      lines = drawn.map((s) => {
        const run = byId.get(s.run_id);
        return { label: label(run), points: s.points, color: colorOf(run) };
      });
      markers = drawn
        .map((s) => [byId.get(s.run_id), lastEpoch(s)])
        .filter(([run]) => hasAutoattack(run))
        .map(([run, x]) => ({
          x: run.autoattack_epoch ?? x,
          y: run.autoattack_acc,
          label: `AutoAttack ${label(run)}`,
          color: colorOf(run),
        }));
    }
    // Published results as dashed lines, labelled as such.
    const references = (data.references || []).map((r) => ({ label: r.label, y: r.y }));
    // Early termination's rungs (the sweep's own, or the replayed rule's).
    const verticals = (data.rungs || []).map((epoch, i) => ({ x: epoch, label: `rung ${i + 1}` }));
    if (charts[id]) {
      charts[id].setSeries(lines);
      charts[id].setMarkers(markers);
      return;
    }
    charts[id] = A.lineChart(container(id), {
      xLabel: 'epoch',
      yLabel: 'robust accuracy',
      series: lines,
      markers,
      references,
      verticals,
      percent: true,
      logY: false,
      allowLog: true,
      smoothing: true,
      bandsToggle: {
        id: 'robust-bands',
        storageKey: BANDS_KEY,
        onChange: (on) => {
          bands = on;
          drawRobust();
        },
      },
    });
  }

  function scatter(id, points, options, emptyText) {
    if (points.length === 0) return showEmpty(id, emptyText);
    if (charts[id]) return charts[id].setPoints(points);
    charts[id] = A.scatterChart(container(id), { ...options, points });
  }

  function drawTradeoff() {
    const points = runs
      .filter((r) => r.status === 'succeeded' && r.final_clean_acc != null && r.final_robust_acc != null)
      .map((r) => ({ x: r.final_clean_acc, y: r.final_robust_acc, label: label(r), color: colorOf(r) }));
    scatter('chart-tradeoff', points, {
      xLabel: 'final clean accuracy',
      yLabel: 'final robust accuracy',
      percentX: true,
      percentY: true,
    }, 'No finished runs yet');
  }

  // Numbers on their own axis (log10 beyond two decades); other values as
  // categories: a strip of points and a box per value.
  function drawParam() {
    const id = 'chart-param';
    const info = chosen && paramInfo(chosen);
    if (!info) return showEmpty(id, 'No swept parameter');
    const heading = document.querySelector('#param-heading .sweep-param-name');
    if (heading) heading.textContent = info.name;
    const measured = runs.filter((r) => r.best_robust_acc != null && r.params && info.name in r.params);
    // The page's values, then any a run added since (a grown sweep) brings.
    let categories = null;
    if (!info.numeric) {
      categories = [...info.values];
      measured.forEach((r) => {
        const v = display(r.params[info.name]);
        if (!categories.includes(v)) categories.push(v);
      });
    }
    const x = (v) => {
      if (categories) return categories.indexOf(display(v));
      return info.log ? Math.log10(Number(v)) : Number(v);
    };
    const xLabel = info.numeric && info.log ? `${info.name} (log10)` : info.name;
    const points = measured.map((r) => ({
      x: x(r.params[info.name]),
      y: r.best_robust_acc,
      label: label(r),
      color: colorOf(r),
      // Jitter follows the run, so points keep their place as runs finish.
      key: String(r.id),
    }));
    // The axis changes with the parameter (and its categories), which
    // setPoints cannot say.
    const drawnKey = JSON.stringify([info.name, categories]);
    if (paramDrawn !== drawnKey) reset(id);
    paramDrawn = drawnKey;
    scatter(id, points, {
      xLabel,
      yLabel: 'best robust accuracy',
      percentX: false,
      percentY: true,
      xCategories: categories || undefined,
    }, 'No epochs yet');
  }

  function drawAll() {
    drawRobust();
    drawTradeoff();
    drawParam();
  }

  function updateProgress() {
    const counts = { queued: 0, running: 0, succeeded: 0, failed: 0, stopped: 0, pruned: 0 };
    for (const r of runs) {
      const key = r.status === 'lost' ? 'failed' : r.status;
      if (key in counts) counts[key] += 1;
    }
    const box = document.getElementById('sweep-progress');
    if (!box) return;
    for (const [key, n] of Object.entries(counts)) {
      const seg = box.querySelector(`.sweep-seg[data-status="${key}"]`);
      if (seg) {
        seg.style.flexGrow = String(n);
        seg.title = seg.title.replace(/^\d+/, String(n));
      }
      const count = box.querySelector(`li[data-status="${key}"] .count`);
      if (count) count.textContent = String(n);
    }
    box.dataset.total = String(runs.length);
    const total = box.querySelector('.sweep-total');
    if (total) total.textContent = String(runs.length);
  }

  function updateRow(run) {
    const row = document.querySelector(`#sweep-runs tr[data-run="${run.id}"]`);
    if (!row) return;
    const status = row.querySelector('.run-status .status');
    if (status && status.textContent !== run.status) {
      status.textContent = run.status;
      status.className = `status status-${run.status}`;
    }
    const epochs = row.querySelector('.run-epochs');
    if (epochs) epochs.textContent = `${run.epochs_done}/${run.epochs}`;
  }

  // At most one request in flight; calls meanwhile fold into one more.
  function throttled(fn, delay) {
    let timer = null;
    let busy = false;
    let again = false;
    const fire = async () => {
      timer = null;
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      try {
        await fn();
      } catch (e) {
        console.warn('sweep page: refresh failed', e);
      } finally {
        busy = false;
        if (again) {
          again = false;
          schedule();
        }
      }
    };
    const schedule = () => {
      if (timer === null) timer = setTimeout(fire, delay);
    };
    return schedule;
  }

  async function loadSeries() {
    const ids = runs.filter((r) => r.epochs_done > 0).map((r) => r.id);
    if (ids.length === 0) {
      series = [];
    } else {
      const url = `/api/v1/series?runs=${ids.join(',')}&metric=${METRIC}&max_points=${MAX_POINTS}`;
      series = (await A.fetchJson(url)).series;
    }
    drawRobust();
  }

  async function loadRuns() {
    const all = [];
    for (let page = 1; ; page += 1) {
      const body = await A.fetchJson(`/api/v1/runs?sweep=${data.sweep}&sort=id&order=asc&per_page=${PER_PAGE}&page=${page}`);
      all.push(...body.runs);
      if (body.runs.length < PER_PAGE || all.length >= body.total) break;
    }
    runs = all;
    byId = new Map(runs.map((r) => [r.id, r]));
    runs.forEach(updateRow);
    updateProgress();
    drawAll();
  }

  // The ranking and results tables are the server's: when a run ends or an
  // evaluation finishes, the page is fetched again and the two swapped in,
  // so AutoAttack results and finished runs fill them as they come.
  async function loadTables() {
    const response = await fetch(window.location.href, { headers: { accept: 'text/html' } });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), 'text/html');
    for (const id of ['sweep-runs-panel', 'sweep-results']) {
      const next = fresh.getElementById(id);
      const now = document.getElementById(id);
      if (next && now) now.replaceWith(next);
    }
  }

  const refreshSeries = throttled(loadSeries, SERIES_DELAY_MS);
  const refreshRuns = throttled(loadRuns, RUNS_DELAY_MS);
  const refreshTables = throttled(loadTables, RUNS_DELAY_MS);

  function onEvent(message) {
    const run = byId.get(message.run_id);
    const event = message.event || {};
    // About once a second per running run: nothing on this page shows it.
    if (event.type === 'progress') return;
    if (!run) {
      // A run added to the sweep since the page loaded (a rerun) comes with
      // the next refresh of the list.
      if (event.type === 'started') refreshRuns();
      return;
    }
    if (event.type === 'epoch') {
      run.epochs_done = Math.max(run.epochs_done, event.epoch);
      refreshSeries();
    }
    const status = event.type === 'status' ? event.status : STATUS_AFTER[event.type];
    if (status) run.status = status;
    if (status && status !== 'running' && status !== 'queued') refreshTables();
    updateRow(run);
    updateProgress();
    if (event.type !== 'checkpoint' && event.type !== 'samples') refreshRuns();
  }

  const colorSelect = document.getElementById('sweep-color');
  if (colorSelect) {
    colorSelect.addEventListener('change', () => {
      colorParam = colorSelect.value;
      chosen = firstBy || colorParam;
      const url = new URL(window.location.href);
      url.searchParams.set('color', colorParam);
      window.history.replaceState(null, '', url);
      drawAll();
    });
  }

  // A bayes sweep: one chart per numeric parameter, its proposed values in
  // order of proposal, shaded by the objective (darker is better), so the
  // search can be seen to concentrate.
  function drawProposals() {
    const box = document.getElementById('chart-proposals');
    const proposals = data.proposals;
    if (!box || !proposals || proposals.points.length === 0) return;
    const values = proposals.points.map((p) => p.value).filter(Number.isFinite);
    const lo = Math.min(...values);
    const hi = Math.max(...values);
    // The spec's goal says which way is better: lower is darker when minimized.
    const minimize = proposals.goal === 'minimize';
    const shade = (v) => {
      const t = hi > lo && Number.isFinite(v) ? (v - lo) / (hi - lo) : 0.5;
      const good = minimize ? 1 - t : t;
      return `hsl(215, 70%, ${Math.round(82 - good * 50)}%)`;
    };
    box.replaceChildren();
    data.params
      .filter((info) => info.numeric && info.name !== 'seed')
      .forEach((info) => {
        const points = proposals.points
          .filter((p) => typeof p.params[info.name] === 'number')
          .map((p) => {
            const raw = p.params[info.name];
            return {
              x: p.index + 1,
              y: info.log && raw > 0 ? Math.log10(raw) : raw,
              color: shade(p.value),
              label: `proposal ${p.index + 1}: ${info.name}=${display(raw)}, ${proposals.metric} ${Number.isFinite(p.value) ? p.value.toPrecision(4) : p.value}`,
            };
          });
        const cell = document.createElement('div');
        cell.className = 'chart sweep-chart';
        cell.dataset.param = info.name;
        box.append(cell);
        A.scatterChart(cell, {
          points,
          xLabel: 'proposal',
          yLabel: info.log ? `log10 ${info.name}` : info.name,
          height: 240,
        });
      });
  }

  drawTradeoff();
  drawParam();
  drawProposals();
  if (runs.some((r) => r.epochs_done > 0)) {
    loadSeries().catch((e) => console.warn('sweep page: series failed', e));
  }
  // Subscribed even when every run has ended: a run can be resumed or rerun.
  if (A.live) {
    A.live('/api/v1/events', onEvent, {
      named: {
        eval_status: (message) => {
          if (!byId.has(message.run_id) || !message.eval || message.eval.status !== 'succeeded') return;
          refreshRuns();
          refreshTables();
        },
      },
      // Events were missed while the stream was down.
      onReconnect: () => {
        refreshRuns();
        refreshSeries();
        refreshTables();
      },
    });
  }
})();
