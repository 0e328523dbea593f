// Drives the chat archetype's web page in Debian's Chromium with
// playwright-core: two users in two browser contexts (two separate
// sessions, like two people) join a room, see each other in the member
// list, one sends a message and the other shows it, then a private message
// goes the other way. Screenshots of both pages are written to OUTDIR.
//
//   node chat.mjs URL OUTDIR
//
// CHROMIUM overrides the browser's path (default /usr/bin/chromium). Exits
// non-zero on any failure, with the pages' console errors.
import { chromium } from "playwright-core";
import path from "node:path";

const [url, outDir] = process.argv.slice(2);
if (!url || !outDir) {
  console.error("usage: node chat.mjs URL OUTDIR");
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  // Playwright gives each launch a fresh, empty profile directory.
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const problems = [];
const step = (text) => console.log("step: " + text);

async function open(user) {
  const context = await browser.newContext({ viewport: { width: 900, height: 600 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => problems.push(`${user}: page error: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") problems.push(`${user}: console: ${m.text()}`); });
  page.setDefaultTimeout(10000);
  await page.goto(url);
  await page.fill("#login input[name=user]", user);
  await page.fill("#login input[name=room]", "lobby");
  await page.click("#login button");
  await page.waitForSelector("#room", { state: "visible" });
  await page.waitForSelector("#login", { state: "hidden" });
  return page;
}

const members = (page) => page.$$eval("#members li", (lis) => lis.map((li) => li.textContent));
async function waitMembers(page, want) {
  await page.waitForFunction((want) =>
    JSON.stringify([...document.querySelectorAll("#members li")].map((li) => li.textContent)) === JSON.stringify(want), want);
}

let alice, bob;
try {
  step("alice joins");
  alice = await open("alice");
  step("bob joins");
  bob = await open("bob");
  await waitMembers(alice, ["alice", "bob"]);
  await waitMembers(bob, ["alice", "bob"]);
  step("both pages list alice and bob");

  await alice.fill("#say input[name=text]", "hello from alice");
  await alice.click("#say button");
  await bob.waitForSelector("#log li:has-text('alice: hello from alice')");
  await alice.waitForSelector("#log li:has-text('alice: hello from alice')");
  step("bob's page shows alice's message");

  await bob.fill("#whisper input[name=to]", "alice");
  await bob.fill("#whisper input[name=text]", "psst, alice");
  await bob.click("#whisper button");
  await alice.waitForSelector("#log li.private:has-text('psst, alice')");
  step("alice's page shows bob's private message");

  for (const [name, page] of [["alice", alice], ["bob", bob]]) {
    const file = path.join(outDir, `chat-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    console.log("screenshot: " + file);
  }
  console.log("members: " + JSON.stringify(await members(bob)));
  console.log("state: " + await bob.textContent("#state"));
} catch (e) {
  problems.push(e.message);
  for (const [name, page] of [["alice", alice], ["bob", bob]]) {
    if (!page) continue;
    const file = path.join(outDir, `failure-${name}.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => {});
    console.log("screenshot: " + file);
    console.log(`${name}'s page: ` + (await page.textContent("body").catch(() => "?")).replace(/\s+/g, " "));
  }
} finally {
  await browser.close();
}
if (problems.length > 0) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log("ok: two pages chatted");
