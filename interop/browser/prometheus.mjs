// node prometheus.mjs URL OUTDIR: opens Prometheus' graph page at URL (the
// test's Prometheus, two expressions: g0 drawn as a graph, g1 as a table)
// in headless Chromium, waits until the graph's legend names the refused
// template /chat/{room} and the table the field /text with a value above
// 0, checks that neither expression shows an error, and writes
// prometheus-refusals.png to OUTDIR, the expressions' boxes grown to show
// the whole queries.
import path from "node:path";
import { launch, Run, args } from "./lib.mjs";

const [url, outDir] = args("prometheus.mjs");
const run = new Run(await launch(), outDir);

let error;
try {
  const context = await run.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => {
    // Debian's Prometheus 2.42 serves its classic UI with Debian's
    // popper.js, whose popper.min.js is the ES module build, as a classic
    // script: "Unexpected token 'export'". The graph page does not use it.
    if (e.message.includes("Unexpected token 'export'")) console.log(`note: Prometheus' page: ${e.message} (Debian's popper.min.js)`);
    else run.problems.push(`page error: ${e.message}`);
  });
  page.setDefaultTimeout(10000);
  run.pages.set("prometheus", page);
  await page.goto(url);
  console.log(`step: ${page.url()}`);
  // The legend of the first expression's graph names the template.
  const legend = page.locator(".tab-pane.graph_container.active .rickshaw_legend");
  await legend.filter({ hasText: 'channel="/chat/{room}"' }).first().waitFor();
  console.log(`step: the graph's legend: ${(await legend.first().textContent()).trim()}`);
  // The second expression's table has the field's row, a number above 0.
  const row = page.locator(".tab-pane.console.active table tbody tr").filter({ hasText: 'field="/text"' }).first();
  await row.waitFor();
  const cells = await row.locator("td").allTextContents();
  console.log(`step: the table's row: ${cells.join(" | ")}`);
  if (!(Number(cells.at(-1)) > 0)) run.problems.push(`the table's value is ${cells.at(-1)}, want a number above 0`);
  for (const e of await page.locator(".alert-danger").allTextContents()) {
    if (e.trim() !== "") run.problems.push(`Prometheus shows an error: ${e.trim()}`);
  }
  // The expressions' boxes show the whole queries, not their first line.
  await page.$$eval("textarea", (boxes) => boxes.forEach((b) => { b.style.height = `${b.scrollHeight + 4}px`; }));
  // Let the graph finish its transition before the screenshot.
  await page.waitForTimeout(500);
  await page.screenshot({ path: path.join(outDir, "prometheus-refusals.png"), fullPage: true });
  if (run.problems.length === 0) console.log("ok: Prometheus' graph page shows the refusals");
} catch (e) {
  error = e;
}
await run.finish("prometheus", error);
