import { describe, expect, it } from "vitest";
import { findWeights, formatWeight, readWeights, setWeight } from "./weights";

const MULTI = `"""Walk backwards."""

WEIGHTS = dict(
    backward_speed=1.0,  # the task
    upright=0.5,
    # effort is a penalty
    effort=-0.001,
)


def backward_speed(s):
    return exp_kernel(s.base_lin_vel[0] + 0.5, 0.25)
`;

describe("findWeights", () => {
  it("reads a multi-line dict with comments and negative numbers", () => {
    expect([...readWeights(MULTI)]).toEqual([
      ["backward_speed", 1.0],
      ["upright", 0.5],
      ["effort", -0.001],
    ]);
  });

  it("reads one-line dicts, exponents, underscores and a spaced minus", () => {
    const program = "WEIGHTS = dict(a=1, b=- 2.5e-3, c=1_000, d=.5)\n";
    expect([...readWeights(program)]).toEqual([
      ["a", 1],
      ["b", -0.0025],
      ["c", 1000],
      ["d", 0.5],
    ]);
  });

  it("ignores a WEIGHTS inside a docstring line that is not at the start of a line", () => {
    const program = '"""x WEIGHTS = dict(a=9)"""\nWEIGHTS = dict(a=1.0)\n';
    expect(readWeights(program).get("a")).toBe(1);
  });

  it("gives up on forms it cannot edit safely", () => {
    expect(findWeights("WEIGHTS = {'a': 1.0}\n")).toBeNull();
    expect(findWeights("WEIGHTS = dict(a=x)\n")).toBeNull();
    expect(findWeights("def f(s):\n    return 1\n")).toBeNull();
  });
});

describe("setWeight", () => {
  it("replaces only the number, keeping layout and comments", () => {
    const out = setWeight(MULTI, "upright", 0.75);
    expect(out).toBe(MULTI.replace("upright=0.5,", "upright=0.75,"));
  });

  it("rewrites a negative weight and a weight followed by a comment", () => {
    let out = setWeight(MULTI, "effort", -0.01);
    expect(out).toContain("    effort=-0.01,\n");
    out = setWeight(out, "backward_speed", 2);
    expect(out).toContain("    backward_speed=2.0,  # the task\n");
    expect(readWeights(out).get("effort")).toBe(-0.01);
  });

  it("handles a spaced minus sign and a one-line dict", () => {
    const out = setWeight("WEIGHTS = dict(a=1.0, b=- 2)\n", "b", 3);
    expect(out).toBe("WEIGHTS = dict(a=1.0, b=3.0)\n");
  });

  it("adds a missing term after the last entry", () => {
    expect(setWeight("WEIGHTS = dict(a=1.0)\n", "b", -0.5)).toBe("WEIGHTS = dict(a=1.0, b=-0.5)\n");
    expect(setWeight("WEIGHTS = dict()\n", "b", 1)).toBe("WEIGHTS = dict(b=1.0)\n");
  });

  it("refuses programs without WEIGHTS and non-finite weights", () => {
    expect(() => setWeight("x = 1\n", "a", 1)).toThrow(/WEIGHTS/);
    expect(() => setWeight("WEIGHTS = dict(a=1.0)\n", "a", Number.NaN)).toThrow(RangeError);
  });
});

describe("formatWeight", () => {
  it("writes Python float literals", () => {
    expect(formatWeight(1)).toBe("1.0");
    expect(formatWeight(-0.001)).toBe("-0.001");
    expect(formatWeight(2e-7)).toBe("2e-7");
    expect(formatWeight(1e21)).toBe("1e21");
  });
});
