/** Policy library calls: list, read, rename, delete, export and import trained policies. */

import { apiToken, unwrap } from "../api/client";
import { requestJson } from "../training/api";
import type { PolicyManifest, PolicySummary } from "../training/types";

const policyPath = (id: string) => `/api/models/${encodeURIComponent(id)}`;

export function listPolicies(signal?: AbortSignal): Promise<PolicySummary[]> {
  return unwrap(requestJson<PolicySummary[]>("GET", "/api/models", { signal }));
}

export function getPolicy(id: string, signal?: AbortSignal): Promise<PolicyManifest> {
  return unwrap(requestJson<PolicyManifest>("GET", policyPath(id), { signal }));
}

export function renamePolicy(id: string, name: string): Promise<PolicyManifest> {
  return unwrap(requestJson<PolicyManifest>("PATCH", policyPath(id), { json: { name } }));
}

export async function deletePolicy(id: string): Promise<void> {
  await unwrap(requestJson<unknown>("DELETE", policyPath(id)));
}

/** Uploads a .robocoach file as the raw request body. */
export function importPolicy(file: Blob): Promise<PolicyManifest> {
  return unwrap(
    requestJson<PolicyManifest>("POST", "/api/models/import", {
      body: file,
      contentType: "application/octet-stream",
    }),
  );
}

/** Downloads the export with the token in the header, then saves it through an object URL. */
export async function exportPolicy(id: string, name: string): Promise<void> {
  const token = apiToken();
  const response = await fetch(`${policyPath(id)}/export`, {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  if (!response.ok) throw new Error(`export failed: ${response.status} ${response.statusText}`);
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
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
