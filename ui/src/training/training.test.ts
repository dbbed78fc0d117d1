import { describe, expect, it } from "vitest";
import { exportFileName } from "../library/api";
import { watchJob } from "./api";
import {
  actionsFor,
  estimateText,
  formatCount,
  formatDuration,
  formatEta,
  formatRate,
  formatSteps,
  mergeStatus,
  progressPercent,
  rewardChart,
  termsChart,
} from "./format";
import { SseParser } from "./sse";
import type { JobState, JobStatus, TrainingProgress } from "./types";

function point(step: number, extra: Partial<TrainingProgress> = {}): TrainingProgress {
  return {
    step,
    total_steps: 1000,
    eval_reward: step / 10,
    reward_terms: {},
    task_reward: null,
    steps_per_second: 500,
    elapsed_s: step / 500,
    eta_s: (1000 - step) / 500,
    ...extra,
  };
}

function job(state: JobState, extra: Partial<JobStatus> = {}): JobStatus {
  return {
    job_id: "j1",
    state,
    backend: "local",
    spec: {
      scene_id: "CartpoleBalance",
      program: "x",
      make_base: false,
      task_description: "",
      name: "",
      preset: "auto",
      seed: 0,
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
    ...extra,
  };
}

describe("SseParser", () => {
  it("parses one event per blank line, with the event name and data", () => {
    const p = new SseParser();
    expect(p.push('event: status\ndata: {"a":1}\n\n')).toEqual([
      { event: "status", data: '{"a":1}', id: null },
    ]);
  });

  it("joins events split mid-line and mid-field across chunks", () => {
    const p = new SseParser();
    const text =
      'event: status\ndata: {"state":"running"}\n\nevent: status\ndata: {"state":"done"}\n\n';
    const out = [];
    for (let i = 0; i < text.length; i += 3) out.push(...p.push(text.slice(i, i + 3)));
    expect(out.map((e) => e.data)).toEqual(['{"state":"running"}', '{"state":"done"}']);
    expect(out.every((e) => e.event === "status")).toBe(true);
  });

  it("returns several events from one chunk and keeps a partial one for later", () => {
    const p = new SseParser();
    const first = p.push(
      "event: status\ndata: 1\n\nevent: status\ndata: 2\n\nevent: status\ndata: 3",
    );
    expect(first.map((e) => e.data)).toEqual(["1", "2"]);
    expect(p.push("\n\n").map((e) => e.data)).toEqual(["3"]);
  });

  it("skips comments and keep-alives, and events with no data", () => {
    const p = new SseParser();
    expect(p.push(": keep-alive\n\n:ping\n\nevent: status\n\n")).toEqual([]);
    expect(p.push(": hi\nevent: status\n: mid-event comment\ndata: x\n\n")).toEqual([
      { event: "status", data: "x", id: null },
    ]);
  });

  it("handles CRLF, including a CRLF split across chunks, and multi-line data", () => {
    const p = new SseParser();
    expect(p.push("data: a\r")).toEqual([]);
    expect(p.push("\ndata: b\r\n\r\n")).toEqual([{ event: "message", data: "a\nb", id: null }]);
    expect(p.push("data:no-space\r\rid: 7\ndata: y\n\n")).toEqual([
      { event: "message", data: "no-space", id: null },
      { event: "message", data: "y", id: "7" },
    ]);
  });

  it("drops an unfinished event when the stream ends", () => {
    const p = new SseParser();
    p.push("event: status\ndata: half");
    p.end();
    expect(p.push("data: next\n\n")).toEqual([{ event: "message", data: "next", id: null }]);
  });
});

describe("progress wording", () => {
  it("percent is whole, clamped, and 100 once succeeded", () => {
    expect(progressPercent(job("queued"))).toBe(0);
    expect(progressPercent(job("running", { progress: point(333) }))).toBe(33);
    expect(progressPercent(job("running", { progress: point(2000) }))).toBe(100);
    expect(progressPercent(job("succeeded", { progress: point(990) }))).toBe(100);
    expect(progressPercent(job("running", { progress: point(5, { total_steps: 0 }) }))).toBe(0);
  });

  it("durations", () => {
    expect(formatDuration(null)).toBe("—");
    expect(formatDuration(Number.NaN)).toBe("—");
    expect(formatDuration(4.4)).toBe("4 s");
    expect(formatDuration(185)).toBe("3 min 05 s");
    expect(formatDuration(2 * 3600 + 4 * 60 + 10)).toBe("2 h 04 min");
  });

  it("counts, steps and rate", () => {
    expect(formatCount(950)).toBe("950");
    expect(formatCount(1234)).toBe("1.2k");
    expect(formatCount(2_000_000)).toBe("2M");
    expect(formatCount(150_000_000)).toBe("150M");
    expect(formatSteps(point(500, { total_steps: 2_500_000 }))).toBe("500 / 2.5M steps");
    expect(formatSteps(null)).toBe("—");
    expect(formatRate(point(1, { steps_per_second: 12_345 }))).toBe("12.3k steps/s");
    expect(formatRate(point(1, { steps_per_second: 0 }))).toBe("—");
  });

  it("ETA only while live; done once succeeded", () => {
    expect(formatEta(job("running", { progress: point(0, { eta_s: 90 }) }))).toBe("1 min 30 s");
    expect(formatEta(job("running", { progress: point(0, { eta_s: null }) }))).toBe("—");
    expect(formatEta(job("succeeded", { progress: point(1000) }))).toBe("done");
    expect(formatEta(job("failed", { progress: point(10) }))).toBe("—");
  });

  it("estimate by preset", () => {
    const draft = { text: "about 3 minutes on this computer's CPU", seconds: 180 };
    expect(estimateText("cpu", draft, false)).toBe(draft.text);
    expect(estimateText("auto", null, false)).toMatch(/minutes/);
    expect(estimateText("cpu_quick", draft, false)).toMatch(/seconds/);
    expect(estimateText("playground", draft, true)).toMatch(/GPU.*yours changes it/);
  });

  it("estimate names the reflection rounds that may follow, as the CLI does", () => {
    const draft = { text: "about 5 minutes on this computer's CPU", seconds: 300 };
    expect(estimateText("auto", draft, false, 2)).toBe(
      "about 5 minutes on this computer's CPU; up to 2 more rounds if the check fails",
    );
    expect(estimateText("auto", draft, false, 1)).toMatch(/up to 1 more round if/);
    expect(estimateText("auto", draft, false, 0)).toBe(draft.text);
  });
});

describe("actionsFor", () => {
  it("cancel while queued or running, stop only while running, resume when interrupted and resumable", () => {
    const table: [JobState, boolean, boolean, boolean, boolean][] = [
      ["queued", false, true, false, false],
      ["running", false, true, true, false],
      ["succeeded", false, false, false, false],
      ["failed", false, false, false, false],
      ["cancelled", false, false, false, false],
      ["interrupted", true, false, false, true],
      ["interrupted", false, false, false, false],
    ];
    for (const [state, resumable, cancel, stop, resume] of table) {
      expect(actionsFor({ state, resumable }), `${state} resumable=${resumable}`).toEqual({
        cancel,
        stop,
        resume,
      });
    }
  });
});

describe("chart data", () => {
  it("reward against step, sorted, one point per step, null for missing values", () => {
    const data = rewardChart([point(200), point(0, { eval_reward: null }), point(100), point(200)]);
    expect(data.names).toEqual(["Reward"]);
    expect(data.columns).toEqual([
      [0, 100, 200],
      [null, 10, 20],
    ]);
  });

  it("one series per term in order of appearance, then the task reward", () => {
    const data = termsChart([
      point(0, { reward_terms: { upright: 1 }, task_reward: null }),
      point(10, { reward_terms: { upright: 2, centered: 0.5 }, task_reward: 3 }),
      point(20, { reward_terms: { centered: Number.NaN, upright: 4 }, task_reward: 5 }),
    ]);
    expect(data.names).toEqual(["upright", "centered", "task reward"]);
    expect(data.columns).toEqual([
      [0, 10, 20],
      [1, 2, 4],
      [null, 0.5, null],
      [null, 3, 5],
    ]);
  });

  it("no task reward series when no point has one; empty history is empty columns", () => {
    expect(termsChart([point(0, { reward_terms: { a: 1 } })]).names).toEqual(["a"]);
    expect(termsChart([])).toEqual({ names: [], columns: [[]] });
  });
});

describe("mergeStatus", () => {
  it("keeps the longer history and appends the newer latest point", () => {
    const full = job("running", { history: [point(0), point(100)], progress: point(100) });
    const short = job("running", { history: [], progress: point(200) });
    expect(mergeStatus(full, short).history.map((p) => p.step)).toEqual([0, 100, 200]);
    expect(mergeStatus(full, { ...short, progress: point(100) }).history).toHaveLength(2);
    const longer = job("running", { history: [point(0), point(100), point(300)] });
    expect(mergeStatus(full, longer)).toBe(longer);
    expect(mergeStatus(full, { ...short, job_id: "other" }).history).toEqual([]);
  });
});

describe("watchJob", () => {
  it("falls back to polling when the stream breaks, until a final state", async () => {
    const seen: string[] = [];
    const states: JobState[] = ["running", "succeeded"];
    let sleeps = 0;
    await watchJob("j1", (j) => seen.push(j.state), new AbortController().signal, {
      stream: async (_id, onStatus) => {
        onStatus(job("running"));
        throw new Error("connection reset");
      },
      status: async () => job(states.shift() ?? "succeeded"),
      sleep: async () => {
        sleeps += 1;
      },
    });
    expect(seen).toEqual(["running", "running", "succeeded"]);
    expect(sleeps).toBe(1);
  });

  it("does not poll when the stream reached a final state", async () => {
    const seen: string[] = [];
    await watchJob("j1", (j) => seen.push(j.state), new AbortController().signal, {
      stream: async (_id, onStatus) => {
        onStatus(job("running"));
        onStatus(job("cancelled"));
      },
      status: async () => {
        throw new Error("should not poll");
      },
    });
    expect(seen).toEqual(["running", "cancelled"]);
  });
});

describe("exportFileName", () => {
  it("uses the server's filename, else a safe name", () => {
    expect(exportFileName('attachment; filename="cart.robocoach"', "x")).toBe("cart.robocoach");
    expect(exportFileName(null, "Cart / pole: v2")).toBe("Cart_pole_v2.robocoach");
    expect(exportFileName(null, "///")).toBe("policy.robocoach");
  });
});
