/**
 * Drives one MuJoCo model/data through one live policy session (docs/INFERENCE_PROTOCOL.md).
 *
 * No DOM, no React: runs in the browser and in Node. The driver owns stepping of `data` while an
 * episode plays (the caller's free-running physics must not step it then: see `owning`); everything
 * that should happen before each physics substep (mouse perturbation forces) goes in `stepPhysics`.
 *
 * One control interval: apply the last ctrl, run `substeps - 1` physics steps, copy the state as
 * `before`, run the last step, copy `after`, send `step {seq, before, after}`, wait for `action`. Only
 * one step is ever in flight: a late reply makes the simulation wait, never run on stale controls.
 */

import type { MjData, MjModel } from "@mujoco/mujoco";
import type { CommandSchedule } from "../api/wire.gen";
import type { Mujoco } from "../sim/mujoco";
import {
  type ActionMessage,
  CLOSE_NEEDS_REVIEW,
  CLOSE_UNAUTHORIZED,
  CLOSE_UNKNOWN_MODEL,
  CLOSE_UNPLAYABLE,
  CLOSE_WORKER_FAILED,
  type ClientMessage,
  decodeServer,
  type EpisodeMessage,
  type ErrorMessage,
  encodeClient,
  type HelloMessage,
  type PhysicsState,
  type PolicyUpdateMessage,
  PROTOCOL_VERSION,
  ProtocolError,
  STATE_FIELDS,
} from "./protocol";

/** The parts of a WebSocket the driver uses (the browser's, Node's, or a test fake). */
export interface SocketLike {
  binaryType: string;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onmessage: ((event: MessageEvent) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
}

export type Phase =
  | "connecting" // socket opened, nothing heard yet
  | "compiling" // the server compiles the policy; physics runs freely
  | "starting" // hello received, reset sent, waiting for the episode
  | "playing" // an episode runs
  | "resetting" // reset sent (episode done, user reset, or recovery), waiting for the episode
  | "reconnecting" // the worker or connection was lost; a new socket comes
  | "ended" // the episode ended and autoReset is off, or maxSteps was reached
  | "stopped"; // closed for good (stop() or a fatal error)

export interface DriverOptions {
  /** Opens a new socket to the session (called again to reconnect). */
  connect: () => SocketLike;
  /** One physics step; default mj_step. The UI passes one that applies perturbation forces first. */
  stepPhysics?: () => void;
  /** "realtime": the caller paces with advance(); "asap": the next interval runs on every reply. */
  pacing?: "realtime" | "asap";
  /** The scene the caller loaded; a hello for another scene is refused. */
  sceneId?: string;
  /** Seed of the first episode; each later reset uses the next. */
  seed?: number;
  /** Start a new episode when one is done (the UI); off: stop at done (a measurement). */
  autoReset?: boolean;
  /**
   * With autoReset: hold the finished episode's last state and readouts this long (ms, phase
   * "resetting", status "Episode over") before the next reset, so a viewer can read how it ended.
   */
  endPauseMs?: number;
  /** Stop (phase "ended") after this many control steps. */
  maxSteps?: number;
  /** Replies whose round trip is kept for the latency readout. */
  latencyWindow?: number;
  /**
   * "realtime" only: a step unanswered this long (ms) counts as a lost worker (reconnect). Default 20 s.
   */
  replyTimeoutMs?: number;
  /** Reconnect attempts in a row before giving up. */
  maxReconnects?: number;
  reconnectDelayMs?: (attempt: number) => number;
  /** True while the user paused the simulation: no interval starts. */
  isPaused?: () => boolean;
  /** Monotonic clock, ms. */
  now?: () => number;
  /** Called after every action (with its round trip, ms) and on phase changes and errors. */
  onAction?: (action: ActionMessage, latencyMs: number) => void;
  onChange?: (driver: PolicyDriver) => void;
  /** setTimeout, injectable for tests. */
  setTimer?: (fn: () => void, ms: number) => unknown;
  /**
   * A training job's live preview (WS /api/jobs/{job_id}/preview): the server swaps newer params in
   * mid-episode and says so (`policy`), and the job's end ends the session cleanly, not as an error.
   */
  preview?: boolean;
}

/** What the playback panel shows; plain data, safe to hold in React state. */
export interface PlaybackSnapshot {
  phase: Phase;
  /** One line for the status readout. */
  status: string;
  hello: HelloMessage | null;
  /** Episodes started in this session. */
  episodes: number;
  seed: number;
  step: number;
  episodeReturn: number;
  reward: number;
  taskReward: number;
  /** Unweighted values, in hello.reward_terms order. */
  terms: number[];
  command: number[] | null;
  /** Median round trip of the recent steps, ms (NaN before the first). */
  latencyP50: number;
  /** A live preview: the params playing now (the latest `policy` message); null otherwise. */
  policy: PolicyUpdateMessage | null;
  /** The last error the server reported (the session went on), or a fatal one. */
  error: string | null;
  fatal: boolean;
}

/** The q-th quantile (0..1) of `values`, by linear interpolation; NaN for none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * The close codes that end playback for good. A foreign Host/Origin is refused before the handshake,
 * so the page sees 1006 for it (handled as a connection that never opened).
 */
const CLOSE_MESSAGES: Record<number, string> = {
  [CLOSE_UNKNOWN_MODEL]: "This policy is not in the library any more (deleted?)",
  [CLOSE_UNPLAYABLE]: "This policy cannot be played here",
  [CLOSE_NEEDS_REVIEW]: "This imported policy's reward program has not been reviewed",
  [CLOSE_UNAUTHORIZED]: "The server refused the token: open the URL that robocoach printed",
};

/** A live preview's close codes that end it for people, not as a failure: 4404 unknown job, 4422 a
 * job that ended before it wrote params to preview. */
const PREVIEW_ENDS: readonly number[] = [CLOSE_UNKNOWN_MODEL, CLOSE_UNPLAYABLE];

export class PolicyDriver {
  readonly mj: Mujoco;
  readonly model: MjModel;
  readonly data: MjData;
  /** Wall-clock speed factor of "realtime" pacing (0.25 to 4). */
  speed = 1;

