import { describe, expect, it } from "vitest";
import { loadModelFromMjb, ModelLoadError } from "./model";
import { getMujoco } from "./mujoco";
import { fixtureMjb } from "./testing";

describe("loadModelFromMjb", () => {
  it("loads an MJB saved by Python mujoco and creates MjData", async () => {
    const mj = await getMujoco();
    expect(mj.mj_versionString()).toBe("3.14.0");
    const model = loadModelFromMjb(mj, fixtureMjb());
    try {
      expect(model.nbody).toBe(3);
      expect(model.nq).toBe(8);
      expect(model.nkey).toBe(1);
      expect(model.opt.timestep).toBeCloseTo(0.002);
      expect(mj.mj_id2name(model, mj.mjtObj.mjOBJ_BODY.value, 1)).toBe("box");
      const data = new mj.MjData(model);
      mj.mj_forward(model, data);
      expect(Array.from(data.xpos.slice(3, 6))).toEqual([0, 0, 1]);
      data.delete();
    } finally {
      model.delete();
    }
  });

  it("leaves no files behind in MEMFS", async () => {
    const mj = await getMujoco();
    const model = loadModelFromMjb(mj, fixtureMjb());
    model.delete();
    expect(mj.FS.readdir("/working").filter((f: string) => f.endsWith(".mjb"))).toEqual([]);
  });

  it("turns corrupt bytes into a ModelLoadError with MuJoCo's message", async () => {
    const mj = await getMujoco();
    const bytes = fixtureMjb().slice(0, 64);
    bytes[0] ^= 0xff;
    let caught: unknown;
    try {
      loadModelFromMjb(mj, bytes, "Broken scene").delete();
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ModelLoadError);
    const message = (caught as Error).message;
    expect(message).toContain("Broken scene");
    expect(message).toMatch(/Failed to load from mjb/);
    expect(message).toContain("3.14.0");
    // the module still works afterwards
    loadModelFromMjb(mj, fixtureMjb()).delete();
  });

  it("rejects empty input", async () => {
    const mj = await getMujoco();
    expect(() => loadModelFromMjb(mj, new Uint8Array())).toThrow(/empty/);
  });
});
