/**
 * Imported policies are untrusted: playing one runs its reward program, so the library shows that program
 * and plays the policy only after the user confirms having read it (POST /api/models/{id}/review; the
 * server refuses to play it before, closing the socket with 4428).
 */

import type { PolicySummary } from "../training/types";

type Reviewable = Pick<PolicySummary, "source" | "needs_review">;

/** Whether Play may be offered for this policy. */
export function canPlay(policy: Reviewable): boolean {
  return !policy.needs_review;
}

/** The Play button's tooltip: why it is disabled, or nothing. */
export function playBlockedReason(policy: Reviewable): string | undefined {
  return canPlay(policy)
    ? undefined
    : "Imported policy: open it and confirm you have read its reward program before playing it";
}

/** A short tag for the policy's row: where it came from, and whether it still needs reading. */
export function sourceLabel(policy: Reviewable): string | null {
  if (policy.source !== "imported") return null;
  return policy.needs_review ? "Imported, not reviewed" : "Imported";
}
