import { type FormEvent, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { keptText, outcomeLines, type TrainingOutcome, verdictBadge } from "../checks/format";
import type { PlaybackTarget } from "../playback/target";
import { messageOf } from "../tasks/draft";
import { Chart } from "../training/Chart";
import { formatDate, formatReward, rewardChart } from "../training/format";
import type { JobStatus, PolicyManifest, PolicySummary } from "../training/types";
import {
  deletePolicy,
  exportPolicy,
  getPolicy,
  importPolicy,
  listPolicies,
  prepareBase,
  renamePolicy,
  reviewPolicy,
  setPolicyBase,
} from "./api";
import {
  baseLabel,
  baseToggleLabel,
  deleteBlockedReason,
  renameBlockedReason,
  scenesWithoutBase,
} from "./bases";
import { PolicyClip } from "./Clip";
import { canPlay, playBlockedReason, sourceLabel } from "./review";

/**
 * Trained policies: rename, delete, export and import; one opened to show its curve and program. An
 * imported policy plays only after the user has read its reward program and confirmed it (review.ts).
 */
export function LibraryView({
  focusId,
  sceneName,
  onPlay,
  onClose,
  scenes = [],
  onTrainingStarted,
}: {
  focusId: string | null;
  sceneName: (id: string) => string;
  /** Plays the policy live in the viewer (closes the library). */
  onPlay?: (target: PlaybackTarget) => void;
  onClose: () => void;
  /** The scenes shown in the picker: those without a base are offered "Prepare a base policy". */
  scenes?: readonly { id: string; name: string }[];
  /** A base policy's training job started: the app shows it in the training panel. */
  onTrainingStarted?: (job: JobStatus, sceneId: string) => void;
}) {
  const [policies, setPolicies] = useState<PolicySummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [openId, setOpenId] = useState<string | null>(focusId);
  const [renaming, setRenaming] = useState<string | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [importing, setImporting] = useState(false);
  // Bumped after every change so the opened policy's details are read again.
  const [version, setVersion] = useState(0);

  // The list's own failure is kept apart from an action's: reloading the list after a refused import
  // must not wipe the reason the import was refused.
  const [listError, setListError] = useState<string | null>(null);
  const refresh = useCallback(async () => {
    try {
      setPolicies(await listPolicies());
      setListError(null);
    } catch (e) {
      setListError(messageOf(e));
    }
  }, []);

  useEffect(() => {
    void refresh();
  }, [refresh]);
  useEffect(() => setOpenId(focusId), [focusId]);

  const act = async (work: () => Promise<unknown>) => {
    try {
      await work();
      setError(null);
    } catch (e) {
      setError(messageOf(e));
    }
    setVersion((v) => v + 1);
    await refresh();
  };

  const onImport = async (file: File | undefined) => {
    if (!file) return;
    setImporting(true);
    await act(async () => setOpenId((await importPolicy(file)).policy_id));
    setImporting(false);
  };

  return (
    <section className="library" aria-label="Policy library">
      <div className="library-head">
        <h2>Policy library</h2>
        <label className="import">
          <span>{importing ? "Importing…" : "Import a .robocoach file"}</span>
          <input
            type="file"
            accept=".robocoach,application/octet-stream"
            aria-label="Import policy"
            disabled={importing}
            onChange={(e) => {
              void onImport(e.target.files?.[0]);
              e.target.value = "";
            }}
          />
        </label>
        <button type="button" onClick={onClose}>
          Close library
        </button>
      </div>
      {(error ?? listError) && (
        <p className="task-error" role="alert">
          {error ?? listError}
        </p>
      )}
      {policies === null ? (
        <p className="task-note">Loading policies…</p>
      ) : policies.length === 0 ? (
        <p className="task-note">No trained policies yet: draft a reward and train one.</p>
      ) : (
        <table className="policies" aria-label="Policies">
          <thead>
            <tr>
              <th>
                <span className="visually-hidden">Clip</span>
              </th>
              <th>Name</th>
              <th>Scene</th>
              <th>Task</th>
              <th>Check</th>
              <th>Final reward</th>
              <th>Date</th>
              <th>
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {policies.map((p) => (
              <tr
                key={p.id}
                data-policy-id={p.id}
                className={p.id === openId ? "policy-open" : undefined}
              >
                <td className="policy-clip-cell">
                  {p.clip && <PolicyClip policyId={p.id} name={p.name || p.id} />}
                </td>
                <td>
                  {renaming === p.id ? (
                    <RenameForm
                      initial={p.name}
                      onCancel={() => setRenaming(null)}
                      onSave={(name) =>
                        act(async () => {
                          await renamePolicy(p.id, name);
                          setRenaming(null);
                        })
                      }
                    />
                  ) : (
                    <button
                      type="button"
                      className="link"
                      aria-expanded={p.id === openId}
                      onClick={() => setOpenId(p.id === openId ? null : p.id)}
                    >
                      {p.name || p.id}
                    </button>
                  )}
                  {sourceLabel(p) && <span className="policy-source">{sourceLabel(p)}</span>}
                  {baseLabel(p) && <span className="badge badge-base">{baseLabel(p)}</span>}
                </td>
                <td>{sceneName(p.scene_id)}</td>
                <td className="policy-task">{p.task}</td>
                <td className="policy-verdict">
                  <Verdict outcome={p.outcome} />
                </td>
                <td>{formatReward(p.final_eval_reward)}</td>
                <td>{formatDate(p.created_at)}</td>
                <td className="policy-actions">
                  {confirming === p.id ? (
                    <>
                      <span>Delete?</span>
                      <button
                        type="button"
                        className="danger"
                        onClick={() =>
                          act(async () => {
                            await deletePolicy(p.id);
                            setConfirming(null);
                            if (openId === p.id) setOpenId(null);
                          })
                        }
                      >
                        Confirm delete
                      </button>
                      <button type="button" onClick={() => setConfirming(null)}>
                        Keep
                      </button>
                    </>
                  ) : (
                    <>
                      {onPlay && (
                        <button
                          type="button"
                          className="primary"
                          disabled={!canPlay(p)}
                          title={playBlockedReason(p)}
                          onClick={() =>
                            onPlay({ policyId: p.id, sceneId: p.scene_id, name: p.name || p.id })
                          }
                        >
                          Play
                        </button>
                      )}
                      <button
                        type="button"
                        disabled={renameBlockedReason(p) !== undefined}
                        title={renameBlockedReason(p)}
                        onClick={() => setRenaming(p.id)}
                      >
                        Rename
                      </button>
                      <button type="button" onClick={() => act(() => exportPolicy(p.id, p.name))}>
                        Export
                      </button>
                      {baseToggleLabel(p) && (
                        <button
                          type="button"
                          title="A base is what the fine-tune and command tiers start from"
                          onClick={() => act(() => setPolicyBase(p.id, p.base !== "user"))}
                        >
                          {baseToggleLabel(p)}
                        </button>
                      )}
                      <button
                        type="button"
                        disabled={deleteBlockedReason(p) !== undefined}
                        title={deleteBlockedReason(p)}
                        onClick={() => setConfirming(p.id)}
                      >
                        Delete
                      </button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {policies !== null && onTrainingStarted && (
        <PrepareBase
          scenes={scenesWithoutBase(scenes, policies)}
          onPrepare={(sceneId) =>
            act(async () => onTrainingStarted(await prepareBase(sceneId), sceneId))
          }
        />
      )}
      {openId && (
        <PolicyDetails
          key={`${openId}:${version}`}
          id={openId}
          onReview={() => act(() => reviewPolicy(openId))}
        />
      )}
    </section>
  );
}

/**
 * "Prepare a base policy" for a scene no base serves: trains the scene's own task once, so the command
 * and fine-tune tiers can start from it.
 */
function PrepareBase({
  scenes,
  onPrepare,
}: {
  scenes: readonly { id: string; name: string }[];
  onPrepare: (sceneId: string) => Promise<void>;
}) {
  const [sceneId, setSceneId] = useState("");
  const [busy, setBusy] = useState(false);
  if (scenes.length === 0) return null;
  const chosen = scenes.some((s) => s.id === sceneId) ? sceneId : scenes[0].id;
  return (
    <fieldset className="prepare-base">
      <legend>Base policies</legend>
      <p className="task-note">
        The command and fine-tune tiers start from a base policy. These scenes have none yet:
        preparing one trains the scene's own task once (on a GPU or Modal when there is one) and
        keeps it in the library.
      </p>
      <label className="field">
        <span>Scene without a base</span>
        <select
          aria-label="Scene without a base"
          value={chosen}
          onChange={(e) => setSceneId(e.target.value)}
        >
          {scenes.map((s) => (
            <option key={s.id} value={s.id}>
              {s.name}
            </option>
          ))}
        </select>
      </label>
      <button
        type="button"
        disabled={busy}
        aria-busy={busy}
        onClick={() => {
          setBusy(true);
          void onPrepare(chosen).finally(() => setBusy(false));
        }}
      >
        Prepare a base policy
      </button>
    </fieldset>
  );
}

/** The kept policy's verdict badge, its summary below (and on hover), and the step it was kept at. */
function Verdict({ outcome }: { outcome: TrainingOutcome | null | undefined }) {
  const badge = verdictBadge(outcome);
  return (
    <>
      <span className={`badge badge-check-${badge.kind}`} title={badge.detail || undefined}>
        {badge.label}
      </span>
      {badge.detail && <span className="policy-verdict-detail">{badge.detail}</span>}
      {outcome && <span className="policy-verdict-detail">{keptText(outcome)}</span>}
    </>
  );
}

function RenameForm({
  initial,
  onSave,
  onCancel,
}: {
  initial: string;
  onSave: (name: string) => Promise<void>;
  onCancel: () => void;
}) {
  const [name, setName] = useState(initial);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.select(), []);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (name.trim()) void onSave(name.trim());
  };
  return (
    <form className="rename" onSubmit={submit}>
      <input
        ref={input}
        aria-label="Policy name"
        type="text"
        maxLength={200}
        value={name}
        onChange={(e) => setName(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Escape") onCancel();
        }}
      />
      <button type="submit" disabled={!name.trim()}>
        Save name
      </button>
      <button type="button" onClick={onCancel}>
        Cancel rename
      </button>
    </form>
  );
}

function PolicyDetails({ id, onReview }: { id: string; onReview: () => Promise<void> }) {
  const [manifest, setManifest] = useState<PolicyManifest | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const abort = new AbortController();
    getPolicy(id, abort.signal)
      .then(setManifest)
      .catch((e) => {
        if (!abort.signal.aborted) setError(messageOf(e));
      });
    return () => abort.abort();
  }, [id]);
  const chart = useMemo(() => rewardChart(manifest?.metrics_history ?? []), [manifest]);
  if (error) {
    return (
      <p className="task-error" role="alert">
        {error}
      </p>
    );
  }
  if (!manifest) return <p className="task-note">Loading the policy…</p>;
  return (
    <section className="policy-details" aria-label="Policy details">
      <h3>{manifest.name}</h3>
      {manifest.outcome && (
        <p className="task-note check-outcome-line">
          {outcomeLines(manifest.outcome, null).join(" · ")}
        </p>
      )}
      <dl className="job-stats">
        <dt>Final reward</dt>
        <dd>{formatReward(manifest.final_eval_reward)}</dd>
        <dt>Network</dt>
        <dd>
          policy {manifest.network.policy_hidden_layer_sizes.join("×")}, value{" "}
          {manifest.network.value_hidden_layer_sizes.join("×")}
        </dd>
        <dt>Actions</dt>
        <dd>{manifest.action_size}</dd>
        <dt>Versions</dt>
        <dd>
          {Object.entries(manifest.versions)
            .map(([k, v]) => `${k} ${v}`)
            .join(", ")}
        </dd>
      </dl>
      {manifest.metrics_history.length > 0 && (
        <Chart label="Reward by step during training" data={chart} />
      )}
      {manifest.check && (
        <details>
          <summary>Success check</summary>
          <pre className="policy-program">{manifest.check}</pre>
        </details>
      )}
      {manifest.source === "imported" && !manifest.program_reviewed_at ? (
        <ProgramReview program={manifest.program} onReview={onReview} />
      ) : (
        <details>
          <summary>Reward program</summary>
          <pre className="policy-program">{manifest.program}</pre>
        </details>
      )}
    </section>
  );
}

/** An imported policy's program, shown in full (read-only) with the confirmation that enables Play. */
function ProgramReview({ program, onReview }: { program: string; onReview: () => Promise<void> }) {
  const [read, setRead] = useState(false);
  const [saving, setSaving] = useState(false);
  return (
    <section className="program-review" aria-label="Review the imported program">
      <p className="task-note" role="note">
        This policy was imported from a file. Playing it runs the reward program below on this
        computer (it passed the same checks as a drafted one). Read it before you play the policy.
      </p>
      <pre className="policy-program">{program}</pre>
      <label>
        <input type="checkbox" checked={read} onChange={(e) => setRead(e.target.checked)} /> I have
        read this program
      </label>
      <button
        type="button"
        className="primary"
        disabled={!read || saving}
        onClick={() => {
          setSaving(true);
          void onReview().finally(() => setSaving(false));
        }}
      >
        Allow playing
      </button>
    </section>
  );
}
