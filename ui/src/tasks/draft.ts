/** The task panel's per-scene state (kept in React state only, one entry per scene id). */

import type { ProviderFailure, TaskDraft, ValidationReport } from "./api";

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
};

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

/** "validated after 2 attempts", "validated on the first attempt", "not valid after 3 attempts". */
export function attemptsText(policy: TaskDraft): string {
  const verdict = policy.validation.ok ? "validated" : "not valid";
  if (policy.validation.ok && policy.attempts === 1) return "validated on the first attempt";
  return `${verdict} after ${policy.attempts} attempt${policy.attempts === 1 ? "" : "s"}`;
}

export function methodText(policy: TaskDraft): string {
  if (policy.training_method === "fine_tuning") {
    return policy.base_policy ? `Fine-tuning ${policy.base_policy}` : "Fine-tuning";
  }
  return "Full training";
}

/** Wording for an exception from a request. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
