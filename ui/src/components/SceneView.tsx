import wasmUrl from "@mujoco/mujoco/mujoco.wasm?url";
import { useCallback, useEffect, useRef, useState } from "react";
import { fetchModel, type SceneInfo } from "../api/client";
import { PlaybackPanel } from "../playback/PlaybackPanel";
import { type PlaybackTarget, targetKey } from "../playback/target";
import { loadModelFromMjb } from "../sim/model";
import { getMujoco } from "../sim/mujoco";
import { Simulation } from "../sim/simulation";
import type { JobStatus } from "../training/types";
import { SceneController } from "../viewer/controller";
import { WebGLUnavailableError } from "../viewer/renderer";
import { reportClient } from "./diagnostics";
import { StatusBar } from "./StatusBar";
import { Toolbar } from "./Toolbar";

type ViewState =
  | { state: "loading"; message: string }
  | { state: "ready" }
  | { state: "error"; title: string; message: string };

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Toolbar, viewport and status bar for one scene. Remount (key) per scene. With `playback`, a trained
 * policy drives the robot live and its panel replaces the toolbar until `onStopPlayback`; a training
 * job's live preview plays the same way (`previewJob`: that job's status, for how it ended).
 */
export function SceneView({
  scene,
  playback = null,
  previewJob = null,
  onStopPlayback,
  onPlay,
}: {
  scene: SceneInfo;
  playback?: PlaybackTarget | null;
  previewJob?: JobStatus | null;
  onStopPlayback?: () => void;
  onPlay?: (target: PlaybackTarget) => void;
}) {
  const hostRef = useRef<HTMLDivElement>(null);
  const { id: sceneId, name: sceneName, robot } = scene;
  const controller = useRef<SceneController | null>(null);
  const [view, setView] = useState<ViewState>({
    state: "loading",
    message: `Loading ${scene.robot}…`,
  });
  const [paused, setPaused] = useState(false);
  const [follow, setFollow] = useState(false);
  const [keyframes, setKeyframes] = useState<string[]>([]);
  const [keyframe, setKeyframe] = useState(0);

  useEffect(() => {
    const abort = new AbortController();
    let disposed = false;
    let created: SceneController | null = null;
    const fail = (title: string, error: unknown) => {
      if (!disposed) setView({ state: "error", title, message: messageOf(error) });
    };
    (async () => {
      let bytes: Uint8Array;
      let mj: Awaited<ReturnType<typeof getMujoco>>;
      try {
        setView({ state: "loading", message: `Loading ${robot}…` });
        [mj, bytes] = await Promise.all([
          getMujoco({ wasmUrl }),
          fetchModel(sceneId, abort.signal),
        ]);
      } catch (error) {
        if (!abort.signal.aborted) fail(`Could not download ${sceneName}`, error);
        return;
      }
      if (disposed) return;
      let sim: Simulation;
      try {
        sim = new Simulation(mj, loadModelFromMjb(mj, bytes, sceneName));
      } catch (error) {
        fail(`The model of ${sceneName} failed to load`, error);
        return;
      }
      const host = hostRef.current;
      if (!host) {
        sim.dispose();
        return;
      }
      try {
        created = new SceneController(sim, host, bytes, {
          onFirstFrame: ({ webglRenderer }) => {
            reportClient(true, webglRenderer);
            if (!disposed) setView({ state: "ready" });
          },
          onError: (error) => fail("The simulation stopped", error),
        });
      } catch (error) {
        sim.dispose();
        if (error instanceof WebGLUnavailableError) reportClient(false, "");
        fail("Cannot draw the scene", error);
        return;
      }
      controller.current = created;
      setKeyframes(sim.keyframeNames);
      setKeyframe(sim.keyframeNames.length > 0 ? 0 : -1);
      setPaused(false);
      created.start();
    })();
    return () => {
      disposed = true;
      abort.abort();
      controller.current = null;
      created?.dispose();
    };
    // Strings, not the SceneInfo object: the list is re-fetched while the server verifies scenes,
    // and a new object for the same scene must not reload it.
  }, [sceneId, sceneName, robot]);

  const sim = () => controller.current?.sim;
  const onPlayPause = useCallback(() => {
    const s = controller.current?.sim;
    if (!s) return;
    if (s.paused) s.play();
    else s.pause();
    setPaused(s.paused);
  }, []);
  const onStep = () => {
    sim()?.step();
    setPaused(true);
  };
  const onReset = () => sim()?.reset(keyframe >= 0 ? keyframe : null);
  const onKeyframe = (key: number) => {
    setKeyframe(key);
    sim()?.reset(key >= 0 ? key : null);
  };
  const onFollow = useCallback((on: boolean) => {
    setFollow(on);
    if (controller.current) controller.current.viewer.follow = on;
  }, []);
  const ready = view.state === "ready";
  const playing = playback !== null && ready && controller.current !== null;
  // The camera follows the robot while a policy plays (the user can turn it off).
  const playbackId = playback ? targetKey(playback) : null;
  useEffect(() => {
    if (playbackId && ready) onFollow(true);
  }, [playbackId, ready, onFollow]);

  return (
    <main className="scene-view">
      <div className="scene-title">
        <h1>{scene.name}</h1>
        <span className="scene-robot">
          {scene.robot} · {scene.num_actuators} actuator{scene.num_actuators === 1 ? "" : "s"}
        </span>
        {playing ? (
          <span className="playback-badge">
            {playback?.jobId !== undefined ? "Previewing training" : "Playing a policy"}
          </span>
        ) : (
          <Toolbar
            disabled={view.state !== "ready"}
            paused={paused}
            keyframes={keyframes}
            keyframe={keyframe}
            follow={follow}
            onPlayPause={onPlayPause}
            onStep={onStep}
            onReset={onReset}
            onKeyframe={onKeyframe}
            onFollow={onFollow}
          />
        )}
      </div>
      <div className="viewport" data-state={view.state} data-scene-id={scene.id}>
        {/* the controller adds its own canvas ("Simulation viewport") here */}
        <div ref={hostRef} className="canvas-host" />
        {view.state === "loading" && (
          <div className="overlay" role="status">
            <div className="spinner" aria-hidden="true" />
            {view.message}
          </div>
        )}
        {playing && playback && controller.current && (
          <PlaybackPanel
            key={targetKey(playback)}
            controller={controller.current}
            target={playback}
            job={playback.jobId !== undefined ? previewJob : null}
            paused={paused}
            follow={follow}
            onPlayPause={onPlayPause}
            onFollow={onFollow}
            onStop={() => onStopPlayback?.()}
            onPlay={onPlay}
          />
        )}
        {view.state === "error" && (
          <div className="overlay overlay-error" role="alert">
            <strong>{view.title}</strong>
            <pre>{view.message}</pre>
          </div>
        )}
      </div>
      <StatusBar controller={controller} />
    </main>
  );
}
