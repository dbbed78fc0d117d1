/**
 * Keyboard driving of a command policy: arrows or W/A/S/D for forward (x) and sideways (y), Q/E to
 * turn (yaw). Command components are taken in the order joystick envs use: x, y, yaw.
 */

import type { CommandSpec } from "./protocol";

/** key -> [component, sign]: +1 pushes the component to its high end, -1 to its low end. */
const BINDINGS: Record<string, [number, 1 | -1]> = {
  arrowup: [0, 1],
  w: [0, 1],
  arrowdown: [0, -1],
  s: [0, -1],
  arrowleft: [1, 1], // +y is to the robot's left
  a: [1, 1],
  arrowright: [1, -1],
  d: [1, -1],
  q: [2, 1], // +yaw turns left (counter-clockwise seen from above)
  e: [2, -1],
};

/** Normalised key name for a KeyboardEvent.key, or null when the key drives nothing. */
export function boundKey(key: string, spec: CommandSpec): string | null {
  const k = key.toLowerCase();
  const binding = BINDINGS[k];
  return binding && binding[0] < spec.names.length ? k : null;
}

/**
 * The command for the keys held: each driven component at its high or low end (opposite keys cancel),
 * the others at `rest` (clipped to the range).
 */
export function commandFromKeys(
  held: ReadonlySet<string>,
  spec: CommandSpec,
  rest: number[],
): number[] {
  const push = spec.names.map(() => 0);
  for (const key of held) {
    const binding = BINDINGS[key];
    if (binding && binding[0] < push.length) push[binding[0]] += binding[1];
  }
  return spec.names.map((_, i) => {
    if (push[i] > 0) return spec.high[i];
    if (push[i] < 0) return spec.low[i];
    return Math.min(spec.high[i], Math.max(spec.low[i], rest[i] ?? 0));
  });
}
