/** Browser glue: one live playback of a policy on a SceneController (WebSocket + paced driver). */

import type { SceneController } from "../viewer/controller";
import { PolicyDriver } from "./driver";

/**
 * ws(s)://<the page's host>/api/models/<id>/inference?token=<token>: the same origin as the page,
 * which the server serves together with /api.
 */
export function playbackUrl(policyId: string, token: string | null, pageUrl: string): string {
  const page = new URL(pageUrl);
  const scheme = page.protocol === "https:" ? "wss:" : "ws:";
  const query = token ? `?token=${encodeURIComponent(token)}` : "";
  return `${scheme}//${page.host}/api/models/${encodeURIComponent(policyId)}/inference${query}`;
}

export interface PlaybackHandle {
  driver: PolicyDriver;
  /** Closes the session and gives stepping back to the free-running loop. */
  stop(): void;
}

/** Connects to the policy and lets it drive `controller`'s simulation, paced to the wall clock. */
export function startPlayback(
  controller: SceneController,
  url: string,
  sceneId: string,
  onChange?: (driver: PolicyDriver) => void,
): PlaybackHandle {
  const { sim } = controller;
  const driver = new PolicyDriver(sim.mj, sim.model, sim.data, {
    connect: () => {
      const socket = new WebSocket(url);
      socket.binaryType = "arraybuffer";
      return socket;
    },
    // Mouse perturbation keeps working: stepOnce applies xfrc_applied before each mj_step.
    stepPhysics: () => sim.stepOnce(),
    isPaused: () => sim.paused,
    sceneId,
    pacing: "realtime",
    autoReset: true,
    onChange,
  });
  controller.attach(driver);
  return {
    driver,
    stop: () => {
      controller.attach(null);
      driver.stop();
    },
  };
}
