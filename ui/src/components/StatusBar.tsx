import { type RefObject, useEffect, useState } from "react";
import type { SceneController, StatusSnapshot } from "../viewer/controller";
import { formatPosition, formatRealTimeFactor, formatTime } from "./format";

/** Reads a snapshot from the controller ten times a second; per-frame state stays out of React. */
export function StatusBar({ controller }: { controller: RefObject<SceneController | null> }) {
  const [s, setS] = useState<StatusSnapshot | null>(null);
  useEffect(() => {
    const timer = setInterval(() => setS(controller.current?.snapshot() ?? null), 100);
    return () => clearInterval(timer);
  }, [controller]);

  return (
    <footer className="statusbar">
      <span>
        Time <output aria-label="Simulation time">{formatTime(s?.time ?? 0)}</output>
      </span>
      <span>
        Real time{" "}
        <output aria-label="Real-time factor">
          {formatRealTimeFactor(s?.realTimeFactor ?? 0)}
        </output>
      </span>
      {s?.selectedBody && (
        <>
          <span>
            {s.dragging ? "Dragging" : "Selected"}{" "}
            <output aria-label="Selected body">{s.selectedBody}</output>
          </span>
          <span>
            at{" "}
            <output aria-label="Selected body position">
              {s.selectedPosition ? formatPosition(s.selectedPosition) : ""}
            </output>
          </span>
        </>
      )}
      {!s?.selectedBody && <span className="hint">Drag a body to push it</span>}
    </footer>
  );
}
