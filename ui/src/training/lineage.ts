/**
 * Reflection rounds (docs/CHECKS.md): a job that ends without passing its check is revised and trained
 * again as a new job linked to it (spec.parent_job_id back, next_job_id forward). This module lays the
 * rounds out for the panel and follows a job into its next round.
 */

import { summaryText } from "../checks/format";
import { jobStatus, sleep, watchJob } from "./api";
import { isLive } from "./format";
import type { JobStatus } from "./types";

export interface Round {
  jobId: string;
  /** 1-based, as people count. */
  number: number;
  /** "round 1 failed: upright 0.41 (>= 0.95) in 0/5 episodes", "round 2 running". */
  text: string;
}

/**
 * How many rounds the lineage may have: the first job and up to reflection_rounds revisions of it (every
 * round's spec carries the person's setting; `round` counts the revisions, 0 for the first job).
 */
export function roundsTotal(lineage: readonly JobStatus[]): number {
  const last = lineage[lineage.length - 1];
  if (!last) return 1;
  return Math.max(last.spec.reflection_rounds + 1, last.spec.round + 1, lineage.length);
}

/** The job's rounds, oldest first, as far as `known` (job id -> status) holds them. */
export function lineageOf(job: JobStatus, known: ReadonlyMap<string, JobStatus>): JobStatus[] {
  const rounds = [job];
  const seen = new Set([job.job_id]);
  for (let j = job; j.spec.parent_job_id; ) {
    const parent = known.get(j.spec.parent_job_id);
    if (!parent || seen.has(parent.job_id)) break;
    seen.add(parent.job_id);
    rounds.unshift(parent);
    j = parent;
  }
  for (let j = job; j.next_job_id; ) {
    const next = known.get(j.next_job_id);
    if (!next || seen.has(next.job_id)) break;
    seen.add(next.job_id);
    rounds.push(next);
    j = next;
  }
  return rounds;
}

/** "round 1 failed: <summary>", "round 2 passed: <summary>", "round 3 running". */
export function roundText(job: JobStatus): string {
  const head = `round ${job.spec.round + 1}`;
  const check = job.outcome?.check;
  if (job.state === "succeeded" && check) return `${head} ${summaryText(check)}`;
  if (job.state === "succeeded") return `${head} finished`;
  return `${head} ${job.state}`;
}

export function rounds(lineage: readonly JobStatus[]): Round[] {
  return lineage.map((j) => ({
    jobId: j.job_id,
    number: j.spec.round + 1,
    text: roundText(j),
  }));
}

/**
 * True when this finished job failed its check and rounds are left: the app is revising its reward, or
 * has started the next round (next_job_id). A job the person stopped is not revised.
 */
export function awaitsRevision(job: JobStatus): boolean {
  const outcome = job.outcome;
  const check = outcome?.check;
  return (
    job.state === "succeeded" &&
    check !== null &&
    check !== undefined &&
    !check.passed &&
    outcome?.stop_reason !== "stopped" &&
    job.spec.round < job.spec.reflection_rounds
  );
}

/** "round 2 of 3: revising the reward", shown between a failed round and the next. */
export function revisingText(job: JobStatus, total: number): string {
  return `round ${job.spec.round + 2} of ${total}: revising the reward`;
}

/** How long the panel waits for a revised round to appear after a failed one (an LLM may take a while). */
export const REVISION_WAIT_MS = 180_000;
export const REVISION_POLL_MS = 2000;

export interface FollowDeps {
  status?: typeof jobStatus;
  watch?: typeof watchJob;
  sleep?: typeof sleep;
}

/**
 * Shows job `id` and follows it while it runs (`onStatus` for each status). When a job it watched ends
 * without passing and has rounds left, waits for the next round (polling /status for next_job_id) and
 * calls `onNext` with it. A job that was already finished when opened is only shown: looking at an old
 * round does not jump to a later one. Resolves true when it followed a live job to its end.
 */
export async function followJob(
  id: string,
  onStatus: (job: JobStatus) => void,
  onNext: (nextId: string) => void,
  signal: AbortSignal,
  deps: FollowDeps = {},
): Promise<boolean> {
  const status = deps.status ?? jobStatus;
  const watch = deps.watch ?? watchJob;
  const wait = deps.sleep ?? sleep;
  const first = await status(id, signal);
  if (signal.aborted) return false;
  onStatus(first);
  if (!isLive(first.state)) return false;
  await watch(id, onStatus, signal);
  if (signal.aborted) return false;
  // The final status with its full history and outcome (events may carry a short history).
  let last = await status(id, signal);
  if (signal.aborted) return false;
  onStatus(last);
  const deadline = Date.now() + REVISION_WAIT_MS;
  while (!last.next_job_id && awaitsRevision(last) && Date.now() < deadline) {
    await wait(REVISION_POLL_MS, signal);
    if (signal.aborted) return false;
    try {
      last = await status(id, signal);
    } catch {
      continue; // transient: keep waiting
    }
    if (signal.aborted) return false;
    if (last.next_job_id) onStatus(last);
  }
  if (last.next_job_id) onNext(last.next_job_id);
  return true;
}
