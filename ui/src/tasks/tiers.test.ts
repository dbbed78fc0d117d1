import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { TrainSection } from "../training/TrainSection";
import type { CommandDraft, TaskDraft } from "./api";
import { EMPTY_DRAFT, earlyCommands, mergeEarlyCommands, type SceneDraft } from "./draft";
import { CommandPlan, TierOptions } from "./TierOptions";
import {
  type CommandSchedule,
  commandText,
  durationText,
  orderedOptions,
  playBlocked,
  type ScheduleReport,
  sceneBase,
  segmentLines,
  selectedMethod,
  type TierOption,
} from "./tiers";

const option = (method: TierOption["method"], patch: Partial<TierOption> = {}): TierOption => ({
  method,
  available: true,
  summary: `${method} summary`,
  estimate_s: method === "command" ? 0 : 60,
  estimate: method === "command" ? "at once" : "about 1 minute",
  base_policy: method === "full_training" ? null : "base-go1",
  unavailable_reason: "",
  ...patch,
});

const spec = {
  names: ["forward velocity", "sideways velocity", "turn rate"],
  keys: ["forward", "sideways", "turn"],
  units: ["m/s", "m/s", "rad/s"],
  low: [-1, -0.5, -1],
  high: [1, 0.5, 1],
};

const schedule: CommandSchedule = {
  repeat: false,
  segments: [
    { duration_s: 2, command: { forward: -0.5 }, label: "walk backwards slowly" },
    { duration_s: 1.5, command: { turn: 0.8, forward: 0 }, label: "" },
  ],
};

const report: ScheduleReport = {
  ok: true,
  schedule,
  errors: [],
  clipped: ["turn 1.4 rad/s clipped to 1 rad/s"],
  duration_s: 3.5,
};

describe("orderedOptions and selectedMethod", () => {
  const options = [option("full_training"), option("command"), option("fine_tuning")];

  it("lists the options cheapest first", () => {
    expect(orderedOptions(options).map((o) => o.method)).toEqual([
      "command",
      "fine_tuning",
      "full_training",
    ]);
  });

  it("preselects the planner's choice, and keeps a person's available pick over it", () => {
    expect(selectedMethod(options, "fine_tuning", null)).toBe("fine_tuning");
    expect(selectedMethod(options, "fine_tuning", "full_training")).toBe("full_training");
  });

  it("never selects an unavailable option: it falls back to the cheapest available one", () => {
    const noBase = [
      option("command", { available: false, unavailable_reason: "No base for this scene" }),
      option("fine_tuning", { available: false }),
      option("full_training"),
    ];
    expect(selectedMethod(noBase, "command", null)).toBe("full_training");
    expect(selectedMethod(noBase, "full_training", "command")).toBe("full_training");
  });

  it("keeps the planner's choice when the server sent no options (an older server)", () => {
    expect(selectedMethod([], "full_training", "command")).toBe("full_training");
  });
});

describe("schedule wording", () => {
  it("writes durations for people", () => {
    expect(durationText(2)).toBe("2 s");
    expect(durationText(1.25)).toBe("1.25 s");
    expect(durationText(90)).toBe("1 min 30 s");
    expect(durationText(120)).toBe("2 min");
  });

  it("orders command values as the scene's spec does, with its units; unknown keys come last", () => {
    expect(commandText({ turn: 0.8, forward: -0.5 }, spec)).toBe(
      "forward -0.5 m/s, turn 0.8 rad/s",
    );
    expect(commandText({ hop: 1, forward: 0.1234567 }, spec)).toBe("forward 0.123 m/s, hop 1");
    expect(commandText({ forward: 1 }, null)).toBe("forward 1");
  });

  it("names unlabelled segments by their place", () => {
    const lines = segmentLines(schedule, spec);
    expect(lines).toEqual([
      { label: "walk backwards slowly", duration: "2 s", command: "forward -0.5 m/s" },
      { label: "Segment 2", duration: "1.5 s", command: "forward 0 m/s, turn 0.8 rad/s" },
    ]);
  });
});

describe("playBlocked", () => {
  it("allows Play only with an available option, a base and a valid, non-empty schedule", () => {
    expect(playBlocked(option("command"), report)).toBeNull();
    expect(playBlocked(null, report)).toMatch(/no command option/);
    expect(
      playBlocked(
        option("command", { available: false, unavailable_reason: "Prepare one" }),
        report,
      ),
    ).toBe("Prepare one");
    expect(playBlocked(option("command", { base_policy: null }), report)).toMatch(/No base/);
    expect(playBlocked(option("command"), null)).toMatch(/no command schedule/);
    expect(
      playBlocked(option("command"), { ...report, ok: false, errors: ["unknown key 'jump'"] }),
    ).toMatch(/invalid/);
    expect(
      playBlocked(option("command"), { ...report, schedule: { repeat: false, segments: [] } }),
    ).toMatch(/empty/);
  });
});

