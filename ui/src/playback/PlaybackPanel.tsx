import { useCallback, useEffect, useRef, useState } from "react";
import { apiToken } from "../api/client";
import { type JobStatus, STREAM_END_STATES } from "../training/types";
import type { SceneController } from "../viewer/controller";
import type { PlaybackSnapshot } from "./driver";
import { boundKey, commandFromKeys } from "./keys";
import type { CommandSpec } from "./protocol";
import { type PlaybackHandle, playbackUrl, previewUrl, startPlayback } from "./session";
import { type PlaybackTarget, previewEndText, previewLabel } from "./target";

const SPEEDS = [0.25, 0.5, 1, 2, 4];

const formatValue = (v: number | undefined) =>
  v === undefined || !Number.isFinite(v) ? "–" : Math.abs(v) >= 1000 ? v.toFixed(0) : v.toFixed(3);

function statusLine(s: PlaybackSnapshot | null, paused: boolean, preview: boolean): string {
  if (!s) return "Connecting…";
  switch (s.phase) {
    case "compiling":
      // A preview waits for the job's first params (the server says so) as much as it compiles.
      return preview ? s.status : "Compiling policy…";
    case "playing":
      return paused ? "Paused" : "Playing";
    default:
      return s.status;
  }
}

/**
 * Plays a trained policy live on the shown scene: the server runs the policy, this page the physics.
 * The controls replace the simulation toolbar while it plays; Stop returns to the plain scene.
 *
 * A training job's live preview (`target.jobId`) plays the job's newest params and says which; when the
 * job ends it offers its kept policy (`job`: the job's status as the training panel follows it).
 */
