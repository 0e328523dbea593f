// node docs.mjs URL OUTDIR: opens the page of `cometgen docs` (a file://
// URL), with network requests refused, and checks that it lists every
// channel named in $CHANNELS (a JSON array) with a section of its own,
// that every anchor link resolves to an element of the page, and that the
// page loads nothing else; it writes contract.png to OUTDIR.
import path from "node:path";
import { launch, Run, args } from "./lib.mjs";

const [url, outDir] = args("docs.mjs");
const want = JSON.parse(process.env.CHANNELS || "[]");
const run = new Run(await launch(), outDir);
let error;
try {
  const requests = [];
  const context = await run.browser.newContext({ viewport: { width: 1200, height: 800 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => run.problems.push(`page error: ${e.message}`));
  page.on("request", (r) => { if (r.url() !== url) requests.push(r.url()); });
  run.pages.set("contract", page);
  await page.goto(url);
  if (requests.length > 0) run.problems.push(`the page loads other resources: ${requests.join(", ")}`);

  const listed = await page.$$eval("nav a", (as) => as.map((a) => [a.textContent, a.getAttribute("href")]));
  for (const ch of want) {
    const link = listed.find(([text]) => text === ch);
    if (!link) { run.problems.push(`channel ${ch} is not listed`); continue; }
    const title = await page.$eval(`${link[1]} h3`, (h) => h.textContent).catch(() => null);
    if (title !== ch) run.problems.push(`channel ${ch}: ${link[1]} is not its section (${title})`);
  }
  const anchors = await page.$$eval('a[href^="#"]', (as) => as.map((a) => a.getAttribute("href")));
  let broken = 0;
  for (const href of new Set(anchors)) {
    const found = await page.evaluate((id) => document.getElementById(id) !== null, href.slice(1));
    if (!found) { broken++; run.problems.push(`anchor ${href} resolves to nothing`); }
  }
  // Following a link scrolls to its target.
  if (want.length > 0) {
    await page.click(`nav a:text-is("${want[want.length - 1]}")`);
    if (!(await page.evaluate(() => location.hash !== ""))) run.problems.push("clicking a channel did not navigate");
    await page.evaluate(() => window.scrollTo(0, 0));
  }
  await page.screenshot({ path: path.join(outDir, "contract.png") });
  console.log(`checked: ${want.length} channels listed, ${new Set(anchors).size} anchors, ${broken} broken`);
  if (run.problems.length === 0) console.log("ok: every channel listed, every anchor resolves");
} catch (e) {
  error = e;
}
await run.finish("docs", error);
