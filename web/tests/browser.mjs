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
/** One CSV record's fields (RFC 4180 quoting: names hold commas). */
function csvFields(line) {
  const fields = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      fields.push(field);
      field = "";
    } else field += c;
  }
  fields.push(field);
  return fields;
}
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
  const sweepId = await step("launch a four-run sweep from the form", async () => {
    await open(page, "/launch");
    await fillField(page, "name", sweepName);
    // Two methods at two ε with a final attack, in small batches so that an
    // epoch lasts long enough on two busy cores to watch its bar move.
    await choose(page, "method", ["erm", "mixup"]);
    await choose(page, "dataset", ["digits"]);
    await choose(page, "model", ["small_cnn"]);
    await fillField(page, "epochs", String(EPOCHS));
    await fillField(page, "batch_size", "16");
    await fillField(page, "epsilon", "0.05, 0.1");
    await fillField(page, "eval.n", "100");
    await fillField(page, "eval.pgd_steps", "2");
    await choose(page, "eval.final_attack", ["pgd"]);
    await fillField(page, "eval.final_n", "100");
    await fillField(page, "samples_every", "1");
    await waitFor(page, "#run-count saying '4 runs'", () => document.getElementById("run-count")?.textContent.trim() === "4 runs");
    const errors = await page.locator("#launch .field-error").allTextContents();
    check(errors.length === 0, `the filled form shows errors: ${errors.join("; ")}`);
    const varies = (await page.locator("#run-varies").textContent()).replace(/\s+/g, " ").trim();
    check(varies.includes("epsilon") && varies.includes("method"), `#run-varies does not list method and epsilon: "${varies}"`);
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
    check(ids.length === 4, `table#sweep-runs links ${ids.length} runs, not 4: ${hrefs.join(", ")}`);
    return ids;
  });
  log(`sweep ${sweepId}: runs ${runIds.join(", ")}`);

  await step("run page follows training live", async () => {
    await open(page, `/runs/${runIds[0]}`);
    // A marker that a reload would lose, and a record of what the header
    // showed, sampled often enough to catch a stage that lasts a second.
    await page.evaluate(() => {
      window.__notReloaded = true;
      window.__seen = [];
      const text = (id) => {
        const el = document.getElementById(id);
        return el && !el.hidden ? el.textContent.replace(/\s+/g, " ").trim() : null;
      };
      setInterval(() => {
        const bar = document.getElementById("stage-progress");
        window.__seen.push({
          t: Date.now(),
          stage: text("run-stage") !== null ? text("stage-text") : null,
          bar: bar ? Number(bar.value) : null,
          eta: text("run-eta"),
          evalRows: [...document.querySelectorAll("#eval-rows tr")].map((tr) => tr.dataset.status),
        });
      }, 100);
    });
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
    // Inside an epoch: the bar moved through at least two values strictly
    // between 0 and 1, with the batch count and an ETA beside it.
    const seen = await page.evaluate(() => window.__seen);
    const inEpoch = seen.filter((s) => s.stage && /^epoch \d+: batch \d+ of \d+/.test(s.stage) && s.bar > 0 && s.bar < 1);
    const bars = new Set(inEpoch.map((s) => s.bar));
    check(bars.size >= 2, `#stage-progress did not move inside an epoch: ${JSON.stringify(inEpoch.slice(-5))}`);
    check(inEpoch.some((s) => s.eta && /^about .+ left$/.test(s.eta)), `no ETA beside the epoch's bar: ${JSON.stringify(inEpoch.slice(-3))}`);
    log(`  inside the epoch: ${bars.size} bar positions, e.g. "${inEpoch[inEpoch.length - 1].stage}", ${inEpoch[inEpoch.length - 1].eta}`);
    await screenshot(page, "run-live");
  }, LIVE_TIMEOUT_MS);

  await step(
    "the final stage shows its attack, the points still robust and the time left",
    async () => {
      const finalText = /^final evaluation: PGD \(1 of 1\), \d+ of 100 robust$/;
      await waitFor(
        page,
        "#stage-text showing the final evaluation",
        (source) => window.__seen.some((s) => s.stage && new RegExp(source).test(s.stage)),
        finalText.source,
        TRAINING_TIMEOUT_MS - 10_000,
      );
      // Until the run ends, the stage line stays; the evaluation's row is
      // there while it runs (no "No evaluations yet" in between).
      await waitFor(page, "the run to end", () => document.getElementById("run-header").dataset.status !== "running", null, TRAINING_TIMEOUT_MS - 10_000);
      const seen = await page.evaluate(() => window.__seen);
      const final = seen.filter((s) => s.stage && finalText.test(s.stage));
      check(final.some((s) => s.eta && /^about .+ left$/.test(s.eta)), `the final stage showed no ETA: ${JSON.stringify(final.slice(0, 3))}`);
      check(final.some((s) => s.evalRows.includes("running")), `no running final-stage row while the final stage ran: ${JSON.stringify(final.slice(-3))}`);
      const last = final[final.length - 1];
      const gap = seen.filter((s) => s.t > final[0].t + 1500 && s.t <= last.t && s.evalRows.length === 0);
      check(gap.length === 0, `"No evaluations yet" showed during the final stage: ${JSON.stringify(gap.slice(0, 2))}`);
      log(`  e.g. "${final[0].stage}", ${final[0].eta}; the stage lasted ${((last.t - final[0].t) / 1000).toFixed(1)} s`);
      const status = await page.locator("#run-status").textContent();
      check(status.trim() === "succeeded", `the run ended ${status.trim()}`);
      check(await page.locator("#run-stage").isHidden(), "the stage line stays after the run ended");
      await screenshot(page, "run-final-stage-done");
    },
    TRAINING_TIMEOUT_MS,
  );

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
    "all four runs finish",
    async () => {
      for (;;) {
        const { runs } = await api(`/api/v1/runs?sweep=${sweepId}`);
        const statuses = runs.map((r) => `${r.id}:${r.status}`).join(" ");
        const bad = runs.filter((r) => ["failed", "lost", "stopped"].includes(r.status));
        check(bad.length === 0, `runs ended badly: ${statuses}: ${bad.map((r) => r.error).join("; ")}`);
        if (runs.length === 4 && runs.every((r) => r.status === "succeeded")) return;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    },
    TRAINING_TIMEOUT_MS,
  );

  await step("sweep page charts all four runs", async () => {
    await open(page, `/sweeps/${sweepId}`);
    await waitFor(page, '#chart-robust with data-series="4" data-points="2,2,2,2"', () => {
      const el = document.getElementById("chart-robust");
      return el.dataset.series === "4" && el.dataset.points === "2,2,2,2";
    });
    const statuses = await page.locator("#sweep-runs table .run-status").allTextContents();
    check(statuses.map((s) => s.trim()).join(",") === "succeeded,succeeded,succeeded,succeeded", `table#sweep-runs statuses: ${statuses.join(", ")}`);
    // Ranked within each ε: one table per threat model.
    const tables = await page.locator("#sweep-runs table.sweep-runs").count();
    check(tables === 2, `#sweep-runs has ${tables} tables, not one per ε (2)`);
    const tradeoff = await chartState(page, "chart-tradeoff");
    check(tradeoff && tradeoff.points === "4", `#chart-tradeoff has data-points=${tradeoff && tradeoff.points}, not 4`);
    // The method is categorical: its axis names the methods.
    await page.selectOption("#sweep-color", "method").catch(() => {});
    await screenshot(page, "sweep-done");
  });

  await step("results grouped by method within each ε", async () => {
    const controls = page.locator("#sweep-controls");
    for (const name of ["method", "epsilon"]) {
      const box = controls.locator(`input[name=by][value="${name}"]`);
      check((await box.count()) === 1, `#sweep-controls has no "by ${name}" box`);
      await box.setChecked(name === "method");
    }
    await Promise.all([page.waitForURL(/by=method/, { waitUntil: "load" }), controls.locator("button[type=submit]").click()]);
    const heading = (await page.locator("#results-heading").textContent()).trim();
    check(heading.startsWith("Results by method"), `the results table is headed "${heading}"`);
    const rows = await page.locator("#results-table tbody tr:not(.published)").allInnerTexts();
    // Grouped by method alone, still split by ε: never a mean across threat models.
    check(rows.length === 4, `#results-table has ${rows.length} rows, not one per method and ε (4): ${rows.join(" | ")}`);
    for (const method of ["erm", "mixup"]) {
      const mine = rows.filter((r) => r.includes(method));
      check(mine.length === 2, `method ${method} has ${mine.length} rows, not one per ε: ${rows.join(" | ")}`);
    }
    // And by both at once: the same four groups, each named by both.
    await controls.locator('input[name=by][value="epsilon"]').setChecked(true);
    await Promise.all([page.waitForURL(/by=method&by=epsilon/, { waitUntil: "load" }), controls.locator("button[type=submit]").click()]);
    const both = (await page.locator("#results-heading").textContent()).trim();
    const bothRows = await page.locator("#results-table tbody tr:not(.published)").count();
    check(bothRows === 4, `grouped by method and epsilon, #results-table has ${bothRows} rows, not 4`);
    log(`  "${heading}" then "${both}", ${bothRows} rows`);
    // Mean ± std bands: one band group per (method, ε), each of one run here.
    await page.locator("#robust-bands").setChecked(true);
    await waitFor(page, '#chart-robust with one line per group (data-series="4")', () => {
      const el = document.getElementById("chart-robust");
      return el.dataset.series === "4" && el.dataset.bands === "0";
    });
    await page.locator("#robust-bands").setChecked(false);
    await page.locator("#sweep-results").scrollIntoViewIfNeeded();
    await screenshot(page, "sweep-grouped");
  });

  const evaluated = await step("Evaluate best checkpoints runs AutoAttack on the sweep's best run", async () => {
    await open(page, `/sweeps/${sweepId}`);
    const form = page.locator("#sweep-evaluate");
    await form.locator("select[name=attack]").selectOption("aa-fast");
    await form.locator("#eval-n").fill("20");
    await form.locator("#eval-top").fill("1");
    await Promise.all([page.waitForURL(/\/sweeps\/\d+/, { waitUntil: "load" }), form.locator("button[data-action=evaluate-sweep]").click()]);
    for (;;) {
      const { runs } = await api(`/api/v1/runs?sweep=${sweepId}`);
      const done = runs.filter((r) => r.autoattack_acc != null);
      if (done.length > 0) {
        check(done.length === 1, `top 1 evaluated ${done.length} runs`);
        log(`  run ${done[0].id}: AutoAttack ${(100 * done[0].autoattack_acc).toFixed(1)}%`);
        return done[0].id;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }, LIVE_TIMEOUT_MS);

  await step("the sweep's runs export as CSV with config columns and AutoAttack", async () => {
    const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#sweep-runs-csv").click()]);
    const path = await download.path();
    check(path, `the CSV download failed: ${await download.failure()}`);
    const lines = readFileSync(path, "utf8").trim().split(/\r?\n/);
    const header = csvFields(lines[0]);
    for (const column of ["id", "method", "epsilon", "best_robust_acc", "final_clean_acc", "final_robust_acc", "autoattack_acc"]) {
      check(header.includes(column), `the CSV header lacks ${column}: ${lines[0]}`);
    }
    check(lines.length === 5, `the CSV has ${lines.length - 1} rows, not 4:\n${lines.join("\n")}`);
    const [aa, id] = [header.indexOf("autoattack_acc"), header.indexOf("id")];
    for (const line of lines.slice(1)) {
      const cells = csvFields(line);
      check(cells.length === header.length, `a row of ${cells.length} fields under ${header.length} columns: ${line}`);
      if (Number(cells[id]) === evaluated) {
        check(cells[aa] !== "" && Number.isFinite(Number(cells[aa])), `the evaluated run's row has no AutoAttack accuracy: ${line}`);
      } else {
        check(cells[aa] === "", `a run that was not evaluated has an AutoAttack accuracy: ${line}`);
      }
    }
    log(`  ${download.suggestedFilename()}: ${lines.length - 1} rows, ${header.length} columns`);
  });

  await step("results table, and its LaTeX export downloads", async () => {
    // Still grouped by method and epsilon, from the step before.
    const rows = await page.locator("#results-table tbody tr:not(.published)").count();
    check(rows === 4, `#results-table has ${rows} rows, not one per method and ε (4)`);
    const [download] = await Promise.all([page.waitForEvent("download"), page.locator("a.results-export[data-format='LaTeX']").click()]);
    const path = await download.path();
    check(path, `the LaTeX download failed: ${await download.failure()}`);
    check(download.suggestedFilename() === `sweep-${sweepId}-results.tex`, `the download is named ${download.suggestedFilename()}`);
    const tex = readFileSync(path, "utf8");
    for (const part of ["\\begin{tabular}", "\\toprule", "Seeds & Clean & PGD best & PGD final & Gap & AutoAttack & Best epoch", "\\bottomrule"]) {
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

  await step("a sweep-level stop stops the running runs and takes the queued one out", async () => {
    await open(page, "/launch");
    await fillField(page, "name", `${sweepName} (to stop)`);
    await choose(page, "method", ["erm"]);
    await choose(page, "dataset", ["digits"]);
    await choose(page, "model", ["small_cnn"]);
    await fillField(page, "epochs", "200");
    await fillField(page, "epsilon", "0.05, 0.1, 0.2");
    await fillField(page, "eval.n", "100");
    await choose(page, "eval.final_attack", ["none"]);
    await waitFor(page, "#run-count saying '3 runs'", () => document.getElementById("run-count")?.textContent.trim() === "3 runs");
    await Promise.all([page.waitForURL(/\/sweeps\/\d+$/, { waitUntil: "load" }), page.click("#launch-submit")]);
    const id = Number(new URL(page.url()).pathname.split("/").pop());
    // Two slots: two run, one waits.
    for (;;) {
      const { runs } = await api(`/api/v1/runs?sweep=${id}`);
      if (runs.filter((r) => r.status === "running").length === 2) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await open(page, `/sweeps/${id}`);
    await page.locator("details.sweep-stop summary").click();
    await Promise.all([page.waitForURL(/\/sweeps\/\d+/, { waitUntil: "load" }), page.locator("button[data-action=stop-sweep]").click()]);
    let statuses = "";
    for (let i = 0; i < 150; i++) {
      const { runs } = await api(`/api/v1/runs?sweep=${id}`);
      statuses = runs.map((r) => `${r.id}:${r.status}`).join(" ");
      if (runs.length === 3 && runs.every((r) => r.status === "stopped")) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    check(/^(\d+:stopped ?){3}$/.test(statuses), `after Stop all the runs are ${statuses}`);
    const sweep = await api(`/api/v1/sweeps/${id}`);
    check(sweep.paused === true, `the stopped sweep is not paused: ${JSON.stringify(sweep).slice(0, 300)}`);
    await open(page, `/sweeps/${id}`);
    const shown = await page.locator("#sweep-runs table .run-status").allTextContents();
    check(shown.every((t) => t.trim() === "stopped"), `the sweep page shows ${shown.join(", ")}`);
    await screenshot(page, "sweep-stopped");
  }, LIVE_TIMEOUT_MS);

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
    await waitFor(night, "#chart-robust drawn", () => document.getElementById("chart-robust").dataset.points === "2,2,2,2");
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
