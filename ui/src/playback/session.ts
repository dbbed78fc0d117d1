/**
 * Browser glue: one live playback of a policy on a SceneController. The stepping, the policy driver
 * and its WebSocket run in a dedicated worker (playback.worker.ts) with their own copy of the model;
 * this page draws the states the worker posts and sends it the user's controls.
 */

import wasmUrl from "@mujoco/mujoco/mujoco.wasm?url";
import type { CommandSchedule } from "../api/wire.gen";
import type { SpringState } from "../sim/perturb";
import type { RemotePhysics, SceneController } from "../viewer/controller";
import type { PlaybackSnapshot } from "./driver";
import { packState } from "./frameState";
import { type FromWorker, localSnapshot, type ToWorker } from "./workerMessages";

/**
 * ws(s)://<the page's host>/api/models/<id>/inference?token=<token>: the same origin as the page,
 * which the server serves together with /api.
 */
export function playbackUrl(policyId: string, token: string | null, pageUrl: string): string {
  return socketUrl(`/api/models/${encodeURIComponent(policyId)}/inference`, token, pageUrl);
}

/**
 * ws(s)://<the page's host>/api/jobs/<id>/preview?token=<token>: a training job's live preview (the
 * same protocol, plus `policy` messages saying which evaluation's params play).
 */
export function previewUrl(jobId: string, token: string | null, pageUrl: string): string {
  return socketUrl(`/api/jobs/${encodeURIComponent(jobId)}/preview`, token, pageUrl);
}

function socketUrl(path: string, token: string | null, pageUrl: string): string {
  const page = new URL(pageUrl);
  const scheme = page.protocol === "https:" ? "wss:" : "ws:";
  const query = token ? `?token=${encodeURIComponent(token)}` : "";
  return `${scheme}//${page.host}${path}${query}`;
}

export interface PlaybackHandle {
  /** The latest readouts the worker posted. */
  snapshot(): PlaybackSnapshot;
  resetEpisode(): void;
  /** Sends a command (the worker clips it to hello.command's range). */
  setCommand(values: number[]): void;
  setSpeed(speed: number): void;
  setPaused(paused: boolean): void;
  /** Closes the session and gives stepping back to the page's free-running loop. */
  stop(): void;
}

/** How long a stopping worker may take to close its socket before it is terminated. */
const STOP_GRACE_MS = 2000;

/**
 * Starts a worker that plays the policy at `url` (`preview`: a training job's live preview, see
 * previewUrl); the controller draws what it steps.
 */
export function startPlayback(
  controller: SceneController,
  url: string,
  sceneId: string,
  onChange?: (snapshot: PlaybackSnapshot) => void,
  schedule: CommandSchedule | null = null,
  preview = false,
): PlaybackHandle {
  const { sim } = controller;
  let current = localSnapshot();
  let frame: Float64Array | null = null;
  let realTimeFactor = 0;
  let done = false;
  const update = (next: PlaybackSnapshot) => {
    current = next;
    onChange?.(next);
  };

  const worker = new Worker(new URL("./playback.worker.ts", import.meta.url), { type: "module" });
  const post = (message: ToWorker, transfer: Transferable[] = []) => {
    if (!done) worker.postMessage(message, transfer);
  };
  worker.onmessage = (event: MessageEvent<FromWorker>) => {
    const message = event.data;
    switch (message.type) {
      case "frame":
        frame = message.state;
        return;
      case "snapshot":
        realTimeFactor = message.snapshot.realTimeFactor;
        if (!done) update(message.snapshot.playback);
        return;
      case "stopped":
        worker.terminate();
        return;
    }
  };
  worker.onerror = (event) => {
    event.preventDefault();
    const detail = event.message || "it could not be started";
    update(localSnapshot(`The playback worker failed: ${detail}`));
    controller.attach(null); // the page's own physics runs the scene again
  };

  const remote: RemotePhysics = {
    takeFrame: () => {
      const f = frame;
      frame = null;
      return f;
    },
    get realTimeFactor() {
      return realTimeFactor;
    },
    setSpring: (spring: SpringState) => post({ type: "spring", spring }),
  };
  const state = packState(sim.model, sim.data);
  post(
    {
      type: "start",
      wasmUrl: new URL(wasmUrl, window.location.href).href,
      mjb: controller.modelBytes,
      url,
      sceneId,
      state,
      paused: sim.paused,
      speed: 1,
      spring: controller.perturber.state,
      schedule,
      preview,
    },
    [state.buffer],
  );
  controller.attach(remote);

  return {
    snapshot: () => current,
    resetEpisode: () => post({ type: "resetEpisode" }),
    setCommand: (values) => post({ type: "command", values }),
    setSpeed: (speed) => post({ type: "speed", speed }),
    setPaused: (paused) => post({ type: "pause", paused }),
    stop: () => {
      if (done) return;
      post({ type: "stop" });
      done = true;
      // The page keeps the last state drawn and runs it freely from there.
      controller.attach(null);
      setTimeout(() => worker.terminate(), STOP_GRACE_MS);
    },
  };
}
