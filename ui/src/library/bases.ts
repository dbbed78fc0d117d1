/**
 * Base policies in the library (issue "tiers"): the command and fine-tune tiers start from one. Shipped
 * bases come with the app and cannot be deleted; a user's own trained policy can be made a base.
 */

import type { PolicySummary } from "../training/types";

type Based = Pick<PolicySummary, "base" | "source">;

/** The row's badge, or null for a policy that is not a base. */
export function baseLabel(policy: Based): string | null {
  if (policy.base === "shipped") return "Base · shipped";
  if (policy.base === "user") return "Base · yours";
  return null;
}

/** Why Delete is disabled, or undefined when the policy may be deleted. */
export function deleteBlockedReason(policy: Based): string | undefined {
  if (policy.base === "shipped") return "A base policy shipped with Robocoach cannot be deleted";
  if (policy.base === "user") {
    return "This policy is a base for fine-tuning: stop using it as a base before deleting it";
  }
  return undefined;
}

/** Why Rename is disabled (shipped bases are read-only), or undefined. */
export function renameBlockedReason(policy: Based): string | undefined {
  return policy.base === "shipped"
    ? "A base policy shipped with Robocoach is read-only"
    : undefined;
}

/** The base toggle's label for the user's own trained policies; null where there is no toggle. */
export function baseToggleLabel(policy: Based): string | null {
  if (policy.base === "shipped" || policy.source !== "trained") return null;
  return policy.base === "user" ? "Stop using as base" : "Use as base";
}

/** Scenes (in the given order) that no base in the library serves: "Prepare a base policy" offers them. */
export function scenesWithoutBase<S extends { id: string }>(
  scenes: readonly S[],
  policies: readonly Pick<PolicySummary, "base" | "scene_id">[],
): S[] {
  const served = new Set(policies.filter((p) => p.base != null).map((p) => p.scene_id));
  return scenes.filter((s) => !served.has(s.id));
}
