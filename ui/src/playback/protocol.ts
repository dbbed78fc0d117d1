/**
 * The live-playback wire protocol (docs/INFERENCE_PROTOCOL.md): encoding and checked decoding of the
 * types generated from server/inference/protocol.py (../api/wire.gen.ts, `make api`).
 *
 * Every message is one binary WebSocket frame holding one msgpack map whose `type` names it. Float
 * arrays travel as `bin` values of raw little-endian float64 (the bytes of a Float64Array). Here they
 * are Float64Arrays: decoded messages hold them over aligned copies of the frame's bytes, so nothing
 * aliases the frame.
 */

import { decode, encode } from "@msgpack/msgpack";
import type * as wire from "../api/wire.gen";
import { FIELDS, LITERALS } from "../api/wire.gen";

export {
  CLOSE_NEEDS_REVIEW,
  CLOSE_UNAUTHORIZED,
  CLOSE_UNKNOWN_MODEL,
  CLOSE_UNPLAYABLE,
  CLOSE_WORKER_FAILED,
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
} from "../api/wire.gen";

/** A wire type with its float64 byte arrays (`Uint8Array` on the wire) as Float64Arrays. */
export type Floats<T> = T extends Uint8Array
  ? Float64Array
  : T extends readonly (infer U)[]
    ? Floats<U>[]
    : T extends object
      ? { [K in keyof T]: Floats<T[K]> }
      : T;

/** The fields a PhysicsState may carry, in the order the server's struct declares them. */
export const STATE_FIELDS = FIELDS.PhysicsState;

/**
 * A MuJoCo state as the browser holds it (arrays are copies, never wasm views). `act` empty or left
 * out: no activations (na = 0). `qacc_warmstart` is required in step.before; left out: sent empty.
 */
export type PhysicsState = Floats<wire.PhysicsState>;

// Browser -> server ------------------------------------------------------------------------------

export type ResetMessage = Floats<wire.Reset>;
export type StepMessage = Floats<wire.Step>;
export type CommandMessage = Floats<wire.SetCommand>;
export type ClientMessage = Floats<wire.ClientMessage>;

// Server -> browser ------------------------------------------------------------------------------

export type StatusMessage = Floats<wire.Status>;
export type CommandSpec = Floats<wire.CommandSpec>;
export type HelloMessage = Floats<wire.Hello>;
export type EpisodeMessage = Floats<wire.Episode>;
export type ActionMessage = Floats<wire.Action>;
/** A training job's live preview: which params play (WS /api/jobs/{job_id}/preview only). */
export type PolicyUpdateMessage = wire.PolicyUpdate;
export type ErrorMessage = Floats<wire.Error>;
export type ServerMessage = Floats<wire.ServerMessage>;

/** A frame that is not a valid protocol message; `message` says what is wrong. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

// Float arrays <-> bytes -------------------------------------------------------------------------

const LITTLE_ENDIAN = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f;

/** The raw little-endian float64 bytes of `values` (a copy; safe to pass a wasm view). */
export function floatsToBytes(values: ArrayLike<number>): Uint8Array {
  const copy = Float64Array.from(values);
  if (!LITTLE_ENDIAN) {
    const view = new DataView(copy.buffer);
    for (let i = 0; i < copy.length; i++) view.setFloat64(8 * i, copy[i], true);
  }
  return new Uint8Array(copy.buffer);
}

/** The float64 values in `bytes` (little-endian), as a Float64Array over an aligned copy. */
export function bytesToFloats(bytes: Uint8Array, name = "array"): Float64Array {
  if (bytes.byteLength % 8 !== 0) {
    throw new ProtocolError(`${name} has ${bytes.byteLength} bytes, not a whole number of float64`);
  }
  const copy = new Uint8Array(bytes); // aligned: a fresh buffer starts at offset 0
  const values = new Float64Array(copy.buffer);
  if (!LITTLE_ENDIAN) {
    const view = new DataView(copy.buffer);
    for (let i = 0; i < values.length; i++) values[i] = view.getFloat64(8 * i, true);
  }
  return values;
}

// Encoding ---------------------------------------------------------------------------------------

