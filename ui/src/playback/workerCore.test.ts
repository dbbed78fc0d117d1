import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { loadModelFromMjb } from "../sim/model";
import { getMujoco } from "../sim/mujoco";
import {
  FakeServer,
  type FakeServerOptions,
  FakeSocket,
  fakeInitial,
  fixtureHello,
  policyUpdate,
  type Received,
} from "./fakeServer";
import { packedLength, packState, unpackState } from "./frameState";
import { PlaybackWorkerCore } from "./workerCore";
import type { FromWorker, ToWorker, WorkerSnapshot } from "./workerMessages";

/** nq 8 (free box + hinge), nv 7, na 1, nu 2, one mocap body, timestep 4 ms (see driver.test.ts). */
const actuatedMjb = () =>
  new Uint8Array(readFileSync(new URL("./__fixtures__/actuated.mjb", import.meta.url)));

const cores: PlaybackWorkerCore[] = [];
const owned: { delete(): void }[] = [];
afterEach(() => {
  for (const c of cores.splice(0)) c.stop();
  for (const o of owned.splice(0).reverse()) o.delete();
});

async function settle(rounds = 3) {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setTimeout(r, 0));
}

const noSpring = { body: -1, local: [0, 0, 0], target: [0, 0, 0], active: false } as const;

async function setup(
  server?: FakeServerOptions,
  start: Partial<ToWorker & { type: "start" }> = {},
) {
  const mj = await getMujoco();
  const model = loadModelFromMjb(mj, actuatedMjb());
  const page = new mj.MjData(model); // the page's copy, which only draws
  owned.push(model, page);
  // Episodes long enough that none ends during a test.
  const fake = new FakeServer({ hello: fixtureHello({ episode_length: 10_000 }), ...server });
  const posted: { message: FromWorker; transfer?: Transferable[] }[] = [];
  let clock = 0;
  const core = new PlaybackWorkerCore({
    post: (message, transfer) => posted.push({ message, transfer }),
    connect: () => fake.connect(),
    now: () => clock,
    tickMs: 0,
    reconnectDelayMs: () => 0,
  });
  cores.push(core);
  await core.handle({
    type: "start",
    mjb: actuatedMjb(),
    url: "ws://fake",
    sceneId: "Fixture",
    state: packState(model, page),
    paused: false,
    speed: 1,
    spring: { ...noSpring, local: [0, 0, 0], target: [0, 0, 0] },
    ...start,
  });
  await settle();
  /** Advances the clock by `ms` in 4 ms ticks, letting the fake server answer in between. */
  const run = async (ms: number) => {
    for (let t = 0; t < ms; t += 4) {
      clock += 4;
      core.tick();
      await settle(2);
    }
  };
  const frames = () =>
    posted.flatMap((p) => (p.message.type === "frame" ? [{ ...p, state: p.message.state }] : []));
  const snapshots = () =>
    posted.flatMap((p) => (p.message.type === "snapshot" ? [p.message.snapshot] : []));
  const last = (): WorkerSnapshot => snapshots()[snapshots().length - 1];
  return { mj, model, page, fake, core, posted, run, frames, snapshots, last, clock: () => clock };
}

const steps = (r: Received[]) => r.filter((m) => m.type === "step");

