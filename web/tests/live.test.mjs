// advmix.live: parses the server's SSE messages and reconnects by itself
// when the stream drops, telling the page to catch up (static/live.js).
import { test, mock } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import vm from "node:vm";

class FakeEventSource {
  static all = [];
  constructor(url) {
    this.url = url;
    this.closed = false;
    this.listeners = {};
    FakeEventSource.all.push(this);
  }
  addEventListener(type, fn) {
    (this.listeners[type] ||= []).push(fn);
  }
  close() {
    this.closed = true;
  }
  emit(type, event = {}) {
    (this.listeners[type] || []).forEach((fn) => fn(event));
  }
  static last() {
    return FakeEventSource.all[FakeEventSource.all.length - 1];
  }
}

globalThis.EventSource = FakeEventSource;
vm.runInThisContext(readFileSync(new URL("../../static/live.js", import.meta.url), "utf8"));
const { live } = globalThis.advmix;

test("passes each run message on, parsed", () => {
  FakeEventSource.all = [];
  const seen = [];
  const stream = live("/api/v1/runs/3/events", (m) => seen.push(m));
  const source = FakeEventSource.last();
  assert.equal(source.url, "/api/v1/runs/3/events");
  source.emit("open");
  source.emit("run", { data: '{"run_id":3,"event":{"type":"epoch","epoch":1,"test_pgd_acc":0.25}}' });
  source.emit("run", { data: "not json" });
  assert.deepEqual(seen, [{ run_id: 3, event: { type: "epoch", epoch: 1, test_pgd_acc: 0.25 } }]);
  stream.close();
  assert.ok(source.closed);
});

test("reconnects with growing delays and calls onReconnect once back", () => {
  mock.timers.enable({ apis: ["setTimeout"] });
  try {
    FakeEventSource.all = [];
    let reconnects = 0;
    const stream = live("/api/v1/events", () => {}, { onReconnect: () => reconnects++ });
    FakeEventSource.last().emit("open");
    assert.equal(reconnects, 0, "the first connection is not a reconnection");

    // The server goes away: EventSource reports an error and gives up.
    FakeEventSource.last().emit("error");
    assert.ok(FakeEventSource.all[0].closed);
    mock.timers.tick(249);
    assert.equal(FakeEventSource.all.length, 1);
    mock.timers.tick(1);
    assert.equal(FakeEventSource.all.length, 2, "retried after 250 ms");

    // Still down: the next tries wait longer.
    FakeEventSource.last().emit("error");
    mock.timers.tick(499);
    assert.equal(FakeEventSource.all.length, 2);
    mock.timers.tick(1);
    assert.equal(FakeEventSource.all.length, 3, "then after 500 ms");
    for (const wait of [1000, 2000, 4000, 4000]) {
      FakeEventSource.last().emit("error");
      mock.timers.tick(wait);
    }
    assert.equal(FakeEventSource.all.length, 7, "waits stay at 4 s");
    assert.equal(reconnects, 0);

    FakeEventSource.last().emit("open");
    assert.equal(reconnects, 1, "back: the page refetches");
    FakeEventSource.last().emit("error");
    mock.timers.tick(250);
    assert.equal(FakeEventSource.all.length, 8, "a new drop starts from the short wait again");

    stream.close();
    FakeEventSource.last().emit("error");
    mock.timers.tick(10000);
    assert.equal(FakeEventSource.all.length, 8, "closed streams stay closed");
  } finally {
    mock.timers.reset();
  }
});

test("progress reads as the server writes it (protocol/src/events.rs)", () => {
  const { describe, fraction, endsAt } = globalThis.advmix.progress;
  const attack = { attack: "apgd-t", index: 2, of: 2, robust_left: 38, n: 355 };
  const train = { stage: "train", epoch: 3, done: 120, total: 391, images_per_second: 850.4 };
  assert.equal(describe(train), "epoch 3: batch 120 of 391, 850 img/s");
  assert.equal(describe({ stage: "final", epoch: 10, done: 0, total: 355, attack }), "final evaluation: APGD-T (2 of 2), 38 of 355 robust");
  const job = { stage: "attack", epoch: 10, done: 100, total: 300, attack, time: 1000, eta_seconds: 200 };
  assert.equal(describe(job), "APGD-T (2 of 2): 100 of 300 points, 38 of 355 robust");
  assert.equal(fraction(job), 1 / 3);
  assert.equal(endsAt(job), 1200 * 1000);
});
