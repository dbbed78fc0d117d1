import { afterEach, describe, expect, it, vi } from "vitest";
import { startPhysicsLoop } from "./loop";
import { loadModelFromMjb } from "./model";
import { getMujoco } from "./mujoco";
import { Simulation } from "./simulation";
import { fixtureMjb } from "./testing";

afterEach(() => {
  vi.useRealTimers();
});

describe("startPhysicsLoop", () => {
  it("keeps real time on its own timer, with no animation frames at all", async () => {
    const mj = await getMujoco();
    vi.useFakeTimers();
    const sim = new Simulation(mj, loadModelFromMjb(mj, fixtureMjb()), { now: () => Date.now() });
    const stop = startPhysicsLoop(sim, { intervalMs: 4, now: () => Date.now() });
    vi.advanceTimersByTime(2000); // 2 s of timer ticks, every 4 ms
    expect(sim.time).toBeCloseTo(2.0, 2);
    stop();
    vi.advanceTimersByTime(1000);
    expect(sim.time).toBeCloseTo(2.0, 2); // stopped
    sim.dispose();
  });

  it("catches up after a throttled (background-tab) timer", async () => {
    const mj = await getMujoco();
    vi.useFakeTimers();
    const sim = new Simulation(mj, loadModelFromMjb(mj, fixtureMjb()), { now: () => Date.now() });
    // background tabs run timers about once a second
    const stop = startPhysicsLoop(sim, { intervalMs: 1000, now: () => Date.now() });
    vi.advanceTimersByTime(5000);
    expect(sim.time).toBeCloseTo(5.0, 2);
    stop();
    sim.dispose();
  });

  it("stops and reports when stepping throws", async () => {
    const mj = await getMujoco();
    vi.useFakeTimers();
    const sim = new Simulation(mj, loadModelFromMjb(mj, fixtureMjb()), { now: () => Date.now() });
    sim.beforeStep = () => {
      throw new Error("boom");
    };
    const onError = vi.fn();
    startPhysicsLoop(sim, { intervalMs: 4, now: () => Date.now(), onError });
    vi.advanceTimersByTime(100);
    expect(onError).toHaveBeenCalledTimes(1);
    expect((onError.mock.calls[0][0] as Error).message).toBe("boom");
    sim.dispose();
  });
});