  private readonly options: DriverOptions;
  private readonly stepPhysics: () => void;
  private readonly now: () => number;
  private socket: SocketLike | null = null;
  private phaseValue: Phase = "connecting";
  private statusText = "Connecting…";
  private helloMessage: HelloMessage | null = null;
  private ctrl: Float64Array | null = null;
  private seq = 0;
  private pending: { seq: number; sentAt: number } | null = null;
  private debt = 0; // simulated seconds owed to the wall clock ("realtime")
  private simulated = 0; // simulated seconds this driver stepped, in total
  private reported = 0; // `simulated` at the last advance()
  private seedValue: number;
  private episodeCount = 0;
  private hadEpisode = false;
  private stateReset = false; // the reset in flight carries the browser's state
  private failures = 0; // errors in a row that cost the episode
  private reconnects = 0; // reconnect attempts since the last episode
  private userCommand: number[] | null = null;
  // The command tier's schedule: sent after every hello (a reconnect starts a fresh session) and
  // played by the server from each episode's start; null when the user drives the command.
  private schedule: CommandSchedule | null = null;
  private holdToken = 0; // the end-of-episode hold in progress; any reset cancels it
  private readonly latencies: number[] = [];
  private last = {
    step: 0,
    episodeReturn: 0,
    reward: 0,
    taskReward: 0,
    terms: [] as number[],
    command: null as number[] | null,
  };
  private errorText: string | null = null;
  private fatalError = false;
  private policyUpdate: PolicyUpdateMessage | null = null;

  constructor(mj: Mujoco, model: MjModel, data: MjData, options: DriverOptions) {
    this.mj = mj;
    this.model = model;
    this.data = data;
    this.options = options;
    this.stepPhysics = options.stepPhysics ?? (() => mj.mj_step(model, data));
    this.now = options.now ?? (() => performance.now());
    this.seedValue = options.seed ?? 0;
    this.open();
  }

  get phase(): Phase {
    return this.phaseValue;
  }

  get hello(): HelloMessage | null {
    return this.helloMessage;
  }

  /** True while the driver steps `data`: the caller's free-running physics must leave it alone. */
  get owning(): boolean {
    return (
      this.phaseValue === "starting" ||
      this.phaseValue === "playing" ||
      this.phaseValue === "resetting"
    );
  }

