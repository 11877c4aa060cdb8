// Real-browser check of the built book (run by tests/test_book.py).
//
//   node check_pages.mjs <_build/html> [--screenshots DIR]
//
// For every page: fail on JavaScript errors (pageerror), console errors and failed requests,
// except the upstream ones listed in ALLOWED with the reason; fail on math left as raw TeX
// after MathJax has finished. For every static-live widget (a VBox holding sliders and stacked
// images): move each slider with the keyboard and check that the visible frame changes.
// Prints one JSON report on stdout; exits 1 if anything failed.
import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

// Upstream messages we cannot fix from the book, each with the reason. Keep this list short.
const ALLOWED = [];

const args = process.argv.slice(2);
const root = path.resolve(args[0] ?? "_build/html");
const shotDir = args.includes("--screenshots") ? args[args.indexOf("--screenshots") + 1] : null;

function listPages(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!entry.name.startsWith("_")) out.push(...listPages(p));
    } else if (entry.name.endsWith(".html")) {
      out.push(p);
    }
  }
  return out.sort();
}

function allowed(text) {
  return ALLOWED.some((a) => a.pattern.test(text));
}

async function checkMath(page) {
  return await page.evaluate(async () => {
    if (window.MathJax?.startup?.promise) await window.MathJax.startup.promise;
    const problems = [];
    const math = document.querySelectorAll(".math");
    for (const el of math) {
      if (!el.querySelector("mjx-container")) {
        problems.push(`math not typeset: ${el.textContent.trim().slice(0, 80)}`);
      }
    }
    // Raw TeX outside code: clone the article, drop code and typeset math, look for delimiters.
    const article = document.querySelector("main") ?? document.body;
    const clone = article.cloneNode(true);
    clone.querySelectorAll("pre, code, .highlight, mjx-container, script, style, .widget-html")
      .forEach((n) => n.remove());
    const text = clone.textContent;
    const raw = text.match(/(\$\$|\\\(|\\\[|\$\\[a-zA-Z]+|\\begin\{)[^\n]{0,60}/);
    if (raw) problems.push(`raw TeX left in the page: ${raw[0]}`);
    return { count: math.length, problems };
  });
}

// Identify static-live widgets: a VBox with at least one slider and at least one image.
async function checkWidgets(page) {
  const results = [];
  const expected = await page.evaluate(() => {
    const states = [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-state+json"]')];
    let sliders = 0;
    for (const s of states) {
      const st = JSON.parse(s.textContent).state ?? {};
      for (const m of Object.values(st)) {
        if (m.model_name === "SelectionSliderModel") sliders += 1;
      }
    }
    return sliders;
  });
  if (expected === 0) return { expected, results };
  // Widgets render one after another: wait until every slider of the saved state is on the page
  // (a page that never shows them all fails below with "expected N sliders, found M").
  await page
    .waitForFunction(
      (want) => document.querySelectorAll(".jupyter-widgets [role=slider]").length >= want,
      expected,
      { timeout: 30000 },
    )
    .catch(() => {});
  const handles = page.locator(".jupyter-widgets [role=slider]");
  const n = await handles.count();
  for (let i = 0; i < n; i++) {
    const handle = handles.nth(i);
    const box = handle.locator(
      "xpath=ancestor::div[contains(concat(' ', normalize-space(@class), ' '), ' widget-vbox ')][1]",
    );
    const visibleFrame = async () =>
      await box.evaluate((el) =>
        [...el.querySelectorAll("img")]
          .filter((img) => img.offsetParent !== null && img.getBoundingClientRect().height > 0)
          .map((img) => img.src.slice(-64))
          .join("|"),
      );
    const before = await visibleFrame();
    // The frame swap happens in the browser (jslink): wait for it, at most 5 s, not a fixed time.
    const changed = async () => {
      const deadline = Date.now() + 5000;
      let now = await visibleFrame();
      while (now === before && Date.now() < deadline) {
        await page.waitForTimeout(25);
        now = await visibleFrame();
      }
      return now;
    };
    await handle.scrollIntoViewIfNeeded();
    // At the right end already: go left first. If the frame does not change, press again in the
    // other direction, then in the first (a loaded machine can still be wiring the browser-side
    // links, and an end detected from aria values can be off). A slider whose link is missing
    // never changes the frame and still fails.
    const atEnd = await handle.evaluate(
      (h) => Number(h.getAttribute("aria-valuenow")) >= Number(h.getAttribute("aria-valuemax")),
    );
    const keys = atEnd ? ["ArrowLeft", "ArrowRight", "ArrowLeft"] : ["ArrowRight", "ArrowLeft", "ArrowRight"];
    let after = before;
    for (const key of keys) {
      await handle.focus();
      await handle.press(key);
      after = await changed();
      if (after !== before && after !== "") break;
    }
    results.push({ slider: i, changed: before !== after && after !== "", before: before !== "" });
  }
  return { expected, results };
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const report = { root, pages: [], failures: [] };
for (const file of listPages(root)) {
  const rel = path.relative(root, file);
  const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()} @ ${m.location()?.url ?? ""}`);
  });
  page.on("requestfailed", (r) => {
    // Blocked external requests (no network) are reported; local files must all exist.
    errors.push(`requestfailed: ${r.url()} (${r.failure()?.errorText})`);
  });
  await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
  await page.waitForTimeout(500);
  const math = await checkMath(page);
  const widgets = await checkWidgets(page);
  if (shotDir) {
    fs.mkdirSync(shotDir, { recursive: true });
    await page.screenshot({ path: path.join(shotDir, rel.replaceAll("/", "_") + ".png"), fullPage: true });
  }
  const pageFailures = [
    ...errors.filter((e) => !allowed(e)),
    ...math.problems,
    ...widgets.results.filter((w) => !w.changed).map((w) => `slider ${w.slider} did not change the frame`),
  ];
  if (widgets.expected !== widgets.results.length) {
    pageFailures.push(`expected ${widgets.expected} sliders, found ${widgets.results.length}`);
  }
  report.pages.push({
    page: rel,
    math: math.count,
    sliders: widgets.results.length,
    ignored: errors.filter(allowed),
    failures: pageFailures,
  });
  for (const f of pageFailures) report.failures.push(`${rel}: ${f}`);
  await page.close();
}
await browser.close();
console.log(JSON.stringify(report, null, 1));
process.exit(report.failures.length ? 1 : 0);
