/**
 * Training calls: start, list, status, cancel, resume, and the live event stream.
 * Plain fetch with the token until schema.d.ts has these paths (then openapi-fetch like the rest).
 */

import { authHeaders, unwrap } from "../api/client";
import type { ValidationReport } from "../tasks/api";
import { SseParser } from "./sse";
import type { JobSpec, JobStatus } from "./types";

function origin(): string {
  return typeof window === "undefined" ? "" : new URL(window.location.href).origin;
}

/** A JSON request with the token, in the `{data, error, response}` shape `unwrap` takes. */
export async function requestJson<T>(
  method: string,
  path: string,
  init: { body?: BodyInit; json?: unknown; signal?: AbortSignal; contentType?: string } = {},
): Promise<{ data?: T; error?: unknown; response: Response }> {
  const headers: Record<string, string> = { Accept: "application/json", ...authHeaders() };
  let body = init.body;
  if (init.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(init.json);
  } else if (init.contentType) {
    headers["Content-Type"] = init.contentType;
  }
  const response = await fetch(`${origin()}${path}`, {
    method,
    headers,
    body,
    signal: init.signal,
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // plain-text body
  }
  if (response.ok) return { data: (parsed ?? null) as T, response };
  return { error: parsed, response };
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

/** Starts a job. An invalid program (422 with a ValidationReport) is an outcome; other failures throw. */
export async function startTraining(spec: JobSpec): Promise<StartOutcome> {
  const result = await requestJson<JobStatus>("POST", "/api/training/start", { json: spec });
  if (result.response.status === 422 && isValidationReport(result.error)) {
    return { ok: false, report: result.error };
  }
  return { ok: true, job: await unwrap(Promise.resolve(result)) };
}

const jobPath = (id: string) => `/api/training/${encodeURIComponent(id)}`;

export function listJobs(signal?: AbortSignal): Promise<JobStatus[]> {
  return unwrap(requestJson<JobStatus[]>("GET", "/api/training", { signal }));
}

export function jobStatus(id: string, signal?: AbortSignal): Promise<JobStatus> {
  return unwrap(requestJson<JobStatus>("GET", `${jobPath(id)}/status`, { signal }));
}

export function cancelJob(id: string): Promise<JobStatus> {
  return unwrap(requestJson<JobStatus>("POST", `${jobPath(id)}/cancel`));
}

export function resumeJob(id: string): Promise<JobStatus> {
  return unwrap(requestJson<JobStatus>("POST", `${jobPath(id)}/resume`));
}

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
  if (!response.ok || !response.body) {
    throw new Error(`event stream answered ${response.status}`);
  }
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

const isFinal = (job: JobStatus) =>
  job.state === "succeeded" ||
  job.state === "failed" ||
  job.state === "cancelled" ||
  job.state === "interrupted";

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
