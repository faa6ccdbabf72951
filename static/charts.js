/*
 * advmix charts: interactive line and scatter charts on uPlot.
 *
 * Load after uPlot and before the page's own script (the server embeds all):
 *   <link rel="stylesheet" href="/static/uPlot.min.css">
 *   <script src="/static/uPlot.iife.min.js"></script>
 *   <script src="/static/charts.js"></script>
 *
 * Everything hangs off window.advmix, which other scripts share:
 *
 * advmix.lineChart(container, options) -> {setSeries(series), setMarkers(markers), destroy()}
 *   Replaces the container's children with a chart that follows the
 *   container's width.
 *   options:
 *     title, xLabel, yLabel   strings (all optional)
 *     series     [{label, points: [[x, y], ...], color?, band?}]; x values may
 *                differ between series: they are aligned on the union of x, and
 *                lines span the gaps. Non-finite y values are gaps.
 *                band: [[x, lo, hi], ...] shades lo..hi (e.g. mean ± std) in
 *                the series' colour, translucent, behind every line, while the
 *                series is shown. Non-finite lo or hi is a gap; a lone x is a
 *                narrow bar. Smoothing smooths lo and hi like the line; on a
 *                log axis a non-positive lo reaches the bottom edge. The y
 *                axis makes room for the bands, and the legend adds the
 *                band's range under the cursor.
 *     markers    [{x, y, label, color?}]: single points (e.g. AutoAttack
 *                accuracy at its epoch), drawn as large dots, not lines.
 *                Markers sharing a label (and colour) share a legend entry.
 *     percent    y values are fractions in [0, 1], shown as percentages
 *     logY       start with a log y axis (non-positive values become gaps)
 *     allowLog   show a "log y" toggle
 *     smoothing  show a smoothing slider (0 to 0.99, remembered per browser)
 *                that applies advmix.smooth to every series, drawing the raw
 *                values faintly behind the smoothed ones
 *     smoothingWeight  initial weight, else the remembered one, else 0
 *     bandsToggle  {label?, checked?, storageKey?, id?, title?, onChange(checked)}:
 *                a checkbox in the chart's controls (label default "mean ± std
 *                per group", title explaining the bands), remembered per browser under storageKey when
 *                given (advmix.storedFlag reads it). The chart only reports
 *                the change; the caller answers with setSeries (e.g. one
 *                banded series per group).
 *     height     plot height in CSS pixels (default 300)
 *     empty      text shown when there is no point (default "no epochs yet")
 *   The legend toggles a series on click and shows values under the cursor;
 *   drag across the plot to zoom, double-click to reset. While zoomed,
 *   setSeries keeps the zoom (live updates do not undo it).
 *
 * advmix.scatterChart(container, options) -> {setPoints(points), destroy()}
 *   options: title, xLabel, yLabel, percentX, percentY, height, empty,
 *            points: [{x, y, label, color?, key?}]
 *     xCategories  ["pgd_at", "aom", ...]: x is categorical. A point's x is
 *                its category's index (points with any other x are left out);
 *                the axis names the categories at integer positions only, half
 *                a category of room on either side. Points are spread across
 *                a strip of ±0.25 by advmix.jitter(key ?? label ?? index), so
 *                a redraw puts every point where it was, and each category
 *                gets a box behind its points: median line, box from first to
 *                third quartile, whiskers to min and max (advmix.boxStats).
 *   When every point has the same x (or y), that axis is centred on the value
 *   (with a single tick on x) instead of starting at it.
 *   Hovering a point shows its label and values; drag zooms, double-click resets.
 *
 * advmix.palette(i) -> the i-th series colour (cycles through 10). Every
 *   colour has at least 3:1 contrast on both the light and the dark panel.
 *
 * advmix.smooth(values, weight) -> the debiased exponential moving average
 *   TensorBoard uses: last = last*w + (1-w)*y; smoothed = last / (1 - w^n),
 *   n counting the finite values so far. Non-finite values (null, NaN) stay
 *   gaps (null) and do not count. A constant series comes back unchanged.
 *
 * advmix.meanStd(seriesList) -> [[x, mean, std, n], ...] sorted by x: each
 *   x where at least one series has a finite y, the mean of those n values
 *   and their sample standard deviation (n − 1 in the denominator, as the
 *   results tables use; 0 where n is 1). seriesList holds point lists
 *   [[x, y], ...] or objects with such `points`; within one series a repeated
 *   x counts once (its last point), as lineChart draws it.
 *
 * advmix.boxStats(values) -> {min, q1, median, q3, max, n} of the finite
 *   values, quartiles by linear interpolation between order statistics
 *   (numpy's default, R's type 7); null when there is no finite value.
 *
 * advmix.jitter(key, width = 0.25) -> a horizontal offset in [-width, width]
 *   that depends on String(key) only: a hash, not a random number.
 *
 * After every draw the container has data-series="N" (line series, markers
 * excluded; for a scatter chart 1, or 0 without points) and
 * data-points="a,b,..." (finite points per series), which browser tests read.
 * A line chart also has data-bands="N": the series whose band was drawn
 * (shown, with at least one finite lo..hi), 0 without bands.
 */
