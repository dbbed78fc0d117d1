import { readFileSync } from "node:fs";
import { decode, encode } from "@msgpack/msgpack";
import { describe, expect, it } from "vitest";
import { FIELDS } from "../api/wire.gen";
import {
  bytesToFloats,
  type ClientMessage,
  decodeServer,
  encodeClient,
  encodeServer,
  floatsToBytes,
  ProtocolError,
  type ServerMessage,
} from "./protocol";

/** Frames written by the server's own encoder (__fixtures__/make_fixtures.py). */
const frames: Record<string, string> = JSON.parse(
  readFileSync(new URL("./__fixtures__/frames.json", import.meta.url), "utf8"),
);
const frame = (name: string) => new Uint8Array(Buffer.from(frames[name], "hex"));
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const f64 = (...values: number[]) => new Float64Array(values);

describe("float arrays", () => {
  it("are raw little-endian float64 bytes", () => {
    // 1.0 is 0x3FF0000000000000; little-endian puts the 0x3F byte last.
    expect(hex(floatsToBytes([1, -2]))).toBe("000000000000f03f00000000000000c0");
    expect(Array.from(bytesToFloats(floatsToBytes([1, -2, 0.1])))).toEqual([1, -2, 0.1]);
  });

  it("decode from an unaligned slice into an aligned copy", () => {
    const padded = new Uint8Array(17);
    padded.set(floatsToBytes([Math.PI, Number.MIN_VALUE]), 1);
    const values = bytesToFloats(padded.subarray(1));
    expect(values.byteOffset).toBe(0);
    expect(Array.from(values)).toEqual([Math.PI, Number.MIN_VALUE]);
    padded.fill(0); // the copy does not alias the frame
    expect(values[0]).toBe(Math.PI);
  });

  it("refuse a length that is not a whole number of float64", () => {
    expect(() => bytesToFloats(new Uint8Array(12), "qpos")).toThrow(/qpos has 12 bytes/);
  });
});

describe("browser -> server frames match the server's encoder byte for byte", () => {
  const before = {
    qpos: f64(0.5, -1.25, 3),
    qvel: f64(0.1),
    act: f64(),
    time: 0.125,
    qacc_warmstart: f64(-9.5),
  };
  const after = { qpos: f64(0.5, -1.5, 3), qvel: f64(-0.2), act: f64(0.75), time: 0.25 };
  const cases: [string, ClientMessage][] = [
    ["step", { type: "step", seq: 300, before, after }],
    ["reset", { type: "reset", seed: 7 }],
    ["reset_state", { type: "reset", seed: 1, state: after }],
    ["command", { type: "command", values: [0.5, -0.25, 1.5] }],
  ];
  for (const [name, message] of cases) {
    it(name, () => {
      expect(hex(encodeClient(message))).toBe(frames[name]);
    });
  }

  it("integral floats travel as msgpack ints (msgspec accepts them for float fields)", () => {
    const zero = { qpos: f64(), qvel: f64(), act: f64(), time: 0 };
    const raw = decode(encodeClient({ type: "step", seq: 0, before: zero, after: zero })) as {
      before: { time: number; act: Uint8Array };
    };
    expect(raw.before.time).toBe(0);
    expect(raw.before.act.byteLength).toBe(0);
  });
});

