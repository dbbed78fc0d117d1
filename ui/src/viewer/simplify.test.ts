import * as THREE from "three";
import { describe, expect, it } from "vitest";
import { clusterVertices, simplifyToBudget } from "./simplify";

function sphere(segments: number) {
  const g = new THREE.SphereGeometry(1, segments, segments);
  const positions = new Float32Array(g.getAttribute("position").array);
  const index = new Uint32Array(g.getIndex()?.array ?? []);
  return { positions, index };
}

describe("mesh simplification", () => {
  it("merges vertices closer than a cell and drops collapsed triangles", () => {
    // two triangles sharing an edge; vertex 3 is 1e-4 from vertex 0 -> the second collapses
    const mesh = {
      positions: new Float32Array([0, 0, 0, 1, 0, 0, 0, 1, 0, 1e-4, 0, 0]),
      index: new Uint32Array([0, 1, 2, 3, 2, 0]),
    };
    const out = clusterVertices(mesh, 10);
    expect(out.positions.length / 3).toBe(3);
    expect(Array.from(out.index)).toEqual([0, 1, 2]);
  });

  it("meets the triangle budget and keeps the shape's size", () => {
    const mesh = sphere(128); // 128 * 127 * 2 = 32,512 triangles
    const out = simplifyToBudget(mesh, 3000);
    const triangles = out.index.length / 3;
    expect(triangles).toBeLessThanOrEqual(3000);
    expect(triangles).toBeGreaterThan(300);
    let maxR = 0;
    for (let i = 0; i < out.positions.length; i += 3) {
      maxR = Math.max(
        maxR,
        Math.hypot(out.positions[i], out.positions[i + 1], out.positions[i + 2]),
      );
    }
    expect(maxR).toBeGreaterThan(0.9);
    expect(maxR).toBeLessThanOrEqual(1.0001);
  });

  it("leaves small meshes alone", () => {
    const mesh = sphere(8);
    expect(simplifyToBudget(mesh, 1e6)).toBe(mesh);
  });
});
