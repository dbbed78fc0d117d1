/**
 * The live-playback wire protocol (version 1), mirroring server/inference/protocol.py.
 * Spec: docs/INFERENCE_PROTOCOL.md.
 *
 * Every message is one binary WebSocket frame holding one msgpack map whose `type` names it. Float
 * arrays travel as `bin` values of raw little-endian float64 (the bytes of a Float64Array). Decoded
 * messages hold Float64Arrays over aligned copies of those bytes, so nothing aliases the frame.
 */

import { decode, encode } from "@msgpack/msgpack";

export const PROTOCOL_VERSION = 1;
export const MAX_FRAME_BYTES = 4 * 2 ** 20;

/** Close codes the server uses (docs/INFERENCE_PROTOCOL.md, "Close codes"). */
export const CLOSE_UNKNOWN_MODEL = 4404;
export const CLOSE_UNPLAYABLE = 4422;
export const CLOSE_WORKER_FAILED = 1011;
/** A missing or wrong launch token (the server accepts the socket and closes it with this code). */
export const CLOSE_BAD_TOKEN = 4401;
/** A Host or Origin header the server does not accept (a foreign page, DNS rebinding). */
export const CLOSE_BAD_ORIGIN = 4403;
/** Policy violation; older servers refused a bad token with it. */
export const CLOSE_POLICY = 1008;

/** The fields a PhysicsState may carry, in the order the server's struct declares them. */
export const STATE_FIELDS = ["qpos", "qvel", "act", "time", "qacc_warmstart"] as const;

/** A MuJoCo state as the browser holds it (arrays are copies, never wasm views). */
export interface PhysicsState {
  qpos: Float64Array;
  qvel: Float64Array;
  /** Empty when the model has no activations (na = 0). */
  act: Float64Array;
  /** Simulated time, seconds. */
  time: number;
  /**
   * mjData.qacc_warmstart (nv), the constraint solver's starting point. Required in step.before (the
   * solver stops after a few iterations, so accelerations and accelerometers depend on it); the server
   * ignores it elsewhere. Omitted: sent empty.
   */
  qacc_warmstart?: Float64Array;
}

// Browser -> server ------------------------------------------------------------------------------

export interface ResetMessage {
  type: "reset";
  seed: number;
  /** Keep the robot where the browser has it (a reconnect); omitted: the env's own reset. */
  state?: PhysicsState;
}

export interface StepMessage {
  type: "step";
  seq: number;
  /** The state before the interval's last physics substep. */
  before: PhysicsState;
  /** The state after it. */
  after: PhysicsState;
}

export interface CommandMessage {
  type: "command";
  values: number[];
}

export type ClientMessage = ResetMessage | StepMessage | CommandMessage;

// Server -> browser ------------------------------------------------------------------------------

export interface StatusMessage {
  type: "status";
  phase: "compiling" | "ready";
  message: string;
}

/** What a joystick policy's command means: one entry per component. */
export interface CommandSpec {
  names: string[];
  low: number[];
  high: number[];
}

export interface HelloMessage {
  type: "hello";
  version: number;
  policy_id: string;
  scene_id: string;
  /** One control interval, seconds. */
  ctrl_dt: number;
  /** One physics substep (the model's opt.timestep), seconds. */
  timestep: number;
  /** Physics substeps per control interval. */
  substeps: number;
  nq: number;
  nv: number;
  na: number;
  nu: number;
  /** Mocap bodies (newer servers; undefined when the server did not say). */
  nmocap?: number;
  /** The PhysicsState fields each step must carry. */
  send: string[];
  reward_terms: string[];
  weights: number[];
  /** Control steps per episode, as in training. */
  episode_length: number;
  command: CommandSpec | null;
}

export interface EpisodeMessage {
  type: "episode";
  qpos: Float64Array;
  qvel: Float64Array;
  act: Float64Array;
  time: number;
  mocap_pos: Float64Array;
  mocap_quat: Float64Array;
  ctrl: Float64Array;
  command: number[] | null;
}

export interface ActionMessage {
  type: "action";
  seq: number;
  ctrl: Float64Array;
  /** The reward program's weighted total for the step just taken. */
  reward: number;
  /** Each term's unweighted value, in hello.reward_terms order. */
  terms: number[];
  /** The scene's own reward, for comparison. */
  task_reward: number;
  episode_return: number;
  /** Control steps since the episode began. */
  step: number;
  done: boolean;
  command: number[] | null;
}

export type ErrorCode = "bad_frame" | "bad_state" | "no_episode" | "bad_command" | "internal";

export interface ErrorMessage {
  type: "error";
  code: ErrorCode;
  message: string;
  seq: number | null;
}

export type ServerMessage =
  | StatusMessage
  | HelloMessage
  | EpisodeMessage
  | ActionMessage
  | ErrorMessage;

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

function stateMap(s: PhysicsState): Record<string, unknown> {
  return {
    qpos: floatsToBytes(s.qpos),
    qvel: floatsToBytes(s.qvel),
    act: floatsToBytes(s.act),
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
  switch (message.type) {
    case "reset":
      return encode({
        type: "reset",
        seed: message.seed,
        state: message.state ? stateMap(message.state) : null,
      });
    case "step":
      return encode({
        type: "step",
        seq: message.seq,
        before: stateMap(message.before),
        after: stateMap(message.after),
      });
    case "command":
      return encode({ type: "command", values: message.values });
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

const floats = (raw: Raw, key: string) =>
  bytesToFloats(field(raw, key, isBytes, "bytes"), `${String(raw.type)}.${key}`);
const num = (raw: Raw, key: string) => field(raw, key, isNumber, "a number");
const int = (raw: Raw, key: string) => field(raw, key, isInt, "an integer");

function commandSpec(raw: Raw): CommandSpec | null {
  const value = raw.command;
  if (value === null || value === undefined) return null;
  if (typeof value !== "object" || Array.isArray(value) || value instanceof Uint8Array) {
    throw new ProtocolError(`hello.command should be a map or nil, got ${describe(value)}`);
  }
  const spec = value as Raw;
  const names = field(spec, "names", isStrings, "a list of strings");
  const low = field(spec, "low", isNumbers, "a list of numbers");
  const high = field(spec, "high", isNumbers, "a list of numbers");
  if (low.length !== names.length || high.length !== names.length) {
    throw new ProtocolError("hello.command: names, low and high differ in length");
  }
  return { names, low, high };
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
      const phase = m.phase;
      if (phase !== "compiling" && phase !== "ready") {
        throw new ProtocolError(`status.phase should be "compiling" or "ready", got ${phase}`);
      }
      return { type: "status", phase, message: isString(m.message) ? m.message : "" };
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
        ...(m.nmocap === undefined || m.nmocap === null ? {} : { nmocap: int(m, "nmocap") }),
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
    case "error": {
      const seq = m.seq ?? null;
      if (seq !== null && !isInt(seq)) {
        throw new ProtocolError(`error.seq should be an integer or nil, got ${describe(seq)}`);
      }
      return {
        type: "error",
        code: field(m, "code", isString, "a string") as ErrorCode,
        message: field(m, "message", isString, "a string"),
        seq,
      };
    }
    default:
      throw new ProtocolError(`unknown message type ${describe(m.type)}: ${String(m.type)}`);
  }
}
