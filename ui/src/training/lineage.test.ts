import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it, vi } from "vitest";
import type { CheckResult } from "../checks/format";
import {
  awaitsRevision,
  followJob,
  lineageOf,
  REVISION_POLL_MS,
  revisingText,
  rounds,
  roundsTotal,
} from "./lineage";
import { TrainingPanel } from "./TrainingPanel";
import type { JobState, JobStatus, TrainingProgress } from "./types";
import type { Training } from "./useTraining";

const failedCheck: CheckResult = {
  passed: false,
  episodes: 5,
  passed_episodes: 1,
  score: 0.4,
  summary: "failed: upright 0.41 (>= 0.95) in 1/5 episodes",
  figures: [
    { name: "upright", mean: 0.41, worst: 0.2, at_least: 0.95, at_most: null, met: 1 },
    { name: "cart_travel", mean: 0.3, worst: 0.5, at_least: null, at_most: 1.5, met: 5 },
  ],
};
const passedCheck: CheckResult = {
  ...failedCheck,
  passed: true,
  passed_episodes: 5,
  score: 1,
  summary: "passed: upright 0.99 (>= 0.95) in 5/5 episodes",
  figures: [{ ...failedCheck.figures[0], mean: 0.99, worst: 0.97, met: 5 }],
};

function point(step: number, check: CheckResult | null): TrainingProgress {
  return {
    step,
    total_steps: 1000,
    eval_reward: step / 10,
    reward_terms: {},
    task_reward: null,
    steps_per_second: 500,
    elapsed_s: 1,
    eta_s: 1,
    check,
  };
}

