import { useEffect, useState } from "react";
import { listScenes, type SceneList } from "../api/client";
import { UnauthorizedError } from "../api/token";

const POLL_MS = 2000;

/** The scene list, re-fetched every 2 s while the server is still verifying scenes. */
export function useScenes(): { list: SceneList | null; error: string | null } {
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

  return { list, error };
}
