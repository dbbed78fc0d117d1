import type { SceneCommandSpec, ScheduleReport, TierOption, TrainingMethod } from "./tiers";
import { METHOD_LABELS, orderedOptions, playBlocked, segmentLines } from "./tiers";

/** The three tiers the planner offered, cheapest first; an unavailable one says why. */
export function TierOptions({
  options,
  value,
  planned,
  onChange,
}: {
  options: readonly TierOption[];
  value: TrainingMethod;
  planned: TrainingMethod;
  onChange: (method: TrainingMethod) => void;
}) {
  return (
    <div className="tiers" role="radiogroup" aria-labelledby="tiers-label">
      <span className="tiers-label" id="tiers-label">
        Training method
      </span>
      {orderedOptions(options).map((o) => {
        const reasonId = `tier-reason-${o.method}`;
        return (
          <label
            key={o.method}
            className={o.available ? "tier" : "tier tier-unavailable"}
            title={o.available ? undefined : o.unavailable_reason || undefined}
          >
            <input
              type="radio"
              name="training-method"
              value={o.method}
              checked={value === o.method}
              disabled={!o.available}
              aria-describedby={o.available ? undefined : reasonId}
              onChange={() => onChange(o.method)}
            />
            <span className="tier-body">
              <span className="tier-head">
                <strong>{METHOD_LABELS[o.method]}</strong>
                {o.method === planned && <span className="badge">suggested</span>}
                <span className="tier-estimate">{o.available ? o.estimate : "unavailable"}</span>
              </span>
              <span className="tier-summary">{o.summary}</span>
              {!o.available && o.unavailable_reason && (
                <span className="tier-reason" id={reasonId}>
                  {o.unavailable_reason}
                </span>
              )}
            </span>
          </label>
        );
      })}
    </div>
  );
}

/** The command tier: the schedule the drafter derived from the sentence, and Play (no training). */
export function CommandPlan({
  option,
  report,
  spec,
  busy,
  onPlay,
  onDraftCommands,
}: {
  option: TierOption | null;
  report: ScheduleReport | null | undefined;
  /** The scene's command spec (keys and units), when it takes a command. */
  spec: SceneCommandSpec | null | undefined;
  busy: boolean;
  onPlay: () => void;
  /** Asks the drafter for a schedule when the draft came without one. */
  onDraftCommands: () => void;
}) {
  const blocked = playBlocked(option, report);
  const schedule = report?.schedule ?? null;
  const errors = report?.errors ?? [];
  const clipped = report?.clipped ?? [];
  return (
    <fieldset className="command-plan">
      <legend>Command schedule</legend>
      {schedule && schedule.segments.length > 0 && (
        <table className="terms schedule" aria-label="Command schedule">
          <thead>
            <tr>
              <th scope="col">Segment</th>
              <th scope="col">For</th>
              <th scope="col">Command</th>
            </tr>
          </thead>
          <tbody>
            {segmentLines(schedule, spec).map((line, i) => (
              // Segments have no id and may repeat their label; their position is what they are.
              // biome-ignore lint/suspicious/noArrayIndexKey: the order is the identity
              <tr key={i}>
                <th scope="row">{line.label}</th>
                <td>{line.duration}</td>
                <td>{line.command}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {schedule && (
        <p className="task-note">
          {schedule.repeat ? "Repeats" : "Then holds still"}
          {report && report.duration_s > 0
            ? ` · ${Number(report.duration_s.toFixed(2))} s in all`
            : ""}
        </p>
      )}
      {clipped.length > 0 && (
        <ul className="task-note schedule-clipped" aria-label="Clipped commands">
          {clipped.map((c) => (
            <li key={c}>{c}</li>
          ))}
        </ul>
      )}
      {errors.length > 0 && (
        <ul className="program-errors" role="alert" aria-label="Schedule errors">
          {errors.map((e) => (
            <li key={e}>{e}</li>
          ))}
        </ul>
      )}
      {!report && option?.available && (
        <button type="button" disabled={busy} onClick={onDraftCommands}>
          Draft the commands
        </button>
      )}
      <button
        type="button"
        className="primary"
        disabled={blocked !== null || busy}
        title={blocked ?? undefined}
        onClick={onPlay}
      >
        Play
      </button>
      {blocked && report && (
        <p className="task-note" role="note">
          {blocked}
        </p>
      )}
    </fieldset>
  );
}
