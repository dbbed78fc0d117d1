import { describe, expect, it } from "vitest";
import type { PrepareStatus } from "./api";
import { draftWaitText, preparingText } from "./prepare";

const status = (state: PrepareStatus["state"], error = ""): PrepareStatus => ({
  scene_id: "CheetahRun",
  state,
  seconds: 3,
  error,
  phases: {},
});

describe("the draft's wait follows the real preparation state", () => {
  it("names the simulator's first-time preparation while the worker prepares", () => {
    expect(draftWaitText(status("preparing"), "CheetahRun", "Built-in")).toBe(
      "Preparing the CheetahRun simulator for checks… (first time only)",
    );
  });

  it("says the reward is being checked once the scene is prepared", () => {
    expect(draftWaitText(status("prepared"), "CheetahRun", "Built-in")).toBe(
      "Drafting with Built-in and checking the reward…",
    );
  });

  it("falls back to the plain wording when the state is unknown, idle or failed", () => {
    for (const s of [null, status("idle"), status("failed", "boom")]) {
      expect(draftWaitText(s, "CheetahRun", "Built-in")).toBe(
        "Drafting with Built-in and validating…",
      );
    }
  });

  it("shows a line while idle only when preparing or failed, with the reason", () => {
    expect(preparingText(status("prepared"), "CheetahRun")).toBeNull();
    expect(preparingText(status("idle"), "CheetahRun")).toBeNull();
    expect(preparingText(null, "CheetahRun")).toBeNull();
    expect(preparingText(status("preparing"), "CheetahRun")).toContain("first time only");
    expect(preparingText(status("failed", "no Menagerie"), "CheetahRun")).toContain("no Menagerie");
  });
});
