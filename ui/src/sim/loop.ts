/**
 * Runs physics on its own timer, independent of requestAnimationFrame, so the simulation keeps real
 * time when frames are slow. Background tabs throttle timers to ~1 Hz; Simulation.advance catches up
 * to a capped amount on each tick.
 */

/** What the loop advances: a Simulation, or anything that paces one (live policy playback). */
export interface Advancer {
  /** Catches up with `wallSeconds` of real time; returns the physics steps taken. */
  advance(wallSeconds: number): number;
}

export interface LoopOptions {
  intervalMs?: number;
  now?: () => number;
  onTick?: (steps: number) => void;
  onError?: (error: unknown) => void;
}

/** Starts stepping `sim`; returns a function that stops the loop. */
export function startPhysicsLoop(sim: Advancer, options: LoopOptions = {}): () => void {
  const now = options.now ?? (() => performance.now());
  let last = now();
  const timer = setInterval(() => {
    const t = now();
    const dt = (t - last) / 1000;
    last = t;
    try {
      const steps = sim.advance(dt);
      options.onTick?.(steps);
    } catch (error) {
      clearInterval(timer);
      options.onError?.(error);
    }
  }, options.intervalMs ?? 4);
  return () => clearInterval(timer);
}
