import { readFileSync } from "node:fs";
import type { MjData, MjModel } from "@mujoco/mujoco";
import { afterEach, describe, expect, it } from "vitest";
import { loadModelFromMjb } from "../sim/model";
import { getMujoco, type Mujoco } from "../sim/mujoco";
import { Perturber } from "../sim/perturb";
import { Simulation } from "../sim/simulation";
import { type DriverOptions, PolicyDriver, quantile } from "./driver";
import {
  FakeServer,
  type FakeServerOptions,
  fakeInitial,
  fakePolicy,
  fixtureHello,
  policyUpdate,
  type Received,
} from "./fakeServer";
import type { PhysicsState } from "./protocol";

/** nq 8 (free box + hinge), nv 7, na 1 (filter actuator), nu 2, one mocap body, timestep 4 ms. */
const actuatedMjb = () =>
  new Uint8Array(readFileSync(new URL("./__fixtures__/actuated.mjb", import.meta.url)));

const owned: { delete(): void }[] = [];
afterEach(() => {
  for (const o of owned.splice(0).reverse()) o.delete();
});

async function setup(driverOptions: Partial<DriverOptions> = {}, server?: FakeServerOptions) {
  const mj = await getMujoco();
  const model = loadModelFromMjb(mj, actuatedMjb());
  const data = new mj.MjData(model);
  owned.push(model, data);
  const fake = new FakeServer(server);
  let physicsSteps = 0;
  const driver = new PolicyDriver(mj, model, data, {
    connect: fake.connect,
    pacing: "asap",
    autoReset: true,
    reconnectDelayMs: () => 0,
    stepPhysics: () => {
      physicsSteps += 1;
      mj.mj_step(model, data);
    },
    ...driverOptions,
  });
  return { mj, model, data, fake, driver, physicsSteps: () => physicsSteps };
}

/** Lets the fake server's timers run (it answers on setTimeout, like a socket would). */
async function settle(rounds = 3) {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setTimeout(r, 0));
}

