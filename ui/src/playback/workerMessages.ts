/** Messages between the page and the playback worker (playback.worker.ts, PlaybackWorkerCore). */

import type { CommandSchedule } from "../api/wire.gen";
import type { SpringState } from "../sim/perturb";
import type { PlaybackSnapshot } from "./driver";

/** Page -> worker. */
export type ToWorker =
  | {
      type: "start";
      /** Absolute URL of mujoco.wasm (undefined in Node, where mujoco.js finds it itself). */
      wasmUrl?: string;
      /** The scene's MJB bytes, as the page loaded them. */
      mjb: Uint8Array;
      /** The inference WebSocket URL. */
      url: string;
      sceneId: string;
      /** The page's state (frameState.ts layout): the worker's physics continues from it. */
      state: Float64Array;
      paused: boolean;
      speed: number;
      spring: SpringState;
      /** The command tier: the server drives the command from this schedule from the first episode. */
      schedule?: CommandSchedule | null;
      /** `url` is a training job's live preview (DriverOptions.preview). */
      preview?: boolean;
    }
  | { type: "pause"; paused: boolean }
  | { type: "speed"; speed: number }
  | { type: "resetEpisode" }
  | { type: "command"; values: number[] }
  | { type: "spring"; spring: SpringState }
  | { type: "stop" };

/** Readouts the worker posts (throttled), plus the status bar's time and real-time factor. */
export interface WorkerSnapshot {
  playback: PlaybackSnapshot;
  time: number;
  realTimeFactor: number;
}

/** Worker -> page. */
export type FromWorker =
  | { type: "frame"; state: Float64Array }
  | { type: "snapshot"; snapshot: WorkerSnapshot }
  /** After "stop": the socket is closed; the last frame was posted just before. */
  | { type: "stopped" };

/** The readout before the worker reports (or after it failed, with `error`). */
export function localSnapshot(error: string | null = null): PlaybackSnapshot {
  return {
    phase: error ? "stopped" : "connecting",
    status: error ? "Stopped" : "Connecting…",
    hello: null,
    episodes: 0,
    seed: 0,
    step: 0,
    episodeReturn: 0,
    reward: 0,
    taskReward: 0,
    terms: [],
    command: null,
    latencyP50: Number.NaN,
    policy: null,
    error,
    fatal: error !== null,
  };
}
