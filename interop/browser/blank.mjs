// Drives the blank archetype's web page in Debian's Chromium with
// playwright-core: two pages, one greets, both show the greeting; an empty
// greeting is refused with the server's reason. Screenshots go to OUTDIR.
//
//   node blank.mjs URL OUTDIR
import { args, launch, Run } from "./lib.mjs";

const [url, outDir] = args("blank.mjs");
const run = new Run(await launch(), outDir);

let error;
try {
  const ann = await run.open("ann", url);
  const ben = await run.open("ben", url);
  for (const page of [ann, ben]) {
    await page.waitForFunction(() => document.getElementById("status").textContent === "connected");
  }
  await ann.fill("#say input[name=from]", "ann");
  await ann.fill("#say input[name=text]", "hello, world");
  await ann.click("#say button");
  for (const page of [ann, ben]) {
    await page.waitForSelector("#log li:has-text('ann: hello, world')");
  }
  console.log("step: both pages show ann's greeting");

  // Blank text passes the form (required sees characters) but not the
  // server's handler.
  await ben.fill("#say input[name=from]", "ben");
  await ben.fill("#say input[name=text]", "   ");
  await ben.click("#say button");
  await ben.waitForSelector("#error:has-text('text is empty')");
  console.log("step: a blank greeting is refused: " + await ben.textContent("#error"));
  await run.screenshots("blank");
} catch (e) {
  error = e;
}
await run.finish("blank", error);
console.log("ok: two pages greeted");
