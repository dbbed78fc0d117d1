/**
 * What the viewer plays: a saved policy, or a training job's live preview (its newest params, swapped in
 * after each evaluation while the robot keeps going), and the preview's wording. Pure, for tests.
 */

import type { CommandSchedule } from "../api/wire.gen";
import { formatCount, formatReward } from "../training/format";
import type { JobStatus } from "../training/types";
import type { PolicyUpdateMessage } from "./protocol";

interface Shown {
  sceneId: string;
  name: string;
  /** The command tier: timed commands the server drives the policy with, from the first episode. */
  schedule?: CommandSchedule | null;
}

/** A saved policy (`policyId`) or a training job's live preview (`jobId`). */
export type PlaybackTarget = Shown &
  ({ policyId: string; jobId?: undefined } | { jobId: string; policyId?: undefined });

/** One key per thing played: a new one restarts the playback. */
export function targetKey(target: PlaybackTarget): string {
  return target.jobId !== undefined ? `job:${target.jobId}` : `policy:${target.policyId}`;
}

/** The live preview of `job`, named as the training panel names it. */
export function previewTarget(job: JobStatus, sceneName: string): PlaybackTarget {
  return { jobId: job.job_id, sceneId: job.spec.scene_id, name: job.spec.name || sceneName };
}

/**
 * The job whose preview should start playing now, if any, while previews are `on`: the revised round of the
 * job being previewed (its `next_job_id`, once the training panel follows it), or, when the page has just
 * loaded with nothing playing, the job the training panel shows if it still runs.
 */
export function previewToFollow(
  playing: PlaybackTarget | null,
  previewed: JobStatus | null,
  current: JobStatus | null,
  on: boolean,
  justLoaded: boolean,
): JobStatus | null {
  if (!on || current === null || !(current.state === "queued" || current.state === "running")) {
    return null;
  }
  if (playing?.jobId !== undefined) {
    return previewed?.next_job_id === current.job_id && playing.jobId !== current.job_id
      ? current
      : null;
  }
  return justLoaded && playing === null ? current : null;
}

function checkText(update: PolicyUpdateMessage): string {
  if (update.check_passed === null) return "check not judged";
  const score =
    update.check_score === null
      ? ""
      : ` (${Math.round(100 * update.check_score)}% of requirements)`;
  return update.check_passed ? "check passed" : `check failed${score}`;
}

/**
 * Which params play: "Live preview · step 40k of 300k · evaluation 3 · reward 812 · check passed";
 * before training's first evaluation, "… · step 0 of 300k · before the first evaluation".
 */
export function previewLabel(update: PolicyUpdateMessage | null): string {
  if (!update) return "Live preview · waiting for the job's first params";
  const steps = `step ${formatCount(update.step)} of ${formatCount(update.total_steps)}`;
  if (update.evaluation <= 0) return `Live preview · ${steps} · before the first evaluation`;
  return [
    "Live preview",
    steps,
    `evaluation ${update.evaluation}`,
    `reward ${formatReward(update.eval_reward)}`,
    checkText(update),
  ].join(" · ");
}

/** "the job failed: ..." -> "The job failed: ..." (the server's notes are phrases). */
function sentence(text: string): string {
  const t = text.trim();
  return `${t.charAt(0).toUpperCase()}${t.slice(1)}${/[.!?]$/.test(t) ? "" : "."}`;
}

/**
 * How the preview ended, for people: the server's note, else the job's final state, else why the session
 * closed (`status`, e.g. the job was not running when the preview opened).
 */
export function previewEndText(
  update: PolicyUpdateMessage | null,
  job: Pick<JobStatus, "state" | "error"> | null,
  status = "",
): string {
  if (update?.ended && update.note) return sentence(update.note);
  if (job?.state === "succeeded") return "Training finished.";
  if (job?.state === "failed") return `Training failed${job.error ? `: ${job.error}` : "."}`;
  if (job?.state === "cancelled") return "Training was cancelled.";
  if (job?.state === "interrupted") return "Training was interrupted.";
  return status || "Training ended.";
}
