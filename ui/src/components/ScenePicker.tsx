import { useId, useMemo, useState } from "react";
import type { PendingScene, SceneInfo, SceneList } from "../api/client";
import { allScenes, groupScenes } from "./format";

interface Props {
  list: SceneList | null;
  error: string | null;
  selectedId: string | null;
  onSelect: (id: string) => void;
}

function actuators(n: number): string {
  return `${n} actuator${n === 1 ? "" : "s"}`;
}

function isReady(s: SceneInfo | PendingScene): s is SceneInfo {
  return "num_actuators" in s;
}

/** Every scene the server knows, by name at once; those still being prepared say so and can be opened
 * (the server prepares an opened scene next). */
export function ScenePicker({ list, error, selectedId, onSelect }: Props) {
  const [query, setQuery] = useState("");
  const all = useMemo(() => allScenes(list), [list]);
  const groups = useMemo(() => groupScenes(all, query), [all, query]);
  const idPrefix = useId();

  return (
    <nav className="picker" aria-label="Scenes">
      <input
        className="picker-search"
        type="search"
        aria-label="Search scenes"
        placeholder="Search scenes"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
      />
      {error && (
        <p className="picker-error" role="alert">
          {error}
        </p>
      )}
      {!list && !error && <p className="picker-note">Loading scenes…</p>}
      {list && list.pending.length > 0 && (
        <p className="picker-note" role="status" data-state="pending">
          Preparing {list.pending.length} scene{list.pending.length === 1 ? "" : "s"}…
        </p>
      )}
      {list && groups.length === 0 && all.length > 0 && (
        <p className="picker-note">No scene matches “{query}”.</p>
      )}
      {groups.map((group) => (
        <section key={group.family} aria-labelledby={`${idPrefix}-${group.family}`}>
          <h2 id={`${idPrefix}-${group.family}`}>{group.label}</h2>
          <ul>
            {group.scenes.map((s) => (
              <li key={s.id}>
                {/* accessible name = display name exactly; robot and actuators are the description */}
                <button
                  type="button"
                  className="scene"
                  aria-pressed={s.id === selectedId}
                  aria-label={s.name}
                  aria-describedby={`${idPrefix}-${s.id}-meta`}
                  data-scene-id={s.id}
                  data-state={isReady(s) ? "ready" : "pending"}
                  onClick={() => onSelect(s.id)}
                >
                  <span className="scene-name">{s.name}</span>{" "}
                  <span className="scene-meta" id={`${idPrefix}-${s.id}-meta`}>
                    {s.robot} · {isReady(s) ? actuators(s.num_actuators) : "preparing…"}
                  </span>
                </button>
              </li>
            ))}
          </ul>
        </section>
      ))}
      {list && list.failed.length > 0 && (
        <section aria-label="Failed scenes" data-state="failed">
          <h2>Unavailable</h2>
          <ul>
            {list.failed.map((f) => (
              <li key={f.id} className="scene-failed">
                <details>
                  <summary>{f.id}</summary>
                  <pre>{f.error}</pre>
                </details>
              </li>
            ))}
          </ul>
        </section>
      )}
    </nav>
  );
}