export function PlaybackPanel({
  controller,
  target,
  job = null,
  paused,
  follow,
  onPlayPause,
  onFollow,
  onStop,
  onPlay,
}: {
  controller: SceneController;
  target: PlaybackTarget;
  job?: JobStatus | null;
  paused: boolean;
  follow: boolean;
  onPlayPause: () => void;
  onFollow: (on: boolean) => void;
  onStop: () => void;
  /** Plays another target (a preview's kept policy). */
  onPlay?: (target: PlaybackTarget) => void;
}) {
  const handle = useRef<PlaybackHandle | null>(null);
  const [s, setS] = useState<PlaybackSnapshot | null>(null);
  const [speed, setSpeed] = useState(1);
  const { policyId, jobId } = target;

  useEffect(() => {
    const token = apiToken();
    const page = window.location.href;
    const url =
      jobId !== undefined ? previewUrl(jobId, token, page) : playbackUrl(policyId, token, page);
    // The worker posts readouts ten times a second (and at once on a phase change or an error).
    const h = startPlayback(
      controller,
      url,
      target.sceneId,
      setS,
      target.schedule ?? null,
      jobId !== undefined,
    );
    handle.current = h;
    setS(h.snapshot());
    return () => {
      handle.current = null;
      h.stop();
    };
  }, [controller, policyId, jobId, target.sceneId, target.schedule]);

  // The page's play/pause state (SceneView) pauses the worker's stepping too.
  useEffect(() => {
    handle.current?.setPaused(paused);
  }, [paused]);

  const hello = s?.hello ?? null;
  const terms = hello?.reward_terms ?? [];
  const onSpeed = (value: number) => {
    setSpeed(value);
    handle.current?.setSpeed(value);
  };
  const sendCommand = useCallback((values: number[]) => {
    handle.current?.setCommand(values);
  }, []);

  const preview = jobId !== undefined;
  // The job's end as the preview heard it, or as the training panel follows it (a preview that lost
  // its connection before the server said so); or the preview closed for another reason (its status).
  const jobEnded =
    preview && (s?.policy?.ended === true || (job !== null && STREAM_END_STATES.has(job.state)));
  const ended = jobEnded || (preview && s?.phase === "ended");
  const kept = job?.state === "succeeded" ? job.policy_id : null;

  return (
    <section className="playback" aria-label="Policy playback">
      <div className="playback-head">
        <strong className="playback-name">{target.name}</strong>
        <output aria-label="Playback status" className="playback-status">
          {jobEnded ? "Training ended" : ended ? "Preview ended" : statusLine(s, paused, preview)}
        </output>
      </div>
      {preview && (
        <output aria-label="Preview policy" className="preview-policy">
          {previewLabel(s?.policy ?? null)}
        </output>
      )}
      {preview && !ended && s?.policy?.note && (
        <p className="task-note preview-note" role="note" aria-label="Preview note">
          {s.policy.note}
        </p>
      )}
      {ended && (
        <div className="preview-end" role="status" aria-label="Preview ended">
          <span>{previewEndText(s?.policy ?? null, job, s?.status)}</span>
          {jobEnded && (job === null || job.state === "succeeded") && (
            <button
              type="button"
              className="primary"
              disabled={!kept || !onPlay}
              title={kept ? undefined : "The job's policy is not saved yet"}
              onClick={() => {
                if (kept) {
                  onPlay?.({
                    policyId: kept,
                    sceneId: target.sceneId,
                    name: job?.spec.name || target.name,
                  });
                }
              }}
            >
              Play kept policy
            </button>
          )}
        </div>
      )}
      <div className="toolbar playback-controls" role="toolbar" aria-label="Playback controls">
        <button type="button" onClick={onPlayPause}>
          {paused ? "Play" : "Pause"}
        </button>
        <button
          type="button"
          disabled={!hello || s?.fatal}
          onClick={() => handle.current?.resetEpisode()}
        >
          Reset episode
        </button>
        <label className="toolbar-field">
          Speed
          <select value={speed} onChange={(e) => onSpeed(Number(e.target.value))}>
            {SPEEDS.map((v) => (
              <option key={v} value={v}>
                {v}×
              </option>
            ))}
          </select>
        </label>
        <label className="toolbar-field">
          <input type="checkbox" checked={follow} onChange={(e) => onFollow(e.target.checked)} />
          Follow robot
        </label>
        <button type="button" onClick={onStop}>
          Stop
        </button>
      </div>
      {s?.error && (
        <p className="task-error" role="alert">
          {s.error}
        </p>
      )}
      <dl className="playback-stats">
        <dt>Episode return</dt>
        <dd>
          <output aria-label="Episode return">{formatValue(s?.episodeReturn)}</output>
        </dd>
        <dt>Episode step</dt>
        <dd>
          <output aria-label="Episode step">{s?.step ?? 0}</output>
          {hello ? ` / ${hello.episode_length}` : ""}
        </dd>
        <dt>Scene reward</dt>
        <dd>
          <output aria-label="Scene reward">{formatValue(s?.taskReward)}</output>
        </dd>
        <dt>Round-trip latency</dt>
        <dd>
          <output aria-label="Round-trip latency">
            {s && Number.isFinite(s.latencyP50) ? `${s.latencyP50.toFixed(1)} ms` : "–"}
          </output>
        </dd>
      </dl>
      {terms.length > 0 && (
        <table className="terms playback-terms" aria-label="Live reward">
          <thead>
            <tr>
              <th scope="col">Term</th>
              <th scope="col">Value</th>
              <th scope="col">Weight</th>
            </tr>
          </thead>
          <tbody>
            {terms.map((name, i) => (
              <tr key={name}>
                <th scope="row">{name}</th>
                <td>{formatValue(s?.terms[i])}</td>
                <td>{formatValue(hello?.weights[i])}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {hello?.command && s?.phase !== "stopped" && (
        <CommandPad spec={hello.command} current={s?.command ?? null} onCommand={sendCommand} />
      )}
    </section>
  );
}

/** Keys typed into a form field or the program editor must not drive the robot. */
function typingInto(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return (
    target.isContentEditable ||
    target.tagName === "INPUT" ||
    target.tagName === "TEXTAREA" ||
    target.tagName === "SELECT"
  );
}

/** One slider per command component, plus arrows/WASD (x, y) and Q/E (yaw) on the keyboard. */
function CommandPad({
  spec,
  current,
  onCommand,
}: {
  spec: CommandSpec;
  current: number[] | null;
  onCommand: (values: number[]) => void;
}) {
  const [values, setValues] = useState<number[]>(() => spec.names.map((_, i) => current?.[i] ?? 0));
  const rest = useRef(values);
  const held = useRef(new Set<string>());
  // Until the user drives, the pad shows the command the env chose (joystick envs sample one).
  const touched = useRef(false);
  const serverCommand = current?.join(",") ?? "";
  useEffect(() => {
    if (touched.current || !serverCommand) return;
    const next = serverCommand.split(",").map(Number);
    rest.current = next;
    setValues(next);
  }, [serverCommand]);

  const send = useCallback(
    (next: number[]) => {
      touched.current = true;
      setValues(next);
      onCommand(next);
    },
    [onCommand],
  );
  const onSlider = (i: number, value: number) => {
    const next = values.map((v, j) => (j === i ? value : v));
    rest.current = next;
    send(next);
  };

  useEffect(() => {
    const update = () => send(commandFromKeys(held.current, spec, rest.current));
    const down = (e: KeyboardEvent) => {
      const key = boundKey(e.key, spec);
      if (!key || typingInto(e.target) || e.altKey || e.ctrlKey || e.metaKey) return;
      e.preventDefault(); // arrows would scroll the page
      if (held.current.has(key)) return; // auto-repeat
      held.current.add(key);
      update();
    };
    const up = (e: KeyboardEvent) => {
      const key = boundKey(e.key, spec);
      if (key && held.current.delete(key)) update();
    };
    const blur = () => {
      if (held.current.size > 0) {
        held.current.clear();
        update();
      }
    };
    window.addEventListener("keydown", down);
    window.addEventListener("keyup", up);
    window.addEventListener("blur", blur);
    return () => {
      window.removeEventListener("keydown", down);
      window.removeEventListener("keyup", up);
      window.removeEventListener("blur", blur);
    };
  }, [spec, send]);

  return (
    <fieldset className="command-pad">
      <legend>Command</legend>
      {spec.names.map((name, i) => (
        <label key={name} className="command-slider">
          <span>{name}</span>
          <input
            type="range"
            aria-label={name}
            min={spec.low[i]}
            max={spec.high[i]}
            step={(spec.high[i] - spec.low[i]) / 100 || 0.01}
            value={values[i]}
            onChange={(e) => onSlider(i, Number(e.target.value))}
          />
          <output>{values[i].toFixed(2)}</output>
        </label>
      ))}
      <div className="command-row">
        <button
          type="button"
          onClick={() => {
            rest.current = spec.names.map(() => 0);
            send(commandFromKeys(held.current, spec, rest.current));
          }}
        >
          Zero command
        </button>
        <span className="hint">Keys: arrows or W A S D move, Q E turn</span>
      </div>
    </fieldset>
  );
}
