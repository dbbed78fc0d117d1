import { describe, expect, it } from "vitest";
import type { PendingScene, SceneInfo } from "../api/client";
import {
  allScenes,
  defaultSceneId,
  formatPosition,
  formatRealTimeFactor,
  formatTime,
  groupScenes,
} from "./format";

function scene(id: string, name: string, family: SceneInfo["family"], robot: string): SceneInfo {
  return {
    id,
    name,
    family,
    robot,
    kind: "generic",
    examples: [],
    num_actuators: 1,
    action_size: 1,
    observation_size: { state: [5] },
    ctrl_dt: 0.01,
    sim_dt: 0.01,
    n_substeps: 1,
    keyframes: [],
    model_bytes: 1,
    model_sha256: "x",
    mujoco_version: "3.14.0",
  };
}

const scenes = [
  scene("Go1JoystickFlatTerrain", "Go1 Joystick Flat Terrain", "locomotion", "Unitree Go1"),
  scene("CartpoleSwingup", "Cartpole Swingup", "classic_control", "Cartpole"),
  scene("CartpoleBalance", "Cartpole Balance", "classic_control", "Cartpole"),
  scene("PandaPickCube", "Panda Pick Cube", "manipulation", "Franka Panda"),
];

describe("status text", () => {
  it("formats time, real-time factor and positions", () => {
    expect(formatTime(12.3449)).toBe("12.34 s");
    expect(formatRealTimeFactor(0.999)).toBe("1.00×");
    expect(formatPosition([0.1234, -0.0001, 0.4564])).toBe("x 0.123 y 0.000 z 0.456");
  });
});

describe("groupScenes", () => {
  it("groups by family in a fixed order and sorts by name", () => {
    const groups = groupScenes(scenes, "");
    expect(groups.map((g) => g.label)).toEqual(["Classic control", "Locomotion", "Manipulation"]);
    expect(groups[0].scenes.map((s) => s.id)).toEqual(["CartpoleBalance", "CartpoleSwingup"]);
  });

  it("filters on name, robot and id, every word", () => {
    expect(groupScenes(scenes, "unitree").flatMap((g) => g.scenes.map((s) => s.id))).toEqual([
      "Go1JoystickFlatTerrain",
    ]);
    expect(groupScenes(scenes, "cartpole bal").flatMap((g) => g.scenes.map((s) => s.id))).toEqual([
      "CartpoleBalance",
    ]);
    expect(groupScenes(scenes, "nothing")).toEqual([]);
  });

  it("lists scenes still being prepared beside the ready ones, by name", () => {
    const pending: PendingScene[] = [
      {
        id: "AcrobotSwingup",
        name: "Acrobot Swingup",
        family: "classic_control",
        robot: "Acrobot",
        kind: "acrobot",
      },
      {
        id: "SpotGetup",
        name: "Spot Getup",
        family: "locomotion",
        robot: "Boston Dynamics Spot",
        kind: "quadruped",
      },
    ];
    const groups = groupScenes([...scenes, ...pending], "");
    expect(groups[0].scenes.map((s) => s.id)).toEqual([
      "AcrobotSwingup",
      "CartpoleBalance",
      "CartpoleSwingup",
    ]);
    expect(
      groupScenes([...scenes, ...pending], "spot").flatMap((g) => g.scenes.map((s) => s.id)),
    ).toEqual(["SpotGetup"]);
  });
});

describe("defaultSceneId", () => {
  it("prefers CartpoleBalance", () => {
    expect(defaultSceneId(scenes)).toBe("CartpoleBalance");
    expect(defaultSceneId(scenes.slice(0, 1))).toBe("Go1JoystickFlatTerrain");
    expect(defaultSceneId([])).toBeNull();
    // Still being prepared: opened anyway (the server prepares it first).
    expect(defaultSceneId([{ id: "AcrobotSwingup" }, { id: "CartpoleBalance" }])).toBe(
      "CartpoleBalance",
    );
  });
});

describe("allScenes", () => {
  it("lists the ready scenes, then those still being prepared", () => {
    const pending: PendingScene = {
      id: "AcrobotSwingup",
      name: "Acrobot Swingup",
      family: "classic_control",
      robot: "Acrobot",
      kind: "acrobot",
    };
    const list = {
      complete: false,
      failed: [],
      pending: [pending.id],
      pending_scenes: [pending],
      scenes,
    };
    expect(allScenes(list).map((s) => s.id)).toEqual([
      ...scenes.map((s) => s.id),
      "AcrobotSwingup",
    ]);
    expect(allScenes(null)).toEqual([]);
  });
});
