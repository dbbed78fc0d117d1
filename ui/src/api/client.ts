/** Typed client for the Robocoach HTTP API (types from the server's OpenAPI schema). */

import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";
import { errorFromResponse, takeToken, UnauthorizedError } from "./token";

export type SceneInfo = components["schemas"]["SceneInfo"];
export type SceneList = components["schemas"]["SceneList"];
export type PendingScene = components["schemas"]["PendingScene"];
export type SceneFailure = components["schemas"]["SceneFailure"];
export type ClientDiagnostics =
  paths["/api/diagnostics/client"]["post"]["requestBody"]["content"]["application/json"];

let token: string | null | undefined;

/** The token, read from the URL or sessionStorage once per page load. */
export function apiToken(): string | null {
  if (token === undefined) {
    token =
      typeof window === "undefined"
        ? null
        : takeToken({
            location: window.location,
            storage: sessionStorage,
            history: window.history,
          });
  }
  return token;
}

export function authHeaders(): Record<string, string> {
  const t = apiToken();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

const auth: Middleware = {
  onRequest({ request }) {
    const t = apiToken();
    if (t) request.headers.set("Authorization", `Bearer ${t}`);
    return request;
  },
  onResponse({ response }) {
    if (response.status === 401) throw new UnauthorizedError();
    return response;
  },
};

/** Same origin as the page (the server serves the UI and /api together). */
function origin(): string {
  return typeof window === "undefined" ? "" : new URL(window.location.href).origin;
}

export const api = createClient<paths>({ baseUrl: origin() });
api.use(auth);

/** Unwraps an openapi-fetch result, turning error answers into thrown errors. */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok || data === undefined) throw errorFromResponse(response, error);
  return data;
}

export function listScenes(signal?: AbortSignal): Promise<SceneList> {
  return unwrap(api.GET("/api/playground/scenes", { signal }));
}

/** One scene's description; the server answers once the scene is ready (it prepares it next). */
export function getScene(sceneId: string, signal?: AbortSignal): Promise<SceneInfo> {
  return unwrap(
    api.GET("/api/playground/scenes/{scene_id}", {
      params: { path: { scene_id: sceneId } },
      signal,
    }),
  );
}

export async function postClientDiagnostics(report: ClientDiagnostics): Promise<void> {
  const { response, error } = await api.POST("/api/diagnostics/client", { body: report });
  if (!response.ok) throw errorFromResponse(response, error);
}

/** A response body for plain fetch() calls: parsed JSON when it is JSON, else its text. */
export async function readBody(response: Response): Promise<unknown> {
  const text = await response.text().catch(() => "");
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return text; // plain-text body
  }
}

/**
 * Downloads a scene's compiled model. The server sends it gzip content-encoded; fetch decompresses.
 */
export async function fetchModel(sceneId: string, signal?: AbortSignal): Promise<Uint8Array> {
  const response = await fetch(
    `${origin()}/api/playground/scenes/${encodeURIComponent(sceneId)}/model.mjb`,
    {
      headers: authHeaders(),
      signal,
    },
  );
  if (!response.ok) throw errorFromResponse(response, await readBody(response));
  return new Uint8Array(await response.arrayBuffer());
}
