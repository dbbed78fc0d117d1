/**
 * Mouse perturbation like MuJoCo's viewer: a spring from the grabbed point of a body to a target point,
 * applied through `data.xfrc_applied` (force and torque about the body's centre of mass).
 */

import type { MjData, MjModel } from "@mujoco/mujoco";
import type { Simulation } from "./simulation";

export type Vec3 = [number, number, number];

export interface SpringInput {
  /** Grabbed point on the body, world frame (m). */
  grab: Vec3;
  /** Where the mouse wants that point to be, world frame (m). */
  target: Vec3;
  /** Velocity of the grabbed point, world frame (m/s). */
  grabVelocity: Vec3;
  /** Centre of mass of the body (`xipos`), world frame (m). */
  com: Vec3;
  /** Mass moved by the spring (`body_subtreemass`, kg). */
  mass: number;
  /** Spring stiffness per kg (1/s^2); MuJoCo's viewer uses `vis.map.stiffness`, default 100. */
  stiffness: number;
  /** Damping per kg (1/s); critical damping for a point mass is 2*sqrt(stiffness). */
  damping: number;
}

export interface Wrench {
  force: Vec3;
  torque: Vec3;
}

const sub = (a: Vec3, b: Vec3): Vec3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const cross = (a: Vec3, b: Vec3): Vec3 => [
  a[1] * b[2] - a[2] * b[1],
  a[2] * b[0] - a[0] * b[2],
  a[0] * b[1] - a[1] * b[0],
];

/**
 * force = mass * (stiffness * (target - grab) - damping * grabVelocity), in N;
 * torque = (grab - com) x force, in N m (the force acts at the grabbed point, not the COM).
 */
export function springWrench(p: SpringInput): Wrench {
  const d = sub(p.target, p.grab);
  const force: Vec3 = [0, 1, 2].map(
    (i) => p.mass * (p.stiffness * d[i] - p.damping * p.grabVelocity[i]),
  ) as Vec3;
  return { force, torque: cross(sub(p.grab, p.com), force) };
}

/** Rotates `v` by the row-major 3x3 matrix at `m[o..o+9]`. */
function rotate(m: ArrayLike<number>, o: number, v: Vec3): Vec3 {
  return [
    m[o] * v[0] + m[o + 1] * v[1] + m[o + 2] * v[2],
    m[o + 3] * v[0] + m[o + 4] * v[1] + m[o + 5] * v[2],
    m[o + 6] * v[0] + m[o + 7] * v[1] + m[o + 8] * v[2],
  ];
}

/** Rotates `v` by the transpose of the row-major matrix at `m[o..o+9]`. */
function rotateT(m: ArrayLike<number>, o: number, v: Vec3): Vec3 {
  return [
    m[o] * v[0] + m[o + 3] * v[1] + m[o + 6] * v[2],
    m[o + 1] * v[0] + m[o + 4] * v[1] + m[o + 7] * v[2],
    m[o + 2] * v[0] + m[o + 5] * v[1] + m[o + 8] * v[2],
  ];
}

function vec(a: ArrayLike<number>, o: number): Vec3 {
  return [a[o], a[o + 1], a[o + 2]];
}

/** A world point expressed in `body`'s frame (from `data`'s xpos/xmat). */
export function bodyLocalPoint(data: MjData, body: number, point: Vec3): Vec3 {
  return rotateT(data.xmat, 9 * body, sub(point, vec(data.xpos, 3 * body)));
}

/** The world position of the point fixed at `local` in `body`'s frame. */
export function bodyPointWorld(data: MjData, body: number, local: Vec3): Vec3 {
  const r = rotate(data.xmat, 9 * body, local);
  const p = vec(data.xpos, 3 * body);
  return [p[0] + r[0], p[1] + r[1], p[2] + r[2]];
}

/**
 * The spring's wrench on `body` for the state in `data`: a pure function of the model, the state, the
 * grabbed point (`local`, body frame), the target and the grab point's velocity.
 */
export function perturbWrench(
  model: MjModel,
  data: MjData,
  body: number,
  local: Vec3,
  target: Vec3,
  grabVelocity: Vec3,
  stiffness: number,
): Wrench {
  return springWrench({
    grab: bodyPointWorld(data, body, local),
    target,
    grabVelocity,
    com: vec(data.xipos, 3 * body),
    mass: model.body_subtreemass[body],
    stiffness,
    damping: 2 * Math.sqrt(stiffness),
  });
}

/** What a drag is doing; plain data (posted to the playback worker). */
export interface SpringState {
  /** Grabbed body, or -1. */
  body: number;
  /** Grab point in the body frame. */
  local: Vec3;
  /** Where the mouse wants the grab point, world frame. */
  target: Vec3;
  /** Pulling (false: selected only, no force). */
  active: boolean;
}

