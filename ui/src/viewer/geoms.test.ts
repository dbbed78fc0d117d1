import * as THREE from "three";
import { afterAll, describe, expect, it } from "vitest";
import { loadModelFromMjb } from "../sim/model";
import { getMujoco } from "../sim/mujoco";
import { Simulation } from "../sim/simulation";
import { fixtureMjb } from "../sim/testing";
import { buildGeoms, GeomType, updateGeoms } from "./geoms";

const mj = await getMujoco();
const sim = new Simulation(mj, loadModelFromMjb(mj, fixtureMjb()), { now: () => 0 });
afterAll(() => sim.dispose());

describe("buildGeoms / updateGeoms", () => {
  it("builds the plane, box and capsule with their bodies", () => {
    const objects = buildGeoms(sim.model);
    expect(objects.map((o) => [o.geom, o.body])).toEqual([
      [0, 0],
      [1, 1],
      [2, 2],
    ]);
    expect(sim.model.geom_type[1]).toBe(GeomType.box);
    const box = objects[1].object as THREE.Mesh;
    const size = new THREE.Box3()
      .setFromObject(new THREE.Mesh(box.geometry))
      .getSize(new THREE.Vector3());
    expect(size.toArray().map((x) => Number(x.toFixed(6)))).toEqual([0.2, 0.2, 0.2]);
    const material = box.material as THREE.MeshStandardMaterial;
    expect(material.color.getHex(THREE.SRGBColorSpace)).toBe(0xff0000);
  });

  it("places each object from geom_xpos and the row-major geom_xmat", () => {
    const objects = buildGeoms(sim.model);
    sim.reset(0); // keyframe: box at (0.5, 0, 2), pole hinge at 0.3 rad about y
    updateGeoms(objects, sim.data.geom_xpos, sim.data.geom_xmat);
    const p = new THREE.Vector3().setFromMatrixPosition(objects[1].object.matrix);
    expect(p.toArray()).toEqual([0.5, 0, 2]);
    // matrix element (row i, column j) equals geom_xmat[9g + 3i + j] (row-major)
    const xmat = sim.data.geom_xmat;
    const e = objects[2].object.matrix.elements; // column-major
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) expect(e[4 * j + i]).toBeCloseTo(xmat[18 + 3 * i + j], 12);
    }
    // Hand check (values from Python mujoco): the capsule from fromto="0 0 0 0 0 0.5" gets
    // geom_quat (0, 1, 0, 0), so its z axis is flipped; after the 0.3 rad hinge it is
    // (-sin 0.3, 0, -cos 0.3), and its centre is (1 + 0.25 sin 0.3, 0, 0.5 + 0.25 cos 0.3).
    const z = new THREE.Vector3(0, 0, 1).transformDirection(objects[2].object.matrix);
    expect(z.x).toBeCloseTo(-Math.sin(0.3), 6);
    expect(z.z).toBeCloseTo(-Math.cos(0.3), 6);
    const c = new THREE.Vector3().setFromMatrixPosition(objects[2].object.matrix);
    expect(c.x).toBeCloseTo(1 + 0.25 * Math.sin(0.3), 6);
    expect(c.z).toBeCloseTo(0.5 + 0.25 * Math.cos(0.3), 6);
  });
});