async function until(check: () => boolean, what: string) {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await settle(1);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const steps = (r: Received[]) => r.filter((m) => m.type === "step");
const resets = (r: Received[]) => r.filter((m) => m.type === "reset");
const list = (a: Float64Array) => Array.from(a);
const f0 = new Float64Array();

function copyState(data: MjData, na: number): Required<PhysicsState> {
  return {
    qpos: Float64Array.from(data.qpos as Float64Array),
    qvel: Float64Array.from(data.qvel as Float64Array),
    act: na > 0 ? Float64Array.from(data.act as Float64Array) : new Float64Array(),
    time: data.time,
    qacc_warmstart: Float64Array.from(data.qacc_warmstart as Float64Array),
  };
}

/** What the driver should have sent: the fake's episode and policy, stepped on a separate mjData. */
function reference(mj: Mujoco, model: MjModel, seed: number, intervals: number, substeps: number) {
  const data = new mj.MjData(model);
  owned.push(data);
  const init = fakeInitial(seed);
  mj.mj_resetData(model, data);
  data.qpos.set(init.qpos);
  data.qvel.set(init.qvel);
  data.act.set(init.act);
  data.mocap_pos.set(init.mocap_pos);
  data.mocap_quat.set(init.mocap_quat);
  data.ctrl.set(init.ctrl);
  data.time = init.time;
  mj.mj_forward(model, data);
  const out: { before: Required<PhysicsState>; after: Required<PhysicsState> }[] = [];
  for (let k = 0; k < intervals; k++) {
    for (let i = 0; i < substeps - 1; i++) mj.mj_step(model, data);
    const before = copyState(data, model.na);
    mj.mj_step(model, data);
    const after = copyState(data, model.na);
    out.push({ before, after });
    data.ctrl.set(fakePolicy(after));
  }
  return out;
}

describe("PolicyDriver, closed loop against a fake server", () => {
  it("sends the state before and after each interval's last substep, and applies each ctrl", async () => {
    const { mj, model, data, fake, driver, physicsSteps } = await setup({ maxSteps: 12 });
    await until(() => driver.phase === "ended", "12 steps");
    const received = fake.socket.received;
    expect(received[0]).toEqual({ type: "reset", seed: 0, state: null });
    const sent = steps(received) as Extract<Received, { type: "step" }>[];
    expect(sent.map((s) => s.seq)).toEqual([...Array(12).keys()]);
    // 12 intervals of 5 substeps; nothing else stepped the data.
    expect(physicsSteps()).toBe(60);
    const want = reference(mj, model, 0, 12, 5);
    for (let k = 0; k < 12; k++) {
      for (const key of ["before", "after"] as const) {
        const got = sent[k][key];
        const exp = want[k][key];
        expect(list(got.qpos)).toEqual(list(exp.qpos));
        expect(list(got.qvel)).toEqual(list(exp.qvel));
        expect(list(got.act)).toEqual(list(exp.act));
        expect(got.time).toBe(exp.time);
        // the solver's warm start, as it was before the substep (the server needs it in before)
        expect(list(got.qacc_warmstart ?? f0)).toEqual(list(exp.qacc_warmstart ?? f0));
      }
      // before is one 4 ms substep ahead of after; interval k ends at (k + 1) * 20 ms.
      expect(sent[k].after.time).toBeCloseTo(0.02 * (k + 1), 12);
      expect(sent[k].after.time - sent[k].before.time).toBeCloseTo(0.004, 12);
    }
    // The warm start holds the previous substep's accelerations (gravity on the falling box): not zeros.
    expect(sent[11].before.qacc_warmstart?.some((x) => x !== 0)).toBe(true);
    // The episode set the mocap body, and the last action's ctrl is in the data.
    expect(list(data.mocap_pos as Float64Array)).toEqual([0.3, 1, 1.2]);
    expect(list(data.ctrl as Float64Array)).toEqual(list(fakePolicy(sent[11].after)));
    expect(driver.owning).toBe(false); // ended: free-running physics may take over
  });

  it("keeps the episode return, terms and step of the latest reply and measures round trips", async () => {
    let clock = 1000;
    const { fake, driver } = await setup(
      { now: () => clock, latencyWindow: 3 },
      { autoAnswer: false },
    );
    await until(() => fake.queue.length === 1, "the first step");
    for (const ms of [5, 1, 9, 3]) {
      clock += ms;
      fake.answer();
      await until(() => fake.queue.length === 1, "the next step");
    }
    expect(driver.recentLatencies).toEqual([1, 9, 3]); // the window keeps the last three
    const s = driver.snapshot();
    expect(s.latencyP50).toBe(3);
    expect(s.step).toBe(4);
    expect(s.episodeReturn).toBeCloseTo(fake.episodeReturn, 12);
    expect(s.terms).toHaveLength(2);
    expect(s.terms[0]).toBeLessThanOrEqual(1);
    expect(s.phase).toBe("playing");
    expect(s.hello?.reward_terms).toEqual(["upright", "effort"]);
  });

  it("starts the next episode with the next seed when one is done", async () => {
    const { fake, driver } = await setup({}, { hello: fixtureHello({ episode_length: 3 }) });
    await until(() => driver.snapshot().episodes === 3, "three episodes");
    driver.stop();
    const r = fake.socket.received;
    expect(resets(r).map((m) => m.type === "reset" && m.seed)).toEqual([0, 1, 2]);
    // three steps, then a reset, each time
    expect(r.slice(0, 9).map((m) => m.type)).toEqual([
      "reset",
      ...["step", "step", "step", "reset"],
      ...["step", "step", "step", "reset"],
    ]);
    expect(fake.socket.closedWith?.code).toBe(1000);
  });

  it("holds a finished episode for endPauseMs before the next reset", async () => {
    const { fake, driver } = await setup(
      { endPauseMs: 40 },
      { hello: fixtureHello({ episode_length: 3 }) },
    );
    await until(() => driver.snapshot().status === "Episode over", "the end of the first episode");
    const s = driver.snapshot();
    expect(s.phase).toBe("resetting");
    expect(s.step).toBe(3); // the finished episode's readouts stay
    expect(driver.owning).toBe(true); // nothing steps the robot meanwhile
    await settle();
    expect(resets(fake.socket.received)).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 60));
    await until(() => driver.snapshot().episodes === 2, "the second episode");
    expect(resets(fake.socket.received).map((m) => m.type === "reset" && m.seed)).toEqual([0, 1]);
    // A user reset during the hold starts the episode at once; the hold's timer then does nothing.
    await until(() => driver.snapshot().status === "Episode over", "the end of the second");
    driver.resetEpisode();
    await new Promise((r) => setTimeout(r, 60));
    await settle();
    const seeds = resets(fake.socket.received).map((m) => m.type === "reset" && m.seed);
    expect(seeds.slice(0, 3)).toEqual([0, 1, 3]); // seed 2's held reset never went out
    expect(seeds).not.toContain(2);
  });

  it("stops at done when autoReset is off", async () => {
    const { fake, driver } = await setup(
      { autoReset: false, maxSteps: 100 },
      { hello: fixtureHello({ episode_length: 4 }) },
    );
    await until(() => driver.phase === "ended", "the end of the episode");
    await settle();
    expect(steps(fake.socket.received)).toHaveLength(4);
    expect(resets(fake.socket.received)).toHaveLength(1);
  });
});

