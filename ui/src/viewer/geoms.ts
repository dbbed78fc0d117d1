/** Builds three.js meshes for the visible geoms of an MjModel. */

import type { MjModel } from "@mujoco/mujoco";
import * as THREE from "three";
import { simplifyToBudget } from "./simplify";

/** mjtGeom values. */
export const GeomType = {
  plane: 0,
  hfield: 1,
  sphere: 2,
  capsule: 3,
  ellipsoid: 4,
  cylinder: 5,
  box: 6,
  mesh: 7,
} as const;

/** Geom groups drawn by default (Menagerie puts collision geoms in group 3). */
export const VISIBLE_GROUPS = new Set([0, 1, 2]);

export interface GeomObject {
  geom: number;
  body: number;
  object: THREE.Object3D;
}

type GeomMaterial = THREE.MeshStandardMaterial | THREE.MeshLambertMaterial;

/** PBR material, or a cheaper Lambert one for CPU rasterisers (`lite`). */
function material(rgba: ArrayLike<number>, o: number, lite: boolean): GeomMaterial {
  const color = new THREE.Color().setRGB(rgba[o], rgba[o + 1], rgba[o + 2], THREE.SRGBColorSpace);
  const opacity = rgba[o + 3];
  const common = { color, transparent: opacity < 1, opacity };
  return lite
    ? new THREE.MeshLambertMaterial(common)
    : new THREE.MeshStandardMaterial({ ...common, roughness: 0.65, metalness: 0.05 });
}

/** Copies one MuJoCo mesh into a flat-shaded BufferGeometry of at most `maxTriangles` triangles. */
function meshGeometry(model: MjModel, meshId: number, maxTriangles: number): THREE.BufferGeometry {
  const vertAdr = model.mesh_vertadr[meshId];
  const vertNum = model.mesh_vertnum[meshId];
  const faceAdr = model.mesh_faceadr[meshId];
  const faceNum = model.mesh_facenum[meshId];
  // mesh_face indices are relative to the mesh's first vertex; three.js wants Uint32 indices.
  const { positions, index } = simplifyToBudget(
    {
      positions: new Float32Array(model.mesh_vert.subarray(3 * vertAdr, 3 * (vertAdr + vertNum))),
      index: new Uint32Array(model.mesh_face.subarray(3 * faceAdr, 3 * (faceAdr + faceNum))),
    },
    maxTriangles,
  );
  const indexed = new THREE.BufferGeometry();
  indexed.setAttribute("position", new THREE.BufferAttribute(positions, 3));
  indexed.setIndex(new THREE.BufferAttribute(index, 1));
  const flat = indexed.toNonIndexed();
  indexed.dispose();
  flat.computeVertexNormals();
  return flat;
}

/** Ground plane: a large surface plus a grid, both in the geom's xy plane. */
function planeObject(size: ArrayLike<number>, o: number, mat: GeomMaterial): THREE.Object3D {
  // size 0 means infinite in MuJoCo
  const w = size[o] > 0 ? 2 * size[o] : 100;
  const h = size[o + 1] > 0 ? 2 * size[o + 1] : 100;
  const group = new THREE.Group();
  // Playground floors are textured (not drawn here) with a white base colour: darken for the dark theme.
  mat.color.multiplyScalar(0.3);
  // push the surface back in depth so the grid lines on it never z-fight
  mat.polygonOffset = true;
  mat.polygonOffsetFactor = 1;
  mat.polygonOffsetUnits = 1;
  const surface = new THREE.Mesh(new THREE.PlaneGeometry(w, h), mat);
  surface.receiveShadow = true;
  group.add(surface);
  const cells = Math.max(1, Math.round(Math.max(w, h) / 0.5));
  const grid = new THREE.GridHelper(Math.max(w, h), cells, 0x2c3138, 0x3d434c);
  grid.rotation.x = Math.PI / 2; // GridHelper lies in xz; MuJoCo planes lie in xy
  grid.position.z = 0.001;
  grid.raycast = () => {}; // lines would catch every pick ray (Raycaster's line threshold is 1 m)
  const gridMat = grid.material as THREE.Material;
  gridMat.transparent = true;
  gridMat.opacity = 0.8;
  group.add(grid);
  return group;
}

function shapeGeometry(type: number, s: [number, number, number]): THREE.BufferGeometry | null {
  switch (type) {
    case GeomType.sphere:
      return new THREE.SphereGeometry(s[0], 24, 16);
    case GeomType.ellipsoid: {
      const g = new THREE.SphereGeometry(1, 24, 16);
      g.scale(s[0], s[1], s[2]);
      return g;
    }
    case GeomType.capsule: {
      const g = new THREE.CapsuleGeometry(s[0], 2 * s[1], 8, 20);
      g.rotateX(Math.PI / 2); // three's capsule is along y; MuJoCo's along z
      return g;
    }
    case GeomType.cylinder: {
      const g = new THREE.CylinderGeometry(s[0], s[0], 2 * s[1], 24);
      g.rotateX(Math.PI / 2);
      return g;
    }
    case GeomType.box:
      return new THREE.BoxGeometry(2 * s[0], 2 * s[1], 2 * s[2]);
    default:
      return null;
  }
}

