import { useEffect, useState } from "react";
import { getScene, listScenes, type SceneList } from "../api/client";
import { UnauthorizedError } from "../api/token";

const POLL_MS = 2000;

/** The scene list, re-fetched every 2 s while the server is still preparing scenes, and at once when
 * `waitFor` (the scene the user opened) is ready: the server prepares a scene someone waits for next. */
export function useScenes(waitFor: string | null = null): {
  list: SceneList | null;
  error: string | null;
} {
  const [list, setList] = useState<SceneList | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const next = await listScenes(abort.signal);
        setList(next);
        setError(null);
        if (!next.complete) timer = setTimeout(load, POLL_MS);
      } catch (e) {
        if (abort.signal.aborted) return;
        setError(e instanceof Error ? e.message : String(e));
        // a wrong token will not fix itself; other errors may (server still starting)
        if (!(e instanceof UnauthorizedError)) timer = setTimeout(load, 2 * POLL_MS);
      }
    };
    void load();
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, []);

  const waiting = waitFor !== null && list?.pending.includes(waitFor) === true;
  useEffect(() => {
    if (!waiting || waitFor === null) return;
    const abort = new AbortController();
    getScene(waitFor, abort.signal)
      .then(() => listScenes(abort.signal))
      .then(setList)
      .catch(() => {}); // the poll reports errors; a scene that failed shows as failed in the list
    return () => abort.abort();
  }, [waiting, waitFor]);

  return { list, error };
}
