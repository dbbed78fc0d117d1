// Benchmark: raw physics speed of the browser's engine (@mujoco/mujoco WebAssembly, run here in Node)
// on the exact MJB models the server exports. Prints load time, steps/s and the real-time headroom
// (how many times faster than real time the physics alone can run).
//
// Usage: node scripts/bench_wasm_step.mjs SCENE_CACHE_DIR [SCENE_ID ...]
//   SCENE_CACHE_DIR is a robocoach cache dir (e.g. ~/.cache/robocoach or ROBOCOACH_TEST_SCENE_CACHE).
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

const require = createRequire(join(process.cwd(), "ui", "package.json"));
const loadMujoco = (await import(require.resolve("@mujoco/mujoco"))).default;

const [cacheDir, ...ids] = process.argv.slice(2);
const scenesRoot = join(cacheDir, "scenes");
const scenesDir = join(scenesRoot, readdirSync(scenesRoot)[0]);
const sceneIds = ids.length ? ids : ["CartpoleBalance", "Go1JoystickFlatTerrain", "G1JoystickFlatTerrain"];

const mj = await loadMujoco();
mj.FS.mkdir("/working");
console.log("scene                        load ms   steps/s  timestep  x real time");
for (const id of sceneIds) {
  const bytes = gunzipSync(readFileSync(join(scenesDir, `${id}.mjb.gz`)));
  const t0 = performance.now();
  mj.FS.writeFile(`/working/${id}.mjb`, bytes);
  const vfs = new mj.MjVFS();
  const model = mj.MjModel.from_binary_path(`/working/${id}.mjb`, vfs);
  const data = new mj.MjData(model);
  const loadMs = performance.now() - t0;
  if (model.nkey > 0) mj.mj_resetDataKeyframe(model, data, 0);
  for (let i = 0; i < 200; i++) mj.mj_step(model, data); // warm-up
  const n = 5000;
  const t1 = performance.now();
  for (let i = 0; i < n; i++) mj.mj_step(model, data);
  const stepsPerS = n / ((performance.now() - t1) / 1000);
  const dt = model.opt.timestep;
  console.log(
    `${id.padEnd(28)} ${loadMs.toFixed(0).padStart(7)} ${stepsPerS.toFixed(0).padStart(9)} ${dt.toFixed(4).padStart(9)} ${(stepsPerS * dt).toFixed(1).padStart(12)}`,
  );
  data.delete();
  model.delete();
  vfs.delete();
}
