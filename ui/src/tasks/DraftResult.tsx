import { useEffect, useState } from "react";
import type { ProgramError, TaskDraft } from "./api";
import { formatProgramError } from "./diagnostics";
import { attemptsText, methodText } from "./draft";
import type { FailureMessage } from "./failure";

/** Seconds since `since`, refreshed once a second while mounted. */
export function Elapsed({ since }: { since: number }) {
  const [now, setNow] = useState(() => performance.now());
  useEffect(() => {
    const id = window.setInterval(() => setNow(performance.now()), 1000);
    return () => window.clearInterval(id);
  }, []);
  return <>{Math.max(0, Math.round((now - since) / 1000))} s</>;
}

export function DraftSummary({ policy, label }: { policy: TaskDraft; label: string }) {
  return (
    <dl className="draft-summary" aria-label="Draft">
      <dt>Drafted by</dt>
      <dd>
        {label} · {policy.model}, {attemptsText(policy)}
      </dd>
      <dt>Training</dt>
      <dd>
        {methodText(policy)} · {policy.training_time_estimate}
      </dd>
    </dl>
  );
}

export function FailureNotice({
  message,
  fallbackLabel,
  busy,
  onFallback,
}: {
  message: FailureMessage;
  fallbackLabel: string;
  busy: boolean;
  onFallback: () => void;
}) {
  return (
    <div className="task-failure" role="alert">
      <strong>{message.title}</strong>
      {message.detail && <p>{message.detail}</p>}
      {message.fallback && (
        <button type="button" disabled={busy} onClick={onFallback}>
          {message.fallback === "builtin"
            ? "Draft with the built-in drafter instead"
            : `Draft with ${fallbackLabel} instead`}
        </button>
      )}
    </div>
  );
}

export function ErrorList({
  errors,
  label = "Program errors",
}: {
  errors: ProgramError[];
  label?: string;
}) {
  if (errors.length === 0) return null;
  return (
    <ul className="program-errors" aria-label={label}>
      {errors.map((e) => (
        <li key={`${e.line}:${e.column}:${e.message}`}>
          <span className="error-stage">{e.stage}</span> {formatProgramError(e)}
        </li>
      ))}
    </ul>
  );
}
