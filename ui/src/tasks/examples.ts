/** Example task prompts, chosen by the scene's family and robot. */

import type { SceneInfo } from "../api/client";

type SceneKind = Pick<SceneInfo, "id" | "family" | "robot">;

const QUADRUPEDS = ["Go1", "Barkour", "Spot"];
const HUMANOIDS = ["Apollo", "BerkeleyHumanoid", "G1", "H1", "Op3", "T1", "Humanoid"];
const HANDS = ["Leap", "Aero"];

const startsWithAny = (id: string, prefixes: string[]) => prefixes.some((p) => id.startsWith(p));

/** Three or so short prompts a person can click to fill the task box. */
export function examplePrompts(scene: SceneKind): string[] {
  const { id, family } = scene;
  if (id.startsWith("Cartpole")) {
    return [
      "Balance the pole with the cart at the left",
      "Keep the pole up and the cart still",
      "Swing the pole up and hold it",
    ];
  }
  if (id.startsWith("Pendulum") || id.startsWith("Acrobot")) {
    return ["Swing up and balance", "Keep still hanging down", "Spin as fast as possible"];
  }
  if (startsWithAny(id, QUADRUPEDS)) {
    return ["Walk backwards slowly", "Turn in place to the left", "Stand on the hind legs"];
  }
  if (startsWithAny(id, HUMANOIDS)) {
    return ["Walk forward at 0.5 m/s", "Stand still", "Turn in place to the right"];
  }
  if (startsWithAny(id, HANDS)) {
    return ["Rotate the cube about the vertical axis", "Hold the cube still", "Spread the fingers"];
  }
  if (family === "manipulation") {
    return ["Lift the cube", "Reach the point (0.5, 0, 0.3)", "Keep the arm still"];
  }
  if (family === "locomotion") {
    return ["Walk forward slowly", "Stand still", "Turn in place to the left"];
  }
  return ["Run forward fast", "Stand upright", "Move as little as possible"];
}
