import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

// The client reads the token from window/sessionStorage once; give it a minimal browser per test.
function installBrowser() {
  const store = new Map<string, string>();
  vi.stubGlobal("window", {
    location: { href: "http://127.0.0.1:9/?token=t0k" },
    history: { state: null, replaceState: vi.fn() },
  });
  vi.stubGlobal("sessionStorage", {
    getItem: (k: string) => store.get(k) ?? null,
    setItem: (k: string, v: string) => store.set(k, v),
  });
}

interface Seen {
  method: string;
  url: string;
  auth: string | null;
  contentType: string | null;
  body: string;
}

/** Stubs fetch with one canned answer per call, recording what was asked. */
function stubFetch(answers: Response[]): Seen[] {
  const seen: Seen[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: Request | string, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(input, init);
      seen.push({
        method: request.method,
        url: request.url,
        auth: request.headers.get("Authorization"),
        contentType: request.headers.get("Content-Type"),
        body: request.body ? await request.text() : "",
      });
      const answer = answers.shift();
      if (!answer) throw new Error("unexpected request");
      return answer;
    }),
  );
  return seen;
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

const status = {
  job_id: "j1",
  state: "queued",
  spec: {
    scene_id: "CartpoleBalance",
    program: "x",
    task_description: "",
    name: "",
    preset: "cpu_quick",
    seed: 0,
    check: "AT_LEAST = dict(upright=0.95)",
    early_stop_evals: 2,
    reflection_rounds: 2,
    round: 0,
  },
  device: "cpu",
  created_at: "2025-01-01T00:00:00Z",
  started_at: null,
  finished_at: null,
  progress: null,
  history: [],
  error: null,
  policy_id: null,
  resumable: false,
};

describe("training and library calls", () => {
  beforeEach(() => {
    vi.resetModules();
    installBrowser();
  });
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it("start: 201 is the job, 422 the validation report", async () => {
    const report = {
      ok: false,
      terms: [],
      errors: [{ line: 2, column: 1, message: "no imports", stage: "static" }],
    };
    const seen = stubFetch([json(status, 201), json(report, 422)]);
    const { startTraining } = await import("./api");
    const spec = status.spec as Parameters<typeof startTraining>[0];
    expect(await startTraining(spec)).toEqual({ ok: true, job: status });
    expect(await startTraining(spec)).toEqual({ ok: false, report });
    expect(seen[0]).toMatchObject({
      method: "POST",
      url: "http://127.0.0.1:9/api/training/start",
      auth: "Bearer t0k",
      contentType: "application/json",
    });
    expect(JSON.parse(seen[0].body)).toEqual(status.spec);
  });

  it("list, status, cancel, stop and resume hit the job's paths", async () => {
    const seen = stubFetch([
      json([status]),
      json(status),
      json(status),
      json(status),
      json(status),
    ]);
    const api = await import("./api");
    expect(await api.listJobs()).toEqual([status]);
    await api.jobStatus("j/1");
    await api.cancelJob("j1");
    await api.stopJob("j1");
    await api.resumeJob("j1");
    expect(seen.map((s) => `${s.method} ${new URL(s.url).pathname}`)).toEqual([
      "GET /api/training",
      "GET /api/training/j%2F1/status",
      "POST /api/training/j1/cancel",
      "POST /api/training/j1/stop",
      "POST /api/training/j1/resume",
    ]);
    expect(seen.every((s) => s.auth === "Bearer t0k")).toBe(true);
  });

  it("a 409 from cancel carries the job's state", async () => {
    const conflict = {
      status_code: 409,
      detail: "job j1 is succeeded",
      extra: { job_id: "j1", state: "succeeded" },
    };
    stubFetch([json(conflict, 409), json({ status_code: 404, detail: "no job" }, 404)]);
    const api = await import("./api");
    const error = await api.cancelJob("j1").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain("job j1 is succeeded");
    expect(api.conflictState(error)).toBe("succeeded");
    expect(api.conflictState(await api.resumeJob("j1").catch((e: unknown) => e))).toBeNull();
  });

  it("the event stream sends the token and ends when the server closes it", async () => {
    const interrupted = { ...status, state: "interrupted", resumable: true };
    const text = `event: status\ndata: ${JSON.stringify(status)}\n\nevent: status\ndata: ${JSON.stringify(interrupted)}\n\n`;
    const seen = stubFetch([
      new Response(text, { headers: { "Content-Type": "text/event-stream" } }),
    ]);
    const api = await import("./api");
    const states: string[] = [];
    await api.watchJob("j1", (j) => states.push(j.state), new AbortController().signal);
    expect(states).toEqual(["queued", "interrupted"]);
    expect(seen).toHaveLength(1); // interrupted ends the stream: no polling after it
    expect(seen[0].auth).toBe("Bearer t0k");
    expect(new URL(seen[0].url).pathname).toBe("/api/training/j1/events");
  });

  it("library: list summaries, rename, delete (204), import (201, raw body)", async () => {
    const summary = {
      id: "p1",
      name: "Cart",
      scene_id: "CartpoleBalance",
      task: "Balance",
      final_eval_reward: 12.5,
      created_at: "2025-01-01T00:00:00Z",
    };
    const manifest = { policy_id: "p2", name: "Imported" };
    const seen = stubFetch([
      json([summary]),
      json({ ...manifest, policy_id: "p1", name: "New" }),
      new Response(null, { status: 204 }),
      json(manifest, 201),
      json({ status_code: 400, detail: "not a zip" }, 400),
    ]);
    const lib = await import("../library/api");
    expect(await lib.listPolicies()).toEqual([summary]);
    expect((await lib.renamePolicy("p1", "New")).name).toBe("New");
    await expect(lib.deletePolicy("p1")).resolves.toBeUndefined();
    const file = new Blob([new Uint8Array([80, 75, 3, 4])]);
    expect((await lib.importPolicy(file)).policy_id).toBe("p2");
    await expect(lib.importPolicy(file)).rejects.toThrow("not a zip");
    expect(seen.map((s) => `${s.method} ${new URL(s.url).pathname}`)).toEqual([
      "GET /api/models",
      "PATCH /api/models/p1",
      "DELETE /api/models/p1",
      "POST /api/models/import",
      "POST /api/models/import",
    ]);
    expect(JSON.parse(seen[1].body)).toEqual({ name: "New" });
    expect(seen[3].contentType).toBe("application/octet-stream");
    expect(seen.every((s) => s.auth === "Bearer t0k")).toBe(true);
  });
});
