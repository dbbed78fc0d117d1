/**
 * Draws at most `maxFps` frames a second out of requestAnimationFrame's callbacks. Used where WebGL draws on
 * the CPU (SwiftShader, llvmpipe): there every drawn frame costs CPU time that a training job or a live
 * preview on the same cores is waiting for, and a viewer at 60 frames took a whole core.
 */
export class FrameLimiter {
  private last = Number.NEGATIVE_INFINITY;
  private readonly interval: number;

  constructor(maxFps: number) {
    // A little slack: animation frames come with jitter, and a frame 1 ms early must not wait for the next.
    this.interval = maxFps > 0 ? 1000 / maxFps - 4 : 0;
  }

  /** Whether the frame at `now` (the callback's timestamp, ms) is drawn; drawn frames set the pace. */
  draw(now: number): boolean {
    if (now - this.last < this.interval) return false;
    this.last = now;
    return true;
  }
}
