import { useEffect, useMemo, useRef } from "react";
import { confirmationText, outcomeLines, verdictLine } from "../checks/format";
import { PolicyClip } from "../library/Clip";
import type { PlaybackTarget } from "../playback/target";
import { Chart } from "./Chart";
import {
  actionsFor,
  checkChart,
  formatDate,
  formatDuration,
  formatEta,
  formatRate,
  formatReward,
  formatSteps,
  hasCheck,
  isLive,
  progressPercent,
  rewardChart,
  STATE_LABELS,
  termsChart,
} from "./format";
import {
  awaitsRevision,
  lineageOf,
  type Round,
  revisingText,
  rounds,
  roundsTotal,
} from "./lineage";
import type { JobStatus } from "./types";
import type { Training } from "./useTraining";

/** The shown job (state, progress, curves, actions) and the recent jobs to switch between. */
export function TrainingPanel({
  training,
  sceneName,
  onOpenPolicy,
  onPlayPolicy,
  previewJobId = null,
  onPreview,
}: {
  training: Training;
  sceneName: (id: string) => string;
  onOpenPolicy: (policyId: string) => void;
  onPlayPolicy?: (target: PlaybackTarget) => void;
  /** The job whose live preview plays in the viewer, if any. */
  previewJobId?: string | null;
  /** Switches a running job's live preview on or off. */
  onPreview?: (job: JobStatus, on: boolean) => void;
}) {
  const { jobs, current, error } = training;
  const section = useRef<HTMLElement>(null);
  // Every job known here, for the reflection rounds' lineage (the list holds their outcomes).
  const known = useMemo(() => {
    const map = new Map<string, JobStatus>();
    for (const j of jobs ?? []) map.set(j.job_id, j);
    if (current) map.set(current.job_id, current);
    return map;
  }, [jobs, current]);
  const shownId = current?.job_id ?? null;
  const firstId = useRef(shownId);
  // Bring a newly started or picked job into view (not the one restored on load).
  useEffect(() => {
    if (shownId && shownId !== firstId.current) {
      section.current?.scrollIntoView({ block: "start", behavior: "smooth" });
    }
    firstId.current = null;
  }, [shownId]);
  if (!current && (!jobs || jobs.length === 0) && !error) return null;
  return (
    <section className="training" aria-label="Training" ref={section}>
      <h3>Training</h3>
      {error && (
        <p className="task-error" role="alert">
          {error}
        </p>
      )}
      {current && (
        <JobView
          job={current}
          known={known}
          sceneName={sceneName(current.spec.scene_id)}
          onSelect={training.select}
          onCancel={() => void training.cancel()}
          onStop={() => void training.stop()}
          onResume={() => void training.resume()}
          onOpenPolicy={onOpenPolicy}
          onPlayPolicy={onPlayPolicy}
          previewing={previewJobId === current.job_id}
          onPreview={onPreview}
        />
      )}
      {jobs && jobs.length > 0 && (
        <div className="job-list">
          <h4>Recent jobs</h4>
          <ul aria-label="Recent jobs">
            {jobs.map((j) => (
              <li key={j.job_id}>
                <button
                  type="button"
                  className="job-row"
                  aria-pressed={j.job_id === current?.job_id}
                  onClick={() => training.select(j.job_id)}
                >
                  <span className={`badge badge-${j.state}`}>{STATE_LABELS[j.state]}</span>
                  <span className="job-name">
                    {j.spec.name || sceneName(j.spec.scene_id)}
                    {j.spec.round > 0 && ` · round ${j.spec.round + 1}`}
                  </span>
                  <span className="job-date">{formatDate(j.created_at)}</span>
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}

function JobView({
  job,
  known,
  sceneName,
  onSelect,
  onCancel,
  onStop,
  onResume,
  onOpenPolicy,
  onPlayPolicy,
  previewing,
  onPreview,
}: {
  job: JobStatus;
  known: ReadonlyMap<string, JobStatus>;
  sceneName: string;
  onSelect: (jobId: string) => void;
  onCancel: () => void;
  onStop: () => void;
  onResume: () => void;
  onOpenPolicy: (policyId: string) => void;
  onPlayPolicy?: (target: PlaybackTarget) => void;
  previewing: boolean;
  onPreview?: (job: JobStatus, on: boolean) => void;
}) {
  const percent = progressPercent(job);
  const actions = actionsFor(job);
  const p = job.progress;
  const reward = useMemo(() => rewardChart(job.history), [job.history]);
  const terms = useMemo(() => termsChart(job.history), [job.history]);
  const score = useMemo(() => checkChart(job.history), [job.history]);
  const lineage = lineageOf(job, known);
  const total = roundsTotal(lineage);
  const roundList = rounds(lineage);
  const preset = job.spec.preset ?? "auto";
  // The latest evaluation's verdict while it runs; the kept checkpoint's once the job has an outcome.
  const check = job.progress?.check ?? null;
  const unconfirmed = job.outcome ? null : confirmationText(job.history);
  return (
    <div className="job" data-job-id={job.job_id}>
      <div className="job-head">
        <strong>{job.spec.name || sceneName}</strong>
        <output aria-label="Job state" className={`badge badge-${job.state}`}>
          {STATE_LABELS[job.state]}
        </output>
      </div>
      <p className="task-note">
        {job.spec.task_description || "No task description"} · {preset} on {job.device}
        {(lineage.length > 1 || job.spec.round > 0) && ` · round ${job.spec.round + 1} of ${total}`}
      </p>
      {roundList.length > 1 && (
        <Lineage rounds={roundList} shown={job.job_id} onSelect={onSelect} />
      )}
      {(job.spec.revision_notes ?? []).length > 0 && (
        <p className="task-note">Reward revised: {(job.spec.revision_notes ?? []).join("; ")}</p>
      )}
      <div
        className="progress"
        role="progressbar"
        aria-label="Training progress"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        aria-valuetext={`${percent}%`}
      >
        <div className="progress-fill" style={{ width: `${percent}%` }} />
      </div>
      <dl className="job-stats">
        <dt>Steps</dt>
        <dd>{formatSteps(p)}</dd>
        <dt>Speed</dt>
        <dd>{formatRate(p)}</dd>
        <dt>Elapsed</dt>
        <dd>{formatDuration(p?.elapsed_s)}</dd>
        <dt>ETA</dt>
        <dd>{formatEta(job)}</dd>
        <dt>Reward</dt>
        <dd>{formatReward(p?.eval_reward)}</dd>
      </dl>
      {job.spec.check && !job.outcome && (
        <output aria-label="Check verdict" className="check-verdict">
          {check ? verdictLine(check) : "check: judged at each evaluation"}
        </output>
      )}
      {unconfirmed && (
        <p className="task-note" role="status" aria-label="Check on new starts">
          {unconfirmed}
        </p>
      )}
      {onPreview && isLive(job.state) && (
        <label className="live-preview">
          <input
            type="checkbox"
            aria-label="Live preview"
            checked={previewing}
            onChange={(e) => onPreview(job, e.target.checked)}
          />
          Live preview
          <span className="hint"> (the newest evaluation's policy plays in the viewer)</span>
        </label>
      )}
      {job.outcome && <Outcome job={job} />}
      {awaitsRevision(job) && (
        <p className="check-revising" role="status" aria-label="Reflection">
          {revisingText(job, total)}
          {job.next_job_id && (
            <>
              {" · "}
              <button
                type="button"
                className="link"
                onClick={() => job.next_job_id && onSelect(job.next_job_id)}
              >
                follow it
              </button>
            </>
          )}
        </p>
      )}
      {job.error && (job.state === "failed" || job.state === "interrupted") && (
        <p className="task-error" role="alert">
          {job.error}
        </p>
      )}
      {(actions.cancel || actions.resume) && (
        <div className="job-actions">
          {actions.stop && (
            <button
              type="button"
              onClick={onStop}
              title="End training now and save the best policy evaluated so far"
            >
              Stop and keep best
            </button>
          )}
          {actions.cancel && (
            <button type="button" onClick={onCancel}>
              Cancel
            </button>
          )}
          {actions.resume && (
            <button type="button" onClick={onResume}>
              Resume
            </button>
          )}
        </div>
      )}
      {job.state === "succeeded" && job.policy_id && (
        <p className="job-saved">
          Saved to library ·{" "}
          <a
            href={`#policy=${encodeURIComponent(job.policy_id)}`}
            onClick={(e) => {
              e.preventDefault();
              if (job.policy_id) onOpenPolicy(job.policy_id);
            }}
          >
            Open in library
          </a>
          {onPlayPolicy && (
            <>
              {" · "}
              {/* A link like "Open in library" (not a button: the viewer's own "Play" button keeps a
                  unique accessible name). */}
              <a
                href={`#play=${encodeURIComponent(job.policy_id)}`}
                onClick={(e) => {
                  e.preventDefault();
                  if (job.policy_id) {
                    onPlayPolicy({
                      policyId: job.policy_id,
                      sceneId: job.spec.scene_id,
                      name: job.spec.name || sceneName,
                    });
                  }
                }}
              >
                Play policy
              </a>
            </>
          )}
        </p>
      )}
      {job.state === "succeeded" && job.policy_id && (
        // Rendered when the policy is saved: it may come a few seconds after the job's outcome.
        <PolicyClip
          key={job.policy_id}
          policyId={job.policy_id}
          name={job.spec.name || sceneName}
          retries={8}
          className="job-clip"
        />
      )}
      {job.history.length > 0 && (
        <>
          <Chart label="Reward (your program) by step" data={reward} />
          {hasCheck(job.history) && (
            <Chart label="Check score (0 to 1) by step" data={score} height={110} />
          )}
          {terms.names.length > 0 && (
            <Chart label="Reward terms and the task reward by step" data={terms} />
          )}
        </>
      )}
    </div>
  );
}

/** The finished job's verdict, the step it kept and how it ended. */
function Outcome({ job }: { job: JobStatus }) {
  const outcome = job.outcome;
  if (!outcome) return null;
  const [verdict, kept, ended] = outcomeLines(outcome, job.spec.early_stop_evals);
  const kind = outcome.check ? (outcome.check.passed ? "passed" : "failed") : "none";
  return (
    <section className={`check-outcome check-${kind}`} aria-label="Outcome">
      <strong>{verdict}</strong>
      <span>
        {kept} · {ended}
      </span>
    </section>
  );
}

/** Each round of a reflected job, oldest first, linked to its job. */
function Lineage({
  rounds,
  shown,
  onSelect,
}: {
  rounds: Round[];
  shown: string;
  onSelect: (jobId: string) => void;
}) {
  return (
    <ol className="lineage" aria-label="Rounds">
      {rounds.map((r) => (
        <li key={r.jobId}>
          <a
            href={`#job=${encodeURIComponent(r.jobId)}`}
            aria-current={r.jobId === shown ? "step" : undefined}
            onClick={(e) => {
              e.preventDefault();
              onSelect(r.jobId);
            }}
          >
            {r.text}
          </a>
        </li>
      ))}
    </ol>
  );
}
