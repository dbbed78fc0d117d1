/**
 * Policy library calls: list, read, rename, delete, review, export and import trained policies, and mark
 * one as a base policy.
 */

import { api, authHeaders, readBody, unwrap } from "../api/client";
import type { paths } from "../api/schema";
import { errorFromResponse } from "../api/token";
import type { JobStatus, PolicyManifest, PolicySummary } from "../training/types";

const policyParams = (id: string) => ({ params: { path: { policy_id: id } } });

/** Every saved policy, newest first. */
export function listPolicies(signal?: AbortSignal): Promise<PolicySummary[]> {
  return unwrap(api.GET("/api/models", { signal }));
}

export function getPolicy(id: string, signal?: AbortSignal): Promise<PolicyManifest> {
  return unwrap(api.GET("/api/models/{policy_id}", { ...policyParams(id), signal }));
}

export function renamePolicy(id: string, name: string): Promise<PolicyManifest> {
  return unwrap(api.PATCH("/api/models/{policy_id}", { ...policyParams(id), body: { name } }));
}

/** Records that the user has read the policy's reward program: an imported policy may then play. */
export function reviewPolicy(id: string): Promise<PolicyManifest> {
  return unwrap(api.POST("/api/models/{policy_id}/review", policyParams(id)));
}

/**
 * Makes one of the user's own trained policies a base for fine-tuning (or stops). Shipped bases are
 * refused (they always are bases); a policy whose network does not suit fine-tuning says why (4xx).
 */
export function setPolicyBase(id: string, base: boolean): Promise<PolicySummary> {
  return unwrap(api.POST("/api/models/{policy_id}/base", { ...policyParams(id), body: { base } }));
}

/**
 * "Prepare a base policy": starts a job training the scene's own task once (on the GPU or Modal when
 * there is one); its policy joins the library as the user's base. 404 names the valid scene ids.
 */
export function prepareBase(sceneId: string): Promise<JobStatus> {
  return unwrap(api.POST("/api/bases/prepare", { body: { scene_id: sceneId } }));
}

/**
 * The policy's clip (an animated WebP of a deterministic rollout), or null when it has none (404: none
 * was rendered, or not yet: it is made when the policy is saved). A plain fetch with the token header,
 * like the scene's model: the bytes go to an object URL.
 */
export async function fetchClip(id: string, signal?: AbortSignal): Promise<Blob | null> {
  const origin = typeof window === "undefined" ? "" : new URL(window.location.href).origin;
  const response = await fetch(`${origin}/api/models/${encodeURIComponent(id)}/clip`, {
    headers: authHeaders(),
    signal,
  });
  if (response.status === 404) return null;
  if (!response.ok) throw errorFromResponse(response, await readBody(response));
  return response.blob();
}

/** 204 on success (no body, so not `unwrap`, which wants data). */
export async function deletePolicy(id: string): Promise<void> {
  const { response, error } = await api.DELETE("/api/models/{policy_id}", policyParams(id));
  if (!response.ok) throw errorFromResponse(response, error);
}

type ImportAnswer =
  paths["/api/models/import"]["post"]["responses"][201]["content"]["application/json"];

/**
 * Uploads a .robocoach file as the raw request body (application/octet-stream; the schema declares no
 * request body, so this is a plain fetch with the token). 201 with the new policy's manifest (marked
 * imported, to be reviewed before it plays); 400 names what is wrong with the file, 422 a scene or
 * program this Robocoach cannot use (the program is validated as a drafted one is).
 */
export async function importPolicy(file: Blob): Promise<ImportAnswer> {
  const origin = typeof window === "undefined" ? "" : new URL(window.location.href).origin;
  const response = await fetch(`${origin}/api/models/import`, {
    method: "POST",
    headers: {
      Accept: "application/json",
      "Content-Type": "application/octet-stream",
      ...authHeaders(),
    },
    body: file,
  });
  const body = await readBody(response);
  if (!response.ok || typeof body !== "object" || body === null) {
    throw errorFromResponse(response, body);
  }
  return body as ImportAnswer;
}

/** Downloads the export with the token in the header, then saves it through an object URL. */
export async function exportPolicy(id: string, name: string): Promise<void> {
  const { data, error, response } = await api.GET("/api/models/{policy_id}/export", {
    ...policyParams(id),
    parseAs: "blob",
  });
  if (!response.ok || !data) throw errorFromResponse(response, error);
  const url = URL.createObjectURL(data);
  const a = document.createElement("a");
  a.href = url;
  a.download = exportFileName(response.headers.get("Content-Disposition"), name);
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The server's filename when it names one, else "<name>.robocoach" made safe for a file system. */
export function exportFileName(disposition: string | null, name: string): string {
  const match = disposition ? /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition) : null;
  if (match) return decodeURIComponent(match[1]);
  const safe = name.replace(/[^\w.-]+/g, "_").replace(/^_+|_+$/g, "") || "policy";
  return `${safe}.robocoach`;
}
