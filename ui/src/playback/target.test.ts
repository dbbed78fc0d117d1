import { describe, expect, it } from "vitest";
import type { JobStatus } from "../training/types";
import { policyUpdate } from "./fakeServer";
import { previewEndText, previewLabel, previewTarget, previewToFollow, targetKey } from "./target";

describe("previewLabel", () => {
  it("says which step and evaluation the playing params are from, their reward and verdict", () => {
    expect(
      previewLabel(
        policyUpdate({
          step: 40_960,
          evaluation: 3,
          eval_reward: 812.4,
          check_passed: true,
          check_score: 1,
        }),
      ),
    ).toBe("Live preview · step 41k of 300k · evaluation 3 · reward 812 · check passed");
    expect(
      previewLabel(
        policyUpdate({
          step: 1500,
          evaluation: 1,
          eval_reward: 3.25,
          check_passed: false,
          check_score: 0.5,
        }),
      ),
    ).toBe(
      "Live preview · step 1.5k of 300k · evaluation 1 · reward 3.25 · check failed (50% of requirements)",
    );
    // No check, or not judged yet; a reward that could not be computed.
    expect(previewLabel(policyUpdate({ step: 8192, evaluation: 2, eval_reward: null }))).toBe(
      "Live preview · step 8.2k of 300k · evaluation 2 · reward — · check not judged",
    );
  });

  it("before training's first evaluation and before the server says anything", () => {
    expect(previewLabel(policyUpdate())).toBe(
      "Live preview · step 0 of 300k · before the first evaluation",
    );
    expect(previewLabel(null)).toBe("Live preview · waiting for the job's first params");
  });
});

describe("previewEndText", () => {
  it("prefers the server's note, then the job's final state, then why the session closed", () => {
    const ended = policyUpdate({ ended: true, note: "Training cancelled at step 8k." });
    expect(previewEndText(ended, { state: "cancelled", error: null })).toBe(
      "Training cancelled at step 8k.",
    );
    expect(previewEndText(policyUpdate({ ended: true, note: "training finished" }), null)).toBe(
      "Training finished.",
    );
    expect(previewEndText(null, { state: "failed", error: "NaN in the loss" })).toBe(
      "Training failed: NaN in the loss",
    );
    expect(previewEndText(policyUpdate({ ended: true }), { state: "succeeded", error: null })).toBe(
      "Training finished.",
    );
    expect(
      previewEndText(null, { state: "running", error: null }, "job job-1 is not running"),
    ).toBe("job job-1 is not running");
    expect(previewEndText(null, null)).toBe("Training ended.");
  });
});

describe("playback targets", () => {
  it("a job's preview and a policy never share a key", () => {
    const job = { job_id: "x", spec: { scene_id: "CartpoleBalance", name: "" } } as JobStatus;
    const preview = previewTarget(job, "Cartpole Balance");
    expect(preview).toEqual({ jobId: "x", sceneId: "CartpoleBalance", name: "Cartpole Balance" });
    expect(targetKey(preview)).not.toBe(targetKey({ policyId: "x", sceneId: "s", name: "n" }));
  });
});

describe("previewToFollow", () => {
  const job = (id: string, state: JobStatus["state"], next: string | null = null) =>
    ({
      job_id: id,
      state,
      next_job_id: next,
      spec: { scene_id: "CartpoleBalance", name: "" },
    }) as JobStatus;
  const previewing = { jobId: "a", sceneId: "CartpoleBalance", name: "x" };

  it("follows the previewed job's revised round once the panel shows it", () => {
    const round2 = job("b", "running");
    expect(previewToFollow(previewing, job("a", "succeeded", "b"), round2, true, false)).toBe(
      round2,
    );
    // Already on it, switched off, or the round is over: nothing to start.
    expect(previewToFollow({ ...previewing, jobId: "b" }, round2, round2, true, false)).toBeNull();
    expect(
      previewToFollow(previewing, job("a", "succeeded", "b"), round2, false, false),
    ).toBeNull();
    expect(
      previewToFollow(previewing, job("a", "succeeded", "b"), job("b", "failed"), true, false),
    ).toBeNull();
    // Another job the user opened is not a revision of the previewed one.
    expect(
      previewToFollow(previewing, job("a", "running"), job("c", "running"), true, false),
    ).toBeNull();
  });

  it("after a reload picks up the job still training, and never replaces a policy playing", () => {
    const running = job("a", "running");
    expect(previewToFollow(null, null, running, true, true)).toBe(running);
    expect(previewToFollow(null, null, running, true, false)).toBeNull();
    expect(previewToFollow(null, null, job("a", "succeeded"), true, true)).toBeNull();
    const policy = { policyId: "p", sceneId: "CartpoleBalance", name: "p" };
    expect(previewToFollow(policy, null, running, true, true)).toBeNull();
  });
});
