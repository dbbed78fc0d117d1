/**
 * Test helper: an in-memory socket that answers like the inference server (status, hello, episode,
 * action) without any policy: its "policy" is a fixed function of the state it is sent.
 */

import { decode } from "@msgpack/msgpack";
import type { SocketLike } from "./driver";
import {
  bytesToFloats,
  type ClientMessage,
  encodeServer,
  type HelloMessage,
  type PhysicsState,
  type PolicyUpdateMessage,
  type ServerMessage,
} from "./protocol";

/** `T` with every optional field present, as the server's decoder sees a frame (defaults filled in). */
type Filled<T> = T extends Float64Array
  ? T
  : T extends object
    ? { [K in keyof T]-?: Filled<Exclude<T[K], undefined>> }
    : T;

/** A client frame decoded with its float arrays as Float64Arrays. */
export type Received = Filled<ClientMessage>;

function state(raw: Record<string, unknown>): Filled<PhysicsState> {
  return {
    qpos: bytesToFloats(raw.qpos as Uint8Array),
    qvel: bytesToFloats(raw.qvel as Uint8Array),
    act: bytesToFloats(raw.act as Uint8Array),
    time: raw.time as number,
    qacc_warmstart: bytesToFloats(raw.qacc_warmstart as Uint8Array),
  };
}

export function decodeClientFrame(frame: Uint8Array): Received {
  const raw = decode(frame) as Record<string, unknown>;
  switch (raw.type) {
    case "reset":
      return {
        type: "reset",
        seed: raw.seed as number,
        state: raw.state ? state(raw.state as Record<string, unknown>) : null,
      };
    case "step":
      return {
        type: "step",
        seq: raw.seq as number,
        before: state(raw.before as Record<string, unknown>),
        after: state(raw.after as Record<string, unknown>),
      };
    case "command":
      return { type: "command", values: raw.values as number[] };
    case "schedule":
      return { type: "schedule", schedule: raw.schedule } as Received;
    default:
      throw new Error(`not a client frame: ${String(raw.type)}`);
  }
}

/** The hello the fake sends for the `actuated.mjb` fixture (nq 8, nv 7, na 1, nu 2, nmocap 1, 4 ms steps). */
export function fixtureHello(overrides: Partial<HelloMessage> = {}): HelloMessage {
  return {
    type: "hello",
    version: 1,
    policy_id: "pol-1",
    scene_id: "Fixture",
    ctrl_dt: 0.02,
    timestep: 0.004,
    substeps: 5,
    nq: 8,
    nv: 7,
    na: 1,
    nu: 2,
    nmocap: 1,
    send: ["qpos", "qvel", "act", "time", "qacc_warmstart"],
    reward_terms: ["upright", "effort"],
    weights: [1, -0.5],
    episode_length: 50,
    command: {
      names: ["x", "yaw"],
      low: [-1, -2],
      high: [1, 2],
      keys: ["x", "yaw"],
      units: ["m/s", "rad/s"],
    },
    ...overrides,
  };
}

/** A live preview's policy update (the fake's job: 300k steps), with `overrides`. */
export function policyUpdate(overrides: Partial<PolicyUpdateMessage> = {}): PolicyUpdateMessage {
  return {
    type: "policy",
    job_id: "job-1",
    step: 0,
    total_steps: 300_000,
    evaluation: 0,
    eval_reward: null,
    check_passed: null,
    check_score: null,
    ended: false,
    note: "",
    ...overrides,
  };
}

/** The fake policy: ctrl from the state after the interval (pole angle qpos[7], velocity qvel[6]). */
export function fakePolicy(after: PhysicsState): Float64Array {
  return new Float64Array([-2 * after.qpos[7] - 0.3 * after.qvel[6], 0.5]);
}