  /** Round trips of the recent steps, ms, oldest first. */
  get recentLatencies(): readonly number[] {
    return this.latencies;
  }

  snapshot(): PlaybackSnapshot {
    return {
      phase: this.phaseValue,
      status: this.statusText,
      hello: this.helloMessage,
      episodes: this.episodeCount,
      seed: this.seedValue,
      step: this.last.step,
      episodeReturn: this.last.episodeReturn,
      reward: this.last.reward,
      taskReward: this.last.taskReward,
      terms: [...this.last.terms],
      command: this.last.command && [...this.last.command],
      latencyP50: quantile(this.latencies, 0.5),
      policy: this.policyUpdate,
      error: this.errorText,
      fatal: this.fatalError,
    };
  }

  /**
   * Paces "realtime" playback: call with the wall seconds since the last call. Starts the next
   * interval when one ctrl_dt (scaled by `speed`) is due and no reply is outstanding. Returns the
   * simulated seconds stepped since the last call (intervals started by replies included).
   */
  advance(wallSeconds: number): number {
    const pending = this.pending;
    if (pending && this.now() - pending.sentAt > (this.options.replyTimeoutMs ?? 20_000)) {
      // A worker that hangs without dying: drop the connection and resume on a new one.
      const waited = ((this.now() - pending.sentAt) / 1000).toFixed(0);
      this.closeSocket(1000, "no reply");
      this.closed(CLOSE_WORKER_FAILED, `no reply for ${waited} s`);
      this.errorText = `The policy did not answer for ${waited} s`;
    }
    const hello = this.helloMessage;
    if (hello && this.phaseValue === "playing" && !this.options.isPaused?.()) {
      // Owe at most two intervals: a stall must not turn into a fast-forward burst.
      this.debt = Math.min(this.debt + Math.max(0, wallSeconds) * this.speed, 2 * hello.ctrl_dt);
      this.pump();
    } else {
      this.debt = 0;
    }
    const stepped = this.simulated - this.reported;
    this.reported = this.simulated;
    return stepped;
  }

  /** Starts a new episode (the next seed); the robot goes to the env's initial state. */
  resetEpisode(): void {
    if (!this.helloMessage || !this.socket || this.phaseValue === "stopped") return;
    this.seedValue += 1;
    this.sendReset(false);
  }

  /**
   * Drives the command from a schedule (the server clips it and replies with a status); null clears
   * it. Kept for reconnects; sent at once when the session is up.
   */
  setSchedule(schedule: CommandSchedule | null): void {
    const had = this.schedule !== null;
    this.schedule = schedule;
    if (this.helloMessage && this.socket && (schedule || had)) {
      this.send({ type: "schedule", schedule });
    }
  }

  /** Sends a command, each value clipped to hello.command's range. Returns the values sent. */
  setCommand(values: readonly number[]): number[] | null {
    const spec = this.helloMessage?.command;
    if (!spec) return null;
    // The user's own command takes over from a schedule.
    if (this.schedule) this.setSchedule(null);
    const clipped = spec.names.map((_, i) =>
      Math.min(spec.high[i], Math.max(spec.low[i], Number.isFinite(values[i]) ? values[i] : 0)),
    );
    this.userCommand = clipped;
    if (this.hadEpisode && this.socket) this.send({ type: "command", values: clipped });
    return clipped;
  }

  /** Closes the session for good; the caller's free-running physics takes over again. */
  stop(): void {
    if (this.phaseValue === "stopped") return;
    this.setPhase("stopped", "Stopped");
    this.closeSocket(1000, "playback stopped");
  }

  // Connection ------------------------------------------------------------------------------------

  private open(): void {
    let socket: SocketLike;
    try {
      socket = this.options.connect();
    } catch (error) {
      this.fail(`Could not open the playback connection: ${messageOf(error)}`);
      return;
    }
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    socket.onmessage = (event) => {
      if (this.socket === socket) this.receive(event.data);
    };
    socket.onclose = (event) => {
      if (this.socket === socket) this.closed(event.code, event.reason);
    };
    socket.onerror = () => {}; // a close event follows with the code
  }

