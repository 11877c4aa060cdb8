// Live-kernel check in a real JupyterLab (run by tests/test_live.py and benchmarks/run.py --live).
//
//   node check_live.mjs <JupyterLab base URL> <page.md> [<page.md> ...] [--presses N]
//
// For each page (a path relative to the server root, e.g. book/widgets_demo.md): open it by its
// .md path with the default viewer, which must be the notebook (jupytext), not the text editor;
// run all cells; fail on any traceback in an output, any page error or console error (except the
// upstream ones in ALLOWED, each with its reason). Then, for every static-live widget, move each
// slider N times with the keyboard and check that the live recompute answers: the status line
// changes to the recomputed value and the shown image is replaced by a new one. The round trip
// (keydown -> new status line shown) is timed in the page with performance.now().
// Prints one JSON report on stdout; exits 1 if anything failed.
import { chromium } from "playwright-core";

// Upstream console messages we cannot fix from the course, each with the reason.
const ALLOWED = [];

const args = process.argv.slice(2);
const base = args[0].replace(/\/$/, "");
const presses = args.includes("--presses") ? Number(args[args.indexOf("--presses") + 1]) : 4;
const pages = args.slice(1).filter((a, i, all) => a !== "--presses" && all[i - 1] !== "--presses");
const CELL_TIMEOUT_MS = 600000;
const ROUND_TRIP_TIMEOUT_MS = 30000;

const allowed = (text) => ALLOWED.some((a) => a.pattern.test(text));

async function openAsNotebook(page, path, n) {
  // A new, empty workspace per page: JupyterLab would otherwise reopen the previous pages too.
  await page.goto(`${base}/lab/workspaces/live-check-${n}/tree/${path}`, { waitUntil: "domcontentloaded" });
  const kind = await Promise.race([
    page.waitForSelector(".jp-NotebookPanel .jp-Cell", { timeout: 120000 }).then(() => "notebook"),
    page.waitForSelector(".jp-FileEditor", { timeout: 120000 }).then(() => "editor"),
  ]);
  if (kind !== "notebook") throw new Error(`${path} opened in the text editor, not as a notebook`);
  // The kernel must be connected before running: wait for the notebook's kernel status to be idle.
  await page.waitForFunction(
    () => document.querySelector(".jp-NotebookPanel")?.querySelector(".jp-Notebook") &&
      [...document.querySelectorAll(".jp-StatusBar-TextItem")].some((e) => /Idle/.test(e.textContent)),
    null,
    { timeout: 120000 },
  );
}

async function runAll(page) {
  await page.click(".lm-MenuBar-itemLabel:text-is('Run')");
  await page.click(".lm-Menu-itemLabel:text-is('Run All Cells')");
  const t0 = Date.now();
  for (;;) {
    const state = await page.evaluate(() => {
      const panel = document.querySelector(".jp-NotebookPanel:not(.lm-mod-hidden)");
      const prompts = [...panel.querySelectorAll(".jp-CodeCell .jp-InputPrompt")].map((p) => p.textContent.trim());
      const tracebacks = [...panel.querySelectorAll(".jp-OutputArea-output")]
        .map((o) => o.textContent)
        .filter((t) => /Traceback \(most recent call last\)|^\s*-{20,}\s*\n?\s*\w+(Error|Exception)/.test(t));
      return {
        cells: prompts.length,
        done: prompts.filter((p) => /^\[\d+\]:$/.test(p)).length,
        busy: prompts.some((p) => p === "[*]:"),
        tracebacks: tracebacks.map((t) => t.slice(0, 1500)),
      };
    });
    if (state.tracebacks.length) return { ...state, seconds: (Date.now() - t0) / 1000 };
    if (state.cells > 0 && state.done === state.cells && !state.busy) {
      return { ...state, seconds: (Date.now() - t0) / 1000 };
    }
    if (Date.now() - t0 > CELL_TIMEOUT_MS) throw new Error(`cells still running after ${CELL_TIMEOUT_MS / 1000} s`);
    await page.waitForTimeout(250);
  }
}

