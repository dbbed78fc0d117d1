/**
 * Closed-loop check against a running Robocoach server: the real driver, MuJoCo (WebAssembly) in
 * Node and the server's inference session, stepping as fast as replies come (no wall-clock pacing),
 * for one episode from `reset {seed}` (no reset on done: it stops there).
 *
 * Skipped unless ROBOCOACH_PLAYBACK_URL is set. Node 20 needs --experimental-websocket for its global
 * WebSocket (the forked test workers inherit NODE_OPTIONS):
 *
 *   cd ui && ROBOCOACH_PLAYBACK_URL='ws://127.0.0.1:PORT/api/models/ID/inference?token=TOKEN' \
 *     ROBOCOACH_PLAYBACK_MJB=/path/to/scene/model.mjb.gz ROBOCOACH_PLAYBACK_STEPS=200 \
 *     ROBOCOACH_PLAYBACK_SEED=0 ROBOCOACH_PLAYBACK_OUT=/tmp/playback.json \
 *     NODE_OPTIONS=--experimental-websocket npx vitest run src/playback/closedLoop.live.test.ts
 *
 * ROBOCOACH_PLAYBACK_MJB: the scene's gzip-compressed MJB, as the server's scene cache stores it.
 * ROBOCOACH_PLAYBACK_OUT receives {"episode_return", "steps", "latency_ms_p50", "latency_ms_p99"}
 * (steps: control steps answered; it is fewer than ROBOCOACH_PLAYBACK_STEPS when the episode ended).
 * ROBOCOACH_PLAYBACK_TIMEOUT_S (default 600) bounds the whole run, compilation included.
 */

import { readFileSync, writeFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { loadModelFromMjb } from "../sim/model";
import { getMujoco } from "../sim/mujoco";
import { PolicyDriver, quantile, type SocketLike } from "./driver";

const env = process.env;
const url = env.ROBOCOACH_PLAYBACK_URL;
const timeoutMs = 1000 * Number(env.ROBOCOACH_PLAYBACK_TIMEOUT_S ?? 600);

function required(name: string): string {
  const value = env[name];
  if (!value) throw new Error(`${name} must be set along with ROBOCOACH_PLAYBACK_URL`);
  return value;
}

describe.skipIf(!url)("closed loop against a live inference server", () => {
  it(
    "plays one episode and writes its return and round-trip latencies",
    async () => {
      if (typeof WebSocket === "undefined") {
        throw new Error("no global WebSocket: run with NODE_OPTIONS=--experimental-websocket");
      }
      const steps = Number(required("ROBOCOACH_PLAYBACK_STEPS"));
      const out = required("ROBOCOACH_PLAYBACK_OUT");
      const seed = Number(env.ROBOCOACH_PLAYBACK_SEED ?? 0);
      expect(Number.isInteger(steps) && steps > 0).toBe(true);

      const mj = await getMujoco();
      const mjb = gunzipSync(readFileSync(required("ROBOCOACH_PLAYBACK_MJB")));
      const model = loadModelFromMjb(mj, new Uint8Array(mjb), "playback scene");
      const data = new mj.MjData(model);
      const latencies: number[] = [];
      let episodeReturn = 0;
      let answered = 0;
      try {
        const driver = await new Promise<PolicyDriver>((resolve) => {
          new PolicyDriver(mj, model, data, {
            connect: () => new WebSocket(url as string) as unknown as SocketLike,
            pacing: "asap",
            autoReset: false,
            maxSteps: steps,
            seed,
            maxReconnects: 0,
            latencyWindow: steps,
            onAction: (action, ms) => {
              latencies.push(ms);
              episodeReturn = action.episode_return;
              answered = action.step;
            },
            onChange: (x) => {
              if (x.phase === "ended" || x.phase === "stopped") resolve(x);
            },
          });
        });
        const s = driver.snapshot();
        driver.stop();
        if (s.fatal) throw new Error(`playback failed: ${s.error}`);
        const result = {
          episode_return: episodeReturn,
          steps: answered,
          latency_ms_p50: quantile(latencies, 0.5),
          latency_ms_p99: quantile(latencies, 0.99),
        };
        writeFileSync(out, `${JSON.stringify(result)}\n`);
        expect(answered).toBeGreaterThan(0);
        expect(latencies).toHaveLength(answered);
      } finally {
        data.delete();
        model.delete();
      }
    },
    timeoutMs,
  );
});
