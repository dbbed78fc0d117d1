/**
 * The playback worker's logic as a plain class (no Worker globals, so Node tests run it with the real
 * MuJoCo wasm and a fake server): its own MuJoCo model/data loaded from the page's MJB bytes, the
 * PolicyDriver and its WebSocket, the mouse spring, and free-running physics while no episode plays.
 *
 * The page only draws: the core posts the state to draw (frameState.ts) at most every
 * `frameIntervalMs` and the panel's readouts every `snapshotIntervalMs` (and at once when the phase,
 * status or error changes, or after a control message).
 */

import { loadModelFromMjb } from "../sim/model";
import { getMujoco, type Mujoco } from "../sim/mujoco";
import { SpringForce } from "../sim/perturb";
import { Simulation } from "../sim/simulation";
import { type PlaybackSnapshot, PolicyDriver, type SocketLike } from "./driver";
import { packState, unpackState } from "./frameState";
import { type FromWorker, localSnapshot, type ToWorker } from "./workerMessages";

export interface WorkerCoreOptions {
  /** Posts a message to the page; `transfer` lists buffers to move rather than copy. */
  post: (message: FromWorker, transfer?: Transferable[]) => void;
  /** Loads the MuJoCo module; default getMujoco with the start message's wasmUrl. */
  loadMujoco?: (wasmUrl?: string) => Promise<Mujoco>;
  /** Opens the inference socket; default the global WebSocket. */
  connect?: (url: string) => SocketLike;
  /** Monotonic clock, ms. */
  now?: () => number;
  /** Physics tick period, ms (0: the caller calls tick() itself, as tests do). */
  tickMs?: number;
  frameIntervalMs?: number;
  snapshotIntervalMs?: number;
  /** The driver's pause between episodes, ms (default 1000). */
  endPauseMs?: number;
  /** Passed to the driver (tests: 0 ms reconnects). */
  reconnectDelayMs?: (attempt: number) => number;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Same readouts that must show at once: phase, status, error, and a live preview's params. */
function sameStatus(a: PlaybackSnapshot | null, b: PlaybackSnapshot): boolean {
  return (
    a !== null &&
    a.phase === b.phase &&
    a.status === b.status &&
    a.error === b.error &&
    a.policy === b.policy
  );
}

export class PlaybackWorkerCore {
  private readonly options: WorkerCoreOptions;
  private readonly now: () => number;
  private sim: Simulation | null = null;
  private driver: PolicyDriver | null = null;
  private spring: SpringForce | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private lastTick = 0;
  private lastFrame = Number.NEGATIVE_INFINITY;
  private lastSnapshot = Number.NEGATIVE_INFINITY;
  private postedTime = Number.NaN;
  private dirty = true;
  private posted: PlaybackSnapshot | null = null;
  private stopped = false;
  private failure: string | null = null;
  // Controls that arrive while the model loads.
  private paused = false;
  private speed = 1;
  private command: number[] | null = null;

  constructor(options: WorkerCoreOptions) {
    this.options = options;
    this.now = options.now ?? (() => performance.now());
  }

  /** The driver, once started (tests). */
  get policyDriver(): PolicyDriver | null {
    return this.driver;
  }

  /** The worker's simulation, once started (tests). */
  get simulation(): Simulation | null {
    return this.sim;
  }

  async handle(message: ToWorker): Promise<void> {
    switch (message.type) {
      case "start":
        await this.start(message);
        return;
      case "pause":
        this.paused = message.paused;
        if (this.sim) this.sim.paused = message.paused;
        break;
      case "speed":
        this.speed = message.speed;
        if (this.driver) this.driver.speed = message.speed;
        break;
      case "resetEpisode":
        this.driver?.resetEpisode();
        break;
      case "command":
        this.command = message.values;
        this.driver?.setCommand(message.values);
        break;
      case "spring":
        this.spring?.set(message.spring);
        this.dirty = true;
        return;
      case "stop":
        this.stop();
        return;
    }
    this.postSnapshot();
  }

