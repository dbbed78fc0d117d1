import { describe, expect, it } from "vitest";
import { canPlay, playBlockedReason, sourceLabel } from "./review";

describe("imported policy review", () => {
  it("plays trained policies at once", () => {
    const trained = { source: "trained", needs_review: false } as const;
    expect(canPlay(trained)).toBe(true);
    expect(playBlockedReason(trained)).toBeUndefined();
    expect(sourceLabel(trained)).toBeNull();
  });
  it("blocks an imported policy until its program is reviewed, and says why", () => {
    const unreviewed = { source: "imported", needs_review: true } as const;
    expect(canPlay(unreviewed)).toBe(false);
    expect(playBlockedReason(unreviewed)).toContain("read its reward program");
    expect(sourceLabel(unreviewed)).toBe("Imported, not reviewed");
    const reviewed = { source: "imported", needs_review: false } as const;
    expect(canPlay(reviewed)).toBe(true);
    expect(sourceLabel(reviewed)).toBe("Imported");
  });
});
