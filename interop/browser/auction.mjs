// Drives examples/auction's web page, or the auction archetype's (the same
// page behind the archetype's login), in Debian's Chromium with
// playwright-core: two people (two browser contexts) log in, see the lots,
// and bid on the first one ("clock") while a bidding bot on the typed Go
// client (run by browser_test.go, or by the archetype's server with --bot)
// bids against them; bob finally bids more than the bot may. When the lot
// closes both pages must show the same winner, which the script prints
// ("winner: NAME CENTS") for the test to compare with the bot's or the
// server's. Screenshots of both pages go to OUTDIR.
//
//   node auction.mjs URL OUTDIR
import { args, launch, Run } from "./lib.mjs";

const [url, outDir] = args("auction.mjs");
const run = new Run(await launch(), outDir);
const step = (text) => console.log("step: " + text);

async function enter(user) {
  const page = await run.open(user, url);
  // The page's module script sets window.auction and, in the same run,
  // attaches the login form's handler, after its imports: a click before
  // that submits the form natively, reloading the page (seen once under
  // load: bob's page back at an empty login).
  await page.waitForFunction(() => window.auction !== undefined);
  await page.fill("#login input[name=user]", user);
  await page.click("#login button");
  await page.waitForSelector("#house", { state: "visible" });
  await page.waitForSelector("tr[data-lot=clock] .countdown:not(:empty)");
  return page;
}

// bid has page bid amount (in units, not cents) on the clock, or over the
// price it shows when that is higher; it waits until the page shows its
// user leading or outbid again.
async function bid(page, user, amount) {
  const cents = await page.evaluate(() => window.auction.lots.clock.cents);
  const units = Math.max(amount, cents / 100 + 5);
  await page.fill("tr[data-lot=clock] input[name=amount]", String(units));
  await page.click("tr[data-lot=clock] button");
  await page.waitForFunction(([user, c]) => window.auction.lots.clock.cents >= c, [user, units * 100]);
  step(`${user} bid ${units.toFixed(2)}`);
}

let error;
try {
  const ann = await enter("ann");
  const bob = await enter("bob");
  step("ann and bob see the lots");
  await bid(ann, "ann", 60);
  await bid(bob, "bob", 80);
  await bid(ann, "ann", 100);
  await bid(bob, "bob", 300); // more than the bot may bid
  await run.screenshots("auction");
  for (const [name, page] of [["ann", ann], ["bob", bob]]) {
    await page.waitForFunction(() => window.auction.closed.clock !== undefined, null, { timeout: 30000 });
    const closed = await page.evaluate(() => window.auction.closed.clock);
    console.log(`winner: ${name} sees ${closed.winner ?? "-"} ${closed.cents}`);
  }
  const notices = await ann.evaluate(() => window.auction.notices.length);
  if (notices === 0) throw new Error("ann was never told she was outbid");
  step(`ann got ${notices} outbid notices`);
  await run.screenshots("auction-closed");
} catch (e) {
  error = e;
}
await run.finish("auction", error);
console.log("ok: two pages and a bot bid on one lot");