  private closeSocket(code: number, reason: string): void {
    const socket = this.socket;
    this.socket = null;
    this.pending = null;
    if (!socket) return;
    socket.onmessage = null;
    socket.onclose = null;
    socket.onerror = null;
    try {
      socket.close(code, reason);
    } catch {
      // already closed
    }
  }

  private closed(code: number, reason: string): void {
    this.socket = null;
    this.pending = null;
    if (this.options.preview && (this.policyUpdate?.ended || PREVIEW_ENDS.includes(code))) {
      // The job ended (or is unknown, or ended before it had params to show): no newer params will
      // come, and a reconnect would find none. The robot stays where it is.
      const note = this.policyUpdate?.ended ? this.policyUpdate.note : reason;
      this.setPhase("ended", note || "The training job is not running");
      return;
    }
    const known = CLOSE_MESSAGES[code];
    if (known) {
      this.fail(reason ? `${known}: ${reason}` : known);
      return;
    }
    if (this.phaseValue === "ended") return;
    // The worker died (1011), or a live connection dropped: a new one resumes where the robot is.
    const live = this.helloMessage !== null;
    if (
      (code === CLOSE_WORKER_FAILED || live) &&
      this.reconnects < (this.options.maxReconnects ?? 3)
    ) {
      this.reconnects += 1;
      this.helloMessage = null;
      const why = code === CLOSE_WORKER_FAILED ? "The policy worker stopped" : "Connection lost";
      this.setPhase("reconnecting", `${why}; reconnecting…`);
      const delay = this.options.reconnectDelayMs?.(this.reconnects) ?? 500 * this.reconnects;
      const timer = this.options.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
      timer(() => {
        if (this.phaseValue === "reconnecting") this.open();
      }, delay);
      return;
    }
    const detail = `${code}${reason ? ` ${reason}` : ""}`;
    this.fail(
      live
        ? `The playback connection closed (${detail})`
        : `Could not connect to the policy server (${detail})`,
    );
  }

  // Messages --------------------------------------------------------------------------------------

  private send(message: ClientMessage): void {
    this.socket?.send(encodeClient(message));
  }

  private receive(data: unknown): void {
    if (this.phaseValue === "stopped") return;
    try {
      if (!(data instanceof ArrayBuffer || data instanceof Uint8Array)) {
        throw new ProtocolError("the server sent a text frame; the protocol uses binary frames");
      }
      const message = decodeServer(data);
      switch (message.type) {
        case "status":
          if (message.phase === "compiling") {
            this.setPhase("compiling", message.message || "Compiling policy…");
          } else {
            // Also the reply to a schedule: it says what will play and what was clipped.
            this.setPhase(this.phaseValue, message.message || "Policy ready");
          }
          return;
        case "hello":
          this.onHello(message);
          return;
        case "episode":
          this.onEpisode(message);
          return;
        case "action":
          this.onAction(message);
          return;
        case "error":
          this.onError(message);
          return;
        case "policy":
          this.onPolicy(message);
          return;
      }
    } catch (error) {
      this.fail(
        error instanceof ProtocolError ? `Protocol error: ${error.message}` : messageOf(error),
      );
    }
  }

  /**
   * A live preview's params changed (or a checkpoint was skipped, or the job ended). Nothing to do to
   * the episode: the server swapped the params in and the robot keeps going.
   */
  private onPolicy(update: PolicyUpdateMessage): void {
    this.policyUpdate = update;
    this.options.onChange?.(this);
  }

