// advmix.meanStd: the mean ± std per x behind the overlay charts' "mean ± std
// per group" bands (static/charts.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import vm from "node:vm";

vm.runInThisContext(readFileSync(new URL("../../static/charts.js", import.meta.url), "utf8"));
const { meanStd } = globalThis.advmix;

const near = (actual, expected, what) => assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} != ${expected}`);

const rowsClose = (actual, expected) => {
  assert.equal(actual.length, expected.length, JSON.stringify(actual));
  actual.forEach((row, i) => {
    assert.equal(row[0], expected[i][0], `x of row ${i}`);
    near(row[1], expected[i][1], `mean at x=${row[0]}`);
    near(row[2], expected[i][2], `std at x=${row[0]}`);
    assert.equal(row[3], expected[i][3], `n at x=${row[0]}`);
  });
};

test("mean and sample standard deviation (n - 1) at each x", () => {
  const runs = [
    [[1, 0.2], [2, 0.4]],
    [[1, 0.4], [2, 0.5]],
    [[1, 0.6], [2, 0.6]],
  ];
  // At x=1: mean 0.4, deviations ±0.2 -> variance (0.04 + 0.04) / 2 = 0.04.
  rowsClose(meanStd(runs), [
    [1, 0.4, 0.2, 3],
    [2, 0.5, 0.1, 3],
  ]);
});

test("one value at an x has std 0 and n 1", () => {
  rowsClose(meanStd([[[3, 0.7]]]), [[3, 0.7, 0, 1]]);
});

test("epochs only some runs reached count those runs only", () => {
  const runs = [
    [[1, 0.1], [2, 0.2], [3, 0.3]],
    [[1, 0.3], [2, 0.4]],
  ];
  const out = meanStd(runs);
  rowsClose(out, [
    [1, 0.2, Math.SQRT2 * 0.1, 2],
    [2, 0.3, Math.SQRT2 * 0.1, 2],
    [3, 0.3, 0, 1],
  ]);
});

test("rows are sorted by x, whatever order the points come in", () => {
  const out = meanStd([[[5, 1], [1, 1]], [[3, 2]]]);
  assert.deepEqual(out.map((r) => r[0]), [1, 3, 5]);
});

test("non-finite y and x are left out; an x with no finite y has no row", () => {
  const out = meanStd([
    [[1, 0.5], [2, null], [NaN, 0.3], [4, NaN]],
    [[1, 0.7], [2, undefined], [null, 0.1]],
  ]);
  rowsClose(out, [[1, 0.6, Math.SQRT2 * 0.1, 2]]);
});

test("series may be objects with points, as the charts' series are", () => {
  const out = meanStd([{ label: "a", points: [[1, 2]] }, { points: [[1, 4]] }, {}]);
  rowsClose(out, [[1, 3, Math.SQRT2, 2]]);
});

test("a repeated x within one series counts once, its last point", () => {
  rowsClose(meanStd([[[1, 0.1], [1, 0.3]], [[1, 0.5]]]), [[1, 0.4, Math.SQRT2 * 0.1, 2]]);
});

test("no series, or only empty ones, give no rows", () => {
  assert.deepEqual(meanStd([]), []);
  assert.deepEqual(meanStd([[], { points: [] }]), []);
  assert.deepEqual(meanStd(undefined), []);
});

test("identical runs have std 0 exactly, and a tiny spread is not lost", () => {
  rowsClose(meanStd([[[1, 0.45]], [[1, 0.45]], [[1, 0.45]]]), [[1, 0.45, 0, 3]]);
  const [[, mean, std]] = meanStd([[[1, 1e8 + 0.1]], [[1, 1e8 + 0.2]], [[1, 1e8 + 0.3]]]);
  near(mean, 1e8 + 0.2, "mean");
  assert.ok(Math.abs(std - 0.1) < 1e-7, `std ${std}`);
});
