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
  task,
  estimate,
  onStarted,
}: {
  sceneId: string;
  program: string;
  task: string;
  estimate: { text: string; seconds: number } | null;
  onStarted: (job: JobStatus) => void;
}) {
  const [preset, setPreset] = useState<Preset>("auto");
  const [timesteps, setTimesteps] = useState("");
  const [seed, setSeed] = useState("0");
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [errors, setErrors] = useState<ProgramError[]>([]);

  const steps = timesteps.trim() === "" ? null : Number(timesteps);
  const seedValue = seed.trim() === "" ? 0 : Number(seed);
  const stepsOk = steps === null || (Number.isInteger(steps) && steps >= 1);
  const seedOk = Number.isInteger(seedValue) && seedValue >= 0 && seedValue <= 2 ** 31 - 1;

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
      <legend>Train</legend>
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
            placeholder="preset's"
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
        Estimated time: {estimateText(preset, estimate, steps !== null)}
      </output>
      <button
        type="button"
        className="primary"
        disabled={busy || !stepsOk || !seedOk}
        aria-busy={busy}
        onClick={() => void start()}
      >
        Train policy
      </button>
      {error && (
        <p className="task-error" role="alert">
          {error}
        </p>
      )}
      <ErrorList errors={errors} />
    </fieldset>
  );
}
