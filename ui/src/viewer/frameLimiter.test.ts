import { describe, expect, it } from "vitest";
import { FrameLimiter } from "./frameLimiter";

/** The frames drawn out of `count` animation frames at `hz`, with `jitter` ms alternating early/late. */
function drawn(limiter: FrameLimiter, hz: number, count: number, jitter = 0): number {
  let frames = 0;
  for (let i = 0; i < count; i++) {
    const now = (i * 1000) / hz + (i % 2 === 0 ? -jitter : jitter);
    if (limiter.draw(now)) frames++;
  }
  return frames;
}

describe("frame limiter", () => {
  it("draws every other frame of a 60 Hz display at 30 frames per second", () => {
    expect(drawn(new FrameLimiter(30), 60, 600)).toBe(300);
  });

  it("keeps 30 frames per second when frames come a millisecond early or late", () => {
    expect(drawn(new FrameLimiter(30), 60, 600, 1)).toBe(300);
  });

  it("draws every frame of a display slower than its limit", () => {
    expect(drawn(new FrameLimiter(30), 24, 240)).toBe(240);
  });

  it("draws every frame when it has no limit", () => {
    expect(drawn(new FrameLimiter(0), 144, 144)).toBe(144);
  });
});