// In the page: one timed round trip on slider `i` of widget `w` (index into .static-live boxes).
async function roundTrip(page, w, i, key) {
  await page.evaluate(({ w, i }) => {
    const box = document.querySelectorAll(".static-live")[w];
    const status = box.querySelector(".static-live-status");
    const visible = () =>
      [...box.querySelectorAll("img")].find((img) => img.offsetParent !== null && img.getBoundingClientRect().height > 0);
    const rec = (window.__rt = {
      before: status.textContent,
      srcs: new Map([...box.querySelectorAll("img")].map((img) => [img, img.src])),
      keydown: null, status: null, image: null,
    });
    const handle = box.querySelectorAll("[role=slider]")[i];
    handle.addEventListener("keydown", () => { rec.keydown ??= performance.now(); }, { once: true, capture: true });
    rec.observer = new MutationObserver(() => {
      const img = visible();
      if (rec.image === null && img && rec.srcs.get(img) !== img.src) rec.image = performance.now();
      if (rec.status === null && status.textContent !== rec.before && /Showing|failed/.test(status.textContent)) {
        rec.status = performance.now();
      }
    });
    rec.observer.observe(box, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ["src"] });
  }, { w, i });
  const handle = page.locator(".static-live").nth(w).locator("[role=slider]").nth(i);
  await handle.focus();
  await handle.press(key);
  await page.waitForFunction(() => {
    const r = window.__rt;
    return r.status !== null && r.image !== null;
  }, null, { timeout: ROUND_TRIP_TIMEOUT_MS, polling: 20 }).catch(() => {});
  return await page.evaluate(({ w }) => {
    const r = window.__rt;
    r.observer.disconnect();
    const box = document.querySelectorAll(".static-live")[w];
    const text = box.querySelector(".static-live-status").textContent;
    return {
      status: r.status === null ? null : r.status - r.keydown,
      image: r.image === null ? null : r.image - r.keydown,
      text,
      failed: /failed/.test(text),
    };
  }, { w });
}

async function checkWidgets(page) {
  const boxes = await page.evaluate(() =>
    [...document.querySelectorAll(".static-live")].map((box) => ({
      name: [...box.classList].find((c) => c.startsWith("static-live--"))?.slice("static-live--".length) ?? "?",
      sliders: box.querySelectorAll("[role=slider]").length,
      // Position and range of each slider handle (ARIA), to move right and bounce at the ends.
      aria: [...box.querySelectorAll("[role=slider]")].map((h) => [
        Number(h.getAttribute("aria-valuenow")), Number(h.getAttribute("aria-valuemin")), Number(h.getAttribute("aria-valuemax")),
      ]),
    })),
  );
  const widgets = [];
  for (let w = 0; w < boxes.length; w++) {
    await page.locator(".static-live").nth(w).scrollIntoViewIfNeeded();
    for (let i = 0; i < boxes[w].sliders; i++) {
      let [now, lo, hi] = boxes[w].aria[i];
      let dir = now >= hi ? -1 : 1;
      const trips = [];
      if (hi <= lo) {
        widgets.push({ name: boxes[w].name, slider: i, trips, single: true });
        continue;
      }
      for (let k = 0; k < presses; k++) {
        if (now + dir > hi || now + dir < lo) dir = -dir;
        trips.push(await roundTrip(page, w, i, dir > 0 ? "ArrowRight" : "ArrowLeft"));
        now += dir;
      }
      widgets.push({ name: boxes[w].name, slider: i, trips });
    }
  }
  return widgets;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-renderer-backgrounding",
    "--disable-background-timer-throttling", "--disable-backgrounding-occluded-windows"],
});
const report = { base, pages: [], failures: [] };
for (const [n, path] of pages.entries()) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()} @ ${m.location()?.url ?? ""}`);
  });
  const entry = { page: path, failures: [] };
  try {
    await openAsNotebook(page, path, n);
    const run = await runAll(page);
    entry.cells = run.cells;
    entry.run_seconds = run.seconds;
    for (const t of run.tracebacks) entry.failures.push(`traceback in an output:\n${t}`);
    if (!run.tracebacks.length) {
      entry.widgets = await checkWidgets(page);
      if (!entry.widgets.length) entry.failures.push("no static-live widget found");
      for (const w of entry.widgets) {
        for (const [k, t] of w.trips.entries()) {
          const where = `${w.name} slider ${w.slider} move ${k + 1}`;
          if (t.failed) entry.failures.push(`${where}: the live recompute failed: ${t.text}`);
          else if (t.status === null) entry.failures.push(`${where}: the status line did not change (${t.text})`);
          else if (t.image === null) entry.failures.push(`${where}: the image was not replaced`);
        }
      }
    }
  } catch (e) {
    entry.failures.push(String(e.stack ?? e).split("\n").slice(0, 4).join("\n"));
  }
  for (const e of errors) if (!allowed(e)) entry.failures.push(e);
  entry.ignored = errors.filter(allowed);
  report.pages.push(entry);
  for (const f of entry.failures) report.failures.push(`${path}: ${f}`);
  await page.close();
  // Shut the page's kernel down before the next page: one running kernel at a time.
  try {
    const kernels = await (await fetch(`${base}/api/kernels`)).json();
    for (const k of kernels) await fetch(`${base}/api/kernels/${k.id}`, { method: "DELETE" });
  } catch (e) {
    report.failures.push(`${path}: could not shut its kernel down: ${e}`);
  }
}
await browser.close();
console.log(JSON.stringify(report, null, 1));
process.exit(report.failures.length ? 1 : 0);
