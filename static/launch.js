// The launch form's live parts: the run count and what varies, errors at
// their fields before submitting, the aom and random-search fields shown only
// when they apply, and a spec file read into the YAML box. The form works
// without any of this; the server checks everything again on submit.
"use strict";

(() => {
  const form = document.getElementById("launch");
  if (!form) return;
  const count = document.getElementById("run-count");
  const varies = document.getElementById("run-varies");
  const yaml = form.elements.namedItem("yaml");
  const aomGroup = document.getElementById("group-aom");
  const DEBOUNCE_MS = 250;

  const fieldBox = (name) => document.getElementById(`field-${name}`) || document.getElementById("field-form");

  // Shows the preview's errors in place of whatever the page showed before.
  function showErrors(errors) {
    for (const old of form.querySelectorAll(".field-error")) old.remove();
    for (const box of form.querySelectorAll(".invalid")) box.classList.remove("invalid");
    for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
    const byField = new Map();
    for (const { field, message } of errors) {
      byField.set(field, byField.has(field) ? `${byField.get(field)}; ${message}` : message);
    }
    for (const [field, message] of byField) {
      const box = fieldBox(field);
      if (!box) continue;
      const p = document.createElement("p");
      p.className = "field-error";
      p.id = `error-${field}`;
      p.textContent = message;
      box.append(p);
      box.classList.add("invalid");
      const input = box.querySelector("input[type=text], textarea");
      if (input) input.setAttribute("aria-invalid", "true");
      // An error in a hidden group must still be seen.
      const group = box.closest("[hidden]");
      if (group) group.hidden = false;
    }
  }

  const warnings = document.getElementById("run-warnings");

  function showPreview({ runs, varies: vary, errors, warnings: warned = [] }) {
    if (warnings) {
      warnings.replaceChildren(
        ...warned.map((text) => {
          const li = document.createElement("li");
          li.className = "warning";
          li.textContent = text;
          return li;
        }),
      );
    }
    count.textContent = runs == null ? "? runs" : `${runs} run${runs === 1 ? "" : "s"}`;
    count.classList.toggle("has-errors", errors.length > 0);
    varies.replaceChildren(
      ...vary.map(({ field, values, more }) => {
        const li = document.createElement("li");
        const code = document.createElement("code");
        code.textContent = field;
        li.append(code, ` ${values.join(", ")}${more > 0 ? `, … ${more} more` : ""}`);
        return li;
      }),
    );
    showErrors(errors);
    // The "nothing was launched" notice of a refused submission is stale once fixed.
    if (errors.length === 0) form.querySelector(".form-summary")?.remove();
  }

  let timer = null;
  let latest = 0;
  async function preview() {
    const asked = ++latest;
    const body = new URLSearchParams(new FormData(form));
    try {
      const response = await fetch("/launch/preview", { method: "POST", body });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const result = await response.json();
      // Answers can overtake each other; only the newest question counts.
      if (asked === latest) showPreview(result);
    } catch (e) {
      if (asked === latest) count.textContent = "run count unavailable";
      console.warn("launch preview failed", e);
    }
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(preview, DEBOUNCE_MS);
  }

  function checkedValues(name) {
    return [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((input) => input.value);
  }

  // Fields that do not apply are hidden, not disabled: they still submit
  // their (default) values, which keeps the server's view the same as ours.
  function applicable() {
    const search = checkedValues("search");
    const sampled = search.includes("random") || search.includes("bayes");
    for (const box of form.querySelectorAll(".random-only")) box.hidden = !sampled;
    const et = form.elements.namedItem("et");
    const early = et && et.value !== "none";
    for (const box of form.querySelectorAll(".et-only")) {
      if (!box.querySelector(".field-error")) box.hidden = !early;
    }
    if (aomGroup && !aomGroup.querySelector(".field-error")) {
      aomGroup.hidden = !checkedValues("method").includes("aom");
    }
    form.classList.toggle("yaml-mode", yaml.value.trim() !== "");
  }

  form.addEventListener("input", () => {
    applicable();
    schedule();
  });
  form.addEventListener("change", () => {
    applicable();
    schedule();
  });

  const fileBox = form.querySelector(".yaml-file");
  const file = document.getElementById("yaml-file");
  if (fileBox && file) {
    fileBox.hidden = false;
    file.addEventListener("change", async () => {
      const chosen = file.files && file.files[0];
      if (!chosen) return;
      yaml.value = await chosen.text();
      applicable();
      schedule();
    });
  }

  applicable();
  // The browser may have restored edited values (back button); recount them.
  schedule();
})();
