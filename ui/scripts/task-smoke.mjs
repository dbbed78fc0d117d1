// Drives the task panel in headless Debian Chromium: draft, edit a weight, validate, break, validate.
// Usage: node scripts/task-smoke.mjs <base URL with ?token=...> "<scene display name>" "<task>" <out prefix>
// Env: PROVIDER (default builtin). Saves <out prefix>-drafted.png, -broken.png (and -failed.png when the
// provider fails; then it takes the offered built-in fallback).

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [url, scene = "Cartpole Balance", task = "", out = "task"] = process.argv.slice(2);
if (!url?.includes("token=")) {
  console.error(
    "usage: give the URL with ?token= that `robocoach serve` printed as the first argument",
  );
  process.exit(2);
}
const ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "rc-task-")), {
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
await page
  .getByRole("combobox", { name: "Provider" })
  .selectOption(process.env.PROVIDER ?? "builtin");
const t0 = Date.now();
await page.getByRole("button", { name: "Draft reward" }).click();
const status = page.getByRole("status", { name: "Validation" });
const failure = page.getByRole("alert");
await Promise.race([
  status.filter({ hasText: /^Valid\b/ }).waitFor({ timeout: 300_000 }),
  failure.first().waitFor({ timeout: 300_000 }),
]);
console.log(`draft answered after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
if (await failure.count()) {
  console.log("alert:", await failure.first().textContent());
  await page.screenshot({ path: `${out}-failed.png` });
  const fallback = page.getByRole("button", { name: "Draft with the built-in drafter instead" });
  if (await fallback.count()) {
    await fallback.click();
    await status.filter({ hasText: /^Valid\b/ }).waitFor({ timeout: 300_000 });
  }
}
await page.screenshot({ path: `${out}-drafted.png` });
if (await status.count()) {
  console.log("validation:", await status.textContent());
  const weights = page.getByRole("table", { name: "Reward terms" }).getByRole("spinbutton");
  console.log("weights:", await weights.count());
  await weights.first().fill("2.5");
  await page.getByRole("button", { name: "Validate" }).click();
  await status.filter({ hasText: /^(Valid\b|Invalid)/ }).waitFor({ timeout: 120_000 });
  console.log("after weight edit:", await status.textContent());
  const editor = page.getByRole("textbox", { name: "Reward program" });
  await editor.click();
  await page.keyboard.press("Control+Home");
  await page.keyboard.type("import os\n");
  await page.getByRole("button", { name: "Validate" }).click();
  await status.filter({ hasText: /^(Valid\b|Invalid)/ }).waitFor({ timeout: 120_000 });
  console.log("after import:", await status.textContent());
  console.log("errors:", await page.getByRole("list", { name: "Program errors" }).textContent());
  await page.screenshot({ path: `${out}-broken.png` });
}
await ctx.close();
