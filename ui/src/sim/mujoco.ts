/** Loads the MuJoCo WebAssembly module once per page (or test process). */

import loadMujoco, { type MainModule } from "@mujoco/mujoco";

export type Mujoco = MainModule;

/** MEMFS folder that model files are written into. */
export const WORK_DIR = "/working";

export interface LoadOptions {
  /** URL of mujoco.wasm; the browser build passes Vite's asset URL, Node finds it next to mujoco.js. */
  wasmUrl?: string;
}

let loading: Promise<Mujoco> | null = null;
const recentLog: string[] = [];

/** The last lines MuJoCo printed (warnings explain many load failures). */
export function takeMujocoLog(): string[] {
  return recentLog.splice(0, recentLog.length);
}

function remember(line: string): void {
  recentLog.push(line);
  if (recentLog.length > 20) recentLog.shift();
}

/** Returns the module, loading it on first use. Later calls ignore `options`. */
export function getMujoco(options: LoadOptions = {}): Promise<Mujoco> {
  if (!loading) {
    const moduleOptions: Record<string, unknown> = {
      print: (line: string) => remember(line),
      printErr: (line: string) => remember(line),
    };
    if (options.wasmUrl) {
      const url = options.wasmUrl;
      moduleOptions.locateFile = (path: string) => (path.endsWith(".wasm") ? url : path);
    }
    loading = loadMujoco(moduleOptions).then((mj) => {
      mj.FS.mkdir(WORK_DIR);
      mj.FS.mount(mj.MEMFS, { root: "." }, WORK_DIR);
      return mj;
    });
    loading.catch(() => {
      loading = null; // allow a retry after a failed download
    });
  }
  return loading;
}