describe("PolicyDriver with the UI's Simulation", () => {
  it("lets a mouse drag push the robot while the policy plays (forces before every substep)", async () => {
    const mj = await getMujoco();
    const run = async (drag: boolean) => {
      const sim = new Simulation(mj, loadModelFromMjb(mj, actuatedMjb()));
      const perturber = new Perturber(sim);
      sim.beforeStep = () => perturber.apply();
      const fake = new FakeServer();
      const driver = new PolicyDriver(mj, sim.model, sim.data, {
        connect: fake.connect,
        pacing: "asap",
        maxSteps: 10,
        stepPhysics: () => sim.stepOnce(),
      });
      await until(() => driver.phase === "playing", "the episode");
      if (drag) {
        // Grab the box (body 1) at its centre and pull it 1 m sideways.
        const x = sim.data.xpos as Float64Array;
        perturber.select(1, [x[3], x[4], x[5]]);
        perturber.drag([x[3], x[4] + 1, x[5]]);
      }
      await until(() => driver.phase === "ended", "10 steps");
      const y = (sim.data.qpos as Float64Array)[1];
      const sent = steps(fake.socket.received) as Extract<Received, { type: "step" }>[];
      sim.dispose();
      return { y, sentY: sent[9].after.qpos[1] };
    };
    const still = await run(false);
    const pushed = await run(true);
    expect(still.y).toBe(0);
    // 2 kg pulled by a 100/s^2-per-kg spring for 0.2 s: it moves, and the server sees it move.
    expect(pushed.y).toBeGreaterThan(0.05);
    expect(pushed.sentY).toBe(pushed.y);
  });
});

describe("PolicyDriver pacing", () => {
  it("runs one interval per ctrl_dt of wall time, times the speed, and waits for late replies", async () => {
    let paused = false;
    const { fake, driver, physicsSteps } = await setup(
      { pacing: "realtime", isPaused: () => paused },
      { autoAnswer: false },
    );
    await until(() => driver.phase === "playing", "the episode");
    expect(driver.owning).toBe(true);
    expect(driver.advance(0.01)).toBe(0); // half an interval: nothing yet
    expect(driver.advance(0.01)).toBeCloseTo(0.02, 12); // one interval (5 x 4 ms)
    expect(fake.queue).toHaveLength(1);
    // The reply is late: a whole second passes and nothing is stepped on stale controls.
    expect(driver.advance(1)).toBe(0);
    expect(physicsSteps()).toBe(5);
    // The reply comes: the owed time (capped at two intervals) lets the next interval start at once.
    fake.answer();
    await settle();
    expect(fake.queue).toHaveLength(1);
    expect(physicsSteps()).toBe(10);
    fake.answer();
    await settle();
    expect(fake.queue).toHaveLength(1); // the second owed interval
    fake.answer();
    await settle();
    expect(fake.queue).toHaveLength(0); // nothing owed any more
    // advance() reports what was stepped since its last call, replies' intervals included.
    expect(driver.advance(0)).toBeCloseTo(0.04, 12);
    // Speed 2: 10 ms of wall time is one 20 ms interval.
    driver.speed = 2;
    expect(driver.advance(0.01)).toBeCloseTo(0.02, 12);
    fake.answer();
    // Paused: no time is owed and no interval starts.
    paused = true;
    expect(driver.advance(0.5)).toBe(0);
    await settle();
    expect(fake.queue).toHaveLength(0);
    paused = false;
    expect(driver.advance(0.005)).toBe(0);
  });
});

