/**
 * Dedicated worker for live playback: steps MuJoCo and talks to the inference server off the page's
 * main thread, so slow drawing (software WebGL) cannot delay replies or steps. All logic is in
 * PlaybackWorkerCore; this file only wires it to the worker's message port.
 */

import { PlaybackWorkerCore } from "./workerCore";
import type { FromWorker, ToWorker } from "./workerMessages";

interface WorkerScope {
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  close(): void;
}

const scope = self as unknown as WorkerScope;

const core = new PlaybackWorkerCore({
  post: (message, transfer) => {
    scope.postMessage(message, transfer ?? []);
    if (message.type === "stopped") scope.close();
  },
});

// Messages are handled in order: controls that arrive while "start" loads the model are kept.
scope.onmessage = (event) => {
  void core.handle(event.data);
};
