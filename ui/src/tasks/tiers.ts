/**
 * The three ways a drafted task can run (docs: issue "tiers"), as the task panel offers them: drive a
 * base policy with a command schedule, fine-tune a base with the new reward, or train from scratch. The
 * server's planner (server/planning/plan.py) sends the options and its choice; these functions only order,
 * pick and word them.
 */

import type { components } from "../api/schema";
import type { PolicySummary } from "../training/types";

type Schemas = components["schemas"];
export type TierOption = Schemas["TierOption"];
export type TrainingMethod = TierOption["method"];
export type TimeBudget = Schemas["GenerateRequest"]["time_budget"];
export type CommandSchedule = Schemas["CommandSchedule"];
export type CommandSegment = Schemas["CommandSegment"];
export type ScheduleReport = Schemas["ScheduleReport"];
export type SceneCommandSpec = Schemas["CommandSpec"];

/** Cheapest first: no training, a short fine-tune, a run from scratch. */
export const METHOD_ORDER: readonly TrainingMethod[] = ["command", "fine_tuning", "full_training"];

export const METHOD_LABELS: Record<TrainingMethod, string> = {
  command: "Command a base policy",
  fine_tuning: "Fine-tune a base policy",
  full_training: "Train from scratch",
};

export const BUDGETS: readonly { value: TimeBudget; label: string }[] = [
  { value: "fast", label: "Fast: commands when they can do it" },
  { value: "medium", label: "Medium: at most a short fine-tune" },
  { value: "unlimited", label: "Unlimited: train from scratch" },
];

/** The options in the order the panel lists them, cheapest first (unknown methods last). */
export function orderedOptions(options: readonly TierOption[]): TierOption[] {
  const rank = (m: TrainingMethod) => {
    const i = METHOD_ORDER.indexOf(m);
    return i < 0 ? METHOD_ORDER.length : i;
  };
  return [...options].sort((a, b) => rank(a.method) - rank(b.method));
}

/**
 * The method preselected: the person's own pick while it is still offered and available, else the
 * planner's choice when available, else the cheapest available option, else the planner's choice.
 */
export function selectedMethod(
  options: readonly TierOption[],
  planned: TrainingMethod,
  picked: TrainingMethod | null,
): TrainingMethod {
  const available = (m: TrainingMethod | null) =>
    m !== null && options.some((o) => o.method === m && o.available);
  if (available(picked)) return picked as TrainingMethod;
  if (options.length === 0 || available(planned)) return planned;
  return orderedOptions(options).find((o) => o.available)?.method ?? planned;
}

/** The option for a method, if the draft offers it. */
export function optionFor(
  options: readonly TierOption[],
  method: TrainingMethod,
): TierOption | null {
  return options.find((o) => o.method === method) ?? null;
}

/** "2 s", "1.5 s", "1 min 30 s". */
export function durationText(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "–";
  if (seconds < 60) return `${Number(seconds.toFixed(2))} s`;
  const minutes = Math.floor(seconds / 60);
  const rest = Math.round(seconds - minutes * 60);
  return rest === 0 ? `${minutes} min` : `${minutes} min ${rest} s`;
}

/**
 * One segment's command as people read it, in the scene's command order with units where the scene's
 * command spec gives them: "forward -0.5 m/s, turn 0 rad/s". Keys the spec does not know come last, bare.
 */
export function commandText(
  command: Readonly<Record<string, number>>,
  spec: SceneCommandSpec | null | undefined,
): string {
  const keys = spec?.keys ?? [];
  const units = spec?.units ?? [];
  const known = keys.filter((k) => k in command);
  const others = Object.keys(command).filter((k) => !keys.includes(k));
  const value = (v: number) => String(Number(v.toFixed(3)));
  return [
    ...known.map((k) => {
      const unit = units[keys.indexOf(k)];
      return unit ? `${k} ${value(command[k])} ${unit}` : `${k} ${value(command[k])}`;
    }),
    ...others.map((k) => `${k} ${value(command[k])}`),
  ].join(", ");
}

export interface SegmentLine {
  label: string;
  duration: string;
  command: string;
}

/** The schedule's segments as the panel lists them. */
export function segmentLines(
  schedule: CommandSchedule,
  spec: SceneCommandSpec | null | undefined,
): SegmentLine[] {
  return schedule.segments.map((s, i) => ({
    label: s.label || `Segment ${i + 1}`,
    duration: durationText(s.duration_s),
    command: commandText(s.command, spec) || "no command",
  }));
}

/** Whether the command tier can play: a valid schedule and a base policy to drive. */
export function playBlocked(
  option: TierOption | null,
  report: ScheduleReport | null | undefined,
): string | null {
  if (!option) return "This task has no command option.";
  if (!option.available) return option.unavailable_reason || "Not available for this scene.";
  if (!option.base_policy) return "No base policy to drive.";
  if (!report) return "The draft has no command schedule.";
  if (!report.ok || !report.schedule) return "The command schedule is invalid.";
  if (report.schedule.segments.length === 0) return "The command schedule is empty.";
  return null;
}

/** The base the planner would drive for a scene (server/planning/plan.py pick_base): shipped first, else
 * the user's newest. */
export function sceneBase(
  policies: readonly Pick<PolicySummary, "id" | "scene_id" | "base" | "created_at">[],
  sceneId: string,
): string | null {
  const mine = policies.filter((p) => p.base && p.scene_id === sceneId);
  const shipped = mine.find((p) => p.base === "shipped");
  if (shipped) return shipped.id;
  const newest = [...mine].sort((a, b) => b.created_at.localeCompare(a.created_at))[0];
  return newest?.id ?? null;
}
