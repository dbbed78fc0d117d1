// Smoke check of the built UI in headless Debian Chromium (SwiftShader WebGL).
// Usage: node scripts/smoke.mjs <base URL with ?token=...> "<scene display name>" <screenshot.png>
// Env: FX, FY = where to grab (fractions of the canvas), PAUSE_FIRST=1 to measure fps while paused.
// Prints load time, simulation time, real-time factor, frames per second and the drag result.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [url, scene = "Cartpole Balance", out = "shot.png"] = process.argv.slice(2);
if (!url?.includes("token=")) {
  console.error(
    "usage: give the URL with ?token= that `robocoach serve` printed as the first argument",
  );
  process.exit(2);
}
const ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "rc-smoke-")), {
  executablePath: "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1280, height: 800 },
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--enable-unsafe-swiftshader",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const page = ctx.pages()[0] ?? (await ctx.newPage());
page.on("console", (m) => {
  if (!m.text().includes("GL Driver")) console.log("console:", m.type(), m.text());
});
page.on("pageerror", (e) => console.log("pageerror:", e.message));
const t0 = Date.now();
await page.goto(url);
console.log("url after load", page.url());
await page.getByRole("button", { name: scene, exact: true }).click();
const viewport = page.locator(".viewport[data-state]");
await page.locator('.viewport[data-state="ready"], .viewport[data-state="error"]').waitFor({
  timeout: 60000,
});
console.log("state", await viewport.getAttribute("data-state"), "after", Date.now() - t0, "ms");
if ((await viewport.getAttribute("data-state")) === "error") {
  console.log("error:", await page.getByRole("alert").last().textContent());
  await page.screenshot({ path: out });
  await ctx.close();
  process.exit(0);
}
await page.waitForTimeout(3000);
console.log(
  "time",
  await page.getByLabel("Simulation time").textContent(),
  "rtf",
  await page.getByLabel("Real-time factor").textContent(),
);
if (process.env.PAUSE_FIRST) await page.getByRole("button", { name: "Pause" }).click();
const fps = await page.evaluate(
  () =>
    new Promise((resolve) => {
      let n = 0;
      const t = performance.now();
      const f = () => {
        n++;
        if (performance.now() - t < 2000) requestAnimationFrame(f);
        else resolve(n / 2);
      };
      requestAnimationFrame(f);
    }),
);
console.log("fps", fps);
await page.screenshot({ path: out });
const box = await page.getByLabel("Simulation viewport").boundingBox();
const cx = box.x + box.width * (Number(process.env.FX) || 0.5);
const cy = box.y + box.height * (Number(process.env.FY) || 0.5);
await page.mouse.move(cx, cy);
await page.mouse.down();
await page.mouse.move(cx + 150, cy - 50, { steps: 10 });
await page.waitForTimeout(500);
const label = (name) =>
  page
    .getByLabel(name, { exact: true })
    .textContent({ timeout: 2000 })
    .catch(() => null);
console.log("selected", await label("Selected body"), await label("Selected body position"));
await page.screenshot({ path: out.replace(/\.png$/, "-drag.png") });
await page.mouse.up();
if (!process.env.PAUSE_FIRST) await page.getByRole("button", { name: "Pause" }).click();
const a = await label("Simulation time");
await page.waitForTimeout(500);
console.log("paused", a, await label("Simulation time"));
await page.getByRole("button", { name: "Step" }).click();
await page.getByRole("button", { name: "Reset" }).click();
await page.waitForTimeout(300);
console.log("after reset", await label("Simulation time"));
await ctx.close();
