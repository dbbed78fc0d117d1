import { python } from "@codemirror/lang-python";
import { type Diagnostic, lintGutter, setDiagnostics } from "@codemirror/lint";
import { oneDark } from "@codemirror/theme-one-dark";
import { basicSetup, EditorView } from "codemirror";
import { useEffect, useRef } from "react";
import type { ProgramError } from "./api";
import { errorSpan } from "./diagnostics";

/** The one replacement that turns `before` into `after`, leaving their common prefix and suffix alone
 * (so a weight edit keeps the cursor, folds and undo history of the rest of the program). */
export function minimalChange(
  before: string,
  after: string,
): { from: number; to: number; insert: string } {
  let start = 0;
  const shorter = Math.min(before.length, after.length);
  while (start < shorter && before[start] === after[start]) start++;
  let end = 0;
  while (
    end < shorter - start &&
    before[before.length - 1 - end] === after[after.length - 1 - end]
  ) {
    end++;
  }
  return { from: start, to: before.length - end, insert: after.slice(start, after.length - end) };
}

interface Props {
  /** The program; a change from outside (a new draft, a weight edit) replaces the editor's text. */
  value: string;
  onChange: (program: string) => void;
  /** Located errors from the last validation, and the program text they were found in. */
  errors: ProgramError[];
  errorsFor: string | null;
  /** The editor's accessible name: "Reward program" (default) or "Success check program". */
  label?: string;
}

/**
 * CodeMirror 6 editor for a reward program or a success check (the same language). The EditorView lives in a ref and owns the text while the
 * person types; React only hears about changes through `onChange`.
 */
export function ProgramEditor({
  value,
  onChange,
  errors,
  errorsFor,
  label = "Reward program",
}: Props) {
  const hostRef = useRef<HTMLDivElement>(null);
  const viewRef = useRef<EditorView | null>(null);
  const onChangeRef = useRef(onChange);
  onChangeRef.current = onChange;

  // Created once; `value` at creation time seeds it, later values arrive through the next effect.
  // biome-ignore lint/correctness/useExhaustiveDependencies: the view is created once per mount
  useEffect(() => {
    const host = hostRef.current;
    if (!host) return;
    const view = new EditorView({
      parent: host,
      doc: value,
      extensions: [
        basicSetup,
        python(),
        lintGutter(),
        oneDark,
        EditorView.lineWrapping, // the panel is narrow; no horizontal scrolling
        EditorView.contentAttributes.of({ "aria-label": label }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) onChangeRef.current(update.state.doc.toString());
        }),
      ],
    });
    viewRef.current = view;
    return () => {
      view.destroy();
      viewRef.current = null;
    };
  }, []);

  useEffect(() => {
    const view = viewRef.current;
    if (!view) return;
    const current = view.state.doc.toString();
    if (current !== value) view.dispatch({ changes: minimalChange(current, value) });
  }, [value]);

  useEffect(() => {
    const view = viewRef.current;
    if (!view) return;
    const length = view.state.doc.length;
    const diagnostics: Diagnostic[] =
      errorsFor === null
        ? []
        : errors.map((error) => {
            const span = errorSpan(errorsFor, error);
            const from = Math.min(span.from, length);
            return {
              from,
              to: Math.max(from, Math.min(span.to, length)),
              severity: "error",
              message: span.message,
              source: error.stage,
            };
          });
    view.dispatch(setDiagnostics(view.state, diagnostics));
  }, [errors, errorsFor]);

  return (
    <section className="program-editor" aria-label={label}>
      <div ref={hostRef} />
    </section>
  );
}