describe("PolicyDriver errors and connections", () => {
  it("shows a server error and goes on; a refused step restarts the episode where the robot is", async () => {
    const { fake, driver, data } = await setup({}, { autoAnswer: false });
    await until(() => fake.queue.length === 1, "the first step");
    fake.socket.deliver({ type: "error", code: "bad_command", message: "3 values", seq: null });
    expect(driver.snapshot().error).toBe("bad_command: 3 values");
    expect(driver.phase).toBe("playing");
    expect(resets(fake.socket.received)).toHaveLength(1);

    const { seq } = fake.queue[0];
    fake.queue.length = 0;
    const qpos = list(data.qpos as Float64Array);
    fake.socket.deliver({ type: "error", code: "bad_state", message: "NaN in qvel", seq });
    const r = resets(fake.socket.received);
    expect(r).toHaveLength(2);
    const reset = r[1] as Extract<Received, { type: "reset" }>;
    expect(reset.seed).toBe(0);
    expect(list(reset.state?.qpos ?? new Float64Array())).toEqual(qpos);
    await until(() => fake.queue.length === 1, "a step after the recovery");
    expect(driver.snapshot().fatal).toBe(false);
  });

  it("closes with a clear error for a protocol version it does not know", async () => {
    const { fake, driver } = await setup({}, { hello: fixtureHello({ version: 2 }) });
    await until(() => driver.phase === "stopped", "the refusal");
    const s = driver.snapshot();
    expect(s.fatal).toBe(true);
    expect(s.error).toMatch(/protocol version 2; this UI knows version 1/);
    expect(fake.socket.closedWith?.code).toBe(1000);
    expect(fake.socket.received).toEqual([]);
  });

  it("refuses a policy for a different model", async () => {
    const { driver } = await setup({}, { hello: fixtureHello({ nq: 9, nu: 3 }) });
    await until(() => driver.phase === "stopped", "the refusal");
    expect(driver.snapshot().error).toMatch(/different model: nq 9 \(model here: 8\), nu 3/);
  });

  it("refuses a policy for another scene than the one shown", async () => {
    const { driver } = await setup({ sceneId: "Other" });
    await until(() => driver.phase === "stopped", "the refusal");
    expect(driver.snapshot().error).toBe(
      "The policy plays scene Fixture, not the Other shown here",
    );
  });

  for (const [code, text] of [
    [4404, /not in the library any more.*: gone/],
    [4422, /cannot be played here: scene missing/],
    [4428, /has not been reviewed: read it first/],
  ] as const) {
    it(`stops on close code ${code}`, async () => {
      const { fake, driver } = await setup({}, { autoAnswer: false });
      await until(() => driver.phase === "playing", "the episode");
      const reasons = { 4404: "gone", 4422: "scene missing", 4428: "read it first" };
      fake.socket.serverClose(code, reasons[code]);
      expect(driver.phase).toBe("stopped");
      expect(driver.snapshot().error).toMatch(text);
      await settle();
      expect(fake.sockets).toHaveLength(1);
    });
  }

  it("reconnects after the worker died and resumes from the current state", async () => {
    const { fake, driver, data } = await setup({}, { autoAnswer: false });
    await until(() => fake.queue.length === 1, "the first step");
    fake.answer();
    await until(() => fake.queue.length === 1, "the second step");
    fake.queue.length = 0;
    const qpos = list(data.qpos as Float64Array);
    const time = data.time;
    fake.socket.serverClose(1011, "inference worker exited");
    expect(driver.phase).toBe("reconnecting");
    expect(driver.owning).toBe(false);
    await until(
      () => fake.sockets.length === 2 && fake.queue.length === 1,
      "a step on the new socket",
    );
    const [reset] = fake.sockets[1].received as Extract<Received, { type: "reset" }>[];
    expect(reset.type).toBe("reset");
    expect(list(reset.state?.qpos ?? new Float64Array())).toEqual(qpos);
    expect(reset.state?.time).toBe(time);
    // The robot did not jump: the first new interval starts where the old one ended.
    const step = fake.sockets[1].received[1] as Extract<Received, { type: "step" }>;
    expect(step.after.time).toBeCloseTo(time + 0.02, 12);
    expect(driver.snapshot().episodes).toBe(2);
  });

  it("treats a step left unanswered as a lost worker and reconnects", async () => {
    let clock = 0;
    const { fake, driver } = await setup(
      { pacing: "realtime", now: () => clock, replyTimeoutMs: 5000 },
      { autoAnswer: false },
    );
    await until(() => driver.phase === "playing", "the episode");
    driver.advance(0.02);
    expect(fake.queue).toHaveLength(1);
    clock += 4000;
    driver.advance(0.004);
    expect(driver.phase).toBe("playing");
    clock += 2000;
    driver.advance(0.004);
    expect(driver.phase).toBe("reconnecting");
    expect(driver.snapshot().error).toMatch(/did not answer for 6 s/);
    expect(fake.sockets[0].closedWith?.code).toBe(1000);
    await until(() => driver.phase === "playing" && fake.sockets.length === 2, "the new session");
  });

  it("gives up on a connection that never opens", async () => {
    const { fake, driver } = await setup({}, {});
    fake.socket.serverClose(1006);
    expect(driver.phase).toBe("stopped");
    expect(driver.snapshot().error).toMatch(/Could not connect.*1006/);
  });

  it("stops for good on a refused token (4401), saying what to do", async () => {
    const { fake, driver } = await setup({}, {});
    fake.socket.serverClose(4401, "bad token");
    await settle();
    expect(driver.phase).toBe("stopped");
    expect(driver.snapshot().fatal).toBe(true);
    expect(driver.snapshot().error).toMatch(
      /refused the token: open the URL that robocoach printed: bad token/,
    );
    expect(fake.sockets).toHaveLength(1); // no reconnect
  });

  it("checks hello.nmocap against the model", async () => {
    const wrong = await setup({}, { hello: fixtureHello({ nmocap: 2 }) });
    await until(() => wrong.driver.phase === "stopped", "the refusal");
    expect(wrong.driver.snapshot().error).toMatch(/nmocap 2 \(model here: 1\)/);
    const right = await setup({ maxSteps: 2 }, { hello: fixtureHello({ nmocap: 1 }) });
    await until(() => right.driver.phase === "ended", "two steps");
  });

  it("clips commands to the policy's range and sends them", async () => {
    const { fake, driver } = await setup({}, { autoAnswer: false });
    await until(() => driver.phase === "playing", "the episode");
    expect(driver.setCommand([5, -0.5])).toEqual([1, -0.5]);
    expect(driver.setCommand([Number.NaN, -9])).toEqual([0, -2]);
    expect(fake.command).toEqual([0, -2]);
  });

  it("sends a schedule after hello and before the first reset, again after a reconnect, and clears it when the user drives", async () => {
    const schedule = { segments: [{ duration_s: 1, command: { x: 0.5 }, label: "go" }] };
    const { fake, driver } = await setup({}, { autoAnswer: false });
    driver.setSchedule(schedule);
    await until(() => driver.phase === "playing", "the episode");
    const first = fake.socket.received;
    expect(first.slice(0, 2).map((m) => m.type)).toEqual(["schedule", "reset"]);
    expect(first[0]).toEqual({ type: "schedule", schedule });
    // A new session (the worker died) knows nothing of it: it is sent again before the reset.
    fake.queue.length = 0;
    fake.socket.serverClose(1011, "inference worker exited");
    await until(() => fake.sockets.length === 2 && driver.phase === "playing", "the new episode");
    expect(fake.sockets[1].received.slice(0, 2).map((m) => m.type)).toEqual(["schedule", "reset"]);
    // The pad's command takes over: the schedule is cleared first, then the command sent.
    const r = fake.sockets[1].received;
    driver.setCommand([0.2, 0]);
    expect(r.slice(-2)).toEqual([
      { type: "schedule", schedule: null },
      { type: "command", values: [0.2, 0] },
    ]);
    // Cleared stays cleared: a later command sends no schedule.
    driver.setCommand([0.1, 0]);
    expect(r.at(-2)?.type).toBe("command");
  });
});

