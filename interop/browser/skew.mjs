// Drives a page built against an older spec in Debian's Chromium: the
// server restarts on a spec that breaks the page's client, whose default
// onContractChanged reloads the page; then on a compatible one, which
// leaves the page alone. The Go test (skew_test.go) serves the page, its
// generated client and the server, and offers POST /restart?to=VERSION and
// GET /stats. Screenshots go to OUTDIR.
//
//   node skew.mjs URL OUTDIR
import { args, launch, Run } from "./lib.mjs";

const [url, outDir] = args("skew.mjs");
const run = new Run(await launch(), outDir);

const get = async (path, method = "GET") => {
  const r = await fetch(url + path, { method });
  if (!r.ok) {
    throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  }
  return r.json();
};
const state = (page) =>
  page.evaluate(() => ({
    loads: window.loads,
    version: document.querySelector("meta[name=version]").content,
    status: document.getElementById("status").textContent,
  }));
const check = (what, ok, detail) => {
  if (!ok) {
    throw new Error(`${what}: ${JSON.stringify(detail)}`);
  }
  console.log(`step: ${what}`);
};
const connected = (page, loads) =>
  page.waitForFunction(
    (n) => window.loads === n && document.getElementById("status")?.textContent === "connected",
    loads,
    { timeout: 30000 },
  );

let error;
try {
  const page = await run.open("tab", url + "/");
  await connected(page, 1);
  let s = await state(page);
  check("the page built against v1 is connected to v1", s.version === "v1", s);

  // v2 breaks v1's clients; v2 knows v1, which changes nothing of that.
  await get("/restart?to=v2&compat=v1", "POST");
  await connected(page, 2);
  s = await state(page);
  check("the server restarted on v2: the page reloaded once and runs v2's client", s.version === "v2", s);
  let stats = await get("/stats");
  check("v2 told one handshake of a breaking change", stats.skewBreaking === 1 && stats.skewCompatible === 0, stats);

  // v3 only adds an optional field: compatible with the page's v2 client.
  await get("/restart?to=v3&compat=v2", "POST");
  const deadline = Date.now() + 30000;
  while ((stats = await get("/stats")).handshakes < 1 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  await page.waitForFunction(() => document.getElementById("status")?.textContent === "connected");
  await new Promise((r) => setTimeout(r, 1500)); // a reload would have started
  s = await state(page);
  stats = await get("/stats");
  check("the server restarted on v3 (compatible): the page was left alone", s.loads === 2 && s.version === "v2", s);
  check("v3 counted one compatible handshake", stats.skewCompatible === 1 && stats.skewBreaking === 0, stats);
  await run.screenshots("skew");
} catch (e) {
  error = e;
}
await run.finish("skew", error);
console.log("ok: the page reloaded on a breaking change, not on a compatible one");
