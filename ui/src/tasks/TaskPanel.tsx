import { lazy, type ReactNode, Suspense, useCallback, useEffect, useState } from "react";
import type { SceneInfo } from "../api/client";
import { listPolicies, prepareBase } from "../library/api";
import type { PlaybackTarget } from "../playback/target";
import { TrainSection } from "../training/TrainSection";
import type { JobStatus } from "../training/types";
import {
  draftCommands,
  draftPolicy,
  listProviders,
  type ProviderList,
  type ProviderName,
  saveApiKey,
  selectProvider,
  validateProgram,
  warmPlayback,
} from "./api";
import { CheckSection } from "./CheckSection";
import { DraftSummary, Elapsed, ErrorList, FailureNotice } from "./DraftResult";
import {
  checkBlocks,
  EMPTY_DRAFT,
  earlyCommands,
  mergeEarlyCommands,
  messageOf,
  type SceneDraft,
  validationText,
} from "./draft";
import { formatFailure } from "./failure";
import { ProviderPicker } from "./ProviderPicker";
import { draftWaitText, preparingText, useCheckPreparation } from "./prepare";
import { TermsTable } from "./TermsTable";
import { CommandPlan, TierOptions } from "./TierOptions";
import {
  BUDGETS,
  type CommandSchedule,
  optionFor,
  playBlocked,
  sceneBase,
  selectedMethod,
  type TimeBudget,
  type TrainingMethod,
} from "./tiers";
import { readWeights, setWeight } from "./weights";

// CodeMirror is most of the panel's code: load it with the first draft, not with the viewer.
const ProgramEditor = lazy(() =>
  import("./ProgramEditor").then((m) => ({ default: m.ProgramEditor })),
);

