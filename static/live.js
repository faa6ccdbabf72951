/*
 * advmix live updates: the server's event streams and JSON fetches.
 *
 * advmix.live(url, onEvent, {onReconnect, named}) -> {close()}
 *   Follows an SSE stream of the server (/api/v1/runs/{id}/events for one
 *   run, /api/v1/events for all; docs/api.md). Each message is parsed and
 *   passed on as onEvent({run_id, event}), where event is one trainer event
 *   (docs/events.md: type "epoch", "checkpoint", "finished", ...).
 *   The streams have no replay: when the connection drops (the server
 *   restarts, the network blinks) it reconnects by itself, waiting 0.25 s,
 *   then longer up to 4 s between tries, and calls onReconnect() once the
 *   stream is back so that the page can refetch what it missed.
 *   named maps the stream's other message kinds to handlers of their parsed
 *   data: {status(data), eval_status(data)} (docs/api.md, live events).
 *
 * advmix.fetchJson(url, init?) -> Promise of the parsed body (null when empty)
 *   init is fetch's; a plain-object body is sent as JSON. On a non-2xx
 *   answer it throws an Error whose message is the server's `error`, with
 *   .status and .body (the JSON error: field, errors) for forms.
 *
 * advmix.progress: the trainer's `progress` events (docs/events.md), as the
 * run page and the runs list show them.
 *   describe(p)    one line, as the server renders it: "epoch 3: batch 120
 *                  of 391, 850 img/s", "evaluating epoch 3", "final
 *                  evaluation: APGD-T (2 of 2), 38 of 355 robust"
 *   fraction(p)    of the current stage, in [0, 1]
 *   epochs(p)      epochs done plus the current one's fraction
 *   endsAt(line)   ms since the epoch when the trainer's estimate runs out,
 *                  or null
 *   duration(s)    "45 s", "2 min", "1 h 05 min", "2 d 3 h"
 */
(function (root) {
  "use strict";

  const advmix = (root.advmix = root.advmix || {});

  const DELAYS_MS = [250, 500, 1000, 2000, 4000];

  advmix.live = function (url, onEvent, options) {
    const onReconnect = (options && options.onReconnect) || null;
    const named = Object.assign({ run: onEvent }, (options && options.named) || {});
    let source = null;
    let timer = null;
    let closed = false;
    let failures = 0;
    // Whether events may have been missed since the last open stream.
    let missed = false;

    function connect() {
      timer = null;
      if (closed) return;
      source = new root.EventSource(url);
      source.addEventListener("open", () => {
        failures = 0;
        if (missed) {
          missed = false;
          if (onReconnect) onReconnect();
        }
      });
      for (const [kind, handler] of Object.entries(named)) {
        source.addEventListener(kind, (message) => {
          let data;
          try {
            data = JSON.parse(message.data);
          } catch (e) {
            return; // not one of ours; the stream goes on
          }
          handler(data);
        });
      }
      // EventSource retries on its own only after some failures, and only
      // after the delay the browser picks; taking over gives one behaviour.
      source.addEventListener("error", () => {
        drop();
        schedule();
      });
    }

    function drop() {
      if (source) {
        source.close();
        source = null;
        missed = true;
      }
    }

    function schedule() {
      if (closed || timer != null) return;
      const delay = DELAYS_MS[Math.min(failures, DELAYS_MS.length - 1)];
      failures += 1;
      timer = setTimeout(connect, delay);
    }

    // Leaving the page closes the stream without it counting as a failure;
    // coming back from the back-forward cache reopens it and catches up.
    function onHide() {
      if (timer != null) clearTimeout(timer);
      timer = null;
      drop();
    }
    function onShow(e) {
      if (e.persisted && !closed && !source && timer == null) connect();
    }
    if (root.addEventListener) {
      root.addEventListener("pagehide", onHide);
      root.addEventListener("pageshow", onShow);
    }

    connect();
    return {
      close() {
        closed = true;
        onHide();
        if (root.removeEventListener) {
          root.removeEventListener("pagehide", onHide);
          root.removeEventListener("pageshow", onShow);
        }
      },
    };
  };

  const duration = (seconds) => {
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
    return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
  };
  const fraction = (p) => (p.total > 0 ? Math.min(1, Math.max(0, p.done / p.total)) : 0);
  advmix.progress = {
    duration,
    fraction,
    describe(p) {
      const a = p.attack;
      if (p.stage === "final") {
        return a
          ? `final evaluation: ${a.attack.toUpperCase()} (${a.index} of ${a.of}), ${a.robust_left} of ${a.n} robust`
          : "final evaluation";
      }
      if (p.stage === "attack") {
        return a
          ? `${a.attack.toUpperCase()} (${a.index} of ${a.of}): ${p.done} of ${p.total} points, ${a.robust_left} of ${a.n} robust`
          : "evaluating";
      }
      if (p.stage === "evaluate") return `evaluating epoch ${p.epoch}`;
      const speed = p.images_per_second != null ? `, ${Math.round(p.images_per_second)} img/s` : "";
      return `epoch ${p.epoch}: batch ${p.done} of ${p.total}${speed}`;
    },
    epochs(p) {
      return p.stage === "train" ? Math.max(0, p.epoch - 1) + fraction(p) : p.epoch;
    },
    endsAt(line) {
      return line.eta_seconds != null && line.time != null ? (line.time + line.eta_seconds) * 1000 : null;
    },
  };

  advmix.fetchJson = async function (url, init) {
    const request = Object.assign({}, init);
    const headers = new Headers(request.headers || {});
    if (!headers.has("Accept")) headers.set("Accept", "application/json");
    const body = request.body;
    if (body != null && typeof body === "object" && Object.getPrototypeOf(body) === Object.prototype) {
      request.body = JSON.stringify(body);
      if (!headers.has("Content-Type")) headers.set("Content-Type", "application/json");
    }
    request.headers = headers;
    const response = await fetch(url, request);
    const text = await response.text();
    let parsed = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch (e) {
        parsed = null;
      }
    }
    if (!response.ok) {
      const message =
        parsed && typeof parsed.error === "string"
          ? parsed.error
          : `${response.status} ${response.statusText || "error"} from ${url}`;
      const error = new Error(message);
      error.status = response.status;
      error.body = parsed;
      throw error;
    }
    if (parsed === null && text) throw new Error(`${url} did not answer JSON`);
    return parsed;
  };
})(typeof window !== "undefined" ? window : globalThis);
