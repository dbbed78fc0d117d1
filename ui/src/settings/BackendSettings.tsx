import { useEffect, useState } from "react";
import { messageOf } from "../tasks/draft";
import {
  type BackendsReport,
  describeChoice,
  getBackends,
  getTrainingSettings,
  saveTrainingSettings,
  type TrainingSettings,
} from "./api";

/** Where training runs: this computer (its GPU when JAX sees one) or Modal's H100s. */
export function BackendSettings() {
  const [report, setReport] = useState<BackendsReport | null>(null);
  const [settings, setSettings] = useState<TrainingSettings | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const abort = new AbortController();
    Promise.all([getBackends(abort.signal), getTrainingSettings(abort.signal)])
      .then(([r, s]) => {
        setReport(r);
        setSettings(s);
      })
      .catch((e) => {
        if (!abort.signal.aborted) setError(messageOf(e));
      });
    return () => abort.abort();
  }, []);

  const save = async (next: TrainingSettings) => {
    setError(null);
    try {
      setSettings(await saveTrainingSettings(next));
      setReport(await getBackends());
    } catch (e) {
      setError(messageOf(e));
    }
  };

  if (!report || !settings) {
    return error ? (
      <p className="task-error" role="alert">
        {error}
      </p>
    ) : null;
  }
  return (
    <fieldset className="train backend-settings">
      <legend>Where to train</legend>
      <label className="field">
        <span>Backend</span>
        <select
          aria-label="Training backend"
          value={settings.backend}
          onChange={(e) =>
            void save({ ...settings, backend: e.target.value as TrainingSettings["backend"] })
          }
        >
          <option value="local">
            This computer ({report.local.device === "gpu" ? report.local.name : "CPU"})
          </option>
          <option value="modal">
            Modal {report.modal.gpu}
            {report.modal.configured ? "" : " (not configured)"}
          </option>
        </select>
      </label>
      {settings.backend === "modal" && (
        <label className="field">
          <span>Modal jobs at once</span>
          <input
            aria-label="Modal jobs at once"
            type="number"
            min={1}
            max={1000}
            value={settings.modal_max_concurrent}
            onChange={(e) => {
              const n = Number(e.target.value);
              if (Number.isInteger(n) && n >= 1 && n <= 1000)
                void save({ ...settings, modal_max_concurrent: n });
            }}
          />
        </label>
      )}
      <output className="task-note" aria-label="Training device">
        {describeChoice(report, settings.backend)}
      </output>
      {error && (
        <p className="task-error" role="alert">
          {error}
        </p>
      )}
    </fieldset>
  );
}
