import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

// client.ts reads the token from window/sessionStorage once; give it a minimal browser.
function installBrowser(href: string) {
  const store = new Map<string, string>();
  const history = {
    state: null,
    replaceState: vi.fn((_s: unknown, _u: string, url: string) => {
      location.href = new URL(url, location.href).href;
    }),
  };
  const location = { href };
  vi.stubGlobal("window", { location, history });
  vi.stubGlobal("sessionStorage", {
    getItem: (k: string) => store.get(k) ?? null,
    setItem: (k: string, v: string) => store.set(k, v),
  });
  return { location, history };
}

describe("api client", () => {
  beforeEach(() => {
    vi.resetModules();
  });
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it("sends the URL token as a Bearer header and hides it from the URL", async () => {
    const { location } = installBrowser("http://127.0.0.1:9/?token=s3cret");
    const seen: string[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (input: Request | string, init?: RequestInit) => {
        const request = input instanceof Request ? input : new Request(input, init);
        seen.push(request.headers.get("Authorization") ?? "");
        const body = { scenes: [], pending: [], failed: [], complete: true };
        return new Response(JSON.stringify(body), {
          headers: { "Content-Type": "application/json" },
        });
      }),
    );
    const client = await import("./client");
    const list = await client.listScenes();
    expect(list.complete).toBe(true);
    await client.fetchModel("CartpoleBalance");
    expect(seen).toEqual(["Bearer s3cret", "Bearer s3cret"]);
    expect(location.href).toBe("http://127.0.0.1:9/");
  });

  it("turns a 401 into the 'missing or wrong token' message", async () => {
    installBrowser("http://127.0.0.1:9/");
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => new Response("no", { status: 401 })),
    );
    const client = await import("./client");
    await expect(client.listScenes()).rejects.toThrow(
      "missing or wrong token: open the URL that robocoach printed",
    );
    await expect(client.fetchModel("X")).rejects.toThrow(/missing or wrong token/);
  });
});
