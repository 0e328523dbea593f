// Shared by the browser scripts: Debian's Chromium launched the way this
// machine needs it, and pages whose uncaught errors are collected.
import { chromium } from "playwright-core";
import path from "node:path";

// launch starts headless Chromium (CHROMIUM, default /usr/bin/chromium).
// Playwright gives each launch a fresh, empty profile directory.
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

// Run holds what a script checks: its pages, the problems they reported.
export class Run {
  constructor(browser, outDir) {
    this.browser = browser;
    this.outDir = outDir;
    this.pages = new Map();
    this.problems = [];
  }

  // open loads url in a new browser context (its own cookies: another
  // person) and records its errors under name.
  async open(name, url) {
    const context = await this.browser.newContext({ viewport: { width: 900, height: 600 } });
    const page = await context.newPage();
    page.on("pageerror", (e) => this.problems.push(`${name}: page error: ${e.message}`));
    // Console errors are shown, not failures: a page logs the refusals it
    // expects (onError). Uncaught errors fail the run.
    page.on("console", (m) => { if (m.type() === "error") console.log(`${name}: console error: ${m.text()}`); });
    page.setDefaultTimeout(10000);
    this.pages.set(name, page);
    await page.goto(url);
    return page;
  }

  // screenshots writes <prefix>-<name>.png of every page to outDir.
  async screenshots(prefix) {
    for (const [name, page] of this.pages) {
      const file = path.join(this.outDir, `${prefix}-${name}.png`);
      await page.screenshot({ path: file, fullPage: true }).catch((e) => this.problems.push(e.message));
      console.log("screenshot: " + file);
    }
  }

  // finish closes the browser and exits: 0, or 1 with the problems (and
  // failure screenshots and the pages' text).
  async finish(prefix, error) {
    if (error) {
      this.problems.push(error.message);
      await this.screenshots("failure-" + prefix);
      for (const [name, page] of this.pages) {
        console.log(`${name}'s page: ` + (await page.textContent("body").catch(() => "?")).replace(/\s+/g, " "));
      }
    }
    await this.browser.close();
    if (this.problems.length > 0) {
      console.error(this.problems.join("\n"));
      process.exit(1);
    }
  }
}

// args returns URL and OUTDIR from the command line.
export function args(script) {
  const [url, outDir] = process.argv.slice(2);
  if (!url || !outDir) {
    console.error(`usage: node ${script} URL OUTDIR`);
    process.exit(2);
  }
  return [url, outDir];
}
