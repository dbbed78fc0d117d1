// Drives training and the policy library in headless Debian Chromium: draft, train with a preset, wait for
// success, open the library, rename, reload and check the name.
// Usage: node scripts/train-smoke.mjs <base URL with ?token=...> "<scene display name>" "<task>" <out prefix>
// Env: PRESET (option label, default "Quick test (seconds)"), TRAIN_TIMEOUT_MS (default 240000).

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [url, scene = "Cartpole Balance", task = "Balance the pole", out = "train"] =
  process.argv.slice(2);
if (!url?.includes("token=")) {
  console.error(
    "usage: give the URL with ?token= that `robocoach serve` printed as the first argument",
  );
  process.exit(2);
}
const timeout = Number(process.env.TRAIN_TIMEOUT_MS ?? 240_000);
const ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "rc-train-")), {
  executablePath: "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1440, height: 900 },
  args: ["--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader", "--no-first-run"],
});
const page = ctx.pages()[0] ?? (await ctx.newPage());
page.on("pageerror", (e) => console.log("pageerror:", e.message));
await page.goto(url);
await page.getByRole("button", { name: scene, exact: true }).click();
await page.getByRole("textbox", { name: "Task" }).fill(task);
await page.getByRole("combobox", { name: "Provider" }).selectOption("builtin");
await page.getByRole("button", { name: "Draft reward" }).click();
await page
  .getByRole("status", { name: "Validation" })
  .filter({ hasText: /^Valid\b/ })
  .waitFor({ timeout: 300_000 });
await page
  .getByRole("combobox", { name: "Preset" })
  .selectOption({ label: process.env.PRESET ?? "Quick test (seconds)" });
console.log("estimate:", await page.getByRole("status", { name: "Time estimate" }).textContent());
const t0 = Date.now();
await page.getByRole("button", { name: "Train policy" }).click();
const training = page.getByRole("region", { name: "Training" });
const badge = training.getByRole("status", { name: "Job state" });
await badge.filter({ hasText: "running" }).waitFor({ timeout: 60_000 });
await page.waitForTimeout(3000);
await training.screenshot({ path: `${out}-running.png` });
console.log(
  "running:",
  await training
    .getByRole("progressbar", { name: "Training progress" })
    .getAttribute("aria-valuenow"),
);
await badge.filter({ hasText: /succeeded|failed|cancelled|interrupted/ }).waitFor({ timeout });
console.log(`final: ${await badge.textContent()} after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
console.log(
  "progress:",
  await training
    .getByRole("progressbar", { name: "Training progress" })
    .getAttribute("aria-valuenow"),
);
await training.screenshot({ path: `${out}-done.png` });
await training.getByRole("link", { name: "Open in library" }).click();
const library = page.getByRole("region", { name: "Policy library" });
await library.getByRole("button", { name: "Rename" }).first().click();
await library.getByRole("textbox", { name: "Policy name" }).fill("Smoke policy");
await library.getByRole("textbox", { name: "Policy name" }).press("Enter");
await library.getByText("Smoke policy").first().waitFor();
await page.screenshot({ path: `${out}-library.png` });
await page.reload();
await page.getByRole("button", { name: "Library" }).click();
await page
  .getByRole("region", { name: "Policy library" })
  .getByText("Smoke policy")
  .first()
  .waitFor();
console.log("rename persisted after reload");
await ctx.close();