describe("PolicyDriver in a training job's live preview", () => {
  it("shows which params play; newer ones arrive mid-episode and the episode goes on", async () => {
    const { fake, driver } = await setup({ preview: true }, { autoAnswer: false });
    await until(() => fake.queue.length === 1, "the first step");
    expect(driver.snapshot().policy).toBeNull();
    fake.socket.deliver(policyUpdate());
    expect(driver.snapshot().policy).toMatchObject({ step: 0, evaluation: 0 });
    fake.answer();
    await until(() => fake.queue.length === 1, "the second step");
    const swapped = policyUpdate({ step: 40_960, evaluation: 2, eval_reward: 12.5 });
    fake.socket.deliver(swapped);
    expect(driver.snapshot().policy).toEqual(swapped);
    // No reset: the step in flight is answered and the episode keeps its count and step.
    expect(driver.phase).toBe("playing");
    fake.answer();
    await until(() => fake.queue.length === 1, "the third step");
    expect(resets(fake.socket.received)).toHaveLength(1);
    expect(driver.snapshot()).toMatchObject({ episodes: 1, step: 2, error: null });
    // A skipped checkpoint only adds a note: the same params keep playing.
    fake.socket.deliver({ ...swapped, note: "checkpoint at step 81920 skipped: NaN" });
    expect(driver.snapshot().policy?.note).toMatch(/skipped/);
    expect(driver.phase).toBe("playing");
  });

  it("ends cleanly when the job ends: no error and no reconnect", async () => {
    const { fake, driver } = await setup({ preview: true }, { autoAnswer: false });
    await until(() => driver.phase === "playing", "the episode");
    fake.socket.deliver(policyUpdate({ ended: true, note: "Training cancelled." }));
    expect(driver.snapshot().policy?.ended).toBe(true);
    fake.socket.serverClose(1000, "job ended");
    expect(driver.phase).toBe("ended");
    expect(driver.owning).toBe(false); // the page's physics takes over
    expect(driver.snapshot()).toMatchObject({
      status: "Training cancelled.",
      error: null,
      fatal: false,
    });
    await settle();
    expect(fake.sockets).toHaveLength(1);
  });

  it("ends cleanly when the job is unknown (4404); a lost connection before the end reconnects", async () => {
    const { fake, driver } = await setup({ preview: true }, { autoAnswer: false });
    await until(() => driver.phase === "playing", "the episode");
    fake.socket.serverClose(1006);
    expect(driver.phase).toBe("reconnecting");
    await until(() => fake.sockets.length === 2, "the new socket");
    fake.socket.serverClose(4404, "job job-1 is not running");
    expect(driver.phase).toBe("ended");
    expect(driver.snapshot()).toMatchObject({ status: "job job-1 is not running", fatal: false });
  });

  it("ends cleanly when the job ended before it had params to show (4422)", async () => {
    const { fake, driver } = await setup({ preview: true }, { autoAnswer: false });
    fake.socket.serverClose(4422, "the job is failed and never wrote a policy to preview");
    expect(driver.phase).toBe("ended");
    expect(driver.snapshot()).toMatchObject({ status: /never wrote a policy/, error: null });
    await settle();
    expect(fake.sockets).toHaveLength(1);
  });
});

describe("quantile", () => {
  it("interpolates between order statistics", () => {
    expect(quantile([3, 1, 2], 0.5)).toBe(2);
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    // p99 of 1..101: position 0.99 * 100 = 99 -> the 100th value
    expect(
      quantile(
        [...Array(101).keys()].map((i) => i + 1),
        0.99,
      ),
    ).toBe(100);
    expect(quantile([], 0.5)).toBeNaN();
  });
});