(function (root) {
  "use strict";

  const advmix = (root.advmix = root.advmix || {});

  // Tableau 10's hues, the light ones darkened until they keep 3:1 contrast
  // against white as well as against the dark theme's panel.
  const PALETTE = [
    "#4e79a7", "#d47607", "#e15759", "#589994", "#569e4c",
    "#aa8b02", "#b07aa1", "#d0727d", "#9c755f", "#968c88",
  ];

  advmix.palette = function (i) {
    const n = PALETTE.length;
    return PALETTE[((Math.trunc(i) % n) + n) % n];
  };

  const finite = (v) => typeof v === "number" && Number.isFinite(v);

  advmix.smooth = function (values, weight) {
    const w = Math.min(Math.max(Number(weight) || 0, 0), 0.999999);
    const out = new Array(values.length);
    const first = values.find(finite);
    const constant = values.every((v) => !finite(v) || v === first);
    let last = 0;
    let n = 0;
    for (let i = 0; i < values.length; i++) {
      const y = values[i];
      if (!finite(y)) {
        out[i] = null;
      } else if (w === 0 || constant) {
        out[i] = y;
      } else {
        last = last * w + (1 - w) * y;
        n += 1;
        out[i] = last / (1 - Math.pow(w, n));
      }
    }
    return out;
  };

  advmix.meanStd = function (seriesList) {
    const byX = new Map();
    (seriesList || []).forEach((s) => {
      const points = Array.isArray(s) ? s : (s && s.points) || [];
      // The last point at an x wins, as in lineChart's alignment.
      const last = new Map();
      points.forEach((p) => {
        if (p && finite(p[0])) last.set(p[0], p[1]);
      });
      last.forEach((y, x) => {
        if (!finite(y)) return;
        if (!byX.has(x)) byX.set(x, []);
        byX.get(x).push(y);
      });
    });
    return [...byX.keys()]
      .sort((a, b) => a - b)
      .map((x) => {
        const ys = byX.get(x);
        const n = ys.length;
        const mean = ys.reduce((a, b) => a + b, 0) / n;
        // Two passes: the one-pass sum of squares loses the small spread of
        // seeds around an accuracy like 0.45 to cancellation.
        const std = n > 1 ? Math.sqrt(ys.reduce((a, y) => a + (y - mean) * (y - mean), 0) / (n - 1)) : 0;
        return [x, mean, std, n];
      });
  };

  advmix.boxStats = function (values) {
    const v = (values || []).filter(finite).sort((a, b) => a - b);
    const n = v.length;
    if (n === 0) return null;
    const quantile = (p) => {
      const h = (n - 1) * p;
      const lo = Math.floor(h);
      const hi = Math.min(lo + 1, n - 1);
      return v[lo] + (h - lo) * (v[hi] - v[lo]);
    };
    return { min: v[0], q1: quantile(0.25), median: quantile(0.5), q3: quantile(0.75), max: v[n - 1], n };
  };

  advmix.jitter = function (key, width) {
    const w = width == null ? 0.25 : Number(width);
    const text = String(key);
    // FNV-1a, then murmur3's finalizer: FNV alone leaves keys that differ in
    // their last character (seed=1, seed=2) next to each other.
    let h = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return ((h >>> 0) / 0xffffffff * 2 - 1) * w;
  };

  // ---- formatting ----------------------------------------------------------

  function formatNumber(v) {
    if (!finite(v)) return "—";
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
    return String(Number(v.toPrecision(4)));
  }

  function formatPercent(v) {
    if (!finite(v)) return "—";
    return (v * 100).toFixed(Math.abs(v) < 0.01 && v !== 0 ? 2 : 1) + "%";
  }

  // The decimals a tick step needs: 2.5 needs 1, 0.02 needs 2.
  function decimals(step) {
    for (let d = 0; d < 8; d++) {
      const scaled = step * Math.pow(10, d);
      if (Math.abs(scaled - Math.round(scaled)) < 1e-6 * Math.max(1, scaled)) return d;
    }
    return 8;
  }

  // Tick labels with as many decimals as the tick spacing needs.
  function tickValues(percent) {
    return (u, splits, axisIdx, space, incr) => {
      const scale = percent ? 100 : 1;
      const step = Math.abs(incr * scale);
      const log = u.scales[u.axes[axisIdx].scale].distr === 3;
      return splits.map((v) => {
        if (v == null) return null;
        let text;
        if (log || !(step > 0)) text = String(Number((v * scale).toPrecision(3)));
        else if (!percent && Math.abs(v) >= 1e5) text = v.toExponential(1);
        else text = (v * scale).toFixed(decimals(step));
        return percent ? text + "%" : text;
      });
    };
  }

  // ---- theme and layout ----------------------------------------------------

  const DARK = "(prefers-color-scheme: dark)";

  function theme(el) {
    const style = getComputedStyle(el);
    const pick = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
    return {
      text: pick("--text", "#1b1f24"),
      muted: pick("--muted", "#5b6470"),
      grid: pick("--border", "#dde1e6"),
      panel: pick("--panel", "#ffffff"),
    };
  }

  function axes(t, xLabel, yLabel, xValues, yValues) {
    const common = {
      stroke: t.muted,
      grid: { stroke: t.grid, width: 1 },
      ticks: { stroke: t.grid, width: 1 },
      font: "12px system-ui, sans-serif",
      labelFont: "12px system-ui, sans-serif",
    };
    return [
      Object.assign({}, common, { label: xLabel || undefined, values: xValues }),
      Object.assign({}, common, { label: yLabel || undefined, values: yValues, size: 56 }),
    ];
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  // Builds the shared frame (head, plot area, empty message), follows the
  // container's width and the system theme, and calls rebuild() when a
  // chart must be drawn anew.
  function frame(container, options, rebuild, resize) {
    container.classList.add("advmix-chart");
    const head = el("div", "advmix-chart-head");
    const title = el("div", "advmix-chart-title", options.title || "");
    const controls = el("div", "advmix-chart-controls");
    head.append(title, controls);
    const body = el("div", "advmix-chart-body");
    const empty = el("p", "advmix-chart-empty", options.empty || "no epochs yet");
    empty.hidden = true;
    container.replaceChildren(head, body, empty);

    let width = 0;
    const observer = new ResizeObserver(() => {
      // Deferred so that resizing the plot never re-enters the observer.
      requestAnimationFrame(() => {
        const w = body.clientWidth;
        if (w > 0 && w !== width) {
          width = w;
          resize(w);
        }
      });
    });
    observer.observe(body);
    const media = root.matchMedia ? root.matchMedia(DARK) : null;
    const onTheme = () => rebuild();
    if (media) media.addEventListener("change", onTheme);

    return {
      controls,
      body,
      width: () => body.clientWidth || container.clientWidth || 600,
      setEmpty(isEmpty) {
        empty.hidden = !isEmpty;
        body.hidden = isEmpty;
        controls.hidden = isEmpty;
      },
      mark(series, points, bands) {
        container.dataset.series = String(series);
        container.dataset.points = points.join(",");
        if (bands != null) container.dataset.bands = String(bands);
      },
      destroy() {
        observer.disconnect();
        if (media) media.removeEventListener("change", onTheme);
        container.replaceChildren();
        container.classList.remove("advmix-chart");
        delete container.dataset.series;
        delete container.dataset.points;
        delete container.dataset.bands;
      },
    };
  }

  // Zoom that survives a rebuild or a live update: set by a drag-select,
  // cleared by the double-click that resets it.
  function zoomTracker() {
    const z = { x: null, y: null };
    return {
      state: z,
      cursor(dragY) {
        return {
          drag: { x: true, y: !!dragY, uni: dragY ? 20 : undefined, setScale: true },
          bind: {
            dblclick: (u, target, handler) => (e) => {
              z.x = z.y = null;
              return handler(e);
            },
          },
        };
      },
      hook(dragY) {
        // Fires before uPlot zooms to the selection, so read the selection.
        return (u) => {
          const { left, top, width, height } = u.select;
          if (width > 0) z.x = [u.posToVal(left, "x"), u.posToVal(left + width, "x")];
          if (dragY && height > 0) z.y = [u.posToVal(top + height, "y"), u.posToVal(top, "y")];
        };
      },
      apply(u) {
        if (z.x || z.y) {
          u.batch(() => {
            if (z.x) u.setScale("x", { min: z.x[0], max: z.x[1] });
            if (z.y) u.setScale("y", { min: z.y[0], max: z.y[1] });
          });
        }
      },
    };
  }

  // A choice remembered per browser. Storage can be off (private windows):
  // then nothing is remembered and the controls still work.
  function stored(key) {
    try {
      return root.localStorage.getItem(key);
    } catch (e) {
      return null;
    }
  }

  function store(key, value) {
    try {
      root.localStorage.setItem(key, value);
    } catch (e) {
      // Not remembered; see stored().
    }
  }

  function storedWeight() {
    const v = parseFloat(stored("advmix.smoothing"));
    return finite(v) ? v : 0;
  }

  const storeWeight = (w) => store("advmix.smoothing", String(w));

  /** Whether the toggle remembered under `key` was left on in this browser. */
  advmix.storedFlag = (key) => stored(key) === "1";

  // ---- line chart ----------------------------------------------------------

  advmix.lineChart = function (container, options) {
    const opts = Object.assign({ series: [], markers: [], references: [], height: 300 }, options);
    let series = opts.series || [];
    let markers = opts.markers || [];
    // Horizontal dashed lines at fixed values (published results): drawn
    // across the epochs shown, never part of the data.
    let references = opts.references || [];
    // Vertical dashed lines at fixed x (early termination's rungs), each
    // named at its top; drawn over the plot, never part of the data.
    let verticals = opts.verticals || [];
    let logY = !!opts.logY;
    let weight = opts.smoothing ? Math.min(Math.max(opts.smoothingWeight ?? storedWeight(), 0), 0.99) : 0;
    let plot = null;
    let shape = "";
    let counts = []; // finite points per series, for data-points
    let bandData = []; // per series: null, or {x, lo, hi, at} as drawn now
    let bandCount = 0; // bands drawn by the last draw, for data-bands
    const hidden = new Set(); // labels the user toggled off, kept across rebuilds
    const zoom = zoomTracker();
    const f = frame(container, opts, rebuild, (w) => plot && plot.setSize({ width: w, height: opts.height }));

    if (opts.smoothing) {
      const label = el("label", "advmix-smoothing", "Smoothing ");
      const input = el("input");
      Object.assign(input, { type: "range", min: "0", max: "0.99", step: "0.01", value: String(weight) });
      const output = el("output", null, weight.toFixed(2));
      input.addEventListener("input", () => {
        weight = parseFloat(input.value) || 0;
        output.textContent = weight.toFixed(2);
        storeWeight(weight);
        if (!plot) return;
        // Bands are smoothed with the lines, so they follow the slider too.
        const d = data();
        bandData = d.bands;
        plot.setData(d.columns, false);
      });
      label.append(input, " ", output);
      f.controls.append(label);
    }
    if (opts.allowLog) {
      const label = el("label", "advmix-logy");
      const input = el("input");
      input.type = "checkbox";
      input.checked = logY;
      input.addEventListener("change", () => {
        logY = input.checked;
        zoom.state.y = null;
        rebuild();
      });
      label.append(input, " log y");
      f.controls.append(label);
    }
    if (opts.bandsToggle) {
      const t = opts.bandsToggle;
      const label = el("label", "advmix-bands");
      label.title = t.title || "One line per group of runs (the results table's groups, seeds pooled): "
        + "the mean at each epoch, shaded ± the sample standard deviation (n − 1)";
      const input = el("input");
      input.type = "checkbox";
      input.checked = t.storageKey ? advmix.storedFlag(t.storageKey) : !!t.checked;
      if (t.id) input.id = t.id;
      input.addEventListener("change", () => {
        if (t.storageKey) store(t.storageKey, input.checked ? "1" : "0");
        if (t.onChange) t.onChange(input.checked);
      });
      label.append(input, " " + (t.label || "mean ± std per group"));
      f.controls.append(label);
    }

    function markerGroups() {
      const groups = new Map();
      markers.forEach((m) => {
        if (!finite(m.x) || !finite(m.y)) return;
        const key = (m.label || "") + "\u0000" + (m.color || "");
        if (!groups.has(key)) groups.set(key, { label: m.label || "", color: m.color, points: [] });
        groups.get(key).points.push([m.x, m.y]);
      });
      return [...groups.values()];
    }

    // The aligned columns for uPlot, and per-series counts for data-points.
    function data() {
      const groups = markerGroups();
      const xs = new Set();
      const keep = (y) => finite(y) && (!logY || y > 0);
      const maps = series.map((s) => {
        const m = new Map();
        (s.points || []).forEach((p) => {
          if (p && finite(p[0])) {
            m.set(p[0], keep(p[1]) ? p[1] : null);
            xs.add(p[0]);
          }
        });
        return m;
      });
      groups.forEach((g) => g.points.forEach((p) => xs.add(p[0])));
      const x = [...xs].sort((a, b) => a - b);
      const raw = maps.map((m) => x.map((v) => (m.has(v) ? m.get(v) : null)));
      const counts = raw.map((col) => col.filter(finite).length);
      const markerCols = groups.map((g) => {
        const m = new Map(g.points.map((p) => [p[0], keep(p[1]) ? p[1] : null]));
        return x.map((v) => (m.has(v) ? m.get(v) : null));
      });
      const refCols = references.map((r) => x.map(() => (keep(r.y) ? r.y : null)));
      const columns = [x];
      if (opts.smoothing) columns.push(...raw);
      columns.push(...raw.map((col) => (opts.smoothing ? advmix.smooth(col, weight) : col)), ...markerCols, ...refCols);
      const total = counts.reduce((a, b) => a + b, 0) + markerCols.reduce((a, c) => a + c.filter(finite).length, 0);
      return { columns, counts, groups, total, bands: series.map(bandOf) };
    }

    // A series' band sorted by x, smoothed like its line: the debiased EMA is
    // linear, so smoothed mean ± smoothed std is the smoothed band.
    function bandOf(s) {
      if (!Array.isArray(s.band) || s.band.length === 0) return null;
      const rows = s.band.filter((b) => b && finite(b[0])).sort((a, b) => a[0] - b[0]);
      if (rows.length === 0) return null;
      const x = rows.map((b) => b[0]);
      let lo = rows.map((b) => (finite(b[1]) && finite(b[2]) ? b[1] : null));
      let hi = rows.map((b) => (finite(b[1]) && finite(b[2]) ? b[2] : null));
      if (opts.smoothing && weight > 0) {
        lo = advmix.smooth(lo, weight);
        hi = advmix.smooth(hi, weight);
      }
      const at = new Map(x.map((v, k) => [v, [lo[k], hi[k]]]));
      return { x, lo, hi, at };
    }

    function shapeOf(d) {
      const groups = d.groups;
      return JSON.stringify([
        logY,
        // The y range and the legend's values differ with bands.
        d.bands.map(Boolean),
        series.map((s, i) => [s.label, s.color || advmix.palette(i)]),
        groups.map((g) => [g.label, g.color]),
        references.map((r) => [r.label, r.color]),
      ]);
    }

    function build(d) {
      const t = theme(container);
      const fmt = opts.percent ? formatPercent : formatNumber;
      const n = series.length;
      const rawOffset = 1;
      const mainOffset = opts.smoothing ? 1 + n : 1;
      const markerOffset = mainOffset + n;
      const integerX = d.columns[0].every(Number.isInteger);
      const uSeries = [{ label: opts.xLabel || "x", value: (u, v) => formatNumber(v) }];
      if (opts.smoothing) {
        series.forEach((s, i) => {
          uSeries.push({
            label: s.label + " (raw)",
            class: "advmix-raw",
            stroke: (s.color || advmix.palette(i)) + "55",
            width: 1,
            spanGaps: true,
            points: { show: false },
            show: !hidden.has(s.label),
          });
        });
      }
      series.forEach((s, i) => {
        uSeries.push({
          label: s.label,
          stroke: s.color || advmix.palette(i),
          width: 2,
          spanGaps: true,
          show: !hidden.has(s.label),
          value: (u, v, sidx, idx) => {
            let text = fmt(v);
            if (idx == null || !finite(v)) return text;
            if (opts.smoothing && weight !== 0) text += " (raw " + fmt(u.data[rawOffset + i][idx]) + ")";
            const range = bandData[i] && bandData[i].at.get(u.data[0][idx]);
            if (range && finite(range[0]) && finite(range[1])) text += " [" + fmt(range[0]) + " – " + fmt(range[1]) + "]";
            return text;
          },
        });
      });
      d.groups.forEach((g, j) => {
        const color = g.color || advmix.palette(n + j);
        uSeries.push({
          label: g.label,
          stroke: color,
          fill: color,
          width: 0,
          paths: () => null,
          points: { show: true, size: 11, width: 2, stroke: t.panel, fill: color },
          show: !hidden.has(g.label),
          value: (u, v) => fmt(v),
        });
      });
      references.forEach((r) => {
        uSeries.push({
          label: r.label,
          class: "advmix-reference",
          stroke: r.color || t.muted,
          dash: [6, 4],
          width: 1.5,
          spanGaps: true,
          points: { show: false },
          show: !hidden.has(r.label),
          value: (u, v) => fmt(v),
        });
      });
      const uOpts = {
        width: f.width(),
        height: opts.height,
        series: uSeries,
        scales: {
          x: { time: false },
          y: logY ? { distr: 3, log: 10 } : {},
        },
        axes: axes(
          t,
          opts.xLabel,
          opts.yLabel,
          integerX ? (u, splits) => splits.map((v) => (Number.isInteger(v) ? String(v) : "")) : tickValues(false),
          tickValues(!!opts.percent),
        ),
        legend: { live: true },
        focus: { alpha: 0.3 },
        cursor: Object.assign(zoom.cursor(false), { focus: { prox: 16 } }),
        hooks: {
          setSelect: [zoom.hook(false)],
          setSeries: [
            (u, sidx, change) => {
              if (!change || !("show" in change) || sidx == null) return;
              const label = u.series[sidx].label;
              if (change.show) hidden.delete(label);
              else hidden.add(label);
              if (opts.smoothing && sidx >= mainOffset && sidx < markerOffset) {
                u.setSeries(rawOffset + (sidx - mainOffset), { show: change.show }, false);
              }
            },
          ],
          // After the grid, before the series: bands lie under every line.
          drawAxes: [drawBands],
          draw: [
            (u) => {
              drawVerticals(u);
              f.mark(series.length, counts, bandCount);
            },
          ],
        },
      };
      if (d.bands.some(Boolean)) uOpts.scales.y.range = bandRange(mainOffset);
      if (integerX) uOpts.axes[0].incrs = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000];
      plot = new uPlot(uOpts, d.columns, f.body);
      zoom.apply(plot);
    }

    // uPlot's own y range (rangeNum with its 10% padding, or rangeLog) of
    // the lines and the shown series' bands within the x range in view.
    function bandRange(mainOffset) {
      return (u, min, max) => {
        const x0 = u.series[0].min;
        const x1 = u.series[0].max;
        const inView = (x) => !finite(x0) || !finite(x1) || (x >= x0 && x <= x1);
        bandData.forEach((b, i) => {
          const s = u.series[mainOffset + i];
          if (!b || !s || !s.show) return;
          b.x.forEach((x, k) => {
            if (!inView(x)) return;
            [b.lo[k], b.hi[k]].forEach((v) => {
              if (!finite(v) || (logY && v <= 0)) return;
              min = min == null ? v : Math.min(min, v);
              max = max == null ? v : Math.max(max, v);
            });
          });
        });
        if (min == null || max == null) return [null, null];
        return logY ? uPlot.rangeLog(min, max, 10, false) : uPlot.rangeNum(min, max, 0.1, true);
      };
    }

    function drawBands(u) {
      bandCount = 0;
      if (!bandData.some(Boolean)) return;
      const ctx = u.ctx;
      const { left, top, width, height } = u.bbox;
      const mainOffset = opts.smoothing ? 1 + series.length : 1;
      const bar = 3 * uPlot.pxRatio;
      ctx.save();
      ctx.beginPath();
      ctx.rect(left, top, width, height);
      ctx.clip();
      // One alpha for every colour, whatever its notation (#rgb, #rrggbbaa, hsl).
      ctx.globalAlpha = 0.18;
      bandData.forEach((b, i) => {
        const s = u.series[mainOffset + i];
        if (!b || !s || !s.show) return;
        ctx.fillStyle = series[i].color || advmix.palette(i);
        let run = []; // [x, y of lo, y of hi] in canvas pixels
        let drawn = false;
        const flush = () => {
          if (run.length === 1) {
            // A lone epoch (the first, while runs train) still shows its spread.
            const [x, lo, hi] = run[0];
            ctx.fillRect(x - bar, hi, 2 * bar, lo - hi);
            drawn = true;
          } else if (run.length > 1) {
            ctx.beginPath();
            ctx.moveTo(run[0][0], run[0][2]);
            run.forEach((p) => ctx.lineTo(p[0], p[2]));
            for (let k = run.length - 1; k >= 0; k--) ctx.lineTo(run[k][0], run[k][1]);
            ctx.closePath();
            ctx.fill();
            drawn = true;
          }
          run = [];
        };
        b.x.forEach((x, k) => {
          const lo = b.lo[k];
          const hi = b.hi[k];
          if (!finite(lo) || !finite(hi) || (logY && hi <= 0)) return flush();
          const yLo = logY && lo <= 0 ? top + height : u.valToPos(lo, "y", true);
          run.push([u.valToPos(x, "x", true), yLo, u.valToPos(hi, "y", true)]);
        });
        flush();
        if (drawn) bandCount += 1;
      });
      ctx.restore();
    }

    function drawVerticals(u) {
      if (!verticals.length) return;
      const ctx = u.ctx;
      const { left, top, width, height } = u.bbox;
      const color = theme(container).muted;
      ctx.save();
      ctx.strokeStyle = color;
      ctx.fillStyle = color;
      ctx.lineWidth = uPlot.pxRatio;
      ctx.setLineDash([4 * uPlot.pxRatio, 4 * uPlot.pxRatio]);
      ctx.font = `${11 * uPlot.pxRatio}px system-ui, sans-serif`;
      ctx.textBaseline = "top";
      verticals.forEach((v) => {
        const x = u.valToPos(v.x, "x", true);
        if (!finite(x) || x < left || x > left + width) return;
        ctx.beginPath();
        ctx.moveTo(x, top);
        ctx.lineTo(x, top + height);
        ctx.stroke();
        if (v.label) ctx.fillText(v.label, x + 3 * uPlot.pxRatio, top + 2 * uPlot.pxRatio);
      });
      ctx.restore();
      container.dataset.verticals = String(verticals.length);
    }

    function rebuild() {
      if (plot) {
        plot.destroy();
        plot = null;
      }
      render();
    }

    function render() {
      const d = data();
      counts = d.counts;
      bandData = d.bands;
      if (d.total === 0) bandCount = 0;
      f.mark(series.length, counts, bandCount);
      if (d.total === 0) {
        if (plot) {
          plot.destroy();
          plot = null;
        }
        shape = "";
        f.setEmpty(true);
        return;
      }
      f.setEmpty(false);
      const s = shapeOf(d);
      if (plot && s === shape) {
        // Rescaled, then zoomed back: y fits the new data in the zoomed range.
        plot.setData(d.columns);
        zoom.apply(plot);
      } else {
        if (plot) plot.destroy();
        shape = s;
        build(d);
      }
    }

    render();
    return {
      setSeries(next) {
        series = next || [];
        render();
      },
      setMarkers(next) {
        markers = next || [];
        render();
      },
      setReferences(next) {
        references = next || [];
        render();
      },
      setVerticals(next) {
        verticals = next || [];
        if (plot) plot.redraw(false);
      },
      destroy() {
        if (plot) plot.destroy();
        plot = null;
        f.destroy();
      },
    };
  };

  // ---- scatter chart -------------------------------------------------------

  advmix.scatterChart = function (container, options) {
    const opts = Object.assign({ points: [], height: 320, empty: "no points yet" }, options);
    const cats = Array.isArray(opts.xCategories) ? opts.xCategories.map(String) : null;
    // Points as given, plus px: where they are drawn on x (jittered when
    // categorical).
    let points = [];
    let plot = null;
    let shape = "";
    let onlyX = null; // the one x every point has, else null
    const zoom = zoomTracker();
    const f = frame(container, opts, rebuild, (w) => plot && plot.setSize({ width: w, height: opts.height }));
    const fx = cats ? (v) => cats[v] : opts.percentX ? formatPercent : formatNumber;
    const fy = opts.percentY ? formatPercent : formatNumber;
    let tip = null;
    const STRIP = 0.25; // points spread over ±STRIP of their category
    const BOX = 0.32; // boxes a little wider than the strip, so dots stay inside

    // Padded so that points on the extremes are not cut in half; one value
    // alone is centred (rangeNum would start the axis at it: 0 to 100 for 0).
    function pointRange(min, max, percent) {
      if (min == null || max == null) return [null, null];
      if (max > min) return uPlot.rangeNum(min, max, 0.08, true);
      const pad = percent ? 0.05 : Math.abs(min) * 0.5 || 0.5;
      return [min - pad, max + pad];
    }

    // Boxes behind the points of each category: whiskers from min to max,
    // the box from q1 to q3, a heavier median line.
    function drawBoxes(u, t) {
      const ctx = u.ctx;
      const byCat = new Map();
      points.forEach((p) => {
        if (!byCat.has(p.x)) byCat.set(p.x, []);
        byCat.get(p.x).push(p.y);
      });
      const px = uPlot.pxRatio;
      ctx.strokeStyle = t.muted;
      byCat.forEach((ys, c) => {
        const b = advmix.boxStats(ys);
        if (!b) return;
        const x0 = u.valToPos(c - BOX, "x", true);
        const x1 = u.valToPos(c + BOX, "x", true);
        const xm = u.valToPos(c, "x", true);
        const cap = (x1 - x0) / 4;
        const y = (v) => u.valToPos(v, "y", true);
        ctx.lineWidth = px;
        ctx.beginPath();
        ctx.moveTo(xm, y(b.max));
        ctx.lineTo(xm, y(b.q3));
        ctx.moveTo(xm, y(b.q1));
        ctx.lineTo(xm, y(b.min));
        ctx.moveTo(xm - cap, y(b.max));
        ctx.lineTo(xm + cap, y(b.max));
        ctx.moveTo(xm - cap, y(b.min));
        ctx.lineTo(xm + cap, y(b.min));
        ctx.stroke();
        ctx.globalAlpha = 0.45;
        ctx.fillStyle = t.grid;
        ctx.fillRect(x0, y(b.q3), x1 - x0, y(b.q1) - y(b.q3));
        ctx.globalAlpha = 1;
        ctx.strokeRect(x0, y(b.q3), x1 - x0, y(b.q1) - y(b.q3));
        ctx.lineWidth = 2.5 * px;
        ctx.beginPath();
        ctx.moveTo(x0, y(b.median));
        ctx.lineTo(x1, y(b.median));
        ctx.stroke();
      });
    }

    function draw(u) {
      const ctx = u.ctx;
      const { left, top, width, height } = u.bbox;
      const r = 4.5 * uPlot.pxRatio;
      const t = theme(container);
      ctx.save();
      ctx.beginPath();
      ctx.rect(left, top, width, height);
      ctx.clip();
      if (cats) drawBoxes(u, t);
      ctx.lineWidth = uPlot.pxRatio;
      ctx.strokeStyle = t.panel;
      points.forEach((p) => {
        const cx = u.valToPos(p.px, "x", true);
        const cy = u.valToPos(p.y, "y", true);
        ctx.beginPath();
        ctx.arc(cx, cy, r, 0, 2 * Math.PI);
        ctx.fillStyle = p.color || advmix.palette(0);
        ctx.fill();
        ctx.stroke();
      });
      ctx.restore();
      return null;
    }

    // Nearest point within 12 CSS pixels of the cursor.
    function hover(u) {
      const { left, top } = u.cursor;
      let best = null;
      let bestDist = 144;
      if (left >= 0 && top >= 0) {
        points.forEach((p) => {
          const dx = u.valToPos(p.px, "x") - left;
          const dy = u.valToPos(p.y, "y") - top;
          const dist = dx * dx + dy * dy;
          if (dist < bestDist) {
            bestDist = dist;
            best = p;
          }
        });
      }
      if (!best) {
        tip.hidden = true;
        return;
      }
      tip.replaceChildren(
        el("strong", null, best.label || ""),
        el("span", null, `${opts.xLabel || "x"} ${fx(best.x)} · ${opts.yLabel || "y"} ${fy(best.y)}`),
      );
      tip.hidden = false;
      const x = u.valToPos(best.px, "x");
      const y = u.valToPos(best.y, "y");
      const flip = x > u.over.clientWidth / 2;
      tip.style.left = flip ? "" : x + 10 + "px";
      tip.style.right = flip ? u.over.clientWidth - x + 10 + "px" : "";
      tip.style.top = Math.max(0, y - 10) + "px";
    }

    // Category names at integer positions only; every k-th when they would
    // overlap (about 7 CSS pixels a character at 12px).
    function categoryAxis() {
      return {
        grid: { show: false },
        splits: (u, axisIdx, min, max) => {
          const out = [];
          for (let i = Math.max(0, Math.ceil(min)); i <= Math.min(cats.length - 1, Math.floor(max)); i++) out.push(i);
          return out;
        },
        values: (u, splits) => {
          const span = u.scales.x.max - u.scales.x.min;
          const perCat = span > 0 ? u.bbox.width / uPlot.pxRatio / span : Infinity;
          const longest = Math.max(1, ...splits.map((i) => (cats[i] || "").length));
          const every = Math.max(1, Math.ceil((longest * 7 + 12) / perCat));
          return splits.map((i) => (i % every === 0 ? cats[i] : ""));
        },
      };
    }

    // One tick, at the one value there is, exactly as it reads.
    function singleAxis() {
      return {
        splits: (u, axisIdx, min, max) => (onlyX != null && onlyX >= min && onlyX <= max ? [onlyX] : []),
        values: (u, splits) => splits.map((v) => fx(v)),
      };
    }

    function build() {
      const t = theme(container);
      const ax = axes(t, opts.xLabel, opts.yLabel, tickValues(!!opts.percentX), tickValues(!!opts.percentY));
      if (cats) Object.assign(ax[0], categoryAxis());
      else if (onlyX != null) Object.assign(ax[0], singleAxis());
      plot = new uPlot(
        {
          mode: 2,
          width: f.width(),
          height: opts.height,
          legend: { show: false },
          scales: {
            x: {
              time: false,
              auto: true,
              // Half a category of room either side, whatever the points.
              range: cats ? () => [-0.5, Math.max(cats.length, 1) - 0.5] : (u, min, max) => pointRange(min, max, !!opts.percentX),
            },
            y: { auto: true, range: (u, min, max) => pointRange(min, max, !!opts.percentY) },
          },
          series: [
            {},
            {
              label: opts.title || "points",
              facets: [
                { scale: "x", auto: true },
                { scale: "y", auto: true },
              ],
              paths: draw,
              points: { show: false },
            },
          ],
          axes: ax,
          cursor: Object.assign(zoom.cursor(true), { points: { show: false } }),
          hooks: {
            setSelect: [zoom.hook(true)],
            setCursor: [hover],
            draw: [() => f.mark(1, [points.length])],
          },
        },
        columns(),
        f.body,
      );
      tip = el("div", "advmix-tip");
      tip.hidden = true;
      plot.over.append(tip);
      zoom.apply(plot);
    }

    function columns() {
      return [null, [points.map((p) => p.px), points.map((p) => p.y)]];
    }

    function rebuild() {
      if (plot) plot.destroy();
      plot = null;
      if (points.length) build();
    }

    function setPoints(next) {
      const given = (next || []).filter((p) => p && finite(p.x) && finite(p.y));
      points = (cats ? given.filter((p) => Number.isInteger(p.x) && p.x >= 0 && p.x < cats.length) : given).map((p, i) =>
        Object.assign({}, p, { px: cats ? p.x + advmix.jitter(p.key ?? p.label ?? i, STRIP) : p.x }),
      );
      const xs = new Set(points.map((p) => p.x));
      onlyX = !cats && xs.size === 1 ? points[0].x : null;
      f.mark(points.length ? 1 : 0, points.length ? [points.length] : []);
      f.setEmpty(points.length === 0);
      // A single x has an axis of its own: going to or from one rebuilds.
      const nextShape = cats ? "categories" : onlyX != null ? "single" : "numeric";
      if (!points.length) {
        if (plot) plot.destroy();
        plot = null;
      } else if (plot && nextShape === shape) {
        plot.setData(columns());
        zoom.apply(plot);
      } else {
        if (plot) plot.destroy();
        build();
      }
      shape = nextShape;
    }

    setPoints(opts.points);
    return {
      setPoints,
      destroy() {
        if (plot) plot.destroy();
        plot = null;
        f.destroy();
      },
    };
  };
})(typeof window !== "undefined" ? window : globalThis);
