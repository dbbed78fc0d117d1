import { describe, expect, it } from "vitest";
import {
  type CheckResult,
  confirmationText,
  type FigureResult,
  formatFigure,
  outcomeLines,
  requirementText,
  stopText,
  type TrainingOutcome,
  verdictBadge,
  verdictLine,
} from "./format";

function figure(name: string, mean: number, extra: Partial<FigureResult> = {}): FigureResult {
  return { name, mean, worst: mean, at_least: null, at_most: null, met: 5, ...extra };
}

function result(extra: Partial<CheckResult> = {}): CheckResult {
  return {
    passed: false,
    episodes: 5,
    passed_episodes: 3,
    score: 0.8,
    summary: "failed: upright 0.91 (>= 0.95) in 3/5 episodes",
    figures: [
      figure("upright", 0.9133, { at_least: 0.95, met: 3, worst: 0.7 }),
      figure("cart_travel", 0.42, { at_most: 1.5 }),
      figure("mean_speed", 0.31),
    ],
    ...extra,
  };
}

const outcome = (extra: Partial<TrainingOutcome> = {}): TrainingOutcome => ({
  kept_step: 1_200_000,
  kept_eval_reward: 980,
  check: result({ passed: true, passed_episodes: 5, summary: "passed: upright 0.99 in 5/5" }),
  stop_reason: "check_passed",
  stopped_early: true,
  ...extra,
});

describe("check wording", () => {
  it("figures to three significant digits; large ones whole", () => {
    expect(formatFigure(0.9133)).toBe("0.913");
    expect(formatFigure(0.95)).toBe("0.95");
    expect(formatFigure(1.5)).toBe("1.5");
    expect(formatFigure(-0.000123456)).toBe("-0.000123");
    expect(formatFigure(1234.5)).toBe("1235");
    expect(formatFigure(Number.NaN)).toBe("—");
  });

  it("requirements in words, a range, and a figure that is only reported", () => {
    const f = { code: "def upright(s): ...", at_least: null, at_most: null };
    expect(requirementText({ ...f, name: "upright", at_least: 0.95 })).toBe("upright >= 0.95");
    expect(requirementText({ ...f, name: "cart_travel", at_most: 1.5 })).toBe("cart_travel <= 1.5");
    expect(requirementText({ ...f, name: "height", at_least: 0.2, at_most: 1.5 })).toBe(
      "height 0.2 to 1.5",
    );
    expect(requirementText({ ...f, name: "mean_speed" })).toBe(
      "mean_speed (reported, not required)",
    );
  });

  it("a failing verdict names only the requirements that missed; a passing one names them all", () => {
    expect(verdictLine(result())).toBe("check: 3/5 episodes passed; upright 0.913 (>= 0.95)");
    expect(verdictLine(result({ passed: true, passed_episodes: 5 }))).toBe(
      "check: 5/5 episodes passed; upright 0.913 (>= 0.95), cart_travel 0.42 (<= 1.5)",
    );
    expect(verdictLine(result({ error: "figure upright is NaN", passed_episodes: 0 }))).toBe(
      "check: could not be computed (figure upright is NaN)",
    );
  });

  it("badges: passed, failed check, no check; the summary starts with the verdict", () => {
    expect(verdictBadge(outcome())).toEqual({
      kind: "passed",
      label: "passed",
      detail: "passed: upright 0.99 in 5/5",
    });
    const failed = verdictBadge(outcome({ check: result({ summary: "upright 0.91 in 3/5" }) }));
    expect(failed).toEqual({
      kind: "failed",
      label: "failed check",
      detail: "failed: upright 0.91 in 3/5",
    });
    expect(verdictBadge(outcome({ check: null })).label).toBe("no check");
    expect(verdictBadge(null).kind).toBe("none");
    expect(verdictBadge(undefined).detail).toBe("");
  });

  it("the outcome: verdict, kept step, and why it ended", () => {
    expect(outcomeLines(outcome(), 2)).toEqual([
      "passed: upright 0.99 in 5/5",
      "kept the policy from step 1.2M",
      "stopped early: the check passed in every episode for 2 evaluations in a row, and on new starts",
    ]);
    const ran = outcomeLines(
      outcome({ check: null, stop_reason: "completed", kept_step: 40_960 }),
      2,
    );
    expect(ran).toEqual([
      "no check: the job was not judged",
      "kept the policy from step 41k",
      "ran its whole budget",
    ]);
    expect(stopText("time_cap", 2)).toBe("stopped early: its time budget ran out");
    expect(stopText("stopped", 2)).toContain("best policy so far was kept");
    expect(stopText("check_passed", null)).toBe(
      "stopped early: the check passed in every episode, and on new starts",
    );
  });

  it("says why a job whose check held trains on: the kept policy failed new starts", () => {
    const point = (step: number, confirmation: CheckResult | null) => ({
      step,
      total_steps: 4_000_000,
      eval_reward: 900,
      reward_terms: {},
      task_reward: null,
      steps_per_second: 1,
      elapsed_s: 1,
      eta_s: null,
      check: result({ passed: true, passed_episodes: 5 }),
      confirmation,
    });
    expect(confirmationText([point(0, null), point(459_000, null)])).toBeNull();
    const failed = result({ episodes: 20, passed_episodes: 17 });
    expect(confirmationText([point(1_380_000, failed), point(1_840_000, null)])).toBe(
      "At step 1.4M the check held, but the kept policy passed only 17 of 20 new starts: training on",
    );
    const passed = result({ passed: true, episodes: 20, passed_episodes: 20 });
    expect(confirmationText([point(1_380_000, failed), point(2_300_000, passed)])).toBeNull();
  });

  it("a fine-tune whose base already passes stopped at step 0, and says so", () => {
    expect(outcomeLines(outcome({ kept_step: 0 }), 2)[2]).toBe(
      "stopped at once: the base policy already passes the check",
    );
  });
});