describe("PlaybackWorkerCore", () => {
  it("plays in real time and posts frames (transferred) and throttled readouts", async () => {
    const { mj, model, page, fake, core, run, frames, snapshots, last } = await setup();
    await run(1000);
    const driver = core.policyDriver;
    expect(driver?.phase).toBe("playing");
    // 1 s of wall time at 20 ms per control interval: about 50 steps, never two in flight.
    const sent = steps(fake.socket.received).length;
    expect(sent).toBeGreaterThanOrEqual(48);
    expect(sent).toBeLessThanOrEqual(51);
    expect(last().playback.step).toBeGreaterThanOrEqual(sent - 6); // readout at most 100 ms old
    expect(last().playback.phase).toBe("playing");
    expect(last().realTimeFactor).toBeGreaterThan(0.9);
    // readouts every 100 ms (plus phase changes), frames at most every 16 ms, each one transferred
    expect(snapshots().length).toBeLessThan(20);
    const f = frames();
    expect(f.length).toBeGreaterThan(40);
    expect(f.length).toBeLessThanOrEqual(64);
    for (const x of f) expect(x.transfer).toEqual([x.state.buffer]);
    // The newest frame is the worker's state; the page draws it after mj_kinematics.
    const sim = core.simulation;
    if (!sim) throw new Error("no simulation");
    const newest = f[f.length - 1].state;
    expect(newest.length).toBe(packedLength(model));
    expect(unpackState(model, page, newest)).toBe(true);
    mj.mj_kinematics(model, page);
    expect(page.time).toBe(newest[0]);
    expect(Array.from(page.mocap_pos as Float64Array)).toEqual(
      Array.from(fakeInitial(0).mocap_pos),
    );
    expect(page.xpos[3 * 1 + 2]).toBeCloseTo(page.qpos[2], 12); // the box drawn where it is
  });

  it("forwards pause, speed, reset, command and stop to the driver", async () => {
    const { fake, core, run, posted, last } = await setup();
    await run(200);
    await core.handle({ type: "pause", paused: true });
    const before = steps(fake.socket.received).length;
    await run(200);
    expect(steps(fake.socket.received).length).toBe(before); // paused: nothing stepped
    expect(last().playback.phase).toBe("playing");

    await core.handle({ type: "pause", paused: false });
    await core.handle({ type: "speed", speed: 2 });
    await run(400);
    const atDouble = steps(fake.socket.received).length - before;
    expect(atDouble).toBeGreaterThanOrEqual(38); // 0.4 s at 2x: 40 intervals
    expect(atDouble).toBeLessThanOrEqual(41);

    await core.handle({ type: "command", values: [5, -0.5] });
    expect(fake.socket.received.at(-1)).toEqual({ type: "command", values: [1, -0.5] }); // clipped
    expect(last().playback.command).not.toBeNull();

    await core.handle({ type: "resetEpisode" });
    await settle();
    const resets = fake.socket.received.filter((m) => m.type === "reset");
    expect(resets.map((m) => m.type === "reset" && m.seed)).toEqual([0, 1]);

    await core.handle({ type: "stop" });
    expect(fake.socket.closedWith?.code).toBe(1000);
    expect(posted.at(-1)?.message.type).toBe("stopped");
    expect(posted.at(-2)?.message.type).toBe("frame"); // the last state, for free-running after
    expect(core.simulation?.isDisposed).toBe(true);
  });

  it("starts the command tier's schedule with the session: sent before the first reset", async () => {
    const schedule = { segments: [{ duration_s: 2, command: { x: -0.5 }, label: "back" }] };
    const { fake, run } = await setup({}, { schedule });
    await run(40);
    const sent = fake.socket.received;
    expect(sent[0]).toEqual({ type: "schedule", schedule });
    expect(sent[1]?.type).toBe("reset");
  });

  it("posts a live preview's newer params at once, and the job's end as a clean stop", async () => {
    const { fake, core, run, snapshots, last } = await setup({}, { preview: true });
    await run(200);
    const before = snapshots().length;
    fake.socket.deliver(policyUpdate({ step: 8192, evaluation: 1, eval_reward: 3.5 }));
    // Posted without waiting for the 100 ms readout (the clock has not moved).
    expect(snapshots().length).toBe(before + 1);
    expect(last().playback.policy).toMatchObject({ step: 8192, evaluation: 1, eval_reward: 3.5 });
    await run(40);
    expect(last().playback.phase).toBe("playing");

    fake.socket.deliver(policyUpdate({ step: 300_000, evaluation: 10, ended: true, note: "done" }));
    fake.socket.serverClose(1000);
    expect(last().playback).toMatchObject({ phase: "ended", status: "done", fatal: false });
    expect(last().playback.policy?.ended).toBe(true);
    // Physics runs freely from where the robot was.
    const time = core.simulation?.time ?? 0;
    await run(100);
    expect(core.simulation?.time ?? 0).toBeGreaterThan(time);
  });

  it("applies the page's drag as xfrc_applied before each substep", async () => {
    const { core, run } = await setup();
    await run(100);
    const sim = core.simulation;
    if (!sim) throw new Error("no simulation");
    // The fixture's box is body 1; pull its centre 0.1 m along +y.
    const x = sim.data.xpos;
    const centre: [number, number, number] = [x[3], x[4], x[5]];
    await core.handle({
      type: "spring",
      spring: {
        body: 1,
        local: [0, 0, 0],
        target: [centre[0], centre[1] + 0.1, centre[2]],
        active: true,
      },
    });
    await run(40);
    expect(sim.data.xfrc_applied[7]).toBeGreaterThan(0); // +y force on body 1
    await core.handle({
      type: "spring",
      spring: { body: 1, local: [0, 0, 0], target: centre, active: false },
    });
    expect(Array.from(sim.data.xfrc_applied.slice(6, 12))).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it("runs physics freely from the page's state until the policy is ready", async () => {
    const mj = await getMujoco();
    const model = loadModelFromMjb(mj, actuatedMjb());
    const data = new mj.MjData(model);
    owned.push(model, data);
    mj.mj_resetData(model, data);
    data.qpos[2] = 3; // the page's box is at z 3 m
    data.time = 7;
    let clock = 0;
    const posted: FromWorker[] = [];
    const silent = new FakeServer(); // a socket that never hears from the server: still compiling
    const core = new PlaybackWorkerCore({
      post: (m) => posted.push(m),
      connect: () => new FakeSocket(silent),
      now: () => clock,
      tickMs: 0,
    });
    cores.push(core);
    await core.handle({
      type: "start",
      mjb: actuatedMjb(),
      url: "ws://x",
      sceneId: "Fixture",
      state: packState(model, data),
      paused: false,
      speed: 1,
      spring: { ...noSpring, local: [0, 0, 0], target: [0, 0, 0] },
    });
    const sim = core.simulation;
    if (!sim) throw new Error("no simulation");
    expect(sim.data.time).toBe(7);
    expect(sim.data.qpos[2]).toBe(3);
    for (let i = 0; i < 25; i++) {
      clock += 4;
      core.tick();
    }
    expect(core.policyDriver?.owning).toBe(false);
    expect(sim.data.time).toBeGreaterThan(7.09); // 100 ms of free-running physics
    expect(sim.data.time).toBeLessThan(7.1 + 1e-9);
    expect(sim.data.qpos[2]).toBeLessThan(3); // falling
    const frame = posted.filter((m) => m.type === "frame").at(-1);
    expect(frame?.type === "frame" && frame.state[0]).toBeGreaterThan(7.07); // at most 16 ms old
  });

  it("reports a model that does not load as a fatal readout", async () => {
    const posted: FromWorker[] = [];
    const core = new PlaybackWorkerCore({ post: (m) => posted.push(m), tickMs: 0 });
    cores.push(core);
    await core.handle({
      type: "start",
      mjb: new Uint8Array(0),
      url: "ws://x",
      sceneId: "Fixture",
      state: new Float64Array(0),
      paused: false,
      speed: 1,
      spring: noSpring as never,
    });
    const s = posted.at(-1);
    expect(s?.type).toBe("snapshot");
    if (s?.type !== "snapshot") return;
    expect(s.snapshot.playback.fatal).toBe(true);
    expect(s.snapshot.playback.error).toMatch(/could not load the model.*empty/);
  });
});
