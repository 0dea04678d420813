// Drives demo pages in headless Chromium for tests/test_demo.py (playwright-core, Debian's chromium).
//
//   node drive_page.mjs PLAN.json     prints one JSON object: {page name: what that page showed}
//
// PLAN: {chromium, pages: {name: PAGE}}; each page opens in its own browser context (no shared cache).
// PAGE: {url, routes?: {urlPrefix: folder} (requests served from local files, as a CDN would: that is
// how the CDN mode is tested offline), tamper?: file name (that routed file gets one byte appended),
// steps?: [{resize?: bool, files?: [paths uploaded at once], stroke?: [[x, y], ...] in drawing-pad
// pixels, screenshot?: path}]}
// The browser cannot reach the network: every host name fails to resolve; the pages are on 127.0.0.1.

import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

const plan = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const TIMEOUT_MS = 120000; // a loaded 2-core machine takes ~15 s to compile onnxruntime-web and load a model

const browser = await chromium.launch({
  executablePath: plan.chromium,
  headless: true,
  args: [
    "--headless=new",
    "--no-sandbox", // root in CI containers has no user namespace for the sandbox
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-domain-reliability",
    "--no-first-run",
  ],
});
const shown = {};
try {
  for (const [name, page] of Object.entries(plan.pages)) shown[name] = await visit(page);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(shown));

async function visit({ url, routes = {}, tamper, steps = [] }) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  const report = { console: [], requests: [], steps: [] };
  page.on("console", (message) => report.console.push(`${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => report.console.push(`pageerror: ${error.message}`));
  page.on("request", (request) => report.requests.push(request.url()));
  for (const [prefix, folder] of Object.entries(routes)) {
    await page.route(`${prefix}**`, async (route) => {
      const file = path.join(folder, route.request().url().slice(prefix.length));
      let body = fs.readFileSync(file);
      if (tamper && path.basename(file) === tamper) body = Buffer.concat([body, Buffer.from(" ")]);
      const type = file.endsWith(".wasm") ? "application/wasm" : "text/javascript";
      await route.fulfill({ body, headers: { "content-type": type, "access-control-allow-origin": "*" } });
    });
  }

  await page.goto(url);
  await page.waitForFunction(() => window.neurozooDemo?.ready);
  report.ready = await page.evaluate(() => window.neurozooDemo.ready);
  if (report.ready.ok) for (const step of steps) report.steps.push(await run(page, step));
  report.status = await page.textContent("#status");
  await context.close();
  return report;
}

async function run(page, { resize, files = [], stroke = [], screenshot }) {
  const done = {};
  if (resize !== undefined) await page.setChecked("#resize", resize);
  if (files.length) {
    const before = await page.evaluate(() => window.neurozooDemo.results.length);
    await page.setInputFiles("#file-input", files);
    await page.waitForFunction((n) => window.neurozooDemo.results.length >= n, before + files.length);
    done.results = (await page.evaluate(() => window.neurozooDemo.results)).slice(before);
    done.cards = (await page.$$eval("#results > li", (cards) =>
      cards.map((card) => ({
        name: card.querySelector(".name")?.textContent,
        top1: card.querySelector(".top .label")?.textContent ?? null,
        error: card.querySelector(".message")?.textContent ?? null,
      })),
    )).slice(before);
  }
  if (stroke.length) {
    const box = await page.locator("#pad").boundingBox();
    const scale = box.width / (await page.$eval("#pad", (pad) => pad.width));
    const at = ([x, y]) => [box.x + x * scale, box.y + y * scale];
    await page.evaluate(() => (window.neurozooDemo.drawing = null));
    await page.mouse.move(...at(stroke[0]));
    await page.mouse.down();
    for (const point of stroke.slice(1)) await page.mouse.move(...at(point), { steps: 4 });
    await page.mouse.up();
    await page.waitForFunction(() => window.neurozooDemo.drawing);
    done.drawing = await page.evaluate(() => window.neurozooDemo.drawing);
    done.padPng = await page.$eval("#pad", (pad) => pad.toDataURL("image/png"));
  }
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  return done;
}
