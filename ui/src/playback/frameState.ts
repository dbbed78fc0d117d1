/**
 * One MuJoCo state packed into a single Float64Array, for posting between the playback worker and the
 * page (its buffer is transferred, not copied): [time, qpos, qvel, act, ctrl, mocap_pos, mocap_quat].
 */

import type { MjData, MjModel } from "@mujoco/mujoco";

/** Length of a packed state for `model`. */
export function packedLength(model: MjModel): number {
  return 1 + model.nq + model.nv + model.na + model.nu + 7 * model.nmocap;
}

/** Copies `data`'s state into a new Float64Array (views into wasm memory are re-read here). */
export function packState(model: MjModel, data: MjData): Float64Array {
  const out = new Float64Array(packedLength(model));
  out[0] = data.time;
  let o = 1;
  const put = (values: ArrayLike<number>, n: number) => {
    if (n === 0) return;
    out.set((values as Float64Array).subarray(0, n), o);
    o += n;
  };
  put(data.qpos, model.nq);
  put(data.qvel, model.nv);
  put(data.act, model.na);
  put(data.ctrl, model.nu);
  put(data.mocap_pos, 3 * model.nmocap);
  put(data.mocap_quat, 4 * model.nmocap);
  return out;
}

/**
 * Writes a packed state into `data` (no mj_forward: the caller runs what it needs, e.g. mj_kinematics
 * for drawing). Returns false, changing nothing, when the length does not fit the model.
 */
export function unpackState(model: MjModel, data: MjData, packed: Float64Array): boolean {
  if (packed.length !== packedLength(model)) return false;
  data.time = packed[0];
  let o = 1;
  const take = (view: ArrayLike<number>, n: number) => {
    if (n === 0) return;
    (view as Float64Array).set(packed.subarray(o, o + n));
    o += n;
  };
  take(data.qpos, model.nq);
  take(data.qvel, model.nv);
  take(data.act, model.na);
  take(data.ctrl, model.nu);
  take(data.mocap_pos, 3 * model.nmocap);
  take(data.mocap_quat, 4 * model.nmocap);
  return true;
}
