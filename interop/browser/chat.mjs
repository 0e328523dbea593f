// Drives the chat archetype's web page (and examples/chat's, which has the
// same form and lists) in Debian's Chromium with
// playwright-core: two users in two browser contexts (two separate
// sessions, like two people) join a room, see each other in the member
// list, one sends a message and the other shows it, then a private message
// goes the other way, and one leaves. Screenshots of both pages (before the
// leave) are written to OUTDIR.
//
//   node chat.mjs URL OUTDIR
//
// CHROMIUM overrides the browser's path (default /usr/bin/chromium). Exits
// non-zero on any failure, with the pages' console errors.
import { args, launch, Run } from "./lib.mjs";

const [url, outDir] = args("chat.mjs");
const run = new Run(await launch(), outDir);
const step = (text) => console.log("step: " + text);

async function join(user) {
  const page = await run.open(user, url);
  // The login form's handler is attached by the page's module script
  // after its imports: a click before that submits the form natively and
  // reloads the page (see auction.mjs). Before the login the page opens
  // no connection, so an idle network means the script has run.
  await page.waitForLoadState("networkidle");
  await page.fill("#login input[name=user]", user);
  await page.fill("#login input[name=room]", "lobby");
  await page.click("#login button");
  await page.waitForSelector("#room", { state: "visible" });
  await page.waitForSelector("#login", { state: "hidden" });
  return page;
}

async function waitMembers(page, want) {
  await page.waitForFunction((want) =>
    JSON.stringify([...document.querySelectorAll("#members li")].map((li) => li.textContent)) === JSON.stringify(want), want);
}

let error;
try {
  step("alice joins");
  const alice = await join("alice");
  step("bob joins");
  const bob = await join("bob");
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

  await run.screenshots("chat");

  await alice.click("#leave");
  await alice.waitForSelector("#login", { state: "visible" });
  await waitMembers(bob, ["bob"]);
  step("alice leaves: her page shows the login form, bob's member list only bob");
  console.log("state: " + await bob.textContent("#state"));
} catch (e) {
  error = e;
}
await run.finish("chat", error);
console.log("ok: two pages chatted");
