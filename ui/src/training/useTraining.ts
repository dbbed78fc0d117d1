import { useCallback, useEffect, useState } from "react";
import { messageOf } from "../tasks/draft";
import { cancelJob, conflictState, jobStatus, listJobs, resumeJob, stopJob } from "./api";
import { isLive, mergeStatus } from "./format";
import { followJob } from "./lineage";
import type { JobStatus } from "./types";

export interface Training {
  jobs: JobStatus[] | null;
  current: JobStatus | null;
  error: string | null;
  select: (id: string) => void;
  started: (job: JobStatus) => void;
  cancel: () => Promise<void>;
  /** Stops the running job and keeps the best policy so far. */
  stop: () => Promise<void>;
  resume: () => Promise<void>;
}

/** The recent jobs and the one shown, followed live while it runs and into its reflection rounds. */
export function useTraining(): Training {
  const [jobs, setJobs] = useState<JobStatus[] | null>(null);
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [current, setCurrent] = useState<JobStatus | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Bumped to follow the same job again (after a resume).
  const [generation, setGeneration] = useState(0);

  const refresh = useCallback(async (signal?: AbortSignal) => {
    try {
      const list = await listJobs(signal);
      setJobs(list);
      setError(null);
      return list;
    } catch (e) {
      if (!signal?.aborted) setError(messageOf(e));
      return null;
    }
  }, []);

  // On load: the list, and the newest live job (or the newest one) shown.
  useEffect(() => {
    const abort = new AbortController();
    void refresh(abort.signal).then((list) => {
      if (!list || list.length === 0) return;
      const pick = list.find((j) => isLive(j.state)) ?? list[0];
      setSelectedId((id) => id ?? pick.job_id);
    });
    return () => abort.abort();
  }, [refresh]);

  const show = useCallback((job: JobStatus) => {
    setCurrent((prev) => mergeStatus(prev, job));
    setJobs((list) => {
      if (!list) return [job];
      return list.some((j) => j.job_id === job.job_id)
        ? list.map((j) => (j.job_id === job.job_id ? job : j))
        : [job, ...list];
    });
  }, []);

  // biome-ignore lint/correctness/useExhaustiveDependencies: generation re-follows the same job
  useEffect(() => {
    if (!selectedId) return;
    const abort = new AbortController();
    const id = selectedId;
    void (async () => {
      try {
        // A failed round that the app revises is followed into the next round's job.
        const followed = await followJob(id, show, setSelectedId, abort.signal);
        if (followed && !abort.signal.aborted) await refresh(abort.signal); // a policy may be saved
      } catch (e) {
        if (!abort.signal.aborted) setError(messageOf(e));
      }
    })();
    return () => abort.abort();
  }, [selectedId, generation, show, refresh]);

  // Picking the job already shown changes nothing (clearing it would leave the view empty: the effect
  // that reads the job runs only when the id changes).
  const select = useCallback(
    (id: string) => {
      if (id === selectedId) return;
      setCurrent(null);
      setSelectedId(id);
    },
    [selectedId],
  );

  const started = useCallback(
    (job: JobStatus) => {
      setCurrent(job);
      show(job);
      setSelectedId(job.job_id);
      setGeneration((g) => g + 1);
    },
    [show],
  );

  /**
   * A 409 from cancel/resume means the job moved on (finished, or no longer interrupted): show its real
   * state and say why the action did nothing, instead of the raw error.
   */
  const refused = useCallback(
    async (id: string, action: string, e: unknown) => {
      const state = conflictState(e);
      if (state === null) {
        setError(messageOf(e));
        return;
      }
      setError(`Could not ${action} the job: it is ${state} now.`);
      try {
        show(await jobStatus(id));
        await refresh();
      } catch {
        // the message above already says what happened
      }
    },
    [show, refresh],
  );

  const cancel = useCallback(async () => {
    if (!selectedId) return;
    try {
      show(await cancelJob(selectedId));
      setError(null);
    } catch (e) {
      await refused(selectedId, "cancel", e);
    }
  }, [selectedId, show, refused]);

  const stop = useCallback(async () => {
    if (!selectedId) return;
    try {
      show(await stopJob(selectedId));
      setError(null);
    } catch (e) {
      await refused(selectedId, "stop", e);
    }
  }, [selectedId, show, refused]);

  const resume = useCallback(async () => {
    if (!selectedId) return;
    try {
      show(await resumeJob(selectedId));
      setError(null);
      setGeneration((g) => g + 1);
    } catch (e) {
      await refused(selectedId, "resume", e);
    }
  }, [selectedId, show, refused]);

  return { jobs, current, error, select, started, cancel, stop, resume };
}
