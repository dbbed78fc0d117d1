/**
 * Preparing a scene's reward checks while the person types: the panel asks the server when a scene is
 * selected and follows the real state, so a first draft's wait is named for what it is.
 */

import { useEffect, useState } from "react";
import { type PrepareStatus, prepareChecks, prepareStatus } from "./api";

export const POLL_MS = 1000;

/** What a running draft waits for, from the preparation's real state (null: not known yet). */
export function draftWaitText(
  status: PrepareStatus | null,
  sceneName: string,
  provider: string,
): string {
  if (status?.state === "preparing") {
    return `Preparing the ${sceneName} simulator for checks… (first time only)`;
  }
  if (status?.state === "prepared") return `Drafting with ${provider} and checking the reward…`;
  return `Drafting with ${provider} and validating…`;
}

/** The quiet line under the task box while nothing is drafting (null: nothing to say). */
export function preparingText(status: PrepareStatus | null, sceneName: string): string | null {
  if (status?.state === "preparing") {
    return `Preparing the ${sceneName} simulator for checks… (first time only)`;
  }
  if (status?.state === "failed") {
    return `Checks for ${sceneName} are not prepared (${status.error}); the first draft prepares them.`;
  }
  return null;
}

/** Starts preparing `sceneId`'s checks and follows the state until it settles. */
export function useCheckPreparation(sceneId: string): PrepareStatus | null {
  const [status, setStatus] = useState<PrepareStatus | null>(null);
  useEffect(() => {
    const abort = new AbortController();
    let timer: number | undefined;
    setStatus(null);
    const follow = (s: PrepareStatus) => {
      if (abort.signal.aborted) return;
      setStatus(s);
      if (s.state !== "preparing") return;
      timer = window.setTimeout(() => {
        prepareStatus(sceneId, abort.signal)
          .then(follow)
          .catch(() => undefined); // the draft still works; it only loses the named wait
      }, POLL_MS);
    };
    prepareChecks(sceneId, abort.signal)
      .then(follow)
      .catch(() => undefined);
    return () => {
      abort.abort();
      window.clearTimeout(timer);
    };
  }, [sceneId]);
  return status;
}
