import { describe, expect, it } from "vitest";
import {
  baseLabel,
  baseToggleLabel,
  deleteBlockedReason,
  renameBlockedReason,
  scenesWithoutBase,
} from "./bases";

describe("base policies in the library", () => {
  const shipped = { base: "shipped", source: "trained" } as const;
  const mine = { base: "user", source: "trained" } as const;
  const plain = { base: null, source: "trained" } as const;
  const imported = { base: null, source: "imported" } as const;

  it("badges shipped and user bases, and nothing else", () => {
    expect(baseLabel(shipped)).toBe("Base · shipped");
    expect(baseLabel(mine)).toBe("Base · yours");
    expect(baseLabel(plain)).toBeNull();
    expect(baseLabel({ source: "trained" })).toBeNull(); // an older server sends no `base`
  });

  it("protects bases from deletion, saying why", () => {
    expect(deleteBlockedReason(shipped)).toMatch(/shipped.*cannot be deleted/);
    expect(deleteBlockedReason(mine)).toMatch(/stop using it as a base/);
    expect(deleteBlockedReason(plain)).toBeUndefined();
    expect(renameBlockedReason(shipped)).toMatch(/read-only/);
    expect(renameBlockedReason(mine)).toBeUndefined();
  });

  it("offers the toggle on the user's own trained policies only", () => {
    expect(baseToggleLabel(plain)).toBe("Use as base");
    expect(baseToggleLabel(mine)).toBe("Stop using as base");
    expect(baseToggleLabel(shipped)).toBeNull();
    expect(baseToggleLabel(imported)).toBeNull();
  });

  it("lists the scenes no base serves, in the picker's order", () => {
    const scenes = [{ id: "A" }, { id: "B" }, { id: "C" }];
    const policies = [
      { scene_id: "B", base: "shipped" as const },
      { scene_id: "C", base: null },
      { scene_id: "A", base: null },
    ];
    expect(scenesWithoutBase(scenes, policies).map((s) => s.id)).toEqual(["A", "C"]);
    expect(scenesWithoutBase(scenes, [{ scene_id: "C", base: "user" }]).map((s) => s.id)).toEqual([
      "A",
      "B",
    ]);
  });
});
