import { useState } from "react";
import { BackendSettings } from "../settings/BackendSettings";
import type { ProgramError } from "../tasks/api";
import { ErrorList } from "../tasks/DraftResult";
import { messageOf } from "../tasks/draft";
import { startTraining } from "./api";
import { estimateText, PRESETS } from "./format";
import type { JobStatus, Preset } from "./types";

/** Settings and the "Train policy" button, shown under a valid draft. */
export function TrainSection({
  sceneId,
  program,
  check,
  blocked,
  task,
  estimate,
  basePolicyId = null,
  plannedTimesteps = null,
  onStarted,
}: {
  sceneId: string;
  program: string;
  /** The success check judged at each evaluation; null trains without one. */
  check: string | null;
  /** Why training cannot start yet (an edited check not validated), or null. */
  blocked: string | null;
  task: string;
  estimate: { text: string; seconds: number } | null;
  /** Fine-tunes this base policy with the program instead of training from scratch. */
  basePolicyId?: string | null;
  /** The planner's step budget (a fine-tune's, sized to its estimate), used while Timesteps is empty. */
  plannedTimesteps?: number | null;
  onStarted: (job: JobStatus) => void;
}) {
  const [preset, setPreset] = useState<Preset>("auto");
  const [timesteps, setTimesteps] = useState("");
  const [seed, setSeed] = useState("0");
  const [name, setName] = useState("");
  const [rounds, setRounds] = useState("2");
  const [earlyStop, setEarlyStop] = useState("2");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [errors, setErrors] = useState<ProgramError[]>([]);

  const typed = timesteps.trim() !== "";
  // The planner sized its budget for the default preset; another preset keeps its own step count.
  const planned = preset === "auto" ? plannedTimesteps : null;
  const steps = typed ? Number(timesteps) : planned;
  const seedValue = seed.trim() === "" ? 0 : Number(seed);
  const stepsOk = steps === null || (Number.isInteger(steps) && steps >= 1);
  const seedOk = Number.isInteger(seedValue) && seedValue >= 0 && seedValue <= 2 ** 31 - 1;
  const roundsValue = rounds.trim() === "" ? 2 : Number(rounds);
  const roundsOk = Number.isInteger(roundsValue) && roundsValue >= 0 && roundsValue <= 5;
  const earlyValue = earlyStop.trim() === "" ? 2 : Number(earlyStop);
  const earlyOk = Number.isInteger(earlyValue) && earlyValue >= 0 && earlyValue <= 100;

  const start = async () => {
    setBusy(true);
    setError(null);
    setErrors([]);
    try {
      const outcome = await startTraining({
        scene_id: sceneId,
        program,
        task_description: task.slice(0, 2000),
        name: name.trim(),
        preset,
        timesteps: steps,
        seed: seedValue,
        check,
        early_stop_evals: earlyValue,
        reflection_rounds: roundsValue,
        round: 0,
        base_policy_id: basePolicyId,
        make_base: false,
      });
      if (outcome.ok) onStarted(outcome.job);
      else {
        setError("The server refused the program:");
        setErrors(outcome.report.errors);
      }
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <fieldset className="train">
      <legend>{basePolicyId ? "Fine-tune" : "Train"}</legend>
      {basePolicyId && <p className="task-note">Starts from the base policy {basePolicyId}</p>}
      <label className="field">
        <span>Preset</span>
        <select
          aria-label="Preset"
          value={preset}
          onChange={(e) => setPreset(e.target.value as Preset)}
        >
          {PRESETS.map((p) => (
            <option key={p.value} value={p.value}>
              {p.label}
            </option>
          ))}
        </select>
      </label>
      <div className="train-row">
        <label className="field">
          <span>Timesteps</span>
          <input
            aria-label="Timesteps"
            type="number"
            min={1}
            step={1}
            placeholder={planned ? String(planned) : "preset's"}
            value={timesteps}
            aria-invalid={!stepsOk}
            onChange={(e) => setTimesteps(e.target.value)}
          />
        </label>
        <label className="field">
          <span>Seed</span>
          <input
            aria-label="Seed"
            type="number"
            min={0}
            step={1}
            value={seed}
            aria-invalid={!seedOk}
            onChange={(e) => setSeed(e.target.value)}
          />
        </label>
      </div>
      {check !== null && (
        <div className="train-row">
          <label className="field">
            <span>Reflection rounds</span>
            <input
              aria-label="Reflection rounds"
              title="If the kept policy fails its check, revise the reward and train again, up to this many times"
              type="number"
              min={0}
              max={5}
              step={1}
              value={rounds}
              aria-invalid={!roundsOk}
              onChange={(e) => setRounds(e.target.value)}
            />
          </label>
          <label className="field">
            <span>Stop after passing evals</span>
            <input
              aria-label="Stop after passing evaluations"
              title="Stop once the check has passed in every episode for this many evaluations in a row (0: never)"
              type="number"
              min={0}
              max={100}
              step={1}
              value={earlyStop}
              aria-invalid={!earlyOk}
              onChange={(e) => setEarlyStop(e.target.value)}
            />
          </label>
        </div>
      )}
      <label className="field">
        <span>Name for the policy (optional)</span>
        <input
          aria-label="Name for the policy"
          type="text"
          maxLength={200}
          value={name}
          onChange={(e) => setName(e.target.value)}
        />
      </label>
      <BackendSettings />
      <output className="task-note train-estimate" aria-label="Time estimate">
        Estimated time:{" "}
        {estimateText(preset, estimate, typed, check !== null && roundsOk ? roundsValue : 0)}
      </output>
      <button
        type="button"
        className="primary"
        disabled={busy || !stepsOk || !seedOk || !roundsOk || !earlyOk || blocked !== null}
        aria-busy={busy}
        onClick={() => void start()}
      >
        Train policy
      </button>
      {blocked && (
        <p className="task-note" role="note">
          {blocked}
        </p>
      )}
      {error && (
        <p className="task-error" role="alert">
          {error}
        </p>
      )}
      <ErrorList errors={errors} />
    </fieldset>
  );
}
