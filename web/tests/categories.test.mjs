// advmix.boxStats and advmix.jitter: the boxes and the strip of points of a
// scatter chart with a categorical x (static/charts.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import vm from "node:vm";

vm.runInThisContext(readFileSync(new URL("../../static/charts.js", import.meta.url), "utf8"));
const { boxStats, jitter } = globalThis.advmix;

const near = (actual, expected, what) => assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} != ${expected}`);
const statsClose = (actual, expected) => {
  for (const k of ["min", "q1", "median", "q3", "max"]) near(actual[k], expected[k], k);
  assert.equal(actual.n, expected.n);
};

test("quartiles by linear interpolation (numpy's default)", () => {
  // numpy.percentile([1, 2, 3, 4], [25, 50, 75]) -> 1.75, 2.5, 3.25
  statsClose(boxStats([4, 1, 3, 2]), { min: 1, q1: 1.75, median: 2.5, q3: 3.25, max: 4, n: 4 });
  // numpy.percentile([7, 15, 36, 39, 40, 41], [25, 50, 75]) -> 20.25, 37.5, 39.75
  statsClose(boxStats([39, 7, 41, 15, 40, 36]), { min: 7, q1: 20.25, median: 37.5, q3: 39.75, max: 41, n: 6 });
});

test("an odd count has its middle value as median", () => {
  statsClose(boxStats([0.3, 0.1, 0.2, 0.5, 0.4]), { min: 0.1, q1: 0.2, median: 0.3, q3: 0.4, max: 0.5, n: 5 });
});

test("one value is every statistic", () => {
  statsClose(boxStats([0.42]), { min: 0.42, q1: 0.42, median: 0.42, q3: 0.42, max: 0.42, n: 1 });
});

test("two values", () => {
  statsClose(boxStats([0, 1]), { min: 0, q1: 0.25, median: 0.5, q3: 0.75, max: 1, n: 2 });
});

test("non-finite values are left out; none at all gives null", () => {
  statsClose(boxStats([null, 2, NaN, 1, undefined, 3, Infinity]), { min: 1, q1: 1.5, median: 2, q3: 2.5, max: 3, n: 3 });
  assert.equal(boxStats([]), null);
  assert.equal(boxStats([null, NaN]), null);
});

test("the input is not reordered", () => {
  const values = [3, 1, 2];
  boxStats(values);
  assert.deepEqual(values, [3, 1, 2]);
});

test("jitter stays within ±width (0.25 by default)", () => {
  for (let i = 0; i < 2000; i++) {
    const j = jitter(`run ${i}`);
    assert.ok(j >= -0.25 && j <= 0.25, `${i}: ${j}`);
    const k = jitter(i, 0.1);
    assert.ok(k >= -0.1 && k <= 0.1, `${i}: ${k}`);
  }
});

test("jitter is the same for the same key, call after call", () => {
  const keys = ["17", "method=aom seed=1", "", "ε=0.1"];
  const first = keys.map((k) => jitter(k));
  for (let round = 0; round < 3; round++) assert.deepEqual(keys.map((k) => jitter(k)), first);
  // A number and its string are one key (run ids come either way).
  assert.equal(jitter(17), jitter("17"));
});

test("jitter depends on the key only, not on the order of points or how many there are", () => {
  const keys = Array.from({ length: 20 }, (_, i) => `run ${i}`);
  const before = new Map(keys.map((k) => [k, jitter(k)]));
  const grown = [...keys, "run 20", "run 21"].reverse();
  grown.filter((k) => before.has(k)).forEach((k) => assert.equal(jitter(k), before.get(k), k));
});

test("jitter spreads similar keys across the strip", () => {
  const offsets = Array.from({ length: 200 }, (_, i) => jitter(`seed=${i}`));
  // Consecutive seeds are not next to each other...
  const near = offsets.slice(1).filter((v, i) => Math.abs(v - offsets[i]) < 0.01).length;
  assert.ok(near < 20, `${near} of 199 consecutive keys land within 0.01 of each other`);
  // ...and the strip is used on both sides, roughly evenly.
  const left = offsets.filter((v) => v < 0).length;
  assert.ok(left > 70 && left < 130, `${left} of 200 on the left`);
  const quarters = [0, 0, 0, 0];
  offsets.forEach((v) => (quarters[Math.min(3, Math.floor((v + 0.25) / 0.125))] += 1));
  quarters.forEach((q, i) => assert.ok(q > 25, `quarter ${i} has ${q} of 200`));
});