describe("TierOptions and CommandPlan markup", () => {
  it("renders a radio group with the planner's choice checked and the unavailable one disabled with its reason", () => {
    const html = renderToStaticMarkup(
      createElement(TierOptions, {
        options: [
          option("full_training"),
          option("fine_tuning", { available: false, unavailable_reason: "No base for Cartpole" }),
          option("command"),
        ],
        value: "command",
        planned: "command",
        onChange: () => {},
      }),
    );
    expect(html).toContain('role="radiogroup"');
    expect(html).toMatch(/<span[^>]*id="tiers-label"[^>]*>Training method<\/span>/);
    expect(html).toMatch(/<input[^>]*checked=""[^>]*value="command"/);
    expect(html).toMatch(/<input[^>]*disabled=""[^>]*value="fine_tuning"/);
    expect(html).toContain("No base for Cartpole");
    expect(html.indexOf('value="command"')).toBeLessThan(html.indexOf('value="full_training"'));
  });

  it("shows the schedule with units, the clipped notes, and errors as an alert", () => {
    const html = renderToStaticMarkup(
      createElement(CommandPlan, {
        option: option("command"),
        report: { ...report, errors: ["unknown key 'jump'"], ok: false },
        spec,
        busy: false,
        onPlay: () => {},
        onDraftCommands: () => {},
      }),
    );
    expect(html).toContain("walk backwards slowly");
    expect(html).toContain("forward -0.5 m/s");
    expect(html).toContain("turn 1.4 rad/s clipped to 1 rad/s");
    expect(html).toMatch(/role="alert"[^>]*>.*unknown key &#x27;jump&#x27;/);
    expect(html).toMatch(/<button[^>]*disabled=""[^>]*>Play<\/button>/);
  });
});

describe("the fine-tune choice in the Train section", () => {
  it("names the base it starts from and shows the planner's step budget as the default", () => {
    const html = renderToStaticMarkup(
      createElement(TrainSection, {
        sceneId: "CartpoleBalance",
        program: "p",
        check: null,
        blocked: null,
        task: "t",
        estimate: { text: "about 2 minutes on this computer's CPU at most", seconds: 120 },
        basePolicyId: "base-cartpole",
        plannedTimesteps: 50_000,
        onStarted: () => {},
      }),
    );
    expect(html).toContain("<legend>Fine-tune</legend>");
    expect(html).toContain("Starts from the base policy base-cartpole");
    expect(html).toContain('placeholder="50000"');
    expect(html).toContain("about 2 minutes on this computer&#x27;s CPU at most");
  });

  it("trains from scratch with the preset's steps when there is no base", () => {
    const html = renderToStaticMarkup(
      createElement(TrainSection, {
        sceneId: "CartpoleBalance",
        program: "p",
        check: null,
        blocked: null,
        task: "t",
        estimate: null,
        onStarted: () => {},
      }),
    );
    expect(html).toContain("<legend>Train</legend>");
    expect(html).toContain('placeholder="preset&#x27;s"');
  });
});

describe("the early command answer (POST /api/policy/commands) in the draft state", () => {
  const early: CommandDraft = {
    scene_id: "Go1JoystickFlatTerrain",
    schedule: report,
    base_policy: "base-go1",
    option: option("command"),
    notes: [],
  };
  const running: SceneDraft = {
    ...EMPTY_DRAFT,
    task: "walk backwards slowly",
    running: { startedAt: 10, provider: "Built-in" },
  };

  it("fills in the command plan while its draft request is still running", () => {
    const merged = { ...running, ...mergeEarlyCommands(running, early, 10) };
    expect(merged.commands).toBe(early);
    expect(earlyCommands(merged)).toBe(early);
    // Play is possible at once: a base, an available option, a valid schedule.
    expect(playBlocked(merged.commands?.option ?? null, merged.commands?.schedule)).toBeNull();
  });

  it("is dropped when it answers an older request or after the full draft arrived", () => {
    expect(mergeEarlyCommands(running, early, 9)).toEqual({});
    expect(mergeEarlyCommands({ ...running, running: null }, early, 10)).toEqual({});
  });

  it("gives way to the full draft once it arrives, but stays when the full draft failed", () => {
    const merged = { ...running, ...mergeEarlyCommands(running, early, 10) };
    const done = { ...merged, running: null, policy: {} as TaskDraft };
    expect(earlyCommands(done)).toBeNull();
    expect(earlyCommands({ ...merged, running: null, error: "timed out" })).toBe(early);
  });

  it("shows nothing for an unavailable tier or a sentence with no schedule", () => {
    const noBase = { ...early, option: option("command", { available: false }), base_policy: null };
    expect(earlyCommands({ ...running, commands: noBase })).toBeNull();
    expect(earlyCommands({ ...running, commands: { ...early, schedule: null } })).toBeNull();
  });
});

describe("sceneBase", () => {
  const policy = (id: string, scene: string, base: "shipped" | "user" | null, at: string) => ({
    id,
    scene_id: scene,
    base,
    created_at: at,
  });

  it("picks the shipped base first, else the user's newest, as the planner does", () => {
    const user = [
      policy("old", "Go1", "user", "2026-01-01T00:00:00Z"),
      policy("new", "Go1", "user", "2026-02-01T00:00:00Z"),
      policy("plain", "Go1", null, "2026-03-01T00:00:00Z"),
      policy("other", "Spot", "shipped", "2026-01-01T00:00:00Z"),
    ];
    expect(sceneBase(user, "Go1")).toBe("new");
    expect(
      sceneBase([...user, policy("ship", "Go1", "shipped", "2025-01-01T00:00:00Z")], "Go1"),
    ).toBe("ship");
    expect(sceneBase(user, "H1")).toBeNull();
  });
});
