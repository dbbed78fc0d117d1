import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { TrainSection } from "../training/TrainSection";
import { CheckSection } from "./CheckSection";
import { errorSpan, formatProgramError } from "./diagnostics";
import { checkBlocks, checkValidationText, EMPTY_DRAFT, validationText } from "./draft";
import { formatFailure } from "./failure";
import { minimalChange } from "./ProgramEditor";

describe("errorSpan", () => {
  const program = "WEIGHTS = dict(a=1.0)\n\n\ndef a(s):\n    return s.nope + (\n";

  it("marks the name at a 1-based line and 0-based column", () => {
    // line 5 starts at offset 22 + 1 + 1 + 10 = 34; column 11 is `s.nope`
    const span = errorSpan(program, { line: 5, column: 11, message: "unknown", stage: "static" });
    expect(program.slice(span.from, span.to)).toBe("s.nope");
    expect(span.from).toBe(34 + 11);
    expect(span.message).toBe("line 5, column 12: unknown");
  });

  it("marks to the end of the line when the column is at punctuation", () => {
    const span = errorSpan(program, { line: 5, column: 18, message: "x", stage: "syntax" });
    expect(program.slice(span.from, span.to)).toBe("+ (");
  });

  it("marks the line's text when the column is at its end", () => {
    const span = errorSpan(program, { line: 5, column: 99, message: "x", stage: "syntax" });
    expect(program.slice(span.from, span.to)).toBe("return s.nope + (");
  });

  it("line 0 means the whole program: the first line is marked and no location is printed", () => {
    const error = { line: 0, column: 0, message: "no terms", stage: "static" } as const;
    const span = errorSpan(program, error);
    expect(program.slice(span.from, span.to)).toBe("WEIGHTS = dict(a=1.0)");
    expect(formatProgramError(error)).toBe("no terms");
  });

  it("clamps lines past the end", () => {
    const span = errorSpan("x = 1", { line: 9, column: 0, message: "m", stage: "trace" });
    expect([span.from, span.to]).toEqual([0, 1]);
    expect(errorSpan("", { line: 1, column: 3, message: "m", stage: "syntax" })).toMatchObject({
      from: 0,
      to: 0,
    });
  });
});

describe("formatFailure", () => {
  it("names the provider and cause, keeps the detail, offers the fallback", () => {
    const message = formatFailure(
      {
        provider: "anthropic",
        cause: "no_key",
        detail: " Set ANTHROPIC_API_KEY. ",
        fallback: "builtin",
      },
      "Claude (Anthropic)",
    );
    expect(message).toEqual({
      title: "Claude (Anthropic) has no API key.",
      detail: "Set ANTHROPIC_API_KEY.",
      fallback: "builtin",
    });
  });

  it("offers no fallback to the provider that failed", () => {
    const message = formatFailure({
      provider: "builtin",
      cause: "bad_output",
      detail: "no template",
      fallback: "builtin",
    });
    expect(message.title).toBe("builtin did not write a usable reward program.");
    expect(message.fallback).toBeNull();
  });
});

describe("validationText", () => {
  const report = { ok: true, errors: [], terms: [] };
  it("starts with Valid only for a validated, unchanged program", () => {
    const d = { ...EMPTY_DRAFT, program: "p", report, reportFor: "p" };
    expect(validationText(d)).toBe("Valid · 0 terms");
    expect(validationText({ ...d, program: "q" })).not.toMatch(/^Valid/);
    expect(validationText({ ...d, validating: true })).not.toMatch(/^Valid/);
    const bad = {
      ...report,
      ok: false,
      errors: [{ line: 1, column: 0, message: "m", stage: "syntax" as const }],
    };
    expect(validationText({ ...d, report: bad })).toBe("Invalid · 1 error");
  });
});

describe("checkValidationText and checkBlocks", () => {
  const figure = { code: "", at_least: null, at_most: null };
  const report = {
    ok: true,
    errors: [],
    terms: [],
    figures: [
      { ...figure, name: "upright", at_least: 0.95 },
      { ...figure, name: "travel", at_most: 1.5 },
      { ...figure, name: "speed" },
    ],
  };
  const d = { ...EMPTY_DRAFT, check: "c", checkReport: report, checkReportFor: "c" };
  it("counts requirements, not reported figures; an edit or an error blocks training", () => {
    expect(checkValidationText(d)).toBe("Valid · 2 requirements");
    expect(checkBlocks(d)).toBeNull();
    const edited = { ...d, check: "c2" };
    expect(checkValidationText(edited)).toBe("Edited · not validated since the last change");
    expect(checkBlocks(edited)).toBe("Validate the edited success check before training.");
    const bad = {
      ...d,
      checkReport: {
        ...report,
        ok: false,
        errors: [{ line: 3, column: 4, message: "always true", stage: "trace" as const }],
      },
    };
    expect(checkValidationText(bad)).toBe("Invalid · 1 error");
    expect(checkBlocks(bad)).toContain("invalid");
    expect(checkBlocks({ ...d, checkValidating: true })).not.toBeNull();
  });
  it("no check at all trains without one", () => {
    const none = { ...EMPTY_DRAFT, check: "  " };
    expect(checkValidationText(none)).toBe("No check · the job will not be judged");
    expect(checkBlocks(none)).toBeNull();
  });
  it("the Train button is disabled with the reason shown, and a valid check is listed in words", () => {
    const blocked = renderToStaticMarkup(
      createElement(TrainSection, {
        sceneId: "CartpoleBalance",
        program: "p",
        check: "c2",
        blocked: "Validate the edited success check before training.",
        task: "t",
        estimate: null,
        onStarted: () => {},
      }),
    );
    expect(blocked).toMatch(/<button[^>]*disabled=""[^>]*>Train policy<\/button>/);
    expect(blocked).toContain("Validate the edited success check before training.");
    expect(blocked).toContain('aria-label="Reflection rounds"');
    const section = renderToStaticMarkup(
      createElement(CheckSection, {
        sceneId: "s",
        draft: d,
        onChange: () => {},
        onValidate: () => {},
      }),
    );
    expect(section).toContain("upright &gt;= 0.95");
    expect(section).toContain("travel &lt;= 1.5");
    expect(section).toContain("speed (reported, not required)");
  });
});

describe("minimalChange", () => {
  it("replaces only the differing middle", () => {
    const before = "WEIGHTS = dict(a=1.0, b=2.0)\n";
    const after = "WEIGHTS = dict(a=1.25, b=2.0)\n";
    const change = minimalChange(before, after);
    // "WEIGHTS = dict(a=1." is the 19-character common prefix; "0" becomes "25".
    expect(change).toEqual({ from: 19, to: 20, insert: "25" });
    expect(before.slice(0, change.from) + change.insert + before.slice(change.to)).toBe(after);
  });

  it("handles repeated characters and whole replacements", () => {
    for (const [a, b] of [
      ["aaa", "aaaa"],
      ["abc", ""],
      ["", "xyz"],
      ["x=1.0", "x=-1.0"],
    ] as const) {
      const c = minimalChange(a, b);
      expect(a.slice(0, c.from) + c.insert + a.slice(c.to)).toBe(b);
      expect(c.to).toBeGreaterThanOrEqual(c.from);
    }
  });
});
