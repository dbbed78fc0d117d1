/**
 * Reading and rewriting the `WEIGHTS = dict(name=number, ...)` assignment of a reward program
 * (docs/REWARDS.md) as text, so that editing a weight keeps the rest of the program - layout, comments,
 * docstrings - exactly as the person or the LLM wrote it.
 */

/** One `name=number` entry of the WEIGHTS call: the weight and where its number is in the program. */
export interface WeightEntry {
  name: string;
  value: number;
  /** Offsets of the number literal (sign included) in the program text, end exclusive. */
  from: number;
  to: number;
}

export interface WeightsCall {
  entries: WeightEntry[];
  /** Offset of the closing parenthesis of `dict(...)`. */
  close: number;
}

const HEAD = /^WEIGHTS[ \t]*=[ \t]*dict[ \t]*\(/m;
const ENTRY =
  /([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*(-?[ \t]*(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?)/y;

/** Skips whitespace, newlines, `#` comments and line continuations from `i`. */
function skipBlank(text: string, i: number): number {
  let at = i;
  while (at < text.length) {
    const c = text[at];
    if (c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\\") at += 1;
    else if (c === "#") {
      const eol = text.indexOf("\n", at);
      at = eol < 0 ? text.length : eol + 1;
    } else break;
  }
  return at;
}

/**
 * Finds the top-level `WEIGHTS = dict(...)` call and its `name=number` entries, or null when the program
 * has none or it is not in the plain keyword form (the validator reports those programs anyway).
 */
export function findWeights(program: string): WeightsCall | null {
  const head = HEAD.exec(program);
  if (!head) return null;
  const entries: WeightEntry[] = [];
  let at = skipBlank(program, head.index + head[0].length);
  for (;;) {
    if (program[at] === ")") return { entries, close: at };
    ENTRY.lastIndex = at;
    const match = ENTRY.exec(program);
    if (!match) return null;
    const [whole, name = "", literal = ""] = match;
    const from = at + whole.length - literal.length;
    const value = Number(literal.replace(/[\s_]/g, ""));
    if (!Number.isFinite(value)) return null;
    entries.push({ name, value, from, to: at + whole.length });
    at = skipBlank(program, at + whole.length);
    if (program[at] === ",") at = skipBlank(program, at + 1);
    else if (program[at] !== ")") return null;
  }
}

/** The weights by term name, in program order. */
export function readWeights(program: string): Map<string, number> {
  return new Map((findWeights(program)?.entries ?? []).map((e) => [e.name, e.value]));
}

/** A Python float literal for a weight: `1.0`, `-0.001`, `2e-07`. */
export function formatWeight(value: number): string {
  if (!Number.isFinite(value))
    throw new RangeError(`a weight must be a finite number, not ${value}`);
  const text = String(value);
  return /[.e]/.test(text) ? text.replace("e+", "e") : `${text}.0`;
}

/**
 * Returns the program with the weight of `name` set to `value`. An existing entry has only its number
 * replaced; a missing one is added before the closing parenthesis. Throws when the program has no
 * readable `WEIGHTS = dict(...)`.
 */
export function setWeight(program: string, name: string, value: number): string {
  const call = findWeights(program);
  if (!call) throw new Error("the program has no WEIGHTS = dict(...) assignment to edit");
  const literal = formatWeight(value);
  const entry = call.entries.find((e) => e.name === name);
  if (entry) return program.slice(0, entry.from) + literal + program.slice(entry.to);
  // Insert after the last entry (keeping a trailing comma and comments where they are).
  const last = call.entries.at(-1);
  if (!last) return `${program.slice(0, call.close)}${name}=${literal}${program.slice(call.close)}`;
  return `${program.slice(0, last.to)}, ${name}=${literal}${program.slice(last.to)}`;
}
