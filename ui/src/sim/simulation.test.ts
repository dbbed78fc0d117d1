import { afterEach, describe, expect, it } from "vitest";
import { loadModelFromMjb } from "./model";
import { getMujoco } from "./mujoco";
import { Simulation, type SimulationOptions } from "./simulation";
import { fixtureMjb } from "./testing";

const live: Simulation[] = [];

async function makeSim(options: SimulationOptions = {}): Promise<Simulation> {
  const mj = await getMujoco();
  const sim = new Simulation(mj, loadModelFromMjb(mj, fixtureMjb()), { now: () => 0, ...options });
  live.push(sim);
  return sim;
}

afterEach(() => {
  for (const sim of live.splice(0)) sim.dispose();
});

describe("Simulation.advance", () => {
  it("keeps simulated time equal to wall time at 60 frames per second", async () => {
    const sim = await makeSim();
    sim.reset(null);
    // 3 s of wall clock in 1/60 s frames; timestep 0.002 -> 1500 steps
    let steps = 0;
    for (let i = 0; i < 180; i++) steps += sim.advance(1 / 60);
    expect(sim.time).toBeCloseTo(3.0, 2);
    expect(Math.abs(steps - 1500)).toBeLessThanOrEqual(1);
    expect(sim.realTimeFactor).toBeCloseTo(1.0, 1);
  });

  it("carries fractions of a timestep over to the next call", async () => {
    const sim = await makeSim();
    // 0.003 s per call: 1 step, then 2 (0.001 s carried), ...
    const steps = [0, 1, 2, 3].map(() => sim.advance(0.003));
    expect(steps).toEqual([1, 2, 1, 2]);
  });

  it("caps the catch-up after a very late frame", async () => {
    const sim = await makeSim({ maxCatchUpSeconds: 0.1 });
    const steps = sim.advance(10); // the tab slept for 10 s
    expect(steps).toBe(50); // 0.1 s / 0.002 s, not 5000
    expect(sim.time).toBeCloseTo(0.1, 6);
    // the dropped time is not owed later: the next normal frame steps normally
    expect(sim.advance(0.01)).toBe(5);
    expect(sim.realTimeFactor).toBeLessThan(0.05);
  });

  it("stops stepping when the compute budget runs out and drops the debt", async () => {
    let clock = 0;
    const sim = await makeSim({ stepBudgetMs: 5, now: () => (clock += 1) });
    // wants 250 steps; the clock is read at the start (1 ms) and after every 8th step (+1 ms each),
    // so the 6th check (after 48 steps) sees 6 ms > 5 ms and stops.
    const steps = sim.advance(0.5);
    expect(steps).toBe(48);
    expect(sim.advance(0)).toBe(0);
  });

  it("does not advance time while paused and reports a zero real-time factor", async () => {
    const sim = await makeSim();
    sim.advance(0.1);
    const t = sim.time;
    sim.pause();
    for (let i = 0; i < 120; i++) expect(sim.advance(1 / 60)).toBe(0);
    expect(sim.time).toBe(t);
    expect(sim.realTimeFactor).toBe(0);
    sim.play();
    sim.advance(0.02);
    expect(sim.time).toBeCloseTo(t + 0.02, 6);
  });

  it("single-steps exactly one timestep and pauses", async () => {
    const sim = await makeSim();
    const t = sim.time;
    sim.step();
    expect(sim.paused).toBe(true);
    expect(sim.time).toBeCloseTo(t + 0.002, 9);
  });
});

describe("Simulation.reset", () => {
  it("starts at the first keyframe and restores its qpos after running", async () => {
    const sim = await makeSim();
    expect(sim.keyframeNames).toEqual(["lifted"]);
    const lifted = [0.5, 0, 2, 1, 0, 0, 0, 0.3];
    expect(Array.from(sim.data.qpos)).toEqual(lifted);
    for (let i = 0; i < 30; i++) sim.advance(1 / 60);
    expect(sim.data.qpos[2]).toBeLessThan(1.9); // the box fell
    sim.reset(0);
    expect(Array.from(sim.data.qpos)).toEqual(lifted);
    expect(sim.time).toBe(0);
    // forward kinematics ran: body 1 is at the keyframe position
    expect(Array.from(sim.data.xpos.slice(3, 6))).toEqual([0.5, 0, 2]);
  });

  it("resets to qpos0 with null and rejects unknown keyframes", async () => {
    const sim = await makeSim();
    sim.reset(null);
    expect(Array.from(sim.data.qpos)).toEqual([0, 0, 1, 1, 0, 0, 0, 0]);
    expect(() => sim.reset(3)).toThrow(RangeError);
  });
});

describe("Simulation.dispose", () => {
  it("is idempotent and stops stepping", async () => {
    const sim = await makeSim();
    sim.dispose();
    sim.dispose();
    expect(sim.isDisposed).toBe(true);
    expect(sim.advance(1)).toBe(0);
  });
});
