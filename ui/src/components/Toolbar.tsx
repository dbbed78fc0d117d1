interface Props {
  disabled: boolean;
  paused: boolean;
  keyframes: string[];
  keyframe: number;
  follow: boolean;
  onPlayPause: () => void;
  onStep: () => void;
  onReset: () => void;
  onKeyframe: (key: number) => void;
  onFollow: (follow: boolean) => void;
}

/** Keyframe value -1 stands for the model's qpos0. */
export function Toolbar(p: Props) {
  return (
    <div className="toolbar" role="toolbar" aria-label="Simulation controls">
      <button type="button" disabled={p.disabled} onClick={p.onPlayPause}>
        {p.paused ? "Play" : "Pause"}
      </button>
      <button type="button" disabled={p.disabled} onClick={p.onStep}>
        Step
      </button>
      <button type="button" disabled={p.disabled} onClick={p.onReset}>
        Reset
      </button>
      {p.keyframes.length > 0 && (
        <label className="toolbar-field">
          Keyframe
          <select
            disabled={p.disabled}
            value={p.keyframe}
            onChange={(e) => p.onKeyframe(Number(e.target.value))}
          >
            {p.keyframes.map((name, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: keyframes are identified by index
              <option key={i} value={i}>
                {name || `keyframe ${i}`}
              </option>
            ))}
            <option value={-1}>model default (qpos0)</option>
          </select>
        </label>
      )}
      <label className="toolbar-field">
        <input
          type="checkbox"
          checked={p.follow}
          disabled={p.disabled}
          onChange={(e) => p.onFollow(e.target.checked)}
        />
        Follow
      </label>
    </div>
  );
}
