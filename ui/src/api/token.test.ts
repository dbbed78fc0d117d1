import { describe, expect, it } from "vitest";
import {
  ApiError,
  errorFromResponse,
  TOKEN_STORAGE_KEY,
  type TokenEnv,
  takeToken,
  UNAUTHORIZED_MESSAGE,
  UnauthorizedError,
} from "./token";

function fakeEnv(href: string, stored: Record<string, string> = {}) {
  const storage = new Map(Object.entries(stored));
  const replaced: string[] = [];
  const env: TokenEnv = {
    location: { href },
    storage: {
      getItem: (k) => storage.get(k) ?? null,
      setItem: (k, v) => void storage.set(k, v),
    },
    history: {
      state: null,
      replaceState: (_state, _unused, url) => void replaced.push(String(url)),
    },
  };
  return { env, storage, replaced };
}

describe("takeToken", () => {
  it("reads ?token=, stores it and removes it from the visible URL keeping the rest", () => {
    const { env, storage, replaced } = fakeEnv("http://127.0.0.1:8765/?token=abc123&scene=Go1#x");
    expect(takeToken(env)).toBe("abc123");
    expect(storage.get(TOKEN_STORAGE_KEY)).toBe("abc123");
    expect(replaced).toEqual(["/?scene=Go1#x"]);
  });

  it("falls back to sessionStorage after a reload without touching the URL", () => {
    const { env, replaced } = fakeEnv("http://127.0.0.1:8765/", { [TOKEN_STORAGE_KEY]: "old" });
    expect(takeToken(env)).toBe("old");
    expect(replaced).toEqual([]);
  });

  it("prefers a new token in the URL over a stored one", () => {
    const { env, storage } = fakeEnv("http://h/?token=new", { [TOKEN_STORAGE_KEY]: "old" });
    expect(takeToken(env)).toBe("new");
    expect(storage.get(TOKEN_STORAGE_KEY)).toBe("new");
  });

  it("returns null when there is no token anywhere", () => {
    expect(takeToken(fakeEnv("http://h/").env)).toBeNull();
  });
});

describe("errorFromResponse", () => {
  it("explains a 401", () => {
    const e = errorFromResponse(new Response(null, { status: 401 }), undefined);
    expect(e).toBeInstanceOf(UnauthorizedError);
    expect(e.message).toBe(UNAUTHORIZED_MESSAGE);
  });

  it("carries the server's detail for other errors", () => {
    const e = errorFromResponse(new Response(null, { status: 404 }), { detail: "unknown scene" });
    expect(e).toBeInstanceOf(ApiError);
    expect((e as ApiError).status).toBe(404);
    expect(e.message).toContain("unknown scene");
  });
});