function job(id: string, state: JobState, extra: Partial<JobStatus> = {}, round = 0): JobStatus {
  return {
    job_id: id,
    state,
    backend: "local",
    spec: {
      scene_id: "CartpoleBalance",
      program: "x",
      make_base: false,
      task_description: "Balance",
      name: "",
      preset: "cpu_quick",
      seed: 0,
      check: "AT_LEAST = dict(upright=0.95)",
      early_stop_evals: 2,
      reflection_rounds: 2, // the person's setting, on every round

      round,
      parent_job_id: round > 0 ? `j${round}` : null,
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

const kept = (check: CheckResult) => ({
  kept_step: 600,
  kept_eval_reward: 60,
  check,
  stop_reason: "completed" as const,
  stopped_early: false,
});

// Round 1 (j1) failed and was revised as j2 (running).
const j1 = job("j1", "succeeded", { outcome: kept(failedCheck), next_job_id: "j2" });
const j2Running = job("j2", "running", { progress: point(300, failedCheck) }, 1);
const j2 = {
  ...j2Running,
  spec: { ...j2Running.spec, revision_notes: ["raised upright's weight"] },
};

describe("lineage", () => {
  it("walks back through parents and forward through next rounds, as far as known", () => {
    const j3 = job("j3", "queued", {}, 2);
    const known = new Map([
      ["j1", j1],
      ["j2", { ...j2, next_job_id: "j3" }],
      ["j3", j3],
    ]);
    expect(lineageOf(j3, known).map((j) => j.job_id)).toEqual(["j1", "j2", "j3"]);
    expect(lineageOf(j1, known).map((j) => j.job_id)).toEqual(["j1", "j2", "j3"]);
    expect(lineageOf(j2, new Map()).map((j) => j.job_id)).toEqual(["j2"]);
    // A loop in the links ends the walk instead of hanging it.
    const loop = new Map([["j1", { ...j1, spec: { ...j1.spec, parent_job_id: "j2" } }]]);
    expect(lineageOf({ ...j2, next_job_id: "j1" }, loop)).toHaveLength(2);
  });

  it("counts rounds from the first job's setting, and words each round", () => {
    expect(roundsTotal([j1, j2])).toBe(3);
    expect(roundsTotal([j2])).toBe(3);
    expect(roundsTotal([])).toBe(1);
    expect(rounds([j1, j2]).map((r) => r.text)).toEqual([
      "round 1 failed: upright 0.41 (>= 0.95) in 1/5 episodes",
      "round 2 running",
    ]);
    expect(awaitsRevision(j1)).toBe(true);
    expect(revisingText(j1, 3)).toBe("round 2 of 3: revising the reward");
    const last = job("j3", "succeeded", { outcome: kept(failedCheck) }, 2);
    expect(awaitsRevision(last)).toBe(false); // no rounds left
    expect(awaitsRevision({ ...j1, outcome: kept(passedCheck) })).toBe(false);
    const stopped = { ...kept(failedCheck), stop_reason: "stopped" as const, stopped_early: true };
    expect(awaitsRevision({ ...j1, outcome: stopped })).toBe(false); // the person stopped it
  });
});

describe("followJob", () => {
  const noSleep = vi.fn(async () => {});

  it("follows a failed round into the next one once the server names it", async () => {
    const ended = job("j1", "succeeded", { outcome: kept(failedCheck) });
    // /status: running when opened, ended without next_job_id, then once more with it.
    const answers = [job("j1", "running"), ended, ended, { ...ended, next_job_id: "j2" }];
    const status = vi.fn(async () => {
      const next = answers.shift();
      if (!next) throw new Error("unexpected /status");
      return next;
    });
    const watch = vi.fn(async (_id: string, on: (j: JobStatus) => void) => {
      on(job("j1", "running", { progress: point(100, failedCheck) }));
    });
    const shown: string[] = [];
    const onNext = vi.fn();
    const followed = await followJob(
      "j1",
      (j) => shown.push(`${j.state}:${j.next_job_id ?? "-"}`),
      onNext,
      new AbortController().signal,
      { status, watch, sleep: noSleep },
    );
    expect(followed).toBe(true);
    expect(onNext).toHaveBeenCalledWith("j2");
    expect(status).toHaveBeenCalledTimes(4);
    expect(noSleep).toHaveBeenCalledWith(REVISION_POLL_MS, expect.anything());
    expect(shown).toEqual(["running:-", "running:-", "succeeded:-", "succeeded:j2"]);
  });

  it("a passing round, or a finished round opened later, is not followed further", async () => {
    const passed = job("j1", "succeeded", { outcome: kept(passedCheck) });
    const answers = [job("j1", "running"), passed];
    const status = vi.fn(async () => answers.shift() ?? passed);
    const onNext = vi.fn();
    const signal = new AbortController().signal;
    const deps = { status, watch: vi.fn(async () => {}), sleep: noSleep };
    expect(await followJob("j1", () => {}, onNext, signal, deps)).toBe(true);
    expect(status).toHaveBeenCalledTimes(2);
    // j1 finished with a next round already: opening it shows it and stays there.
    const old = vi.fn(async () => j1);
    expect(await followJob("j1", () => {}, onNext, signal, { ...deps, status: old })).toBe(false);
    expect(onNext).not.toHaveBeenCalled();
  });
});

function panel(current: JobStatus, jobs: JobStatus[]): string {
  const training: Training = {
    jobs,
    current,
    error: null,
    select: () => {},
    started: () => {},
    cancel: async () => {},
    stop: async () => {},
    resume: async () => {},
  };
  return renderToStaticMarkup(
    createElement(TrainingPanel, {
      training,
      sceneName: () => "Cartpole Balance",
      onOpenPolicy: () => {},
    }),
  );
}

const text = (html: string) =>
  html
    .replace(/<[^>]+>/g, " ")
    .replace(/\s+/g, " ")
    .replace(/&gt;/g, ">")
    .replace(/&lt;/g, "<")
    .replace(/&#x27;/g, "'")
    .replace(/&amp;/g, "&");

describe("TrainingPanel with a check", () => {
  it("a running round: the live verdict, Stop and keep best, its round and the lineage", () => {
    const html = panel(j2, [j2, j1]);
    expect(text(html)).toContain("check: 1/5 episodes passed; upright 0.41 (>= 0.95)");
    expect(html).toContain("Stop and keep best");
    expect(text(html)).toContain("round 2 of 3");
    expect(html).toMatch(/<ol class="lineage" aria-label="Rounds">/);
    expect(html).toContain('href="#job=j1"');
    expect(text(html)).toContain("round 1 failed: upright 0.41 (>= 0.95) in 1/5 episodes");
    expect(html).toMatch(/aria-current="step"[^>]*>round 2 running/);
    expect(text(html)).toContain("Reward revised: raised upright's weight");
  });

  it("a failed round waiting for its revision says so; a passed one shows its outcome", () => {
    const waiting = { ...j1, next_job_id: null };
    const html = panel(waiting, [waiting]);
    expect(text(html)).toContain("round 2 of 3: revising the reward");
    expect(text(html)).toContain("kept the policy from step 600");
    expect(html).not.toContain("Stop and keep best");

    const done = job("j9", "succeeded", {
      outcome: { ...kept(passedCheck), stop_reason: "check_passed", stopped_early: true },
      history: [point(300, failedCheck), point(600, passedCheck)],
    });
    const shown = text(panel(done, [done]));
    expect(shown).toContain("passed: upright 0.99 (>= 0.95) in 5/5 episodes");
    expect(shown).toContain("stopped early: the check passed in every episode for 2 evaluations");
    expect(shown).not.toContain("revising");
    expect(shown).not.toContain("round 1"); // a first round that passed is just a job
    expect(panel(done, [done])).toContain('aria-label="Check score (0 to 1) by step"');
  });
});
