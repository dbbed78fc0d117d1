/** Reward drafting calls: LLM providers, drafting a policy, validating a program. */

import { api, unwrap } from "../api/client";
import type { components } from "../api/schema";
import { errorFromResponse } from "../api/token";

type Schemas = components["schemas"];
export type ProviderName = Schemas["ProviderStatus"]["name"];
export type ProviderStatus = Schemas["ProviderStatus"];
export type ProviderList = Schemas["ProviderList"];
export type TaskDraft = Schemas["TaskDraft"];
export type CommandDraft = Schemas["CommandDraft"];
export type ProviderFailure = Schemas["ProviderFailure"];
export type ProgramError = Schemas["ProgramError"];
export type ValidationReport = Schemas["ValidationReport"];
export type CheckFigure = Schemas["CheckFigure"];
type TimeBudget = Schemas["GenerateRequest"]["time_budget"];
type TrainingMethod = Schemas["TaskDraft"]["training_method"];

export function listProviders(signal?: AbortSignal): Promise<ProviderList> {
  return unwrap(api.GET("/api/llm/providers", { signal }));
}

export function selectProvider(provider: ProviderName): Promise<ProviderList> {
  return unwrap(api.POST("/api/llm/select", { body: { provider } }));
}

/** Saves a key on the server; the answer says whether the provider is now configured, never the key. */
export function saveApiKey(provider: ProviderName, apiKey: string): Promise<ProviderList> {
  return unwrap(api.POST("/api/llm/keys", { body: { provider, api_key: apiKey } }));
}

export type DraftOutcome =
  | { ok: true; policy: TaskDraft }
  | { ok: false; failure: ProviderFailure };

function isProviderFailure(body: unknown): body is ProviderFailure {
  return (
    typeof body === "object" &&
    body !== null &&
    "provider" in body &&
    "cause" in body &&
    "detail" in body
  );
}

/** Drafts a reward program. A provider failure (502) is an outcome; other failures throw. */
export async function draftPolicy(
  request: {
    sceneId: string;
    task: string;
    provider: ProviderName | null;
    /** How long the user will wait; the planner picks the tier from it (server default: fast). */
    timeBudget: TimeBudget;
    /** Forces a tier instead of the planner's pick. */
    method?: TrainingMethod | null;
  },
  signal?: AbortSignal,
): Promise<DraftOutcome> {
  const { data, error, response } = await api.POST("/api/policy/generate", {
    body: {
      scene_id: request.sceneId,
      task_description: request.task,
      provider: request.provider,
      time_budget: request.timeBudget,
      ...(request.method ? { method: request.method } : {}),
    },
    signal,
  });
  if (response.status === 502 && isProviderFailure(error)) return { ok: false, failure: error };
  if (!response.ok || data === undefined) throw errorFromResponse(response, error);
  return { ok: true, policy: data as TaskDraft };
}

/**
 * The command tier alone (schedule, base, option): answers in about a second, without drafting the
 * reward, so a joystick scene's Play can show while generate is still drafting.
 */
export function draftCommands(
  request: { sceneId: string; task: string; provider: ProviderName | null },
  signal?: AbortSignal,
): Promise<CommandDraft> {
  return unwrap(
    api.POST("/api/policy/commands", {
      body: {
        scene_id: request.sceneId,
        task_description: request.task,
        provider: request.provider,
      },
      signal,
    }),
  );
}

/** Starts a policy's playback worker and its compile now, so the first Play's hello is immediate. */
export function warmPlayback(policyId: string, signal?: AbortSignal): Promise<{ ready: boolean }> {
  return unwrap(
    api.POST("/api/models/{policy_id}/warm", {
      params: { path: { policy_id: policyId } },
      signal,
    }),
  );
}

export type ProgramKind = "reward" | "check";

/** Validates a reward program or a success check (docs/CHECKS.md); errors come back located. */
export function validateProgram(
  sceneId: string,
  program: string,
  kind: ProgramKind = "reward",
  signal?: AbortSignal,
): Promise<ValidationReport> {
  return unwrap(
    api.POST("/api/rewards/validate", { body: { scene_id: sceneId, program, kind }, signal }),
  );
}

export type PrepareStatus = Schemas["PrepareStatus"];

/**
 * Starts preparing the scene's reward checks in the worker (idempotent), so the first draft's check
 * only runs the new program; the answer is the state now.
 */
export function prepareChecks(sceneId: string, signal?: AbortSignal): Promise<PrepareStatus> {
  return unwrap(api.POST("/api/rewards/prepare", { body: { scene_id: sceneId }, signal }));
}

/** The state of the scene's check preparation; starts nothing. */
export function prepareStatus(sceneId: string, signal?: AbortSignal): Promise<PrepareStatus> {
  return unwrap(
    api.GET("/api/rewards/prepare/{scene_id}", { params: { path: { scene_id: sceneId } }, signal }),
  );
}
