// The pages in a real browser (issue #6): headless Chromium, driven by
// playwright-core, against a running advmix server with a real trainer.
//
//   node web/tests/browser.mjs --url http://127.0.0.1:PORT --screenshots DIR
//
// server/tests/browser.rs starts the server and runs this as part of
// `cargo test` on a fresh server; any server with two free CPU slots and the
// trainer will do (it launches a sweep of its own there). Every step saves a full-page screenshot in DIR (01-home.png, ...),
// and a failing step saves FAIL-<step>.png. Errors in any page's console and
// uncaught exceptions fail the test at the end. Exits 0 when all is well.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const { values: args } = parseArgs({
  options: {
    url: { type: "string" },
    screenshots: { type: "string", default: "target/screenshots" },
    chromium: { type: "string", default: "/usr/bin/chromium" },
  },
});
if (!args.url) {
  console.error("usage: node web/tests/browser.mjs --url http://127.0.0.1:PORT [--screenshots DIR]");
  process.exit(2);
}
const BASE = args.url.replace(/\/$/, "");
const SHOTS = args.screenshots;
mkdirSync(SHOTS, { recursive: true });

const STEP_TIMEOUT_MS = 30_000; // one step; waiting for training has its own
const LIVE_TIMEOUT_MS = 120_000; // a first epoch takes 10 to 20 s on two busy cores
const TRAINING_TIMEOUT_MS = 240_000;
const WATCHDOG_MS = 420_000; // the whole script, whatever happens
const EPOCHS = 2;

const watchdog = setTimeout(() => {
  console.error(`FAILED: the browser test ran past ${WATCHDOG_MS / 1000} s`);
  process.exit(1);
}, WATCHDOG_MS);

// ---- helpers -------------------------------------------------------------------

class Failure extends Error {}
const fail = (message) => {
  throw new Failure(message);
};
const check = (condition, message) => {
  if (!condition) fail(message);
};

const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
const log = (line) => console.log(`[${elapsed()}] ${line}`);

/**
 * Chromium logs every HTTP error answer as a console error ("Failed to load
 * resource"). These are expected, so they are counted, not failed on:
 */
const EXPECTED = [
  // The refused launch form of the error-path step comes back as 422.
  { why: "422 from submitting the invalid launch form", status: 422, path: /^\/launch$/ },
];
const expectedSeen = new Map();

/** Console errors and uncaught exceptions of every page, checked at the end. */
const pageErrors = [];
function watch(page) {
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    const where = message.location();
    const status = /status of (\d{3})/.exec(message.text());
    const path = where && where.url ? new URL(where.url, BASE).pathname : "";
    const known = status && EXPECTED.find((e) => e.status === Number(status[1]) && e.path.test(path));
    if (known && message.text().startsWith("Failed to load resource")) {
      expectedSeen.set(known.why, (expectedSeen.get(known.why) || 0) + 1);
      return;
    }
    const at = where && where.url ? ` (${where.url}:${where.lineNumber})` : "";
    pageErrors.push(`console error on ${page.url()}: ${message.text()}${at}`);
  });
  page.on("pageerror", (error) => pageErrors.push(`uncaught exception on ${page.url()}: ${error.stack || error}`));
}

