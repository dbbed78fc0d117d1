/** The task panel's per-scene state (kept in React state only, one entry per scene id). */

import type { CommandDraft, ProviderFailure, TaskDraft, ValidationReport } from "./api";
import type { TrainingMethod } from "./tiers";

export interface SceneDraft {
  task: string;
  /** A draft request in flight: when it started and with which provider label. */
  running: { startedAt: number; provider: string } | null;
  policy: TaskDraft | null;
  failure: ProviderFailure | null;
  /** Any other failure of the last request (network, 4xx/5xx), as a sentence. */
  error: string | null;
  /** The program as currently edited. */
  program: string;
  /** The last validation, and the program text it judged. */
  report: ValidationReport | null;
  reportFor: string | null;
  validating: boolean;
  /** The success check (docs/CHECKS.md) as edited, its last validation and the text it judged. */
  check: string;
  checkReport: ValidationReport | null;
  checkReportFor: string | null;
  checkValidating: boolean;
  /** The tier the person picked among the draft's options; null follows the planner's choice. */
  method: TrainingMethod | null;
  /**
   * The command tier's early answer (POST /api/policy/commands) for the request in flight: its schedule
   * and Play show before the full draft returns, which then carries the same schedule.
   */
  commands: CommandDraft | null;
}

export const EMPTY_DRAFT: SceneDraft = {
  task: "",
  running: null,
  policy: null,
  failure: null,
  error: null,
  program: "",
  report: null,
  reportFor: null,
  validating: false,
  check: "",
  checkReport: null,
  checkReportFor: null,
  checkValidating: false,
  method: null,
  commands: null,
};

/**
 * The change the early command answer makes to a scene's draft state: kept only while the draft request
 * it belongs to (`startedAt`) is still running; after that the full draft's own schedule is what counts,
 * and an answer for an older request is dropped.
 */
export function mergeEarlyCommands(
  d: SceneDraft,
  early: CommandDraft,
  startedAt: number,
): Partial<SceneDraft> {
  if (!d.running || d.running.startedAt !== startedAt) return {};
  return { commands: early };
}

/** The early command answer to show: while its request runs, or when the full draft failed. */
export function earlyCommands(d: SceneDraft): CommandDraft | null {
  if (!d.commands?.option.available || !d.commands.schedule) return null;
  return d.running || !d.policy ? d.commands : null;
}

/** The text of the "Validation" status; it starts with "Valid" exactly when the shown program is valid. */
export function validationText(d: SceneDraft): string {
  if (d.validating) return "Checking…";
  if (!d.report) return "Not validated";
  if (d.reportFor !== d.program) return "Edited · not validated since the last change";
  if (d.report.ok) {
    const n = d.report.terms.length;
    return `Valid · ${n} term${n === 1 ? "" : "s"}`;
  }
  const n = d.report.errors.length;
  return `Invalid · ${n} error${n === 1 ? "" : "s"}`;
}

/**
 * The text of the "Check status" status; like validationText, "Valid" only for a validated, unchanged
 * check. An empty check is allowed: the job is then not judged.
 */
export function checkValidationText(d: SceneDraft): string {
  if (d.checkValidating) return "Checking…";
  if (!d.check.trim()) return "No check · the job will not be judged";
  if (!d.checkReport) return "Not validated";
  if (d.checkReportFor !== d.check) return "Edited · not validated since the last change";
  if (d.checkReport.ok) {
    const n = (d.checkReport.figures ?? []).filter(
      (f) => f.at_least !== null || f.at_most !== null,
    ).length;
    return `Valid · ${n} requirement${n === 1 ? "" : "s"}`;
  }
  const n = d.checkReport.errors.length;
  return `Invalid · ${n} error${n === 1 ? "" : "s"}`;
}

/** Why Train is disabled because of the check, or null when the check (or its absence) allows it. */
export function checkBlocks(d: SceneDraft): string | null {
  if (!d.check.trim()) return null;
  const text = checkValidationText(d);
  if (text.startsWith("Valid")) return null;
  if (text.startsWith("Invalid"))
    return "The success check is invalid: fix it or clear it to train.";
  return "Validate the edited success check before training.";
}

/** "validated after 2 attempts", "validated on the first attempt", "not valid after 3 attempts". */
export function attemptsText(policy: TaskDraft): string {
  const verdict = policy.validation.ok ? "validated" : "not valid";
  if (policy.validation.ok && policy.attempts === 1) return "validated on the first attempt";
  return `${verdict} after ${policy.attempts} attempt${policy.attempts === 1 ? "" : "s"}`;
}

export function methodText(policy: TaskDraft): string {
  if (policy.training_method === "command") {
    return policy.base_policy ? `Commands for ${policy.base_policy}` : "Commands";
  }
  if (policy.training_method === "fine_tuning") {
    return policy.base_policy ? `Fine-tuning ${policy.base_policy}` : "Fine-tuning";
  }
  return "Full training";
}

/** Wording for an exception from a request. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
