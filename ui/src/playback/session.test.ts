import { describe, expect, it } from "vitest";
import { boundKey, commandFromKeys } from "./keys";
import { playbackUrl, previewUrl } from "./session";

describe("playbackUrl", () => {
  it("uses the page's host and a ws scheme matching its own", () => {
    expect(playbackUrl("pol 1", "a+b", "http://127.0.0.1:8123/?x=1")).toBe(
      "ws://127.0.0.1:8123/api/models/pol%201/inference?token=a%2Bb",
    );
    expect(playbackUrl("p", "t", "https://example.test/app")).toBe(
      "wss://example.test/api/models/p/inference?token=t",
    );
    expect(playbackUrl("p", null, "http://h/")).toBe("ws://h/api/models/p/inference");
  });
});

describe("keyboard commands", () => {
  const spec = {
    names: ["x", "y", "yaw"],
    low: [-0.5, -0.4, -1],
    high: [1, 0.4, 1],
    keys: ["x", "y", "yaw"],
    units: ["m/s", "m/s", "rad/s"],
  };
  it("push components to the ends of their range", () => {
    expect(commandFromKeys(new Set(["w"]), spec, [0, 0, 0])).toEqual([1, 0, 0]);
    expect(commandFromKeys(new Set(["arrowdown", "d", "q"]), spec, [0, 0, 0])).toEqual([
      -0.5, -0.4, 1,
    ]);
    // opposite keys cancel; the rest value is kept (clipped)
    expect(commandFromKeys(new Set(["a", "d"]), spec, [0.2, 0.3, 5])).toEqual([0.2, 0.3, 1]);
  });
  it("ignore keys for components the policy lacks", () => {
    const xy = {
      names: ["x", "y"],
      low: [-1, -1],
      high: [1, 1],
      keys: ["x", "y"],
      units: ["", ""],
    };
    expect(boundKey("Q", xy)).toBeNull();
    expect(boundKey("ArrowUp", xy)).toBe("arrowup");
    expect(boundKey("z", spec)).toBeNull();
  });
});

describe("previewUrl", () => {
  it("names the job's preview socket on the page's host", () => {
    expect(previewUrl("job 1", "a+b", "http://127.0.0.1:8123/?x=1")).toBe(
      "ws://127.0.0.1:8123/api/jobs/job%201/preview?token=a%2Bb",
    );
    expect(previewUrl("j", null, "https://example.test/app")).toBe(
      "wss://example.test/api/jobs/j/preview",
    );
  });
});
