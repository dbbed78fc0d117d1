import { chromium } from "playwright-core";

const base = process.argv[2] ?? "http://127.0.0.1:8765";
const scene = process.argv[3] ?? "Cartpole Balance";
const out = process.argv[4] ?? "/tmp/rc/shot.png";
const ctx = await chromium.launchPersistentContext("/tmp/rc/profile", {
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
page.on("console", (m) => console.log("console:", m.type(), m.text()));
page.on("pageerror", (e) => console.log("pageerror:", e.message));
const t0 = Date.now();
await page.goto(`${base}/?token=dev`);
console.log("url after load", page.url());
await page.getByRole("button", { name: scene }).click();
await page.locator('.viewport[data-state="ready"]').waitFor({ timeout: 60000 });
console.log("ready after", Date.now() - t0, "ms");
await page.waitForTimeout(3000);
const time1 = await page.getByLabel("Simulation time").textContent();
const rtf = await page.getByLabel("Real-time factor").textContent();
console.log("time", time1, "rtf", rtf);
if (process.env.PAUSE_FIRST) await page.getByRole("button", { name: "Pause" }).click();
// fps
const fps = await page.evaluate(
  () =>
    new Promise((r) => {
      let n = 0;
      const t = performance.now();
      const f = () => {
        n++;
        if (performance.now() - t < 2000) requestAnimationFrame(f);
        else r(n / 2);
      };
      requestAnimationFrame(f);
    }),
);
console.log("fps", fps);
await page.screenshot({ path: out });
// drag the center of the canvas
const box = await page.getByLabel("Simulation viewport").boundingBox();
const cx = box.x + box.width / 2,
  cy = box.y + box.height / 2;
await page.mouse.move(cx, cy);
await page.mouse.down();
await page.mouse.move(cx + 150, cy - 50, { steps: 10 });
await page.waitForTimeout(500);
const sel = await page
  .getByLabel("Selected body", { exact: true })
  .textContent()
  .catch((e) => String(e).slice(0, 200));
const pos = await page
  .getByLabel("Selected body position")
  .textContent()
  .catch(() => null);
console.log("selected", sel, pos);
await page.screenshot({ path: out.replace(".png", "-drag.png") });
await page.mouse.up();
if (!process.env.PAUSE_FIRST) await page.getByRole("button", { name: "Pause" }).click();
const ta = await page.getByLabel("Simulation time").textContent();
await page.waitForTimeout(500);
const tb = await page.getByLabel("Simulation time").textContent();
console.log("paused", ta, tb);
await page.getByRole("button", { name: "Step" }).click();
await page.getByRole("button", { name: "Reset" }).click();
await page.waitForTimeout(300);
console.log("after reset", await page.getByLabel("Simulation time").textContent());
await ctx.close();