/**
 * Applies a SpringState to one model/data before each physics step. Its only memory is the grab
 * point's last position, for the velocity that damps the spring (finite difference over sim time).
 */
export class SpringForce {
  private state: SpringState = { body: -1, local: [0, 0, 0], target: [0, 0, 0], active: false };
  private lastGrab: Vec3 | null = null;
  private lastTime = 0;

  constructor(
    private readonly model: MjModel,
    private readonly data: () => MjData,
    readonly stiffness: number = model.vis.map.stiffness ?? 100,
  ) {}

  get current(): SpringState {
    return this.state;
  }

  /** Takes a new state; a different body (or grab point) restarts the velocity estimate. */
  set(next: SpringState): void {
    const prev = this.state;
    const body = next.body > 0 && next.body < this.model.nbody ? next.body : -1;
    if (body !== prev.body || next.local.some((x, i) => x !== prev.local[i])) {
      this.clear();
      this.lastGrab = null;
    }
    if (!next.active || body < 0) this.clear();
    this.state = { ...next, body };
  }

  /** The wrench for the current state; zero when not pulling. */
  wrench(): Wrench {
    const { body, local, target, active } = this.state;
    if (!active || body < 0) return { force: [0, 0, 0], torque: [0, 0, 0] };
    const d = this.data();
    const grab = bodyPointWorld(d, body, local);
    const t = d.time;
    let velocity: Vec3 = [0, 0, 0];
    if (this.lastGrab && t > this.lastTime) {
      const dt = t - this.lastTime;
      velocity = sub(grab, this.lastGrab).map((x) => x / dt) as Vec3;
    }
    this.lastGrab = grab;
    this.lastTime = t;
    return perturbWrench(this.model, d, body, local, target, velocity, this.stiffness);
  }

  /** Writes the wrench into xfrc_applied; call before each mj_step. */
  apply(): void {
    const { body, active } = this.state;
    if (!active || body < 0) return;
    const { force, torque } = this.wrench();
    const x = this.data().xfrc_applied as Float64Array;
    x.set([...force, ...torque], 6 * body);
  }

  /** Zeroes the grabbed body's xfrc_applied. */
  clear(): void {
    const body = this.state.body;
    if (body < 0) return;
    const x = this.data().xfrc_applied as Float64Array;
    x.fill(0, 6 * body, 6 * body + 6);
  }
}

/** Grabs one body of a Simulation and pulls it towards a target while active. */
export class Perturber {
  private readonly sim: Simulation;
  private readonly spring: SpringForce;
  /** Called whenever the selection, the target or the pulling changes (not on every step). */
  onChange: ((state: SpringState) => void) | null = null;

  constructor(sim: Simulation, stiffness?: number) {
    this.sim = sim;
    this.spring = new SpringForce(sim.model, () => sim.data, stiffness);
  }

  /** Selected body id, or -1. */
  get selectedBody(): number {
    return this.spring.current.body;
  }

  get isDragging(): boolean {
    return this.spring.current.active;
  }

  /** The drag as plain data. */
  get state(): SpringState {
    return this.spring.current;
  }

  /** Selects `body` at world point `point` (no force until drag() is called). Body 0 is the world. */
  select(body: number, point: Vec3): void {
    if (body <= 0 || body >= this.sim.model.nbody) {
      this.update({ body: -1, local: [0, 0, 0], target: [0, 0, 0], active: false });
      return;
    }
    this.update({
      body,
      local: bodyLocalPoint(this.sim.data, body, point),
      target: point,
      active: false,
    });
  }

  /** Starts or continues dragging the selected body's grab point towards `target`. */
  drag(target: Vec3): void {
    if (this.selectedBody < 0) return;
    this.update({ ...this.spring.current, target, active: true });
  }

  /** Stops pulling (the body stays selected). */
  release(): void {
    this.update({ ...this.spring.current, active: false });
  }

  deselect(): void {
    this.update({ ...this.spring.current, active: false });
    this.update({ body: -1, local: [0, 0, 0], target: [0, 0, 0], active: false });
  }

  /** Grab point in world coordinates, from the current state. */
  grabPoint(): Vec3 | null {
    const { body, local } = this.spring.current;
    return body < 0 ? null : bodyPointWorld(this.sim.data, body, local);
  }

  get targetPoint(): Vec3 {
    return this.spring.current.target;
  }

  /** The wrench for the current state; zero when not dragging. */
  wrench(): Wrench {
    return this.spring.wrench();
  }

  /** Writes the wrench into xfrc_applied; install as Simulation.beforeStep. */
  apply(): void {
    this.spring.apply();
  }

  private update(next: SpringState): void {
    if (!this.sim.isDisposed) this.spring.set(next);
    this.onChange?.(this.spring.current);
  }
}