  private onHello(hello: HelloMessage): void {
    if (hello.version !== PROTOCOL_VERSION) {
      this.fail(
        `The server speaks playback protocol version ${hello.version}; this UI knows version ${PROTOCOL_VERSION}. Update Robocoach on both sides.`,
      );
      return;
    }
    const expected = this.options.sceneId;
    if (expected && hello.scene_id !== expected) {
      this.fail(`The policy plays scene ${hello.scene_id}, not the ${expected} shown here`);
      return;
    }
    const m = this.model;
    const sizes: [string, number, number][] = [
      ["nq", hello.nq, m.nq],
      ["nv", hello.nv, m.nv],
      ["na", hello.na, m.na],
      ["nu", hello.nu, m.nu],
      ["nmocap", hello.nmocap, m.nmocap],
    ];
    const wrong = sizes.filter(([, theirs, ours]) => theirs !== ours);
    if (wrong.length > 0) {
      const list = wrong.map(([n, theirs, ours]) => `${n} ${theirs} (model here: ${ours})`);
      this.fail(`The policy was trained on a different model: ${list.join(", ")}`);
      return;
    }
    if (Math.abs(hello.timestep - m.opt.timestep) > 1e-12 * Math.max(1, hello.timestep)) {
      this.fail(
        `The policy's timestep ${hello.timestep} differs from the model's ${m.opt.timestep}`,
      );
      return;
    }
    const unknown = hello.send.filter((f) => !(STATE_FIELDS as readonly string[]).includes(f));
    if (hello.substeps < 1 || unknown.length > 0) {
      this.fail(`The server asks for a state this UI cannot send (${unknown.join(", ")})`);
      return;
    }
    this.helloMessage = hello;
    this.debt = 0;
    // Before the first Reset, so the schedule plays from the episode's start.
    if (this.schedule && hello.command) this.send({ type: "schedule", schedule: this.schedule });
    // After a reconnect the robot stays where it is; a first connection takes the env's reset.
    this.stateReset = this.hadEpisode;
    this.sendReset(this.stateReset, "starting");
  }

  /** Shows the finished episode (nothing steps) for `ms`, then starts the next one. */
  private holdThenReset(ms: number): void {
    const token = ++this.holdToken;
    this.pending = null;
    this.setPhase("resetting", "Episode over");
    const timer = this.options.setTimer ?? ((fn, delay) => setTimeout(fn, delay));
    timer(() => {
      if (this.holdToken === token && this.phaseValue === "resetting" && this.socket) {
        this.sendReset(false);
      }
    }, ms);
  }

  private sendReset(withState: boolean, phase: Phase = "resetting"): void {
    this.holdToken += 1;
    this.pending = null;
    this.stateReset = withState;
    const state = withState ? this.capture() : undefined;
    this.setPhase(phase, withState ? "Resuming…" : "Starting an episode…");
    this.send({ type: "reset", seed: this.seedValue, state });
  }

  private onEpisode(episode: EpisodeMessage): void {
    if (this.phaseValue !== "starting" && this.phaseValue !== "resetting") return;
    const { mj, model, data } = this;
    const sizes: [string, Float64Array, number][] = [
      ["qpos", episode.qpos, model.nq],
      ["qvel", episode.qvel, model.nv],
      ["act", episode.act, model.na],
      ["ctrl", episode.ctrl, model.nu],
      ["mocap_pos", episode.mocap_pos, 3 * model.nmocap],
      ["mocap_quat", episode.mocap_quat, 4 * model.nmocap],
    ];
    for (const [name, values, size] of sizes) {
      if (values.length !== size) {
        throw new ProtocolError(
          `episode.${name} has ${values.length} values; the model needs ${size}`,
        );
      }
    }
    mj.mj_resetData(model, data); // no warm start or other memory from before the episode
    data.qpos.set(episode.qpos);
    data.qvel.set(episode.qvel);
    if (model.na > 0) data.act.set(episode.act);
    if (model.nmocap > 0) {
      data.mocap_pos.set(episode.mocap_pos);
      data.mocap_quat.set(episode.mocap_quat);
    }
    data.ctrl.set(episode.ctrl);
    data.time = episode.time;
    mj.mj_forward(model, data);
    this.ctrl = episode.ctrl;
    this.hadEpisode = true;
    this.stateReset = false;
    this.reconnects = 0;
    this.episodeCount += 1;
    this.last = {
      step: 0,
      episodeReturn: 0,
      reward: 0,
      taskReward: 0,
      terms: this.helloMessage?.reward_terms.map(() => 0) ?? [],
      command: episode.command,
    };
    this.debt = 0;
    this.setPhase("playing", "Playing");
    if (this.userCommand) this.send({ type: "command", values: this.userCommand });
    this.pump();
  }