/** The initial state of the fake env's reset for `seed`. */
export function fakeInitial(seed: number) {
  return {
    qpos: new Float64Array([0, 0, 0.6, 1, 0, 0, 0, 0.2 + 0.01 * seed]),
    qvel: new Float64Array([0, 0, 0, 0, 0, 0, 0.5]),
    act: new Float64Array([0.1]),
    time: 0,
    mocap_pos: new Float64Array([0.3, 1, 1.2]),
    mocap_quat: new Float64Array([1, 0, 0, 0]),
    ctrl: new Float64Array([0.25, -0.5]),
  };
}

export class FakeSocket implements SocketLike {
  binaryType = "blob";
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  readonly received: Received[] = [];
  closedWith: { code?: number; reason?: string } | null = null;

  constructor(private readonly server: FakeServer) {}

  send(data: Uint8Array): void {
    if (this.closedWith) throw new Error("send on a closed socket");
    const message = decodeClientFrame(data);
    this.received.push(message);
    this.server.handle(this, message);
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
  }

  /** Delivers a server message (now). */
  deliver(message: ServerMessage): void {
    this.onmessage?.({ data: encodeServer(message).slice().buffer } as MessageEvent);
  }

  /** The server closes the connection. */
  serverClose(code: number, reason = ""): void {
    this.closedWith = { code, reason };
    this.onclose?.({ code, reason } as CloseEvent);
  }
}

export interface FakeServerOptions {
  hello?: HelloMessage;
  /** Answer each step at once (default); off: the test calls answer() itself. */
  autoAnswer?: boolean;
}

/** One fake inference server; `connect` opens a socket to it (pass it as DriverOptions.connect). */
export class FakeServer {
  readonly sockets: FakeSocket[] = [];
  hello: HelloMessage;
  autoAnswer: boolean;
  /** Steps received and not yet answered (autoAnswer off). */
  readonly queue: { socket: FakeSocket; seq: number; after: PhysicsState }[] = [];
  episodeReturn = 0;
  step = 0;
  command: number[] = [0, 0];

  constructor(options: FakeServerOptions = {}) {
    this.hello = options.hello ?? fixtureHello();
    this.autoAnswer = options.autoAnswer ?? true;
  }

  get socket(): FakeSocket {
    return this.sockets[this.sockets.length - 1];
  }

  readonly connect = (): FakeSocket => {
    const socket = new FakeSocket(this);
    this.sockets.push(socket);
    setTimeout(() => {
      socket.deliver({ type: "status", phase: "compiling", message: "Compiling policy…" });
      socket.deliver({ type: "status", phase: "ready", message: "" });
      socket.deliver(this.hello);
    }, 0);
    return socket;
  };

  handle(socket: FakeSocket, message: Received): void {
    if (message.type === "reset") {
      this.step = 0;
      this.episodeReturn = 0;
      const init = fakeInitial(message.seed);
      const s = message.state;
      setTimeout(
        () =>
          socket.deliver({
            type: "episode",
            ...init,
            ...(s ? { qpos: s.qpos, qvel: s.qvel, act: s.act, time: s.time } : {}),
            command: this.command,
          }),
        0,
      );
    } else if (message.type === "step") {
      this.queue.push({ socket, seq: message.seq, after: message.after });
      if (this.autoAnswer) setTimeout(() => this.answer(), 0);
    } else if (message.type === "command") {
      this.command = message.values;
    }
  }

  /** Answers the oldest queued step. Reward: 1 - angle^2 per step; done at episode_length. */
  answer(): void {
    const next = this.queue.shift();
    if (!next) throw new Error("no step to answer");
    const { socket, seq, after } = next;
    const upright = 1 - after.qpos[7] ** 2;
    const ctrl = fakePolicy(after);
    const effort = ctrl[0] ** 2 + ctrl[1] ** 2;
    const reward = upright - 0.5 * effort;
    this.step += 1;
    this.episodeReturn += reward;
    socket.deliver({
      type: "action",
      seq,
      ctrl,
      reward,
      terms: [upright, effort],
      task_reward: upright,
      episode_return: this.episodeReturn,
      step: this.step,
      done: this.step >= this.hello.episode_length,
      command: this.command,
    });
  }
}
