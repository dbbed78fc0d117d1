/**
 * Vertex-clustering mesh simplification: snap vertices to a grid, merge those in one cell, drop
 * triangles that collapse. Crude but linear-time; used to keep software-rendered WebGL (SwiftShader,
 * no GPU) interactive with Menagerie meshes of hundreds of thousands of triangles.
 */

export interface IndexedMesh {
  positions: Float32Array; // xyz per vertex
  index: Uint32Array; // three vertex indices per triangle
}

/** Merges vertices within cells of `cells` divisions along the longest bounding-box side. */
export function clusterVertices(mesh: IndexedMesh, cells: number): IndexedMesh {
  const p = mesh.positions;
  const n = p.length / 3;
  const min = [Infinity, Infinity, Infinity];
  const max = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 3; k++) {
      const v = p[3 * i + k];
      if (v < min[k]) min[k] = v;
      if (v > max[k]) max[k] = v;
    }
  }
  const size = Math.max(max[0] - min[0], max[1] - min[1], max[2] - min[2]) || 1;
  const cell = size / cells;
  const stride = cells + 1;
  const cellOf = new Map<number, number>(); // cell key -> new vertex id
  const sums: number[] = []; // running sums of merged positions, then counts
  const counts: number[] = [];
  const remap = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const cx = Math.floor((p[3 * i] - min[0]) / cell);
    const cy = Math.floor((p[3 * i + 1] - min[1]) / cell);
    const cz = Math.floor((p[3 * i + 2] - min[2]) / cell);
    const key = (cx * stride + cy) * stride + cz;
    let id = cellOf.get(key);
    if (id === undefined) {
      id = counts.length;
      cellOf.set(key, id);
      counts.push(0);
      sums.push(0, 0, 0);
    }
    counts[id] += 1;
    sums[3 * id] += p[3 * i];
    sums[3 * id + 1] += p[3 * i + 1];
    sums[3 * id + 2] += p[3 * i + 2];
    remap[i] = id;
  }
  const positions = new Float32Array(sums.length);
  for (let id = 0; id < counts.length; id++) {
    for (let k = 0; k < 3; k++) positions[3 * id + k] = sums[3 * id + k] / counts[id];
  }
  const tris: number[] = [];
  const seen = new Set<string>();
  for (let t = 0; t < mesh.index.length; t += 3) {
    const a = remap[mesh.index[t]];
    const b = remap[mesh.index[t + 1]];
    const c = remap[mesh.index[t + 2]];
    if (a === b || b === c || a === c) continue;
    const key = [a, b, c].sort((x, y) => x - y).join(",");
    if (seen.has(key)) continue;
    seen.add(key);
    tris.push(a, b, c);
  }
  return { positions, index: new Uint32Array(tris) };
}

/** Coarsens `mesh` until it has at most `maxTriangles` triangles (returns it unchanged if it has). */
export function simplifyToBudget(mesh: IndexedMesh, maxTriangles: number): IndexedMesh {
  if (mesh.index.length / 3 <= maxTriangles) return mesh;
  let best = mesh;
  for (const cells of [160, 128, 96, 64, 48, 32, 24, 16, 12, 8]) {
    best = clusterVertices(mesh, cells);
    if (best.index.length / 3 <= maxTriangles) break;
  }
  return best;
}