function stateMap(s: PhysicsState): Required<wire.PhysicsState> {
  return {
    qpos: floatsToBytes(s.qpos),
    qvel: floatsToBytes(s.qvel),
    act: floatsToBytes(s.act ?? []),
    time: s.time,
    qacc_warmstart: floatsToBytes(s.qacc_warmstart ?? []),
  };
}

/**
 * One browser -> server frame. Keys follow the server's field order (so a frame is byte-identical to
 * what msgspec writes for the same values, except that integral floats such as `time: 0` travel as
 * msgpack ints, which msgspec accepts for float fields).
 */
export function encodeClient(message: ClientMessage): Uint8Array {
  return encode(toWire(message));
}

function toWire(message: ClientMessage): wire.ClientMessage {
  switch (message.type) {
    case "reset":
      return {
        type: "reset",
        ...(message.seed === undefined ? {} : { seed: message.seed }), // left out: the server's default
        state: message.state ? stateMap(message.state) : null,
      };
    case "step":
      return {
        type: "step",
        seq: message.seq,
        before: stateMap(message.before),
        after: stateMap(message.after),
      };
    case "command":
      return { type: "command", values: message.values };
    case "schedule":
      return { type: "schedule", schedule: message.schedule };
  }
}

/**
 * One server -> browser frame, as the server would write it (float arrays as bytes). For tests and
 * fakes: the browser never sends these.
 */
export function encodeServer(message: ServerMessage): Uint8Array {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(message)) {
    out[key] = value instanceof Float64Array ? floatsToBytes(value) : value;
  }
  return encode(out);
}

// Decoding ---------------------------------------------------------------------------------------

type Raw = Record<string, unknown>;

function field<T>(raw: Raw, key: string, check: (v: unknown) => v is T, what: string): T {
  const value = raw[key];
  if (!check(value)) {
    throw new ProtocolError(`${String(raw.type)}.${key} should be ${what}, got ${describe(value)}`);
  }
  return value;
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "nil";
  if (value instanceof Uint8Array) return `${value.byteLength} bytes`;
  if (Array.isArray(value)) return "a list";
  return typeof value;
}

const isNumber = (v: unknown): v is number => typeof v === "number";
const isInt = (v: unknown): v is number => Number.isInteger(v);
const isString = (v: unknown): v is string => typeof v === "string";
const isBool = (v: unknown): v is boolean => typeof v === "boolean";
const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;
const isNumbers = (v: unknown): v is number[] => Array.isArray(v) && v.every(isNumber);
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);
const isNumbersOrNil = (v: unknown): v is number[] | null => v === null || isNumbers(v);
const isIntOrNil = (v: unknown): v is number | null => v === null || isInt(v);
const isNumberOrNil = (v: unknown): v is number | null => v === null || isNumber(v);
const isBoolOrNil = (v: unknown): v is boolean | null => v === null || isBool(v);
const isOneOf =
  <T extends string>(values: readonly T[]) =>
  (v: unknown): v is T =>
    (values as readonly unknown[]).includes(v);
const oneOf = <T extends string>(values: readonly T[]) => values.map((v) => `"${v}"`).join(", ");

const floats = (raw: Raw, key: string) =>
  bytesToFloats(field(raw, key, isBytes, "bytes"), `${String(raw.type)}.${key}`);
const num = (raw: Raw, key: string) => field(raw, key, isNumber, "a number");
const int = (raw: Raw, key: string) => field(raw, key, isInt, "an integer");

function commandSpec(raw: Raw): CommandSpec | null {
  const value = raw.command;
  if (value === null) return null;
  if (typeof value !== "object" || Array.isArray(value) || value instanceof Uint8Array) {
    throw new ProtocolError(`hello.command should be a map or nil, got ${describe(value)}`);
  }
  const spec = value as Raw;
  const names = field(spec, "names", isStrings, "a list of strings");
  const low = field(spec, "low", isNumbers, "a list of numbers");
  const high = field(spec, "high", isNumbers, "a list of numbers");
  // Absent from an older server: no schedule keys, no units.
  const keys = "keys" in spec ? field(spec, "keys", isStrings, "a list of strings") : [];
  const units = "units" in spec ? field(spec, "units", isStrings, "a list of strings") : [];
  const n = names.length;
  // keys and units may be empty: an env whose command components have no schedule keys.
  const sized = (list: unknown[]) => list.length === n;
  if (!sized(low) || !sized(high) || !(sized(keys) || keys.length === 0)) {
    throw new ProtocolError("hello.command: names, low, high and keys differ in length");
  }
  if (!(sized(units) || units.length === 0)) {
    throw new ProtocolError("hello.command: names and units differ in length");
  }
  return { names, low, high, keys, units };
}

