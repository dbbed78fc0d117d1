/**
 * Ties one Simulation to one Viewer: physics on its own timer, drawing on requestAnimationFrame,
 * mouse perturbation on the canvas. React components hold a reference to this and read snapshots.
 */

import { startPhysicsLoop } from "../sim/loop";
import { Perturber, type Vec3 } from "../sim/perturb";
import type { Simulation } from "../sim/simulation";
import { Viewer } from "./renderer";

export interface StatusSnapshot {
  time: number;
  realTimeFactor: number;
  paused: boolean;
  selectedBody: string | null;
  selectedPosition: Vec3 | null;
  dragging: boolean;
}

/**
 * Something that steps the simulation itself while `owning` is true (a policy playing live): the
 * free-running physics leaves the data alone then, and `advance` gets the elapsed wall time instead.
 */
export interface Stepper {
  readonly owning: boolean;
  /** Paces itself to `wallSeconds` of real time; returns the simulated seconds it stepped. */
  advance(wallSeconds: number): number;
}

export interface FrameInfo {
  webglRenderer: string;
}

export class SceneController {
  readonly viewer: Viewer;
  readonly perturber: Perturber;
  private stopPhysics: (() => void) | null = null;
  private stepper: Stepper | null = null;
  private frameRequest = 0;
  private firstFrameDone = false;
  private dragAnchor: Vec3 | null = null;
  private disposed = false;
  private readonly listeners: [string, EventListener][] = [];

  constructor(
    readonly sim: Simulation,
    host: HTMLElement,
    private readonly callbacks: {
      onFirstFrame?: (info: FrameInfo) => void;
      onError?: (error: unknown) => void;
    } = {},
  ) {
    this.perturber = new Perturber(sim);
    sim.beforeStep = () => this.perturber.apply();
    // A fresh canvas per controller: a canvas whose WebGL context was released cannot be reused.
    const canvas = document.createElement("canvas");
    canvas.setAttribute("aria-label", "Simulation viewport");
    host.append(canvas);
    try {
      // Listeners go on before OrbitControls' so a body grab can switch orbiting off first.
      this.viewer = new Viewer(canvas, () => this.listen(canvas));
    } catch (error) {
      canvas.remove();
      throw error;
    }
    this.viewer.setModel(sim.model, sim.data);
  }

  /** Hands stepping to `stepper` whenever it owns it; null gives it back to the free-running loop. */
  attach(stepper: Stepper | null): void {
    this.stepper = stepper;
  }

  /** One physics tick: the attached stepper's while it owns stepping, else free-running physics. */
  private advance(wallSeconds: number): number {
    const stepper = this.stepper;
    if (stepper) {
      const simulated = stepper.advance(wallSeconds);
      if (stepper.owning || simulated > 0) {
        this.sim.recordProgress(wallSeconds, simulated);
        return Math.round(simulated / this.sim.timestep);
      }
    }
    return this.sim.advance(wallSeconds);
  }

  start(): void {
    this.stopPhysics = startPhysicsLoop(
      { advance: (dt) => this.advance(dt) },
      {
        onError: (error) => this.callbacks.onError?.(error),
      },
    );
    const frame = () => {
      if (this.disposed) return;
      this.frameRequest = requestAnimationFrame(frame);
      const grab = this.perturber.isDragging ? this.perturber.grabPoint() : null;
      this.viewer.render(
        this.sim.data,
        grab ? { from: grab, to: this.perturber.targetPoint } : null,
      );
      if (!this.firstFrameDone) {
        this.firstFrameDone = true;
        this.callbacks.onFirstFrame?.({ webglRenderer: this.viewer.rendererName() });
      }
    };
    this.frameRequest = requestAnimationFrame(frame);
  }

  snapshot(): StatusSnapshot {
    const body = this.perturber.selectedBody;
    let name: string | null = null;
    let position: Vec3 | null = null;
    if (body > 0) {
      const { mj, model, data } = this.sim;
      name = mj.mj_id2name(model, mj.mjtObj.mjOBJ_BODY.value, body) || `body ${body}`;
      const x = data.xpos;
      position = [x[3 * body], x[3 * body + 1], x[3 * body + 2]];
    }
    return {
      time: this.sim.time,
      realTimeFactor: this.sim.realTimeFactor,
      paused: this.sim.paused,
      selectedBody: name,
      selectedPosition: position,
      dragging: this.perturber.isDragging,
    };
  }

  private listen(canvas: HTMLCanvasElement): void {
    const on = <K extends keyof HTMLElementEventMap>(
      type: K,
      handler: (e: HTMLElementEventMap[K]) => void,
    ) => {
      canvas.addEventListener(type, handler as EventListener);
      this.listeners.push([type, handler as EventListener]);
    };
    on("pointerdown", (e) => {
      if (e.button !== 0) return;
      const hit = this.viewer.pick(e.clientX, e.clientY);
      if (!hit || hit.body <= 0) {
        this.perturber.deselect();
        return;
      }
      this.perturber.select(hit.body, hit.point);
      this.perturber.drag(hit.point);
      this.dragAnchor = hit.point;
      this.viewer.controls.enabled = false;
      canvas.setPointerCapture(e.pointerId);
    });
    on("pointermove", (e) => {
      if (!this.dragAnchor || !this.perturber.isDragging) return;
      const target = this.viewer.pointOnViewPlane(e.clientX, e.clientY, this.dragAnchor);
      if (target) this.perturber.drag(target);
    });
    const end = (e: PointerEvent) => {
      if (!this.dragAnchor) return;
      this.dragAnchor = null;
      this.perturber.release();
      this.viewer.controls.enabled = true;
      if (canvas.hasPointerCapture(e.pointerId)) canvas.releasePointerCapture(e.pointerId);
    };
    on("pointerup", end);
    on("pointercancel", end);
  }

  /** Stops both loops and frees the viewer and the simulation's wasm objects. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    cancelAnimationFrame(this.frameRequest);
    this.stopPhysics?.();
    this.stepper = null;
    for (const [type, handler] of this.listeners)
      this.viewer.canvas.removeEventListener(type, handler);
    this.viewer.dispose();
    this.viewer.canvas.remove();
    this.sim.dispose();
  }
}
