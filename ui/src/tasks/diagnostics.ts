/** Placing the validator's located errors (docs/REWARDS.md, ProgramError) in the editor's text. */

import type { ProgramError } from "./api";

export interface ErrorSpan {
  /** Offsets into the program, end exclusive; `from === to` only for an empty program. */
  from: number;
  to: number;
  message: string;
}

/**
 * Maps a ProgramError (line 1-based, 0 = the whole program; column 0-based) to an offset span: from the
 * column to the end of the name or number there, or to the end of the line when the column points at
 * punctuation or past the end. Out-of-range lines and columns are clamped, never thrown.
 */
export function errorSpan(program: string, error: ProgramError): ErrorSpan {
  const message = formatProgramError(error);
  const lines = program.split("\n");
  if (error.line <= 0 || lines.length === 0) {
    return { from: 0, to: (lines[0] ?? "").length, message };
  }
  const index = Math.min(error.line, lines.length) - 1;
  let start = 0;
  for (let i = 0; i < index; i++) start += (lines[i] ?? "").length + 1;
  const text = lines[index] ?? "";
  const column = Math.max(0, Math.min(error.column, text.length));
  const word = /^[A-Za-z0-9_.]+/.exec(text.slice(column));
  let from = start + column;
  let to = word ? from + word[0].length : start + text.length;
  if (to === from) {
    // The column is at the end of the line (e.g. an unclosed bracket): mark the whole line.
    from = start + text.length - text.trimStart().length;
    to = start + text.length;
  }
  return { from, to, message };
}

/** "line 3, column 5: <message>" (columns shown 1-based, as editors do). */
export function formatProgramError(error: ProgramError): string {
  if (error.line <= 0) return error.message;
  return `line ${error.line}, column ${error.column + 1}: ${error.message}`;
}