/** Decodes and checks one server frame; throws ProtocolError for anything that is not a message. */
export function decodeServer(frame: ArrayBuffer | Uint8Array): ServerMessage {
  let raw: unknown;
  try {
    raw = decode(frame);
  } catch (error) {
    throw new ProtocolError(`not msgpack: ${error instanceof Error ? error.message : error}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw) || raw instanceof Uint8Array) {
    throw new ProtocolError(`a frame should hold a map, got ${describe(raw)}`);
  }
  const m = raw as Raw;
  switch (m.type) {
    case "status": {
      const phases = LITERALS["Status.phase"];
      return {
        type: "status",
        phase: field(m, "phase", isOneOf(phases), `one of ${oneOf(phases)}`),
        message: field(m, "message", isString, "a string"),
      };
    }
    case "hello":
      return {
        type: "hello",
        version: int(m, "version"),
        policy_id: field(m, "policy_id", isString, "a string"),
        scene_id: field(m, "scene_id", isString, "a string"),
        ctrl_dt: num(m, "ctrl_dt"),
        timestep: num(m, "timestep"),
        substeps: int(m, "substeps"),
        nq: int(m, "nq"),
        nv: int(m, "nv"),
        na: int(m, "na"),
        nu: int(m, "nu"),
        nmocap: int(m, "nmocap"),
        send: field(m, "send", isStrings, "a list of strings"),
        reward_terms: field(m, "reward_terms", isStrings, "a list of strings"),
        weights: field(m, "weights", isNumbers, "a list of numbers"),
        episode_length: int(m, "episode_length"),
        command: commandSpec(m),
      };
    case "episode":
      return {
        type: "episode",
        qpos: floats(m, "qpos"),
        qvel: floats(m, "qvel"),
        act: floats(m, "act"),
        time: num(m, "time"),
        mocap_pos: floats(m, "mocap_pos"),
        mocap_quat: floats(m, "mocap_quat"),
        ctrl: floats(m, "ctrl"),
        command: field(m, "command", isNumbersOrNil, "a list of numbers or nil"),
      };
    case "action":
      return {
        type: "action",
        seq: int(m, "seq"),
        ctrl: floats(m, "ctrl"),
        reward: num(m, "reward"),
        terms: field(m, "terms", isNumbers, "a list of numbers"),
        task_reward: num(m, "task_reward"),
        episode_return: num(m, "episode_return"),
        step: int(m, "step"),
        done: field(m, "done", isBool, "a boolean"),
        command: field(m, "command", isNumbersOrNil, "a list of numbers or nil"),
      };
    case "policy":
      return {
        type: "policy",
        job_id: field(m, "job_id", isString, "a string"),
        step: int(m, "step"),
        total_steps: int(m, "total_steps"),
        evaluation: int(m, "evaluation"),
        eval_reward: field(m, "eval_reward", isNumberOrNil, "a number or nil"),
        check_passed: field(m, "check_passed", isBoolOrNil, "a boolean or nil"),
        check_score: field(m, "check_score", isNumberOrNil, "a number or nil"),
        // msgspec writes defaults too; absent only from a hand-made frame.
        ended: "ended" in m ? field(m, "ended", isBool, "a boolean") : false,
        note: "note" in m ? field(m, "note", isString, "a string") : "",
      };
    case "error": {
      const codes = LITERALS["Error.code"];
      return {
        type: "error",
        code: field(m, "code", isOneOf(codes), `one of ${oneOf(codes)}`),
        message: field(m, "message", isString, "a string"),
        seq: field(m, "seq", isIntOrNil, "an integer or nil"),
      };
    }
    default:
      throw new ProtocolError(`unknown message type ${describe(m.type)}: ${String(m.type)}`);
  }
}