export interface BuildOptions {
  /** Most mesh triangles drawn for the whole model; larger meshes are coarsened to fit. */
  triangleBudget?: number;
  /** Cheaper materials (Lambert instead of PBR) for software rendering. */
  lite?: boolean;
}

function isVisible(model: MjModel, g: number): boolean {
  return VISIBLE_GROUPS.has(model.geom_group[g]);
}

/** Triangles of the visible mesh geoms (a mesh used by four legs counts four times). */
export function visibleMeshTriangles(model: MjModel): number {
  let total = 0;
  for (let g = 0; g < model.ngeom; g++) {
    if (isVisible(model, g) && model.geom_type[g] === GeomType.mesh && model.geom_dataid[g] >= 0) {
      total += model.mesh_facenum[model.geom_dataid[g]];
    }
  }
  return total;
}

/** One object per drawable geom; positions are set per frame from MjData. */
export function buildGeoms(model: MjModel, options: BuildOptions = {}): GeomObject[] {
  const out: GeomObject[] = [];
  const total = visibleMeshTriangles(model);
  const scale = options.triangleBudget
    ? Math.min(1, options.triangleBudget / Math.max(1, total))
    : 1;
  const lite = options.lite ?? false;
  const meshCache = new Map<number, THREE.BufferGeometry>(); // one geometry per mesh, shared
  const types = model.geom_type;
  const groups = model.geom_group;
  const sizes = model.geom_size;
  const geomRgba = model.geom_rgba;
  const matIds = model.geom_matid;
  const matRgba = model.mat_rgba;
  const dataIds = model.geom_dataid;
  const bodies = model.geom_bodyid;
  for (let g = 0; g < model.ngeom; g++) {
    if (!VISIBLE_GROUPS.has(groups[g])) continue;
    const matId = matIds[g];
    const mat = matId >= 0 ? material(matRgba, 4 * matId, lite) : material(geomRgba, 4 * g, lite);
    if (mat.opacity <= 0) {
      mat.dispose();
      continue;
    }
    const type = types[g];
    let object: THREE.Object3D | null = null;
    if (type === GeomType.plane) {
      object = planeObject(sizes, 3 * g, mat);
    } else {
      let geometry: THREE.BufferGeometry | null;
      if (type === GeomType.mesh && dataIds[g] >= 0) {
        const id = dataIds[g];
        geometry = meshCache.get(id) ?? null;
        if (!geometry) {
          const faces = model.mesh_facenum[id];
          geometry = meshGeometry(model, id, Math.max(200, Math.floor(faces * scale)));
          meshCache.set(id, geometry);
        }
      } else {
        geometry = shapeGeometry(type, [sizes[3 * g], sizes[3 * g + 1], sizes[3 * g + 2]]);
      }
      if (geometry) {
        const mesh = new THREE.Mesh(geometry, mat);
        mesh.castShadow = true;
        mesh.receiveShadow = true;
        object = mesh;
      }
    }
    if (!object) {
      mat.dispose();
      continue;
    }
    object.matrixAutoUpdate = false;
    object.userData.geom = g;
    object.userData.body = bodies[g];
    out.push({ geom: g, body: bodies[g], object });
  }
  return out;
}

/** Writes geom_xpos / geom_xmat (row-major 3x3) into each object's matrix. */
export function updateGeoms(
  objects: GeomObject[],
  xpos: ArrayLike<number>,
  xmat: ArrayLike<number>,
): void {
  for (const { geom: g, object } of objects) {
    const p = 3 * g;
    const r = 9 * g;
    object.matrix.set(
      xmat[r],
      xmat[r + 1],
      xmat[r + 2],
      xpos[p],
      xmat[r + 3],
      xmat[r + 4],
      xmat[r + 5],
      xpos[p + 1],
      xmat[r + 6],
      xmat[r + 7],
      xmat[r + 8],
      xpos[p + 2],
      0,
      0,
      0,
      1,
    );
    object.matrixWorldNeedsUpdate = true;
  }
}

/** Frees geometries and materials of everything under `root` (disposing twice is harmless). */
export function disposeObject(root: THREE.Object3D): void {
  root.traverse((o) => {
    const mesh = o as THREE.Mesh;
    mesh.geometry?.dispose();
    const m = mesh.material as THREE.Material | THREE.Material[] | undefined;
    if (Array.isArray(m)) for (const x of m) x.dispose();
    else m?.dispose();
  });
}
