/**
 * One model and its state, stepped in real time.
 *
 * Owns its MjModel and MjData; call dispose() to free them. Typed-array views such as `data.qpos` are
 * re-created on every access and go stale when wasm memory grows, so nothing here caches them.
 */

import type { MjData, MjModel } from "@mujoco/mujoco";
import type { Mujoco } from "./mujoco";

export interface SimulationOptions {
  /** Most simulated seconds one advance() may catch up; the rest of a late frame is dropped. */
  maxCatchUpSeconds?: number;
  /** Wall-clock compute budget of one advance(), in ms; stepping stops early when it runs out. */
  stepBudgetMs?: number;
  /** Length of the real-time-factor window, in wall seconds. */
  rtfWindowSeconds?: number;
  /** Monotonic clock in ms (performance.now); injectable for tests. */
  now?: () => number;
}

interface RtfSample {
  wall: number;
  sim: number;
}

export class Simulation {
  readonly model: MjModel;
  readonly data: MjData;
  readonly timestep: number;
  readonly keyframeNames: string[];
  /** Called before every physics step (perturbation forces go here). */
  beforeStep: (() => void) | null = null;
  paused = false;

  readonly mj: Mujoco;
  private readonly maxCatchUp: number;
  private readonly budgetMs: number;
  private readonly rtfWindow: number;
  private readonly now: () => number;
  private debt = 0; // simulated seconds owed to the wall clock
  private samples: RtfSample[] = [];
  private disposed = false;

  /** Takes ownership of `model`. */
  constructor(mj: Mujoco, model: MjModel, options: SimulationOptions = {}) {
    this.mj = mj;
    this.model = model;
    this.data = new mj.MjData(model);
    this.timestep = model.opt.timestep;
    this.maxCatchUp = options.maxCatchUpSeconds ?? 1.0;
    this.budgetMs = options.stepBudgetMs ?? 50;
    this.rtfWindow = options.rtfWindowSeconds ?? 1.0;
    this.now = options.now ?? (() => performance.now());
    const keyType = mj.mjtObj.mjOBJ_KEY.value;
    this.keyframeNames = Array.from({ length: model.nkey }, (_, i) =>
      mj.mj_id2name(model, keyType, i),
    );
    this.reset(model.nkey > 0 ? 0 : null);
  }

  get time(): number {
    return this.data.time;
  }

  /** Simulated seconds per wall second over the last window (0 while paused). */
  get realTimeFactor(): number {
    let wall = 0;
    let sim = 0;
    for (const s of this.samples) {
      wall += s.wall;
      sim += s.sim;
    }
    return wall > 0 ? sim / wall : 0;
  }

  /** One physics step, with the beforeStep hook. */
  stepOnce(): void {
    this.beforeStep?.();
    this.mj.mj_step(this.model, this.data);
  }

  /** Single step from the toolbar: pauses and advances exactly one timestep. */
  step(): void {
    this.paused = true;
    this.debt = 0;
    this.stepOnce();
  }

  play(): void {
    this.paused = false;
    this.debt = 0;
  }

  pause(): void {
    this.paused = true;
    this.debt = 0;
  }

  /** Resets to keyframe `key` (mj_resetDataKeyframe) or, for null, to qpos0 (mj_resetData). */
  reset(key: number | null): void {
    if (key !== null && (key < 0 || key >= this.model.nkey)) {
      throw new RangeError(`keyframe ${key} out of range (model has ${this.model.nkey})`);
    }
    if (key === null) this.mj.mj_resetData(this.model, this.data);
    else this.mj.mj_resetDataKeyframe(this.model, this.data, key);
    this.mj.mj_forward(this.model, this.data);
    this.debt = 0;
  }

  /**
   * Steps physics to keep up with `wallSeconds` of elapsed real time. Returns the number of steps.
   * At most `maxCatchUpSeconds` of simulated time per call, and stepping stops when the compute
   * budget runs out, so a late frame (or a slow model) makes the simulation fall behind instead of
   * spiralling into ever longer catch-up calls.
   */
  advance(wallSeconds: number): number {
    if (this.disposed) return 0;
    const wall = Math.max(0, wallSeconds);
    if (this.paused) {
      this.record(wall, 0);
      return 0;
    }
    this.debt = Math.min(this.debt + wall, this.maxCatchUp);
    const wanted = Math.floor(this.debt / this.timestep + 1e-9);
    const start = this.now();
    const t0 = this.data.time;
    let steps = 0;
    while (steps < wanted) {
      this.stepOnce();
      steps += 1;
      if ((steps & 7) === 0 && this.now() - start > this.budgetMs) break;
    }
    this.debt = steps < wanted ? 0 : this.debt - steps * this.timestep;
    this.record(wall, this.data.time - t0);
    return steps;
  }

  /**
   * Counts `sim` simulated seconds against `wall` real seconds in the real-time factor, for stepping
   * done outside advance() (a policy playing live owns stepping and waits for its replies).
   */
  recordProgress(wall: number, sim: number): void {
    this.record(Math.max(0, wall), sim);
  }

  private record(wall: number, sim: number): void {
    this.samples.push({ wall, sim });
    let total = 0;
    for (let i = this.samples.length - 1; i >= 0; i--) {
      total += this.samples[i].wall;
      if (total > this.rtfWindow) {
        this.samples = this.samples.slice(i);
        break;
      }
    }
  }

  /** Frees the wasm objects. Safe to call twice. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.beforeStep = null;
    this.data.delete();
    this.model.delete();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }
}
