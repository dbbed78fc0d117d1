import { useCallback, useEffect, useRef, useState } from "react";
import { UNAUTHORIZED_MESSAGE } from "../api/token";
import { LibraryView } from "../library/LibraryView";
import { type PlaybackTarget, previewTarget, previewToFollow } from "../playback/target";
import { TaskPanel } from "../tasks/TaskPanel";
import { TrainingPanel } from "../training/TrainingPanel";
import type { JobStatus } from "../training/types";
import { useTraining } from "../training/useTraining";
import { allScenes, defaultSceneId } from "./format";
import { ScenePicker } from "./ScenePicker";
import { SceneView } from "./SceneView";
import { useScenes } from "./useScenes";

export function App() {
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const { list, error } = useScenes(selectedId);

  useEffect(() => {
    // A scene still being prepared may be opened: the server prepares it next, and it shows when ready.
    if (selectedId === null && list) setSelectedId(defaultSceneId(allScenes(list)));
  }, [list, selectedId]);
  const preparing = list?.pending_scenes.find((s) => s.id === selectedId) ?? null;

  const scene = list?.scenes.find((s) => s.id === selectedId) ?? null;
  const training = useTraining();
  // The library covers the viewer while open; `focus` is the policy it opens with.
  const [library, setLibrary] = useState<{ open: boolean; focus: string | null }>({
    open: false,
    focus: null,
  });
  const sceneName = useCallback(
    (id: string) => allScenes(list).find((s) => s.id === id)?.name ?? id,
    [list],
  );
  // A policy playing live in the viewer: its scene is opened and the library closed.
  const [playback, setPlayback] = useState<PlaybackTarget | null>(null);
  const [playError, setPlayError] = useState<string | null>(null);
  const play = useCallback(
    (target: PlaybackTarget) => {
      // A scene still being prepared plays once it is ready (opening it asks the server for it first).
      if (
        list &&
        !list.scenes.some((s) => s.id === target.sceneId) &&
        !list.pending.includes(target.sceneId)
      ) {
        setPlayError(
          `Cannot play "${target.name}": its scene ${target.sceneId} is not available here.`,
        );
        return;
      }
      setPlayError(null);
      setSelectedId(target.sceneId);
      setPlayback(target);
      setLibrary({ open: false, focus: null });
    },
    [list],
  );
  const selectScene = useCallback((id: string) => {
    setSelectedId(id);
    setPlayback((p) => (p && p.sceneId === id ? p : null));
  }, []);

  // A started job's live preview plays in the viewer unless the user switched previews off.
  const [previewOnTrain, setPreviewOnTrain] = useState(true);
  const preview = useCallback(
    (job: JobStatus, on: boolean) => {
      setPreviewOnTrain(on);
      if (on) play(previewTarget(job, sceneName(job.spec.scene_id)));
      else setPlayback((p) => (p?.jobId === job.job_id ? null : p));
    },
    [play, sceneName],
  );
  const { started } = training;
  const trainingStarted = useCallback(
    (job: JobStatus) => {
      started(job);
      if (previewOnTrain) play(previewTarget(job, sceneName(job.spec.scene_id)));
    },
    [started, previewOnTrain, play, sceneName],
  );
  // The previewed job's status as the training panel follows it: how the preview ended, its policy.
  const previewId = playback?.jobId ?? null;
  const previewJob =
    previewId === null
      ? null
      : training.current?.job_id === previewId
        ? training.current
        : (training.jobs?.find((j) => j.job_id === previewId) ?? null);
  // The preview follows a job's revised round, and after a reload picks up the job still training.
  const justLoaded = useRef(true);
  useEffect(() => {
    if (training.current === null) return;
    const follow = previewToFollow(
      playback,
      previewJob,
      training.current,
      previewOnTrain,
      justLoaded.current,
    );
    justLoaded.current = false;
    if (follow) play(previewTarget(follow, sceneName(follow.spec.scene_id)));
  }, [training.current, playback, previewJob, previewOnTrain, play, sceneName]);

  return (
    <div className="app">
      <header className="header">
        <span className="brand">Robocoach</span>
        <span className="header-note">MuJoCo Playground scenes, simulated in your browser</span>
        {playError && (
          <span className="app-error" role="alert">
            {playError}
            <button type="button" onClick={() => setPlayError(null)}>
              Dismiss
            </button>
          </span>
        )}
        <button
          type="button"
          className="header-button"
          aria-pressed={library.open}
          onClick={() => setLibrary((l) => ({ open: !l.open, focus: null }))}
        >
          Library
        </button>
      </header>
      <ScenePicker list={list} error={error} selectedId={selectedId} onSelect={selectScene} />
      {scene ? (
        <SceneView
          key={scene.id}
          scene={scene}
          playback={playback?.sceneId === scene.id ? playback : null}
          previewJob={previewJob}
          onStopPlayback={() => setPlayback(null)}
          onPlay={play}
        />
      ) : (
        <main className="scene-view">
          <div className="viewport" data-state={error ? "error" : "loading"}>
            <div
              className={error ? "overlay overlay-error" : "overlay"}
              role={error ? "alert" : "status"}
            >
              {error === UNAUTHORIZED_MESSAGE
                ? error
                : error
                  ? `Cannot reach the Robocoach server: ${error}`
                  : preparing
                    ? `Preparing ${preparing.name}…`
                    : list
                      ? list.complete
                        ? "No scenes available."
                        : "Preparing scenes…"
                      : "Loading scenes…"}
            </div>
          </div>
        </main>
      )}
      {scene && (
        <TaskPanel scene={scene} onTrainingStarted={trainingStarted} onPlay={play}>
          <TrainingPanel
            training={training}
            sceneName={sceneName}
            onOpenPolicy={(id) => setLibrary({ open: true, focus: id })}
            onPlayPolicy={play}
            previewJobId={previewId}
            onPreview={preview}
          />
        </TaskPanel>
      )}
      {library.open && (
        <LibraryView
          focusId={library.focus}
          sceneName={sceneName}
          onPlay={play}
          onClose={() => setLibrary({ open: false, focus: null })}
          scenes={list?.scenes ?? []}
          onTrainingStarted={(job, sceneId) => {
            // The job shows in the training panel, under the task panel of its scene.
            trainingStarted(job);
            selectScene(sceneId);
            setLibrary({ open: false, focus: null });
          }}
        />
      )}
    </div>
  );
}