  private async start(message: Extract<ToWorker, { type: "start" }>): Promise<void> {
    if (this.sim || this.stopped) return;
    // Controls posted after "start" arrive while the model loads and override these.
    this.paused = message.paused;
    this.speed = message.speed;
    let mj: Mujoco;
    let sim: Simulation;
    try {
      mj = await (this.options.loadMujoco ?? ((url) => getMujoco({ wasmUrl: url })))(
        message.wasmUrl,
      );
      sim = new Simulation(mj, loadModelFromMjb(mj, message.mjb, message.sceneId), {
        now: this.now,
      });
    } catch (error) {
      this.failure = `The playback worker could not load the model: ${messageOf(error)}`;
      this.postSnapshot();
      return;
    }
    if (this.stopped) {
      sim.dispose();
      return;
    }
    this.sim = sim;
    if (unpackState(sim.model, sim.data, message.state)) mj.mj_forward(sim.model, sim.data);
    sim.paused = this.paused;
    const spring = new SpringForce(sim.model, () => sim.data);
    spring.set(message.spring);
    this.spring = spring;
    sim.beforeStep = () => spring.apply();
    const connect = this.options.connect ?? ((url: string) => new WebSocket(url) as SocketLike);
    this.driver = new PolicyDriver(mj, sim.model, sim.data, {
      connect: () => connect(message.url),
      stepPhysics: () => sim.stepOnce(),
      isPaused: () => sim.paused,
      sceneId: message.sceneId,
      pacing: "realtime",
      autoReset: true,
      // At real time an episode's last readouts would flash by: show how it ended for a moment.
      endPauseMs: this.options.endPauseMs ?? 1000,
      now: this.now,
      reconnectDelayMs: this.options.reconnectDelayMs,
      preview: message.preview ?? false,
      onChange: (driver) => {
        this.dirty = true;
        if (!sameStatus(this.posted, driver.snapshot())) this.postSnapshot();
      },
    });
    this.driver.speed = this.speed;
    if (message.schedule) this.driver.setSchedule(message.schedule);
    if (this.command) this.driver.setCommand(this.command);
    this.lastTick = this.now();
    this.postSnapshot();
    this.postFrame();
    const tickMs = this.options.tickMs ?? 4;
    if (tickMs > 0) this.timer = setInterval(() => this.tick(), tickMs);
  }

  /**
   * One physics tick: the driver paces the episode while it owns stepping, else the simulation runs
   * freely (the server compiling, a reconnect, a fatal error); then posts what is due.
   */
  tick(): void {
    const { sim, driver } = this;
    if (!sim || !driver || this.stopped) return;
    const t = this.now();
    const wall = Math.max(0, (t - this.lastTick) / 1000);
    this.lastTick = t;
    try {
      const simulated = driver.advance(wall);
      if (driver.owning || simulated > 0) sim.recordProgress(wall, simulated);
      else sim.advance(wall);
    } catch (error) {
      this.failure = `The playback simulation stopped: ${messageOf(error)}`;
      this.halt();
      this.postSnapshot();
      return;
    }
    if (t - this.lastFrame >= (this.options.frameIntervalMs ?? 16)) this.postFrame();
    if (t - this.lastSnapshot >= (this.options.snapshotIntervalMs ?? 100)) this.postSnapshot();
  }

  /** Posts the state to draw when it changed since the last post. */
  private postFrame(): void {
    const sim = this.sim;
    if (!sim || sim.isDisposed) return;
    if (!this.dirty && sim.data.time === this.postedTime) return;
    const state = packState(sim.model, sim.data);
    this.postedTime = state[0];
    this.dirty = false;
    this.lastFrame = this.now();
    this.options.post({ type: "frame", state }, [state.buffer]);
  }

  snapshot(): PlaybackSnapshot {
    if (this.failure) return localSnapshot(this.failure);
    return this.driver?.snapshot() ?? localSnapshot();
  }

  private postSnapshot(): void {
    const playback = this.snapshot();
    this.posted = playback;
    this.lastSnapshot = this.now();
    const sim = this.sim;
    this.options.post({
      type: "snapshot",
      snapshot: {
        playback,
        time: sim && !sim.isDisposed ? sim.time : 0,
        realTimeFactor: sim && !sim.isDisposed ? sim.realTimeFactor : 0,
      },
    });
  }

  /** Closes the session, posts the last state and "stopped", and frees the model. */
  stop(): void {
    if (this.stopped) return;
    this.driver?.stop();
    this.dirty = true;
    this.postFrame();
    this.halt();
    this.options.post({ type: "stopped" });
  }

  private halt(): void {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.driver && this.driver.phase !== "stopped") this.driver.stop();
    this.sim?.dispose();
  }
}
