/**
 * Training calls: start, list, status, cancel, stop, resume (the typed openapi-fetch client), and the live event
 * stream (fetch streaming with the token header: EventSource cannot send it).
 */

import { api, authHeaders, readBody, unwrap } from "../api/client";
import { ApiError, errorFromResponse } from "../api/token";
import type { ValidationReport } from "../tasks/api";
import { SseParser } from "./sse";
import { type JobSpec, type JobState, type JobStatus, STREAM_END_STATES } from "./types";

function origin(): string {
  return typeof window === "undefined" ? "" : new URL(window.location.href).origin;
}

export type StartOutcome = { ok: true; job: JobStatus } | { ok: false; report: ValidationReport };

function isValidationReport(body: unknown): body is ValidationReport {
  return (
    typeof body === "object" &&
    body !== null &&
    "errors" in body &&
    Array.isArray((body as { errors: unknown }).errors)
  );
}

/**
 * Starts a job (201 with its JobStatus). An invalid program (422 with a ValidationReport) is an outcome;
 * other failures throw (404 unknown scene or base policy, 400 base policy of another scene).
 */
export async function startTraining(spec: JobSpec): Promise<StartOutcome> {
  const result = await api.POST("/api/training/start", { body: spec });
  if (result.response.status === 422 && isValidationReport(result.error)) {
    return { ok: false, report: result.error };
  }
  return { ok: true, job: await unwrap(Promise.resolve(result)) };
}

const jobParams = (id: string) => ({ params: { path: { job_id: id } } });

/** Every job, newest first. Their `history` is empty here: read a job's curve from `jobStatus`. */
export function listJobs(signal?: AbortSignal): Promise<JobStatus[]> {
  return unwrap(api.GET("/api/training", { signal }));
}

export function jobStatus(id: string, signal?: AbortSignal): Promise<JobStatus> {
  return unwrap(api.GET("/api/training/{job_id}/status", { ...jobParams(id), signal }));
}

/** Cancels a queued, running or interrupted job; a 409 (already final) throws an ApiError (see `conflictState`). */
export function cancelJob(id: string): Promise<JobStatus> {
  return unwrap(api.POST("/api/training/{job_id}/cancel", jobParams(id)));
}

/**
 * Stops a running job early and keeps the best policy so far (saved as when it completes); a 409 (no
 * longer running) throws an ApiError (see `conflictState`).
 */
export function stopJob(id: string): Promise<JobStatus> {
  return unwrap(api.POST("/api/training/{job_id}/stop", jobParams(id)));
}

/** Queues an interrupted job again; a 409 (not interrupted) throws an ApiError (see `conflictState`). */
export function resumeJob(id: string): Promise<JobStatus> {
  return unwrap(api.POST("/api/training/{job_id}/resume", jobParams(id)));
}

const JOB_STATES: readonly string[] = [
  "queued",
  "running",
  "succeeded",
  "failed",
  "cancelled",
  "interrupted",
];

/** For a 409 from cancel/resume: the job's state the server reported in `extra.state`, else null. */
export function conflictState(error: unknown): JobState | null {
  if (!(error instanceof ApiError) || error.status !== 409) return null;
  const body = error.body;
  if (typeof body !== "object" || body === null || !("extra" in body)) return null;
  const extra = (body as { extra: unknown }).extra;
  if (typeof extra !== "object" || extra === null || !("state" in extra)) return null;
  const state = (extra as { state: unknown }).state;
  return typeof state === "string" && JOB_STATES.includes(state) ? (state as JobState) : null;
}

const jobPath = (id: string) => `/api/training/${encodeURIComponent(id)}`;

/**
 * Reads `GET /events` (fetch + ReadableStream: EventSource cannot send the Authorization header) and calls
 * `onStatus` for each "status" event. Resolves when the stream ends; rejects if it cannot be opened.
 */
export async function streamJob(
  id: string,
  onStatus: (job: JobStatus) => void,
  signal: AbortSignal,
): Promise<void> {
  const response = await fetch(`${origin()}${jobPath(id)}/events`, {
    headers: { Accept: "text/event-stream", ...authHeaders() },
    signal,
  });
  if (!response.ok) throw errorFromResponse(response, await readBody(response));
  if (!response.body) throw new Error("the event stream has no body");
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new SseParser();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      for (const event of parser.push(value)) {
        if (event.event === "status") onStatus(JSON.parse(event.data) as JobStatus);
      }
    }
  } finally {
    parser.end();
    reader.releaseLock();
  }
}

export const POLL_INTERVAL_MS = 2000;

/** The server ends the stream after these (final states and `interrupted`). */
const isFinal = (job: JobStatus) => STREAM_END_STATES.has(job.state);

/**
 * Follows a job until it stops (or `signal` aborts): the event stream first; if it breaks before a final
 * state, polls /status every 2 s. `interrupted` counts as stopped here (it waits for a person to resume).
 */
export async function watchJob(
  id: string,
  onStatus: (job: JobStatus) => void,
  signal: AbortSignal,
  deps: { stream?: typeof streamJob; status?: typeof jobStatus; sleep?: typeof sleep } = {},
): Promise<void> {
  const stream = deps.stream ?? streamJob;
  const status = deps.status ?? jobStatus;
  const wait = deps.sleep ?? sleep;
  let last: JobStatus | null = null;
  const seen = (job: JobStatus) => {
    last = job;
    onStatus(job);
  };
  try {
    await stream(id, seen, signal);
  } catch {
    // fall through to polling
  }
  while (!signal.aborted && !(last && isFinal(last))) {
    try {
      seen(await status(id, signal));
    } catch {
      // transient: keep polling
    }
    if (last && isFinal(last)) break;
    await wait(POLL_INTERVAL_MS, signal);
  }
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const id = setTimeout(done, ms);
    function done() {
      clearTimeout(id);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}
