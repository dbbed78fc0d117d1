/**
 * Mouse perturbation like MuJoCo's viewer: a spring from the grabbed point of a body to a target point,
 * applied through `data.xfrc_applied` (force and torque about the body's centre of mass).
 */

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

/** Grabs one body of a Simulation and pulls it towards a target while active. */
export class Perturber {
  private readonly sim: Simulation;
  private readonly stiffness: number;
  private body = -1;
  private local: Vec3 = [0, 0, 0]; // grab point in the body frame
  private target: Vec3 = [0, 0, 0];
  private active = false;
  private lastGrab: Vec3 | null = null;
  private lastTime = 0;

  constructor(sim: Simulation, stiffness?: number) {
    this.sim = sim;
    this.stiffness = stiffness ?? sim.model.vis.map.stiffness ?? 100;
  }

  /** Selected body id, or -1. */
  get selectedBody(): number {
    return this.body;
  }

  get isDragging(): boolean {
    return this.active;
  }

  /** Selects `body` at world point `point` (no force until drag() is called). Body 0 is the world. */
  select(body: number, point: Vec3): void {
    this.clearForce();
    if (body <= 0 || body >= this.sim.model.nbody) {
      this.body = -1;
      return;
    }
    const d = this.sim.data;
    this.body = body;
    this.local = rotateT(d.xmat, 9 * body, sub(point, vec(d.xpos, 3 * body)));
    this.target = point;
    this.lastGrab = null;
  }

  /** Starts or continues dragging the selected body's grab point towards `target`. */
  drag(target: Vec3): void {
    if (this.body < 0) return;
    this.target = target;
    this.active = true;
  }

  /** Stops pulling (the body stays selected). */
  release(): void {
    this.active = false;
    this.clearForce();
  }

  deselect(): void {
    this.release();
    this.body = -1;
  }

  /** Grab point in world coordinates, from the current state. */
  grabPoint(): Vec3 | null {
    if (this.body < 0) return null;
    const d = this.sim.data;
    const b = this.body;
    const r = rotate(d.xmat, 9 * b, this.local);
    const p = vec(d.xpos, 3 * b);
    return [p[0] + r[0], p[1] + r[1], p[2] + r[2]];
  }

  get targetPoint(): Vec3 {
    return this.target;
  }

  /** The wrench for the current state; zero when not dragging. */
  wrench(): Wrench {
    const grab = this.grabPoint();
    if (!this.active || !grab) return { force: [0, 0, 0], torque: [0, 0, 0] };
    const d = this.sim.data;
    const t = d.time;
    let velocity: Vec3 = [0, 0, 0];
    if (this.lastGrab && t > this.lastTime) {
      const dt = t - this.lastTime;
      velocity = sub(grab, this.lastGrab).map((x) => x / dt) as Vec3;
    }
    this.lastGrab = grab;
    this.lastTime = t;
    return springWrench({
      grab,
      target: this.target,
      grabVelocity: velocity,
      com: vec(d.xipos, 3 * this.body),
      mass: this.sim.model.body_subtreemass[this.body],
      stiffness: this.stiffness,
      damping: 2 * Math.sqrt(this.stiffness),
    });
  }

  /** Writes the wrench into xfrc_applied; install as Simulation.beforeStep. */
  apply(): void {
    if (!this.active || this.body < 0) return;
    const { force, torque } = this.wrench();
    const x = this.sim.data.xfrc_applied as Float64Array;
    x.set([...force, ...torque], 6 * this.body);
  }

  private clearForce(): void {
    if (this.body < 0 || this.sim.isDisposed) return;
    const x = this.sim.data.xfrc_applied as Float64Array;
    x.fill(0, 6 * this.body, 6 * this.body + 6);
  }
}
