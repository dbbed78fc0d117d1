/**
 * Wording for success checks (docs/CHECKS.md): a check's requirements, its verdict on an evaluation, and
 * what a finished job kept. Pure, for the task panel, the training panel and the library alike.
 */

import type { components } from "../api/schema";

type Schemas = components["schemas"];
export type CheckFigure = Schemas["CheckFigure"];
export type CheckResult = Schemas["CheckResult"];
export type FigureResult = Schemas["FigureResult"];
export type TrainingOutcome = Schemas["TrainingOutcome"];
export type TrainingProgress = Schemas["TrainingProgress"];
export type StopReason = TrainingOutcome["stop_reason"];

type Bounds = Pick<CheckFigure, "at_least" | "at_most">;

/** 0.9133 -> "0.913", 0.95 -> "0.95", 1.5 -> "1.5", 1234.5 -> "1235": three significant digits. */
export function formatFigure(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "—";
  if (Math.abs(x) >= 1000) return String(Math.round(x));
  return String(Number(x.toPrecision(3)));
}

/** ">= 0.95", "<= 1.5", "0.2 to 1.5"; "" for a figure that is only reported. */
export function boundsText(f: Bounds): string {
  const low = f.at_least;
  const high = f.at_most;
  if (low !== null && high !== null) return `${formatFigure(low)} to ${formatFigure(high)}`;
  if (low !== null) return `>= ${formatFigure(low)}`;
  if (high !== null) return `<= ${formatFigure(high)}`;
  return "";
}

export function isRequired(f: Bounds): boolean {
  return f.at_least !== null || f.at_most !== null;
}

/** A validated check's figure in words: "upright >= 0.95", "mean_speed (reported, not required)". */
export function requirementText(f: CheckFigure): string {
  return isRequired(f) ? `${f.name} ${boundsText(f)}` : `${f.name} (reported, not required)`;
}

/** "upright 0.91 (>= 0.95)": a figure's mean over the episodes beside its requirement. */
export function figureText(f: FigureResult): string {
  const bounds = boundsText(f);
  return bounds
    ? `${f.name} ${formatFigure(f.mean)} (${bounds})`
    : `${f.name} ${formatFigure(f.mean)}`;
}

/**
 * The live verdict of one evaluation: "check: 3/5 episodes passed; upright 0.91 (>= 0.95)". While it
 * fails, only the requirements that missed in some episode are named; once it passes, every requirement.
 */
export function verdictLine(check: CheckResult): string {
  if (check.error) return `check: could not be computed (${check.error})`;
  const head = `check: ${check.passed_episodes}/${check.episodes} episodes passed`;
  const required = check.figures.filter(isRequired);
  const named = check.passed ? required : required.filter((f) => f.met < check.episodes);
  return named.length > 0 ? `${head}; ${named.map(figureText).join(", ")}` : head;
}

/** The server's summary, starting with the verdict ("passed: ..." / "failed: ..."). */
export function summaryText(check: CheckResult): string {
  const s = check.summary.trim();
  if (/^(passed|failed)\b/i.test(s)) return s;
  const verdict = check.passed ? "passed" : "failed";
  return s ? `${verdict}: ${s}` : verdict;
}

export type VerdictKind = "passed" | "failed" | "none";

export interface VerdictBadge {
  kind: VerdictKind;
  label: string;
  /** The summary, for a tooltip or a line below the badge; "" when there is no check. */
  detail: string;
}

/** The library's badge: "passed", "failed check", or "no check" (a job trained without one). */
export function verdictBadge(outcome: TrainingOutcome | null | undefined): VerdictBadge {
  const check = outcome?.check;
  if (!check) return { kind: "none", label: "no check", detail: "" };
  if (check.passed) return { kind: "passed", label: "passed", detail: summaryText(check) };
  return { kind: "failed", label: "failed check", detail: summaryText(check) };
}

/** 1_200_000 -> "1.2M" (as the training panel counts steps). */
function count(n: number): string {
  const a = Math.abs(n);
  const trim = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1).replace(/\.0$/, ""));
  if (a >= 1e9) return `${trim(n / 1e9)}G`;
  if (a >= 1e6) return `${trim(n / 1e6)}M`;
  if (a >= 1e3) return `${trim(n / 1e3)}k`;
  return String(Math.round(n));
}

/** "kept the policy from step 1.2M". */
export function keptText(outcome: TrainingOutcome): string {
  return `kept the policy from step ${count(outcome.kept_step)}`;
}

/** Why the job ended, in words; `earlyStopEvals` is the job's setting (null: not known here). */
export function stopText(reason: StopReason, earlyStopEvals: number | null): string {
  switch (reason) {
    case "completed":
      return "ran its whole budget";
    case "check_passed":
      if (earlyStopEvals === null || earlyStopEvals <= 1) {
        return "stopped early: the check passed in every episode, and on new starts";
      }
      return `stopped early: the check passed in every episode for ${earlyStopEvals} evaluations in a row, and on new starts`;
    case "time_cap":
      return "stopped early: its time budget ran out";
    case "stopped":
      return "stopped by you; the best policy so far was kept";
  }
}

/**
 * Why a job whose check held goes on training: the latest time the early-stop rule said done, the kept
 * policy failed on starts no evaluation saw. Null when that has not happened (or it passed: the job stops).
 */
export function confirmationText(history: readonly TrainingProgress[]): string | null {
  const last = [...history].reverse().find((p) => p.confirmation);
  const c = last?.confirmation;
  if (!last || !c || c.passed) return null;
  return `At step ${count(last.step)} the check held, but the kept policy passed only ${c.passed_episodes} of ${c.episodes} new starts: training on`;
}

/** The finished job's outcome, one line each: the verdict, the kept step, how it ended. */
export function outcomeLines(outcome: TrainingOutcome, earlyStopEvals: number | null): string[] {
  const verdict = outcome.check ? summaryText(outcome.check) : "no check: the job was not judged";
  // Only a fine-tune judges step 0 (a fresh job has no policy yet): its base already did the task.
  const how =
    outcome.stop_reason === "check_passed" && outcome.kept_step === 0
      ? "stopped at once: the base policy already passes the check"
      : stopText(outcome.stop_reason, earlyStopEvals);
  return [verdict, keptText(outcome), how];
}