let shotNumber = 0;
async function screenshot(page, name) {
  shotNumber += 1;
  const file = join(SHOTS, `${String(shotNumber).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** The page a failing step should photograph. */
let current = null;

async function step(name, fn, timeoutMs = STEP_TIMEOUT_MS) {
  const t0 = Date.now();
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Failure(`timed out after ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    const result = await Promise.race([fn(), timeout]);
    log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    return result;
  } catch (error) {
    log(`FAIL ${name}`);
    if (current && !current.isClosed()) {
      const file = join(SHOTS, `FAIL-${name.replace(/[^a-z0-9]+/gi, "-")}.png`);
      await current.screenshot({ path: file, fullPage: true, timeout: 5000 }).then(
        () => console.error(`  screenshot of the page: ${file} (${current.url()})`),
        () => {},
      );
    }
    error.step = name;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

async function api(path) {
  const response = await fetch(BASE + path, { headers: { Accept: "application/json" } });
  if (!response.ok) fail(`GET ${path}: HTTP ${response.status}: ${await response.text()}`);
  return response.json();
}

/** Loads a page and checks it answered 200. */
async function open(page, path) {
  const response = await page.goto(BASE + path, { waitUntil: "load" });
  check(response && response.ok(), `GET ${path} answered ${response && response.status()}`);
  return response;
}

const field = (page, name) => page.locator(`[id="field-${name}"]`);

/** Types into a launch-form text field, selected by its config name. */
async function fillField(page, name, value) {
  await field(page, name).locator("input[type=text]").fill(value);
}

/** Checks exactly the given boxes of a launch-form choice field. */
async function choose(page, name, wanted) {
  const boxes = field(page, name).locator("input[type=checkbox]");
  const n = await boxes.count();
  check(n > 0, `the launch form has no checkboxes in #field-${name}`);
  const values = [];
  for (let i = 0; i < n; i++) {
    const box = boxes.nth(i);
    const value = await box.getAttribute("value");
    values.push(value);
    await box.setChecked(wanted.includes(value));
  }
  for (const w of wanted) check(values.includes(w), `#field-${name} has no option ${w} (it has ${values.join(", ")})`);
}

/** Waits until fn(arg) is truthy in the page; the message says what was awaited. */
async function waitFor(page, what, fn, arg, timeout = STEP_TIMEOUT_MS - 2000) {
  try {
    await page.waitForFunction(fn, arg, { timeout, polling: 100 });
  } catch (error) {
    fail(`${what}: not seen within ${timeout / 1000} s; the page has ${await pageState(page)}`);
  }
}

/** What the page shows of the things the steps wait for, for failure messages. */
const pageState = (page) =>
  page
    .evaluate(() => {
      const parts = [];
      for (const id of ["run-count", "epochs-done"]) {
        const el = document.getElementById(id);
        if (el) parts.push(`#${id} "${el.textContent.trim()}"`);
      }
      for (const el of document.querySelectorAll(".advmix-chart, [id^=chart-], [id^=compare-]")) {
        if (!el.id) continue;
        parts.push(`#${el.id} data-series=${el.dataset.series ?? "(none)"} data-points=${el.dataset.points ?? "(none)"}`);
      }
      return parts.join(", ") || "none of them";
    })
    .catch((e) => `(unreadable: ${e.message})`);

const chartState = (page, id) =>
  page.evaluate((id) => {
    const el = document.getElementById(id);
    return el ? { series: el.dataset.series ?? null, points: el.dataset.points ?? null } : null;
  }, id);
const sum = (points) => (points ? points.split(",").reduce((a, b) => a + Number(b), 0) : 0);

// ---- the test ------------------------------------------------------------------

const browser = await chromium.launch({
  executablePath: args.chromium,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
log(`Chromium ${browser.version()}, server ${BASE}, screenshots in ${SHOTS}`);

async function newContext(options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true, ...options });
  context.setDefaultTimeout(STEP_TIMEOUT_MS - 5000);
  context.on("page", watch);
  return context;
}

let exitCode = 0;
try {
  const context = await newContext();
  const page = await context.newPage();
  current = page;

  await step("home page", async () => {
    await open(page, "/");
    const empty = page.locator(".empty-title", { hasText: "No runs yet." });
    const table = page.locator("table#runs");
    check((await empty.count()) + (await table.count()) > 0, "the home page shows neither 'No runs yet.' nor table#runs");
    await screenshot(page, "home");
  });

  const sweepName = `browser test ${new Date().toISOString().slice(0, 19)}`;
  const sweepId = await step("launch a two-run sweep from the form", async () => {
    await open(page, "/launch");
    await fillField(page, "name", sweepName);
    await choose(page, "method", ["erm"]);
    await choose(page, "dataset", ["digits"]);
    await choose(page, "model", ["small_cnn"]);
    await fillField(page, "epochs", String(EPOCHS));
    await fillField(page, "batch_size", "128");
    await fillField(page, "epsilon", "0.05, 0.1");
    await fillField(page, "eval.n", "100");
    await fillField(page, "eval.pgd_steps", "2");
    await choose(page, "eval.final_attack", ["none"]);
    await fillField(page, "samples_every", "1");
    await waitFor(page, "#run-count saying '2 runs'", () => document.getElementById("run-count")?.textContent.trim() === "2 runs");
    const errors = await page.locator("#launch .field-error").allTextContents();
    check(errors.length === 0, `the filled form shows errors: ${errors.join("; ")}`);
    const varies = (await page.locator("#run-varies").textContent()).replace(/\s+/g, " ").trim();
    check(varies.includes("epsilon"), `#run-varies does not list epsilon: "${varies}"`);
    await screenshot(page, "launch-filled");
    await Promise.all([page.waitForURL(/\/sweeps\/\d+$/, { waitUntil: "load" }), page.click("#launch-submit")]);
    const id = Number(new URL(page.url()).pathname.split("/").pop());
    check((await page.locator("#sweep-heading").textContent()).includes(sweepName), "the sweep page is not titled with the sweep's name");
    await screenshot(page, "sweep-launched");
    return id;
  });

  const runIds = await step("find the sweep's runs", async () => {
    const hrefs = await page.locator("#sweep-runs table tbody a[href^='/runs/']").evaluateAll((as) => as.map((a) => a.getAttribute("href")));
    const ids = hrefs.map((h) => Number(h.split("/").pop())).sort((a, b) => a - b);
    check(ids.length === 2, `table#sweep-runs links ${ids.length} runs, not 2: ${hrefs.join(", ")}`);
    return ids;
  });
  log(`sweep ${sweepId}: runs ${runIds.join(", ")}`);

  await step("run page follows training live", async () => {
    await open(page, `/runs/${runIds[0]}`);
    // A marker that a reload would lose.
    await page.evaluate(() => (window.__notReloaded = true));
    const before = (await page.locator("#epochs-done").textContent()).trim();
    const done = Number(before.split("/")[0]);
    check(before.endsWith(`/ ${EPOCHS}`), `#epochs-done reads "${before}", not "k / ${EPOCHS}"`);
    check(done < EPOCHS, `the run had finished (#epochs-done "${before}") before the page could watch it train`);
    const chart = await chartState(page, "chart-acc");
    check(chart && chart.series === "2", `#chart-acc has data-series=${chart && chart.series}, not 2 (clean, PGD)`);
    const pointsBefore = sum(chart.points);
    log(`  run ${runIds[0]} page opened at ${before}, #chart-acc data-points="${chart.points}"`);
    await waitFor(
      page,
      `#epochs-done rising above ${done} and #chart-acc gaining points without a reload`,
      ([done, pointsBefore]) => {
        const text = document.getElementById("epochs-done").textContent;
        const points = (document.getElementById("chart-acc").dataset.points || "").split(",").reduce((a, b) => a + Number(b), 0);
        return Number(text.split("/")[0]) > done && points > pointsBefore;
      },
      [done, pointsBefore],
      LIVE_TIMEOUT_MS - 10_000,
    );
    const now = Number((await page.locator("#epochs-done").textContent()).split("/")[0]);
    // The server-rendered sections follow (run.js swaps them in): the epoch
    // table, the checkpoints and, with samples_every 1, the epoch's grid.
    await waitFor(
      page,
      `#metrics-rows, table#checkpoints and #sample-image showing epoch ${now} without a reload`,
      (now) =>
        document.querySelectorAll("#metrics-rows tr[data-epoch]").length >= now &&
        document.querySelector("table#checkpoints tr[data-checkpoint-id]") !== null &&
        document.getElementById("sample-image") !== null,
      now,
    );
    check(await page.evaluate(() => window.__notReloaded === true), "the run page reloaded itself");
    const after = await chartState(page, "chart-acc");
    log(`  now ${now} / ${EPOCHS}, #chart-acc data-points="${after.points}"`);
    await screenshot(page, "run-live");
  }, LIVE_TIMEOUT_MS);

  await step("launch form shows an invalid ε at its field", async () => {
    const form = await context.newPage();
    current = form;
    await open(form, "/launch");
    await fillField(form, "epsilon", "1.5");
    const error = field(form, "epsilon").locator(".field-error");
    await error.waitFor({ state: "visible" });
    const live = (await error.textContent()).trim();
    check(live.length > 0, "the live error at #field-epsilon is empty");
    check((await field(form, "epsilon").getAttribute("class")).includes("invalid"), "#field-epsilon is not marked invalid");
    log(`  live message: ${live}`);
    await screenshot(form, "launch-invalid-live");
    const [response] = await Promise.all([form.waitForResponse((r) => r.request().method() === "POST" && new URL(r.url()).pathname === "/launch"), form.click("#launch-submit")]);
    await form.waitForLoadState("load");
    check(response.status() >= 400, `submitting ε = 1.5 answered ${response.status()}`);
    check(new URL(form.url()).pathname === "/launch", `submitting ε = 1.5 went to ${form.url()}`);
    const value = await form.locator("[id='field-epsilon'] input[type=text]").inputValue();
    check(value === "1.5", `the re-rendered form has ε "${value}", not the typed "1.5"`);
    const rendered = (await field(form, "epsilon").locator(".field-error").first().textContent()).trim();
    check(rendered.length > 0, "the re-rendered form shows no message at #field-epsilon");
    check((await form.locator(".form-summary").count()) === 1, "the re-rendered form has no .form-summary notice");
    log(`  after submitting: ${rendered}`);
    await screenshot(form, "launch-invalid-submitted");
    await form.close();
    current = page;
  });

  await step(
    "both runs finish",
    async () => {
      for (;;) {
        const { runs } = await api(`/api/v1/runs?sweep=${sweepId}`);
        const statuses = runs.map((r) => `${r.id}:${r.status}`).join(" ");
        const bad = runs.filter((r) => ["failed", "lost", "stopped"].includes(r.status));
        check(bad.length === 0, `runs ended badly: ${statuses}: ${bad.map((r) => r.error).join("; ")}`);
        if (runs.length === 2 && runs.every((r) => r.status === "succeeded")) return;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    },
    TRAINING_TIMEOUT_MS,
  );

  await step("sweep page charts both runs", async () => {
    await open(page, `/sweeps/${sweepId}`);
    await waitFor(page, '#chart-robust with data-series="2" data-points="2,2"', () => {
      const el = document.getElementById("chart-robust");
      return el.dataset.series === "2" && el.dataset.points === "2,2";
    });
    const statuses = await page.locator("#sweep-runs table .run-status").allTextContents();
    check(statuses.map((s) => s.trim()).join(",") === "succeeded,succeeded", `table#sweep-runs statuses: ${statuses.join(", ")}`);
    const tradeoff = await chartState(page, "chart-tradeoff");
    check(tradeoff && tradeoff.points === "2", `#chart-tradeoff has data-points=${tradeoff && tradeoff.points}, not 2`);
    await screenshot(page, "sweep-done");
  });

  await step("results table, and its LaTeX export downloads", async () => {
    const heading = (await page.locator("#results-heading").textContent()).trim();
    check(heading === "Results by epsilon", `the results table is headed "${heading}", not "Results by epsilon"`);
    const rows = await page.locator("#results-table tbody tr").count();
    check(rows === 2, `#results-table has ${rows} rows, not one per ε (2)`);
    const first = (await page.locator("#results-table tbody tr").first().locator("td").first().textContent()).trim();
    check(first === "0.05", `the first group is ε "${first}", not 0.05`);
    const [download] = await Promise.all([page.waitForEvent("download"), page.locator("a.results-export[data-format='LaTeX']").click()]);
    const path = await download.path();
    check(path, `the LaTeX download failed: ${await download.failure()}`);
    check(download.suggestedFilename() === `sweep-${sweepId}-results.tex`, `the download is named ${download.suggestedFilename()}`);
    const tex = readFileSync(path, "utf8");
    for (const part of ["\\begin{tabular}", "\\toprule", "epsilon & Seeds & Clean & PGD best & PGD final & Gap & AutoAttack & Best epoch", "\\bottomrule"]) {
      check(tex.includes(part), `the LaTeX export lacks ${part}:\n${tex}`);
    }
    log(`  ${download.suggestedFilename()}: ${tex.split("\n").length} lines`);
    await page.locator("#sweep-results").scrollIntoViewIfNeeded();
    await screenshot(page, "sweep-results");
  });

  await step("checkpoint download matches its SHA-256", async () => {
    await open(page, `/runs/${runIds[0]}`);
    const row = page.locator("table#checkpoints tr[data-checkpoint-id][data-kind='best']").first();
    check((await row.count()) === 1, "table#checkpoints has no best checkpoint row");
    const expected = (await row.locator("td.sha256").textContent()).trim();
    check(/^[0-9a-f]{64}$/.test(expected), `td.sha256 reads "${expected}"`);
    const evaluated = (await row.locator("td.evaluated").textContent()).trim();
    check(/after epoch \d+ on 100 points: clean [\d.]+%, robust [\d.]+%/.test(evaluated), `td.evaluated reads "${evaluated}"`);
    const [download] = await Promise.all([page.waitForEvent("download"), row.locator("a.download").click()]);
    const path = await download.path();
    check(path, `the download failed: ${await download.failure()}`);
    const actual = createHash("sha256").update(readFileSync(path)).digest("hex");
    check(actual === expected, `the downloaded checkpoint ${download.suggestedFilename()} has SHA-256 ${actual}, the table says ${expected}`);
    log(`  ${download.suggestedFilename()}: ${actual}`);
    // The finished run's page: all epochs, a sample grid that loads.
    const text = (await page.locator("#epochs-done").textContent()).trim();
    check(text === `${EPOCHS} / ${EPOCHS}`, `#epochs-done reads "${text}" after the run finished`);
    const acc = await chartState(page, "chart-acc");
    check(acc && acc.points === `${EPOCHS},${EPOCHS}`, `#chart-acc has data-points="${acc && acc.points}" after the run finished`);
    const image = page.locator("#sample-image");
    check((await image.count()) === 1, "the run page shows no sample grid (samples_every was 1)");
    await waitFor(page, "#sample-image loaded", () => {
      const img = document.getElementById("sample-image");
      return img.complete && img.naturalWidth > 0;
    });
    await screenshot(page, "run-done");
  });

  await step("compare page overlays both runs", async () => {
    await open(page, `/compare?run=${runIds[0]}&run=${runIds[1]}`);
    await waitFor(page, '#compare-acc with data-points="2,2,2,2"', () => document.getElementById("compare-acc")?.dataset.points === "2,2,2,2");
    await screenshot(page, "compare");
  });

  await step("narrow viewport (420 px)", async () => {
    const narrow = await newContext({ viewport: { width: 420, height: 900 }, isMobile: true, hasTouch: true });
    const small = await narrow.newPage();
    current = small;
    await open(small, `/runs/${runIds[1]}`);
    await waitFor(small, "#chart-acc drawn", () => !!document.getElementById("chart-acc").dataset.points);
    // Pages wider than the screen scroll sideways: noted, not failed on.
    const noteWidth = async (what) => {
      const width = await small.evaluate(() => document.documentElement.scrollWidth);
      if (width > 420) log(`  note: ${what} is ${width} px wide in a 420 px viewport (scrolls sideways)`);
    };
    await noteWidth("the run page");
    await screenshot(small, "run-narrow");
    await open(small, "/launch");
    await noteWidth("the launch page");
    await screenshot(small, "launch-narrow");
    await narrow.close();
    current = page;
  });

  await step("dark colour scheme", async () => {
    const dark = await newContext({ colorScheme: "dark" });
    const night = await dark.newPage();
    current = night;
    await open(night, `/runs/${runIds[1]}`);
    await waitFor(night, "#chart-acc drawn", () => !!document.getElementById("chart-acc").dataset.points);
    await screenshot(night, "run-dark");
    await open(night, `/sweeps/${sweepId}`);
    await waitFor(night, "#chart-robust drawn", () => document.getElementById("chart-robust").dataset.points === "2,2");
    await screenshot(night, "sweep-dark");
    await open(night, "/");
    await screenshot(night, "home-dark");
    await dark.close();
    current = page;
  });

  if (pageErrors.length > 0) {
    fail(`${pageErrors.length} error(s) in the pages' consoles:\n  ${pageErrors.join("\n  ")}`);
  }
  for (const [why, n] of expectedSeen) log(`expected console errors: ${n} × ${why}`);
  log(`passed; ${shotNumber} screenshots in ${SHOTS}`);
} catch (error) {
  exitCode = 1;
  const where = error.step ? ` in step "${error.step}"` : "";
  console.error(`FAILED${where}: ${error instanceof Failure ? error.message : error.stack || error}`);
  if (pageErrors.length > 0 && !(error instanceof Failure && error.message.includes("consoles"))) {
    console.error(`errors in the pages' consoles meanwhile:\n  ${pageErrors.join("\n  ")}`);
  }
} finally {
  await Promise.race([browser.close(), new Promise((resolve) => setTimeout(resolve, 10_000))]);
  clearTimeout(watchdog);
}
process.exit(exitCode);
