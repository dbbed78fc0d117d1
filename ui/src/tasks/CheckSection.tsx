import { lazy, Suspense } from "react";
import { requirementText } from "../checks/format";
import type { CheckFigure } from "./api";
import { ErrorList } from "./DraftResult";
import { checkValidationText, type SceneDraft } from "./draft";

const ProgramEditor = lazy(() =>
  import("./ProgramEditor").then((m) => ({ default: m.ProgramEditor })),
);

/**
 * The success check beside the reward (docs/CHECKS.md): its program, editable and validated like the
 * reward's, and its requirements in words. Training judges every evaluation by it.
 */
export function CheckSection({
  sceneId,
  draft,
  onChange,
  onValidate,
}: {
  sceneId: string;
  draft: SceneDraft;
  onChange: (check: string) => void;
  onValidate: () => void;
}) {
  const report = draft.checkReport;
  const errors = report && !report.ok ? report.errors : [];
  const text = checkValidationText(draft);
  // The requirements of the last valid check, while the text is still the one validated.
  const figures: CheckFigure[] =
    report?.ok && draft.checkReportFor === draft.check ? (report.figures ?? []) : [];
  return (
    <section className="check-section" aria-label="Success check">
      <h3>Success check</h3>
      <p className="task-note">
        Judged on the robot's motion at every evaluation, never on the reward: the kept policy is
        the one that best passes it.
      </p>
      <Suspense fallback={<p className="task-note">Loading the editor…</p>}>
        <ProgramEditor
          key={sceneId}
          label="Success check program"
          value={draft.check}
          onChange={onChange}
          errors={errors}
          errorsFor={draft.checkReportFor}
        />
      </Suspense>
      <div className="validate-row">
        <button
          type="button"
          disabled={draft.checkValidating || !draft.check.trim()}
          onClick={onValidate}
        >
          Validate check
        </button>
        <output
          aria-label="Check status"
          aria-live="polite"
          className={
            text.startsWith("Valid") ? "valid" : text.startsWith("Invalid") ? "invalid" : ""
          }
        >
          {text}
        </output>
      </div>
      <ErrorList errors={errors} label="Check errors" />
      {figures.length > 0 && (
        <ul className="check-figures" aria-label="Check requirements">
          {figures.map((f) => (
            <li key={f.name} title={f.code}>
              {requirementText(f)}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
