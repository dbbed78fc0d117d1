import { useState } from "react";
import type { ProviderList, ProviderName, ProviderStatus } from "./api";

interface Props {
  providers: ProviderList | null;
  /** The chosen provider (shown at once, before the server confirms the selection). */
  value: ProviderName | null;
  error: string | null;
  busy: boolean;
  onSelect: (name: ProviderName) => void;
  onSaveKey: (name: ProviderName, key: string) => Promise<void>;
}

/** "ready", "no API key", "not reachable", ... for the provider's option and status line. */
export function providerState(p: ProviderStatus): string {
  if (!p.configured) return p.needs_key ? "no API key" : "not configured";
  if (p.reachable === false) return "not reachable";
  if (p.reachable === null) return "configured";
  return "ready";
}

/** Provider/model choice; providers that need a key and have none offer a key field. */
export function ProviderPicker({ providers, value, error, busy, onSelect, onSaveKey }: Props) {
  const [key, setKey] = useState("");
  const [saving, setSaving] = useState(false);
  const [keyError, setKeyError] = useState<string | null>(null);
  const active = providers?.providers.find((p) => p.name === value) ?? null;

  const save = async () => {
    if (!active || !key.trim()) return;
    setSaving(true);
    setKeyError(null);
    try {
      await onSaveKey(active.name, key.trim());
      setKey("");
    } catch (e) {
      setKeyError(e instanceof Error ? e.message : String(e));
    } finally {
      setSaving(false);
    }
  };

  return (
    <div className="provider">
      <label className="field">
        <span>Provider</span>
        <select
          aria-label="Provider"
          value={value ?? ""}
          disabled={!providers || busy}
          onChange={(e) => onSelect(e.target.value as ProviderName)}
        >
          {!providers && <option value="">{error ? "unavailable" : "loading…"}</option>}
          {providers?.providers.map((p) => (
            <option key={p.name} value={p.name}>
              {p.label} · {p.model} ({providerState(p)})
            </option>
          ))}
        </select>
      </label>
      {error && (
        <p className="task-error" role="alert">
          Providers: {error}
        </p>
      )}
      {active && (active.detail || !active.configured) && (
        <p className="provider-detail">{active.detail || providerState(active)}</p>
      )}
      {active?.needs_key && !active.configured && (
        <form
          className="key-form"
          onSubmit={(e) => {
            e.preventDefault();
            void save();
          }}
        >
          <input
            type="password"
            aria-label="API key"
            placeholder={`${active.label} API key`}
            autoComplete="off"
            value={key}
            onChange={(e) => setKey(e.target.value)}
          />
          <button type="submit" disabled={saving || !key.trim()}>
            Save key
          </button>
          {keyError && (
            <p className="task-error" role="alert">
              {keyError}
            </p>
          )}
        </form>
      )}
    </div>
  );
}
