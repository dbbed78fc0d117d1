import { afterEach, describe, expect, it } from "vitest";
import { loadModelFromMjb } from "./model";
import { getMujoco } from "./mujoco";
import { Perturber, springWrench } from "./perturb";
import { Simulation } from "./simulation";
import { fixtureMjb } from "./testing";

const live: Simulation[] = [];
async function makeSim(): Promise<Simulation> {
  const mj = await getMujoco();
  const sim = new Simulation(mj, loadModelFromMjb(mj, fixtureMjb()), { now: () => 0 });
  sim.reset(null); // box (body 1) at (0, 0, 1), identity orientation
  live.push(sim);
  return sim;
}
afterEach(() => {
  for (const sim of live.splice(0)) sim.dispose();
});

describe("springWrench", () => {
  it("pulls with stiffness * mass * displacement and twists about the COM", () => {
    // 2 kg, k = 100: 0.1 m displacement in +x -> 100 * 2 * 0.1 = 20 N in +x.
    // grabbed 0.1 m above the COM: torque = (0, 0, 0.1) x (20, 0, 0) = (0, 2, 0) N m.
    const w = springWrench({
      grab: [0, 0, 1.1],
      target: [0.1, 0, 1.1],
      grabVelocity: [0, 0, 0],
      com: [0, 0, 1],
      mass: 2,
      stiffness: 100,
      damping: 20,
    });
    expect(w.force[0]).toBeCloseTo(20);
    expect(w.force[1]).toBeCloseTo(0);
    expect(w.force[2]).toBeCloseTo(0);
    expect(w.torque[0]).toBeCloseTo(0);
    expect(w.torque[1]).toBeCloseTo(2);
    expect(w.torque[2]).toBeCloseTo(0);
  });

  it("damps the grab point's velocity", () => {
    // at the target, moving +z at 1 m/s: force = 2 * (0 - 20 * 1) = -40 N in z
    const w = springWrench({
      grab: [0, 0, 1],
      target: [0, 0, 1],
      grabVelocity: [0, 0, 1],
      com: [0, 0, 1],
      mass: 2,
      stiffness: 100,
      damping: 20,
    });
    expect(w.force[0]).toBeCloseTo(0);
    expect(w.force[1]).toBeCloseTo(0);
    expect(w.force[2]).toBeCloseTo(-40);
    expect(w.torque.map((x) => Math.abs(x))).toEqual([0, 0, 0]);
  });
});

describe("Perturber", () => {
  it("writes the spring force into xfrc_applied of the grabbed body and moves it", async () => {
    const sim = await makeSim();
    const p = new Perturber(sim, 100);
    expect(sim.model.body_subtreemass[1]).toBeCloseTo(2);
    p.select(1, [0, 0, 1]); // grab the box at its centre
    p.drag([0, 0.1, 1]); // pull 0.1 m along +y
    sim.beforeStep = () => p.apply();
    sim.stepOnce();
    const x = sim.data.xfrc_applied;
    expect(x[6]).toBeCloseTo(0, 6);
    expect(x[7]).toBeCloseTo(20, 6); // 100 * 2 kg * 0.1 m
    expect(Math.abs(x[8])).toBeLessThan(1e-6);
    expect(Math.abs(x[9]) + Math.abs(x[10]) + Math.abs(x[11])).toBeLessThan(1e-9);
    expect(x[0] + x[1] + x[2]).toBe(0); // world body untouched
    for (let i = 0; i < 100; i++) sim.stepOnce();
    expect(sim.data.qpos[1]).toBeGreaterThan(0.01); // moved towards +y
    expect(Math.abs(sim.data.qpos[0])).toBeLessThan(1e-6);

    p.release();
    expect(Array.from(sim.data.xfrc_applied.slice(6, 12))).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it("keeps the grab point fixed on the body and ignores the world body", async () => {
    const sim = await makeSim();
    const p = new Perturber(sim, 100);
    p.select(1, [0.1, 0, 1]);
    expect(p.grabPoint()).toEqual([0.1, 0, 1]);
    sim.data.qpos.set([0, 0, 1, Math.SQRT1_2, 0, 0, Math.SQRT1_2], 0); // rotate 90 deg about z
    sim.mj.mj_forward(sim.model, sim.data);
    const g = p.grabPoint();
    expect(g?.[0]).toBeCloseTo(0);
    expect(g?.[1]).toBeCloseTo(0.1);
    p.select(0, [0, 0, 0]);
    expect(p.selectedBody).toBe(-1);
    p.drag([1, 1, 1]);
    expect(p.wrench().force).toEqual([0, 0, 0]);
  });
});
