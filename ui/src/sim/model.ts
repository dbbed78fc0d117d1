/** Turns MJB bytes from the server into an MjModel inside the wasm module. */

import type { MjModel } from "@mujoco/mujoco";
import { type Mujoco, takeMujocoLog, WORK_DIR } from "./mujoco";

/** A model that could not be loaded; `message` is MuJoCo's own text where it gave one. */
export class ModelLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelLoadError";
  }
}

let counter = 0;

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === "number") return `wasm exception ${error}`;
  return String(error);
}

/**
 * Writes `bytes` to MEMFS, loads them with `MjModel.from_binary_path` and deletes the file again.
 * Throws ModelLoadError with MuJoCo's message (plus anything it logged) on failure.
 */
export function loadModelFromMjb(mj: Mujoco, bytes: Uint8Array, label = "model"): MjModel {
  if (bytes.byteLength === 0) throw new ModelLoadError(`${label}: the MJB file is empty`);
  counter += 1;
  const path = `${WORK_DIR}/model-${counter}.mjb`;
  const vfs = new mj.MjVFS();
  takeMujocoLog();
  try {
    mj.FS.writeFile(path, bytes);
    let model: MjModel | null = null;
    try {
      model = mj.MjModel.from_binary_path(path, vfs) ?? null;
    } catch (error) {
      const log = takeMujocoLog().join("\n");
      throw new ModelLoadError(
        `${label}: ${describe(error)}${log ? `\n${log}` : ""} (is the MJB from MuJoCo ${mj.mj_versionString()}?)`,
      );
    }
    if (!model) {
      throw new ModelLoadError(`${label}: MuJoCo returned no model for ${bytes.byteLength} bytes`);
    }
    return model;
  } finally {
    vfs.delete();
    try {
      mj.FS.unlink(path);
    } catch {
      // never written
    }
  }
}
