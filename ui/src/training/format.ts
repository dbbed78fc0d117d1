/** Pure wording and data shaping for the training views (kept pure for tests). */

import type { JobState, JobStatus, Preset, TrainingProgress } from "./types";

export const PRESETS: { value: Preset; label: string }[] = [
  { value: "auto", label: "Auto (CPU here, Playground on a GPU)" },
  { value: "cpu_quick", label: "Quick test (seconds)" },
  { value: "cpu", label: "CPU (minutes)" },
  { value: "playground", label: "Playground (GPU)" },
];

/** Percent done, 0-100, whole numbers; 100 only once a job has succeeded or reached its total. */
export function progressPercent(job: Pick<JobStatus, "state" | "progress">): number {
  if (job.state === "succeeded") return 100;
  const p = job.progress;
  if (!p || p.total_steps <= 0) return 0;
  const percent = Math.floor((100 * p.step) / p.total_steps);
  return Math.min(100, Math.max(0, percent));
}

/** "45 s", "3 min 05 s", "2 h 04 min"; "—" for unknown. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
    return "—";
  }
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  const m = Math.floor(s / 60);
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

/** 1234 -> "1.2k", 2_500_000 -> "2.5M". */
export function formatCount(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e9) return `${trim(n / 1e9)}G`;
  if (a >= 1e6) return `${trim(n / 1e6)}M`;
  if (a >= 1e3) return `${trim(n / 1e3)}k`;
  return String(Math.round(n));
}

function trim(x: number): string {
  return x >= 100 ? x.toFixed(0) : x.toFixed(1).replace(/\.0$/, "");
}

export function formatSteps(p: TrainingProgress | null): string {
  if (!p) return "—";
  return `${formatCount(p.step)} / ${formatCount(p.total_steps)} steps`;
}

export function formatRate(p: TrainingProgress | null): string {
  if (!p || !(p.steps_per_second > 0)) return "—";
  return `${formatCount(p.steps_per_second)} steps/s`;
}

/** ETA wording: "done" once final, "—" while unknown. */
export function formatEta(job: Pick<JobStatus, "state" | "progress">): string {
  if (job.state === "succeeded") return "done";
  if (job.state !== "running" && job.state !== "queued") return "—";
  return formatDuration(job.progress?.eta_s);
}

export function formatReward(r: number | null | undefined): string {
  if (r === null || r === undefined || !Number.isFinite(r)) return "—";
  return Math.abs(r) >= 100 ? r.toFixed(0) : r.toFixed(2);
}

export interface JobActions {
  cancel: boolean;
  stop: boolean;
  resume: boolean;
}

/**
 * Which buttons a job offers: Cancel while queued or running; "Stop and keep best" while running (a queued
 * job has nothing to keep); Resume when interrupted with a checkpoint.
 */
export function actionsFor(job: Pick<JobStatus, "state" | "resumable">): JobActions {
  return {
    cancel: job.state === "queued" || job.state === "running",
    stop: job.state === "running",
    resume: job.state === "interrupted" && job.resumable,
  };
}

export function isLive(state: JobState): boolean {
  return state === "queued" || state === "running";
}

export const STATE_LABELS: Record<JobState, string> = {
  queued: "queued",
  running: "running",
  succeeded: "succeeded",
  failed: "failed",
  cancelled: "cancelled",
  interrupted: "interrupted",
};

/** uPlot's column data: x first, then one series per name; null where a point lacks a value. */
export interface ChartData {
  names: string[];
  columns: [number[], ...(number | null)[][]];
}

function finite(v: number | null | undefined): number | null {
  return v === null || v === undefined || !Number.isFinite(v) ? null : v;
}

/** Program's reward (eval_reward) against environment step. */
export function rewardChart(history: readonly TrainingProgress[]): ChartData {
  const rows = sortedByStep(history);
  return {
    names: ["Reward"],
    columns: [rows.map((p) => p.step), rows.map((p) => finite(p.eval_reward))],
  };
}

/** The success check's score (0..1, the share of episode requirements met) at each evaluation. */
export function checkChart(history: readonly TrainingProgress[]): ChartData {
  const rows = sortedByStep(history);
  return {
    names: ["Check score"],
    columns: [rows.map((p) => p.step), rows.map((p) => finite(p.check?.score))],
  };
}

/** True when some evaluation carries a check result (a job trained without a check has none). */
export function hasCheck(history: readonly TrainingProgress[]): boolean {
  return history.some((p) => p.check !== null && p.check !== undefined);
}

/**
 * One series per reward term (in order of first appearance), then "task reward" (the scene's own) when
 * any point has it.
 */
export function termsChart(history: readonly TrainingProgress[]): ChartData {
  const rows = sortedByStep(history);
  const names: string[] = [];
  for (const p of rows) {
    for (const name of Object.keys(p.reward_terms)) if (!names.includes(name)) names.push(name);
  }
  const series = names.map((name) => rows.map((p) => finite(p.reward_terms[name])));
  if (rows.some((p) => finite(p.task_reward) !== null)) {
    names.push("task reward");
    series.push(rows.map((p) => finite(p.task_reward)));
  }
  return { names, columns: [rows.map((p) => p.step), ...series] };
}

/** Sorted by step, one point per step (the later report wins), so uPlot gets ascending x. */
function sortedByStep(history: readonly TrainingProgress[]): TrainingProgress[] {
  const byStep = new Map<number, TrainingProgress>();
  for (const p of history) byStep.set(p.step, p);
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

/** Rough wall-clock time before starting, from the preset and the draft's CPU estimate. */
export function estimateText(
  preset: Preset,
  draftEstimate: { text: string; seconds: number } | null,
  hasTimesteps: boolean,
  rounds = 0,
): string {
  const custom = hasTimesteps ? " (for the preset's step count; yours changes it)" : "";
  // As `robocoach train` says it: the estimate is one round's, and a failed check trains again.
  const more =
    rounds > 0 ? `; up to ${rounds} more round${rounds === 1 ? "" : "s"} if the check fails` : "";
  return `${oneRound(preset, draftEstimate)}${custom}${more}`;
}

function oneRound(preset: Preset, draftEstimate: { text: string; seconds: number } | null): string {
  switch (preset) {
    case "cpu_quick":
      return "about 30 seconds, a smoke test: the policy will not be good";
    case "playground":
      return "minutes on a GPU with Playground's settings; hours or days on a CPU";
    default:
      return draftEstimate?.text ?? "a few minutes on this computer's CPU";
  }
}

export function formatDate(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/**
 * Folds a new status into the one shown. Events or list rows may carry a short history: then the longer
 * history already held is kept and the new latest point appended.
 */
export function mergeStatus(prev: JobStatus | null, next: JobStatus): JobStatus {
  if (!prev || prev.job_id !== next.job_id || next.history.length >= prev.history.length)
    return next;
  const history = [...prev.history];
  const p = next.progress;
  if (p && (history.length === 0 || p.step > history[history.length - 1].step)) history.push(p);
  return { ...next, history };
}