  private onAction(action: ActionMessage): void {
    const pending = this.pending;
    if (this.phaseValue !== "playing" || !pending || action.seq !== pending.seq) return; // stale
    const latency = this.now() - pending.sentAt;
    this.pending = null;
    if (action.ctrl.length !== this.model.nu) {
      throw new ProtocolError(
        `action.ctrl has ${action.ctrl.length} values; the model needs ${this.model.nu}`,
      );
    }
    this.ctrl = action.ctrl;
    this.data.ctrl.set(action.ctrl);
    this.failures = 0;
    this.latencies.push(latency);
    if (this.latencies.length > (this.options.latencyWindow ?? 100)) this.latencies.shift();
    this.last = {
      step: action.step,
      episodeReturn: action.episode_return,
      reward: action.reward,
      taskReward: action.task_reward,
      terms: action.terms,
      command: action.command ?? this.last.command,
    };
    this.options.onAction?.(action, latency);
    const max = this.options.maxSteps;
    if (action.done && !this.options.autoReset) {
      this.setPhase("ended", "Episode over");
    } else if (max !== undefined && action.step >= max) {
      this.setPhase("ended", `Stopped after ${action.step} steps`);
    } else if (action.done) {
      this.seedValue += 1;
      const hold = this.options.endPauseMs ?? 0;
      if (hold > 0) this.holdThenReset(hold);
      else this.sendReset(false);
    } else {
      this.options.onChange?.(this);
      this.pump();
    }
  }

  private onError(error: ErrorMessage): void {
    this.errorText = `${error.code}: ${error.message}`;
    const answersStep =
      this.phaseValue === "playing" &&
      this.pending !== null &&
      (error.seq === this.pending.seq || error.seq === null);
    const answersReset = this.phaseValue === "starting" || this.phaseValue === "resetting";
    if (error.code === "bad_command" || !(answersStep || answersReset)) {
      this.options.onChange?.(this);
      return;
    }
    // The step or reset in flight got no answer: start afresh, keeping the robot where it is unless
    // a reset with that very state was refused.
    this.failures += 1;
    if (this.failures > 3) {
      this.fail(`The server refused ${this.failures - 1} times in a row: ${this.errorText}`);
      return;
    }
    const keepState = !(answersReset && this.stateReset);
    this.sendReset(keepState && this.hadEpisode);
  }

  // Simulation ------------------------------------------------------------------------------------

  /** Starts the next interval when it is due (asap: always) and no reply is outstanding. */
  private pump(): void {
    const hello = this.helloMessage;
    if (!hello || this.phaseValue !== "playing" || this.pending || !this.socket) return;
    if (this.options.pacing === "asap") {
      this.interval(hello);
      return;
    }
    if (this.options.isPaused?.()) return;
    if (this.debt + 1e-9 >= hello.ctrl_dt) {
      this.debt -= hello.ctrl_dt;
      this.interval(hello);
    }
  }

  /** One control interval with the current ctrl; sends its step. */
  private interval(hello: HelloMessage): void {
    const { data } = this;
    if (this.ctrl) data.ctrl.set(this.ctrl);
    for (let i = 0; i < hello.substeps - 1; i++) this.stepPhysics();
    const before = this.capture();
    this.stepPhysics();
    const after = this.capture();
    this.simulated += hello.substeps * this.model.opt.timestep;
    const seq = this.seq++;
    this.pending = { seq, sentAt: this.now() };
    this.send({ type: "step", seq, before, after });
  }

  /**
   * A copy of the state the protocol carries (views into wasm memory go stale; copies do not), with
   * qacc_warmstart when the server asks for it (hello.send).
   */
  capture(): PhysicsState {
    const d = this.data;
    const state: PhysicsState = {
      qpos: Float64Array.from(d.qpos as Float64Array),
      qvel: Float64Array.from(d.qvel as Float64Array),
      act: this.model.na > 0 ? Float64Array.from(d.act as Float64Array) : new Float64Array(0),
      time: d.time,
    };
    if (this.helloMessage?.send.includes("qacc_warmstart")) {
      state.qacc_warmstart = Float64Array.from(d.qacc_warmstart as Float64Array);
    }
    return state;
  }

  // Bookkeeping -----------------------------------------------------------------------------------

  private setPhase(phase: Phase, status: string): void {
    this.phaseValue = phase;
    this.statusText = status;
    this.options.onChange?.(this);
  }

  private fail(message: string): void {
    this.errorText = message;
    this.fatalError = true;
    this.setPhase("stopped", "Stopped");
    this.closeSocket(1000, "client error");
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
