/** Wording for a failed draft (502 ProviderFailure) and for other request failures. */

import type { ProviderFailure } from "./api";

const CAUSES: Record<ProviderFailure["cause"], string> = {
  no_key: "has no API key",
  bad_key: "rejected the API key",
  rate_limited: "is rate-limiting requests",
  timeout: "did not answer in time",
  unreachable: "cannot be reached",
  bad_output: "did not write a usable reward program",
  error: "failed",
};

export interface FailureMessage {
  /** One line: who failed and how. */
  title: string;
  /** The server's detail, as sent. */
  detail: string;
  /** The provider to offer instead, or null when the failed one already was that provider. */
  fallback: ProviderFailure["fallback"] | null;
}

/** `label` is the provider's display name when known (from GET /api/llm/providers). */
export function formatFailure(failure: ProviderFailure, label?: string): FailureMessage {
  const who = label || failure.provider;
  return {
    title: `${who} ${CAUSES[failure.cause]}.`,
    detail: failure.detail.trim(),
    fallback: failure.fallback === failure.provider ? null : failure.fallback,
  };
}
