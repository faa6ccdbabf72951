// advmix.smooth: the debiased exponential moving average of TensorBoard's
// smoothing slider (static/charts.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import vm from "node:vm";

vm.runInThisContext(readFileSync(new URL("../../static/charts.js", import.meta.url), "utf8"));
const { smooth, palette } = globalThis.advmix;

const close = (actual, expected) => {
  assert.equal(actual.length, expected.length);
  actual.forEach((v, i) => {
    if (expected[i] === null) assert.equal(v, null, `index ${i}`);
    else assert.ok(Math.abs(v - expected[i]) < 1e-12, `index ${i}: ${v} != ${expected[i]}`);
  });
};

test("weight 0 returns the values", () => {
  assert.deepEqual(smooth([0.1, 0.5, 0.3], 0), [0.1, 0.5, 0.3]);
});

test("the first value is not pulled towards zero (debiased)", () => {
  close(smooth([0.8, 0.2], 0.9), [0.8, (0.9 * 0.08 + 0.1 * 0.2) / (1 - 0.81)]);
});

test("matches the recurrence last = last*w + (1-w)*y; smoothed = last / (1 - w^n)", () => {
  const values = [0.1, 0.4, 0.35, 0.6, 0.2, 0.55];
  const w = 0.6;
  let last = 0;
  const expected = values.map((y, i) => {
    last = last * w + (1 - w) * y;
    return last / (1 - w ** (i + 1));
  });
  close(smooth(values, w), expected);
});

test("gaps stay gaps and do not count", () => {
  const w = 0.5;
  const dense = smooth([0.2, 0.6, 0.4], w);
  close(smooth([null, 0.2, NaN, 0.6, undefined, 0.4], w), [null, dense[0], null, dense[1], null, dense[2]]);
});

test("a constant series stays exactly constant", () => {
  assert.deepEqual(smooth([0.3, 0.3, 0.3, 0.3], 0.95), [0.3, 0.3, 0.3, 0.3]);
});

test("smoothing pulls values towards the running mean", () => {
  const out = smooth([0, 1, 0, 1, 0, 1], 0.9);
  assert.ok(Math.max(...out.slice(2)) < 0.8 && Math.min(...out.slice(2)) > 0.2, String(out));
});

test("an empty series is empty", () => {
  assert.deepEqual(smooth([], 0.6), []);
});

test("the palette cycles through distinct colours", () => {
  const first = Array.from({ length: 10 }, (_, i) => palette(i));
  assert.equal(new Set(first).size, 10);
  assert.equal(palette(10), palette(0));
  assert.match(palette(3), /^#[0-9a-f]{6}$/);
});