describe("server -> browser frames written by Python decode", () => {
  it("hello", () => {
    expect(decodeServer(frame("hello"))).toEqual({
      type: "hello",
      version: 1,
      policy_id: "pol-1",
      scene_id: "Go1JoystickFlatTerrain",
      ctrl_dt: 0.02,
      timestep: 0.004,
      substeps: 5,
      nq: 8,
      nv: 7,
      na: 1,
      nu: 2,
      nmocap: 1,
      send: ["qpos", "qvel", "act", "time", "qacc_warmstart"],
      reward_terms: ["up", "effort"],
      weights: [1, -0.01],
      episode_length: 1000,
      command: {
        names: ["x", "y", "yaw"],
        low: [-1, -0.5, -1.5],
        high: [1, 0.5, 1.5],
        keys: [],
        units: [],
      },
    });
  });

  it("episode", () => {
    const m = decodeServer(frame("episode"));
    if (m.type !== "episode") throw new Error(m.type);
    expect(Array.from(m.qpos)).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => i / 8));
    expect(Array.from(m.qvel)).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(m.act)).toEqual([0.5]);
    expect(Array.from(m.mocap_pos)).toEqual([0, 1, 1.5]);
    expect(Array.from(m.mocap_quat)).toEqual([1, 0, 0, 0]);
    expect(Array.from(m.ctrl)).toEqual([0.25, -0.5]);
    expect(m.time).toBe(0);
    expect(m.command).toEqual([0.5, 0, 0]);
  });

  it("action, error and status", () => {
    const a = decodeServer(frame("action"));
    expect({ ...a, ctrl: Array.from((a as { ctrl: Float64Array }).ctrl) }).toEqual({
      type: "action",
      seq: 3,
      ctrl: [-1, 1e-300],
      reward: 1.5,
      terms: [0.75, 3],
      task_reward: 0.9,
      episode_return: 6.25,
      step: 4,
      done: false,
      command: null,
    });
    expect(decodeServer(frame("error"))).toEqual({
      type: "error",
      code: "bad_state",
      message: "qpos has 3 bytes",
      seq: 12,
    });
    expect(decodeServer(frame("status"))).toEqual({
      type: "status",
      phase: "compiling",
      message: "Compiling policy",
    });
  });

  it("a live preview's policy update", () => {
    expect(decodeServer(frame("policy"))).toEqual({
      type: "policy",
      job_id: "job-1",
      step: 40960,
      total_steps: 300000,
      evaluation: 3,
      eval_reward: 812.5,
      check_passed: false,
      check_score: 0.75,
      ended: false,
      note: "checkpoint at step 49152 skipped: NaN in the params",
    });
  });

  it("every field of the server's messages is decoded (the generated FIELDS)", () => {
    const names = {
      hello: FIELDS.Hello,
      episode: FIELDS.Episode,
      action: FIELDS.Action,
      error: FIELDS.Error,
      status: FIELDS.Status,
      policy: FIELDS.PolicyUpdate,
    };
    for (const [name, fields] of Object.entries(names)) {
      expect(Object.keys(decodeServer(frame(name)))).toEqual(["type", ...fields]);
      const raw = decode(frame(name)) as Record<string, unknown>;
      expect(Object.keys(raw)).toEqual(["type", ...fields]); // the fixture is the server's, in order
    }
  });

  it("round-trip through encodeServer (what the test fakes send)", () => {
    for (const name of ["hello", "episode", "action", "error", "status", "policy"]) {
      const m: ServerMessage = decodeServer(frame(name));
      expect(decodeServer(encodeServer(m))).toEqual(m);
    }
    // The fake's frames are the server's, byte for byte, where every float is non-integral.
    expect(hex(encodeServer(decodeServer(frame("error"))))).toBe(frames.error);
  });
});

describe("bad frames are refused with a reason", () => {
  const bad = (value: unknown) => () =>
    decodeServer(encodeServer(value as unknown as ServerMessage));
  it("names what is wrong", () => {
    expect(() => decodeServer(new Uint8Array([0xc1]))).toThrow(ProtocolError);
    expect(() => decodeServer(encode([1, 2]))).toThrow(/should hold a map/);
    expect(bad({ type: "nope" })).toThrow(/unknown message type/);
    expect(bad({ type: "status", phase: "warming" })).toThrow(/status.phase/);
    const m = decodeServer(frame("action"));
    expect(bad({ ...m, ctrl: "x" })).toThrow(/action.ctrl should be bytes, got string/);
    expect(bad({ ...m, seq: 1.5 })).toThrow(/action.seq should be an integer/);
    const h = decodeServer(frame("hello"));
    expect(bad({ ...h, command: { names: ["x"], low: [], high: [] } })).toThrow(/differ in length/);
    // Every field is required: the server writes them all (UI and server ship together).
    const { nmocap: _, ...noMocap } = h as Extract<ServerMessage, { type: "hello" }>;
    expect(bad(noMocap)).toThrow(/hello.nmocap should be an integer, got nothing/);
    const e = decodeServer(frame("error"));
    expect(bad({ ...e, code: "oops" })).toThrow(/error.code should be one of "bad_command"/);
    const { seq: __, ...noSeq } = e as Extract<ServerMessage, { type: "error" }>;
    expect(bad(noSeq)).toThrow(/error.seq should be an integer or nil, got nothing/);
    const u = decodeServer(frame("policy")) as Extract<ServerMessage, { type: "policy" }>;
    expect(bad({ ...u, check_passed: "yes" })).toThrow(
      /policy.check_passed should be a boolean or nil/,
    );
    expect(bad({ ...u, evaluation: null })).toThrow(/policy.evaluation should be an integer/);
    expect(
      decodeServer(encodeServer({ ...u, eval_reward: null, check_passed: null })),
    ).toMatchObject({
      eval_reward: null,
      check_passed: null,
    });
  });
});
