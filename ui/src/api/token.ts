/**
 * The per-launch API token. The launcher opens `/?token=<token>`; the UI reads it once, keeps it in
 * sessionStorage (so a reload still works) and removes it from the visible URL.
 */

export const TOKEN_STORAGE_KEY = "robocoach.token";

/** The few browser objects token handling touches, injectable for tests. */
export interface TokenEnv {
  location: { href: string };
  storage: Pick<Storage, "getItem" | "setItem">;
  history: Pick<History, "replaceState" | "state">;
}

/**
 * Returns the token from `?token=` (saving it and stripping it from the URL) or from storage, or null.
 * A token in the URL wins over a stored one: a new launch brings a new token.
 */
export function takeToken(env: TokenEnv): string | null {
  const url = new URL(env.location.href);
  const fromUrl = url.searchParams.get("token");
  if (fromUrl) {
    env.storage.setItem(TOKEN_STORAGE_KEY, fromUrl);
    url.searchParams.delete("token");
    env.history.replaceState(env.history.state, "", `${url.pathname}${url.search}${url.hash}`);
    return fromUrl;
  }
  return env.storage.getItem(TOKEN_STORAGE_KEY);
}

export const UNAUTHORIZED_MESSAGE = "missing or wrong token: open the URL that robocoach printed";

/** Thrown for any API call the server answered with 401. */
export class UnauthorizedError extends Error {
  constructor() {
    super(UNAUTHORIZED_MESSAGE);
    this.name = "UnauthorizedError";
  }
}

/**
 * Thrown for other non-2xx answers; `message` carries the server's detail when it sent one, `body` the
 * parsed answer (Litestar errors: `{status_code, detail, extra}`).
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body?: unknown,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** Builds an error from a failed response and its (possibly JSON) body. */
export function errorFromResponse(response: Response, body: unknown): Error {
  if (response.status === 401) return new UnauthorizedError();
  let detail = response.statusText || "request failed";
  if (body && typeof body === "object" && "detail" in body) {
    detail = String((body as { detail: unknown }).detail);
  } else if (typeof body === "string" && body) {
    detail = body;
  }
  return new ApiError(response.status, `${response.status} ${detail} (${response.url})`, body);
}