/** Task text -> reward program draft -> edit and validate, for the selected scene. */
export function TaskPanel({
  scene,
  onTrainingStarted,
  onPlay,
  children,
}: {
  scene: SceneInfo;
  onTrainingStarted: (job: JobStatus) => void;
  /** Plays a policy live in the viewer: the command tier drives its base policy with the schedule. */
  onPlay?: (target: PlaybackTarget) => void;
  /** The training panel, shown under the draft. */
  children?: ReactNode;
}) {
  const [drafts, setDrafts] = useState<Record<string, SceneDraft>>({});
  const [providers, setProviders] = useState<ProviderList | null>(null);
  const [providersError, setProvidersError] = useState<string | null>(null);
  const [chosen, setChosen] = useState<ProviderName | null>(null);
  const [collapsed, setCollapsed] = useState(false);
  const [preparing, setPreparing] = useState(false);
  // How long the person will wait: the planner picks the tier from it (one choice for every scene).
  const [budget, setBudget] = useState<TimeBudget>("fast");
  const sceneId = scene.id;
  const draft = drafts[sceneId] ?? EMPTY_DRAFT;
  // The base the command tier would drive, per joystick scene (absent: not looked up, or none).
  const [bases, setBases] = useState<Record<string, string | null>>({});
  const takesCommands = scene.command != null;
  // The reward worker loads the scene and compiles its check rollouts while the person types.
  const checks = useCheckPreparation(sceneId);
  const preparingLine = draft.running ? null : preparingText(checks, scene.name);

  // Requests finish after the person may have switched scenes: always update by the id they started on.
  const update = useCallback((id: string, patch: (d: SceneDraft) => Partial<SceneDraft>) => {
    setDrafts((all) => {
      const d = all[id] ?? EMPTY_DRAFT;
      return { ...all, [id]: { ...d, ...patch(d) } };
    });
  }, []);

  useEffect(() => {
    const abort = new AbortController();
    listProviders(abort.signal)
      .then(setProviders)
      .catch((e) => {
        if (!abort.signal.aborted) setProvidersError(messageOf(e));
      });
    return () => abort.abort();
  }, []);

  // A joystick scene with a base: start its playback worker's compile while the person types, so Play's
  // first hello is immediate (idempotent on the server, which stops an unused worker after its idle time).
  useEffect(() => {
    if (!takesCommands) return;
    const abort = new AbortController();
    listPolicies(abort.signal)
      .then((policies) => {
        const base = sceneBase(policies, sceneId);
        setBases((all) => ({ ...all, [sceneId]: base }));
        if (base) warmPlayback(base).catch(() => undefined); // Play will compile instead
      })
      .catch(() => undefined); // no early commands then; the full draft still offers the tier
    return () => abort.abort();
  }, [sceneId, takesCommands]);

  const labelOf = (name: string) =>
    providers?.providers.find((p) => p.name === name)?.label ?? name;

  const onSelectProvider = async (name: ProviderName) => {
    setChosen(name); // at once: a draft started before the server answers must use it
    try {
      setProviders(await selectProvider(name));
      setProvidersError(null);
    } catch (e) {
      setProvidersError(messageOf(e));
    }
  };
  const onSaveKey = async (name: ProviderName, key: string) => {
    setProviders(await saveApiKey(name, key));
  };

  const runDraft = async (
    provider: ProviderName | null,
    plan: { budget?: TimeBudget; method?: TrainingMethod } = {},
  ) => {
    const id = sceneId;
    const task = draft.task.trim();
    if (!task || draft.running) return;
    const using = provider ?? chosen ?? providers?.active ?? null;
    const startedAt = performance.now();
    update(id, () => ({
      running: { startedAt, provider: using ? labelOf(using) : "the provider" },
      failure: null,
      error: null,
      commands: null,
    }));
    // The command tier's schedule comes in about a second; the reward draft may take minutes.
    const base = bases[id];
    if (takesCommands && base && (plan.method ?? "command") === "command") {
      warmPlayback(base).catch(() => undefined); // again: a long pause may have let the worker go idle
      draftCommands({ sceneId: id, task, provider: using })
        .then((early) => update(id, (d) => mergeEarlyCommands(d, early, startedAt)))
        .catch(() => undefined); // the full draft carries the schedule too
    }
    try {
      const outcome = await draftPolicy({
        sceneId: id,
        task,
        provider: using,
        timeBudget: plan.budget ?? budget,
        method: plan.method ?? null,
      });
      if (outcome.ok) {
        const { policy } = outcome;
        update(id, () => ({
          running: null,
          policy,
          program: policy.program,
          report: policy.validation,
          reportFor: policy.program,
          check: policy.check ?? "",
          checkReport: policy.check_validation ?? null,
          checkReportFor: policy.check_validation ? (policy.check ?? "") : null,
          method: plan.method ?? null,
        }));
      } else {
        update(id, () => ({ running: null, failure: outcome.failure }));
      }
    } catch (e) {
      update(id, () => ({ running: null, error: messageOf(e) }));
    }
  };

  const runValidate = async () => {
    const id = sceneId;
    const program = draft.program;
    update(id, () => ({ validating: true, error: null }));
    try {
      const report = await validateProgram(id, program);
      update(id, () => ({ validating: false, report, reportFor: program }));
    } catch (e) {
      update(id, () => ({ validating: false, error: messageOf(e) }));
    }
  };

  const runValidateCheck = async () => {
    const id = sceneId;
    const check = draft.check;
    update(id, () => ({ checkValidating: true, error: null }));
    try {
      const checkReport = await validateProgram(id, check, "check");
      update(id, () => ({ checkValidating: false, checkReport, checkReportFor: check }));
    } catch (e) {
      update(id, () => ({ checkValidating: false, error: messageOf(e) }));
    }
  };

  const onCheck = useCallback(
    (check: string) => update(sceneId, () => ({ check })),
    [sceneId, update],
  );
  const onProgram = useCallback(
    (program: string) => update(sceneId, () => ({ program })),
    [sceneId, update],
  );
  // A new budget re-plans the shown draft (the drafter runs again with it).
  const onBudget = (value: TimeBudget) => {
    setBudget(value);
    if (draft.policy && draft.task.trim()) void runDraft(null, { budget: value });
  };
  const onWeight = (name: string, value: number) =>
    update(sceneId, (d) => ({ program: setWeight(d.program, name, value) }));

  if (collapsed) {
    return (
      <aside className="task-panel task-panel-collapsed" aria-label="Task panel">
        <button
          type="button"
          aria-expanded={false}
          aria-label="Show task panel"
          onClick={() => setCollapsed(false)}
        >
          ‹
        </button>
      </aside>
    );
  }

  const weights = readWeights(draft.program);
  const failure = draft.failure
    ? formatFailure(draft.failure, labelOf(draft.failure.provider))
    : null;
  const shownErrors = draft.report && !draft.report.ok ? draft.report.errors : [];
  const valid = validationText(draft);
  const options = draft.policy?.options ?? [];
  const method = draft.policy
    ? selectedMethod(options, draft.policy.training_method, draft.method)
    : null;
  const option = method ? optionFor(options, method) : null;
  // The planner's draft names the base it would use; an option may name its own.
  const basePolicy = option?.base_policy ?? draft.policy?.base_policy ?? null;
  // Fine-tuning is unavailable exactly when the library has no base for the scene.
  const needsBase = optionFor(options, "fine_tuning")?.available === false;
  const runPrepareBase = async () => {
    setPreparing(true);
    try {
      onTrainingStarted(await prepareBase(sceneId));
    } catch (e) {
      update(sceneId, () => ({ error: messageOf(e) }));
    } finally {
      setPreparing(false);
    }
  };
  const playSchedule = (policyId: string, schedule: CommandSchedule, task: string) =>
    onPlay?.({ policyId, sceneId, name: `Commands · ${task}`, schedule });
  const playCommands = () => {
    const report = draft.policy?.command_schedule;
    if (!basePolicy || !report?.schedule || playBlocked(option, report)) return;
    playSchedule(basePolicy, report.schedule, draft.policy?.task_description || draft.task);
  };
  const early = earlyCommands(draft);
  const playEarly = () => {
    const report = early?.schedule;
    const base = early?.base_policy;
    if (!early || !base || !report?.schedule || playBlocked(early.option, report)) return;
    playSchedule(base, report.schedule, draft.task);
  };

  return (
    <aside className="task-panel" aria-label="Task panel">
      <div className="task-head">
        <h2>Teach {scene.robot}</h2>
        <button
          type="button"
          aria-expanded={true}
          aria-label="Hide task panel"
          onClick={() => setCollapsed(true)}
        >
          ›
        </button>
      </div>
      <fieldset className="examples">
        <legend>Examples</legend>
        {scene.examples.map((prompt) => (
          <button
            type="button"
            key={prompt}
            className="chip"
            onClick={() => update(sceneId, () => ({ task: prompt }))}
          >
            {prompt}
          </button>
        ))}
      </fieldset>
      <label className="field">
        <span>Task</span>
        <textarea
          aria-label="Task"
          rows={3}
          placeholder={`What should the ${scene.robot} do?`}
          value={draft.task}
          onChange={(e) => update(sceneId, () => ({ task: e.target.value }))}
        />
      </label>
      <ProviderPicker
        providers={providers}
        value={chosen ?? providers?.active ?? null}
        error={providersError}
        busy={draft.running !== null}
        onSelect={onSelectProvider}
        onSaveKey={onSaveKey}
      />
      <label className="field">
        <span>Time budget</span>
        <select
          aria-label="Time budget"
          value={budget}
          disabled={draft.running !== null}
          onChange={(e) => onBudget(e.target.value as TimeBudget)}
        >
          {BUDGETS.map((b) => (
            <option key={b.value} value={b.value}>
              {b.label}
            </option>
          ))}
        </select>
      </label>
      <button
        type="button"
        className="primary"
        disabled={!draft.task.trim() || draft.running !== null}
        aria-busy={draft.running !== null}
        onClick={() => void runDraft(null)}
      >
        Draft reward
      </button>
      {draft.running && (
        <p className="task-progress" role="status" aria-label="Draft progress">
          <span className="spinner spinner-small" aria-hidden="true" />
          {draftWaitText(checks, scene.name, draft.running.provider)} ·{" "}
          <Elapsed since={draft.running.startedAt} />
        </p>
      )}
      {preparingLine && (
        <p className="task-progress" role="status" aria-label="Check preparation">
          {preparingLine}
        </p>
      )}
      {failure && (
        <FailureNotice
          message={failure}
          fallbackLabel={failure.fallback ? labelOf(failure.fallback) : ""}
          busy={draft.running !== null}
          onFallback={() => failure.fallback && void runDraft(failure.fallback)}
        />
      )}
      {early && (
        <CommandPlan
          option={early.option}
          report={early.schedule}
          spec={scene.command}
          busy={false}
          onPlay={playEarly}
          onDraftCommands={() => undefined}
        />
      )}
      {draft.error && (
        <p className="task-error" role="alert">
          {draft.error}
        </p>
      )}
      {draft.policy && (
        <>
          <DraftSummary policy={draft.policy} label={labelOf(draft.policy.provider)} />
          {method && options.length > 0 && (
            <TierOptions
              options={options}
              value={method}
              planned={draft.policy.training_method}
              onChange={(m) => update(sceneId, () => ({ method: m }))}
            />
          )}
          {needsBase && (
            <div className="validate-row">
              <button
                type="button"
                disabled={preparing}
                aria-busy={preparing}
                onClick={() => void runPrepareBase()}
              >
                Prepare a base policy
              </button>
              <span className="task-note">
                trains {scene.name}'s own task once; then commands and fine-tuning start from it
              </span>
            </div>
          )}
          {method === "command" && !early && (
            <CommandPlan
              option={option}
              report={draft.policy.command_schedule}
              spec={scene.command}
              busy={draft.running !== null}
              onPlay={playCommands}
              onDraftCommands={() => void runDraft(null, { method: "command" })}
            />
          )}
          <Suspense fallback={<p className="task-note">Loading the editor…</p>}>
            <ProgramEditor
              key={sceneId}
              value={draft.program}
              onChange={onProgram}
              errors={shownErrors}
              errorsFor={draft.reportFor}
            />
          </Suspense>
          <div className="validate-row">
            <button
              type="button"
              disabled={draft.validating || !draft.program.trim()}
              onClick={() => void runValidate()}
            >
              Validate
            </button>
            <output
              aria-label="Validation"
              aria-live="polite"
              className={valid.startsWith("Valid") ? "valid" : draft.report?.ok ? "" : "invalid"}
            >
              {valid}
            </output>
          </div>
          <ErrorList errors={shownErrors} />
          {weights.size > 0 ? (
            <TermsTable weights={weights} report={draft.report} onWeight={onWeight} />
          ) : (
            <p className="task-note">
              Weights can be edited here once WEIGHTS = dict(...) reads again.
            </p>
          )}
          <CheckSection
            sceneId={sceneId}
            draft={draft}
            onChange={onCheck}
            onValidate={() => void runValidateCheck()}
          />
          {method !== "command" && valid.startsWith("Valid") && (
            <TrainSection
              sceneId={sceneId}
              program={draft.program}
              check={draft.check.trim() ? draft.check : null}
              blocked={checkBlocks(draft)}
              task={draft.policy.task_description || draft.task}
              estimate={
                option?.estimate_s != null
                  ? { text: option.estimate, seconds: option.estimate_s }
                  : {
                      text: draft.policy.training_time_estimate,
                      seconds: draft.policy.training_time_estimate_s,
                    }
              }
              basePolicyId={method === "fine_tuning" ? basePolicy : null}
              plannedTimesteps={method === "fine_tuning" ? (option?.timesteps ?? null) : null}
              onStarted={onTrainingStarted}
            />
          )}
        </>
      )}
      {children}
    </aside>
  );
}
