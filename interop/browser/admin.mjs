// node admin.mjs URL OUTDIR, with BAYEUX set to the observed server's
// Bayeux URL: opens the admin page (URL, on the debug address) in headless
// Chromium and waits until it is live; then, as a client of the observed
// server (plain long-polling from Node), subscribes, publishes a valid
// message and one that breaks the schema; checks that the page shows the
// refusal (template, reason, JSON path) within seconds, the session and its
// transport, and the template's traffic; checks that the page loads nothing
// from another origin. Writes admin.png to OUTDIR.
import path from "node:path";
import { launch, Run, args } from "./lib.mjs";

const [url, outDir] = args("admin.mjs");
const bayeux = process.env.BAYEUX;
const run = new Run(await launch(), outDir);

// post sends Bayeux messages to the observed server over long-polling.
async function post(...messages) {
  const r = await fetch(bayeux, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(messages) });
  if (!r.ok) throw new Error(`POST ${bayeux}: ${r.status}`);
  return r.json();
}

let error;
try {
  const context = await run.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const origin = new URL(url).origin;
  const foreign = [];
  // A blob: URL (the CometD client's timer worker) has the page's origin.
  page.on("request", (r) => { if (new URL(r.url()).origin !== origin) foreign.push(r.url()); });
  page.on("pageerror", (e) => run.problems.push(`page error: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") console.log(`console error: ${m.text()}`); });
  page.setDefaultTimeout(10000);
  run.pages.set("admin", page);
  await page.goto(url);
  await page.waitForFunction(() => document.getElementById("link").textContent === "live");
  console.log("step: the page is live (its CometD client connected to the admin's Bayeux server)");

  const [hs] = await post({ channel: "/meta/handshake", version: "1.0", supportedConnectionTypes: ["long-polling"] });
  if (!hs.successful) throw new Error("handshake: " + JSON.stringify(hs));
  const id = hs.clientId;
  await post({ channel: "/meta/subscribe", clientId: id, subscription: "/chat/lobby" });
  const [ok] = await post({ channel: "/chat/lobby", clientId: id, data: { user: "ann", text: "hello" } });
  if (!ok.successful) throw new Error("valid publish refused: " + JSON.stringify(ok));
  const refusedAt = Date.now();
  const [bad] = await post({ channel: "/chat/lobby", clientId: id, data: { user: "ann", text: "" } });
  if (bad.successful) throw new Error("a publish breaking the schema was accepted");
  console.log(`step: session ${id} published once, was refused once (${bad.error})`);

  const row = `#refusals tbody tr:has(td:text-is("schema")):has(code:text-is("/text")):has(code:text-is("/chat/{room}"))`;
  await page.waitForSelector(row, { timeout: 5000 });
  const seconds = (Date.now() - refusedAt) / 1000;
  const cells = await page.$$eval(`${row} td`, (tds) => tds.map((td) => td.textContent));
  console.log(`step: the refusal is on the page after ${seconds.toFixed(1)}s: ${cells.join(" | ")}`);
  if (!cells.includes(id)) run.problems.push(`the refusal row does not name the session ${id}: ${cells}`);
  if (!cells.includes("/chat/lobby") || !cells.includes("publish")) run.problems.push(`the refusal row lacks the channel or operation: ${cells}`);

  await page.waitForSelector(`#session-rows tbody tr:has(code:text-is("${id}")):has(td:text-is("long-polling"))`);
  await page.waitForSelector(`#transports tbody tr:has(td:text-is("long-polling"))`);
  console.log("step: the session is listed with its transport");
  const tpl = `#templates tbody tr:has(code:text-is("/chat/{room}"))`;
  // The counters come with the next snapshot; the rate is over the window.
  let tds = [];
  for (const deadline = Date.now() + 5000; Date.now() < deadline; await page.waitForTimeout(100)) {
    tds = await page.$$eval(`${tpl} td`, (cells) => cells.map((td) => td.textContent));
    if (tds[4] === "2" && tds[5] === "1" && Number(tds[1]) > 0) break;
  }
  if (!(tds[4] === "2" && tds[5] === "1" && Number(tds[1]) > 0)) throw new Error(`/chat/{room}: ${tds.join(" | ")}, want 2 in, 1 out, a rate`);
  console.log("step: /chat/{room} is listed with 2 in, 1 out and a rate: " + tds.join(" | "));
  const nodes = await page.textContent("#nodes tbody");
  if (!nodes.includes("not in a cluster")) run.problems.push(`nodes: ${nodes}`);
  if (foreign.length > 0) run.problems.push(`the page loads from other origins: ${foreign.join(", ")}`);
  await page.screenshot({ path: path.join(outDir, "admin.png"), fullPage: true });
  if (run.problems.length === 0) console.log("ok: the admin page showed the refusal, the session and the template");
} catch (e) {
  error = e;
}
await run.finish("admin", error);
