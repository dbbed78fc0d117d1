/**
 * Ties one Simulation to one Viewer: physics on its own timer, drawing on requestAnimationFrame,
 * mouse perturbation on the canvas. React components hold a reference to this and read snapshots.
 */

import { unpackState } from "../playback/frameState";
import { startPhysicsLoop } from "../sim/loop";
import { Perturber, type SpringState, type Vec3 } from "../sim/perturb";
import type { Simulation } from "../sim/simulation";
import { FrameLimiter } from "./frameLimiter";
import { Viewer } from "./renderer";

/** Frames drawn a second at most when WebGL draws on the CPU (see FrameLimiter). */
const SOFTWARE_MAX_FPS = 20;

export interface StatusSnapshot {
  time: number;
  realTimeFactor: number;
  paused: boolean;
  selectedBody: string | null;
  selectedPosition: Vec3 | null;
  dragging: boolean;
}

/**
 * Physics that runs elsewhere (live playback steps in a worker with its own copy of the model): while
 * one is attached, this page's simulation does not step; each drawn frame copies the newest posted
 * state into it (mj_kinematics), and mouse drags are forwarded as spring states.
 */
export interface RemotePhysics {
  /** The newest packed state (playback/frameState.ts) since the last call, or null. */
  takeFrame(): Float64Array | null;
  /** Simulated seconds per wall second there (the status bar's readout). */
  readonly realTimeFactor: number;
  /** The drag changed (select, move, release). */
  setSpring(spring: SpringState): void;
}

export interface FrameInfo {
  webglRenderer: string;
}

export class SceneController {
  readonly viewer: Viewer;
  readonly perturber: Perturber;
  private stopPhysics: (() => void) | null = null;
  private remote: RemotePhysics | null = null;
  private frameRequest = 0;
  private firstFrameDone = false;
  private dragAnchor: Vec3 | null = null;
  private disposed = false;
  private readonly listeners: [string, EventListener][] = [];

  constructor(
    readonly sim: Simulation,
    host: HTMLElement,
    /** The MJB the model was loaded from (a playback worker loads its own copy). */
    readonly modelBytes: Uint8Array,
    private readonly callbacks: {
      onFirstFrame?: (info: FrameInfo) => void;
      onError?: (error: unknown) => void;
    } = {},
  ) {
    this.perturber = new Perturber(sim);
    sim.beforeStep = () => this.perturber.apply();
    this.perturber.onChange = (spring) => this.remote?.setSpring(spring);
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

  /**
   * Hands stepping to `remote` (null: back to this page's free-running loop, from the last state the
   * remote posted).
   */
  attach(remote: RemotePhysics | null): void {
    const previous = this.remote;
    this.remote = remote;
    if (previous && !remote && !this.sim.isDisposed) {
      const last = previous.takeFrame();
      if (last && unpackState(this.sim.model, this.sim.data, last)) {
        this.sim.mj.mj_forward(this.sim.model, this.sim.data);
      }
    }
  }

  /** One physics tick: nothing while a remote steps, else free-running physics. */
  private advance(wallSeconds: number): number {
    if (this.remote) return 0;
    return this.sim.advance(wallSeconds);
  }

  /** Copies the remote's newest state into the simulation for drawing. */
  private pullRemote(): void {
    const frame = this.remote?.takeFrame();
    if (!frame) return;
    const { mj, model, data } = this.sim;
    if (unpackState(model, data, frame)) mj.mj_kinematics(model, data);
  }

  start(): void {
    this.stopPhysics = startPhysicsLoop(
      { advance: (dt) => this.advance(dt) },
      {
        onError: (error) => this.callbacks.onError?.(error),
      },
    );
    const limiter = new FrameLimiter(this.viewer.software ? SOFTWARE_MAX_FPS : 0);
    const frame = (now: number) => {
      if (this.disposed) return;
      this.frameRequest = requestAnimationFrame(frame);
      if (!limiter.draw(now)) return;
      this.pullRemote();
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
      realTimeFactor: this.remote ? this.remote.realTimeFactor : this.sim.realTimeFactor,
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
    this.remote = null;
    for (const [type, handler] of this.listeners)
      this.viewer.canvas.removeEventListener(type, handler);
    this.viewer.dispose();
    this.viewer.canvas.remove();
    this.sim.dispose();
  }
}
