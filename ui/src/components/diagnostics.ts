import { postClientDiagnostics } from "../api/client";

let reported = false;

/** Tells the server once per page load whether WebGL works (the desktop test reads it back). */
export function reportClient(webgl: boolean, renderer: string): void {
  if (reported) return;
  reported = true;
  postClientDiagnostics({
    webgl,
    webgl_renderer: renderer,
    user_agent: navigator.userAgent,
  }).catch((error: unknown) => console.warn("could not report client diagnostics", error));
}
