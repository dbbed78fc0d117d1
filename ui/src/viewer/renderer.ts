/**
 * three.js drawing of one MjModel: z-up world, orbit camera, shadows, picking.
 * Holds no React state; the caller passes MjData every frame.
 */

import type { MjData, MjModel } from "@mujoco/mujoco";
import * as THREE from "three";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";
import type { Vec3 } from "../sim/perturb";
import { buildGeoms, disposeObject, type GeomObject, updateGeoms } from "./geoms";

export interface Pick {
  body: number;
  point: Vec3;
}

/** Thrown when the browser cannot create a WebGL context. */
export class WebGLUnavailableError extends Error {
  constructor(cause: unknown) {
    super(
      "WebGL is not available, so the 3D view cannot be drawn. " +
        "Enable hardware acceleration in the browser, or start robocoach with --software-gl " +
        `to use software rendering. (${cause instanceof Error ? cause.message : String(cause)})`,
    );
    this.name = "WebGLUnavailableError";
  }
}

/** Mesh triangles per model when WebGL runs on the CPU (Go1 has 418k at full detail). */
const SOFTWARE_TRIANGLES = 40_000;
const SOFTWARE_RENDERER = /swiftshader|llvmpipe|softpipe|software/i;
/** Drawn pixels per CSS pixel on a CPU rasteriser: its cost per frame grows with the pixels drawn. */
const SOFTWARE_PIXEL_RATIO = 0.75;

function glRendererName(gl: WebGLRenderingContext | WebGL2RenderingContext): string {
  const ext = gl.getExtension("WEBGL_debug_renderer_info");
  return String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
}

let softwareProbe: boolean | null = null;

/**
 * Whether WebGL draws on the CPU here, asked once of a throwaway context: the viewer's own context must
 * know before it is made, since multisampling (antialias) on a CPU rasteriser costs several times the
 * drawing itself.
 */
function softwareWebGL(): boolean {
  if (softwareProbe === null) {
    const gl = document.createElement("canvas").getContext("webgl2");
    softwareProbe = gl !== null && SOFTWARE_RENDERER.test(glRendererName(gl));
    gl?.getExtension("WEBGL_lose_context")?.loseContext();
  }
  return softwareProbe;
}

export class Viewer {
  readonly renderer: THREE.WebGLRenderer;
  readonly camera: THREE.PerspectiveCamera;
  readonly controls: OrbitControls;
  follow = false;
  /**
   * True on CPU rasterisers (SwiftShader, llvmpipe): meshes are coarsened, and there is no antialiasing, no
   * shadow map, three quarters of the resolution and (SceneController) 20 frames a second at most, so
   * drawing leaves the CPU to the simulation and to training (docs/BENCHMARKS.md: a 560 x 655 viewer took
   * 1.2 cores at 30 frames, 0.64 like this).
   */
  readonly software: boolean;

  private readonly scene = new THREE.Scene();
  private readonly root = new THREE.Group();
  private readonly light: THREE.DirectionalLight;
  private readonly raycaster = new THREE.Raycaster();
  private readonly pertLine: THREE.Line;
  private geoms: GeomObject[] = [];
  private followBody = 1;
  private lastFollow: THREE.Vector3 | null = null;
  private readonly resizeObserver: ResizeObserver;

  /** `beforeControls` runs before OrbitControls sees pointer events (so a body drag can disable it). */
  constructor(
    readonly canvas: HTMLCanvasElement,
    beforeControls?: (viewer: Viewer) => void,
  ) {
    this.software = softwareWebGL();
    try {
      this.renderer = new THREE.WebGLRenderer({ canvas, antialias: !this.software });
    } catch (error) {
      throw new WebGLUnavailableError(error);
    }
    this.renderer.setPixelRatio(
      this.software ? SOFTWARE_PIXEL_RATIO : Math.min(window.devicePixelRatio, 2),
    );
    this.renderer.shadowMap.enabled = !this.software;
    this.renderer.shadowMap.type = THREE.PCFShadowMap;
    this.renderer.outputColorSpace = THREE.SRGBColorSpace;

    this.scene.background = new THREE.Color(0x1b1f24);
    this.scene.fog = new THREE.Fog(0x1b1f24, 15, 40);
    this.camera = new THREE.PerspectiveCamera(45, 1, 0.01, 200);
    this.camera.up.set(0, 0, 1);

    this.scene.add(new THREE.HemisphereLight(0xdde6f0, 0x30302a, 1.2));
    this.light = new THREE.DirectionalLight(0xffffff, 2.2);
    this.light.castShadow = true;
    const shadowSize = this.software ? 1024 : 2048;
    this.light.shadow.mapSize.set(shadowSize, shadowSize);
    this.light.shadow.bias = -0.0005;
    this.scene.add(this.light, this.light.target);
    this.scene.add(this.root);

    this.pertLine = new THREE.Line(
      new THREE.BufferGeometry().setFromPoints([new THREE.Vector3(), new THREE.Vector3()]),
      new THREE.LineBasicMaterial({ color: 0xffc44d, depthTest: false }),
    );
    this.pertLine.visible = false;
    this.pertLine.renderOrder = 10;
    this.scene.add(this.pertLine);

    beforeControls?.(this);
    this.controls = new OrbitControls(this.camera, canvas);
    this.controls.enableDamping = true;
    this.controls.dampingFactor = 0.15;

    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(canvas);
    this.resize();
  }

  /** Vendor/renderer string of the WebGL context (for diagnostics). */
  rendererName(): string {
    return glRendererName(this.renderer.getContext());
  }

  /** Replaces the drawn model and frames the camera on the robot's centre of mass (body 1's subtree). */
  setModel(model: MjModel, data: MjData): void {
    this.clear();
    this.geoms = buildGeoms(model, {
      triangleBudget: this.software ? SOFTWARE_TRIANGLES : undefined,
    });
    for (const g of this.geoms) this.root.add(g.object);
    const stat = model.stat;
    const com = data.subtree_com;
    const center =
      model.nbody > 1
        ? new THREE.Vector3(com[3], com[4], com[5])
        : new THREE.Vector3(...(Array.from(stat.center) as Vec3));
    const extent = Math.min(Math.max(stat.extent, 0.5), 5);
    const distance = Math.max(1.5, 1.8 * extent);
    const elevation = THREE.MathUtils.degToRad(25);
    this.camera.position.set(
      center.x,
      center.y - distance * Math.cos(elevation),
      center.z + distance * Math.sin(elevation),
    );
    this.controls.target.copy(center);
    this.controls.update();
    const s = this.light.shadow.camera;
    s.left = s.bottom = -2 * extent;
    s.right = s.top = 2 * extent;
    s.near = 0.1;
    s.far = 20 * extent;
    s.updateProjectionMatrix();
    this.followBody = model.nbody > 1 ? 1 : 0;
    this.lastFollow = null;
  }

  /** Draws one frame from the current state of `data`. */
  render(data: MjData, perturb?: { from: Vec3; to: Vec3 } | null): void {
    updateGeoms(this.geoms, data.geom_xpos, data.geom_xmat);
    if (this.follow && this.followBody > 0) {
      const x = data.xpos;
      const b = 3 * this.followBody;
      const p = new THREE.Vector3(x[b], x[b + 1], x[b + 2]);
      if (this.lastFollow) {
        const delta = p.clone().sub(this.lastFollow);
        this.camera.position.add(delta);
        this.controls.target.add(delta);
      }
      this.lastFollow = p;
    } else {
      this.lastFollow = null;
    }
    if (perturb) {
      const pos = this.pertLine.geometry.getAttribute("position") as THREE.BufferAttribute;
      pos.setXYZ(0, ...perturb.from);
      pos.setXYZ(1, ...perturb.to);
      pos.needsUpdate = true;
      this.pertLine.visible = true;
    } else {
      this.pertLine.visible = false;
    }
    this.controls.update();
    const t = this.controls.target;
    this.light.position.set(t.x + 2, t.y - 3, t.z + 6);
    this.light.target.position.copy(t);
    this.renderer.render(this.scene, this.camera);
  }

  /** The body and world point under a client-space pixel, or null (groups 0-2 only). */
  pick(clientX: number, clientY: number): Pick | null {
    this.raycaster.setFromCamera(this.ndc(clientX, clientY), this.camera);
    const hits = this.raycaster.intersectObjects(this.root.children, true);
    for (const hit of hits) {
      let o: THREE.Object3D | null = hit.object;
      while (o && o.userData.body === undefined) o = o.parent;
      if (o) return { body: o.userData.body as number, point: hit.point.toArray() as Vec3 };
    }
    return null;
  }

  /** Intersects the ray through a pixel with the plane through `anchor` facing the camera. */
  pointOnViewPlane(clientX: number, clientY: number, anchor: Vec3): Vec3 | null {
    this.raycaster.setFromCamera(this.ndc(clientX, clientY), this.camera);
    const normal = this.camera.getWorldDirection(new THREE.Vector3());
    const plane = new THREE.Plane().setFromNormalAndCoplanarPoint(
      normal,
      new THREE.Vector3(...anchor),
    );
    const out = new THREE.Vector3();
    return this.raycaster.ray.intersectPlane(plane, out) ? (out.toArray() as Vec3) : null;
  }

  private ndc(clientX: number, clientY: number): THREE.Vector2 {
    const r = this.canvas.getBoundingClientRect();
    return new THREE.Vector2(
      ((clientX - r.left) / r.width) * 2 - 1,
      -((clientY - r.top) / r.height) * 2 + 1,
    );
  }

  private resize(): void {
    const w = Math.max(1, this.canvas.clientWidth);
    const h = Math.max(1, this.canvas.clientHeight);
    this.renderer.setSize(w, h, false);
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
  }

  private clear(): void {
    for (const g of this.geoms) {
      this.root.remove(g.object);
      disposeObject(g.object);
    }
    this.geoms = [];
  }

  dispose(): void {
    this.resizeObserver.disconnect();
    this.clear();
    this.controls.dispose();
    disposeObject(this.pertLine);
    this.renderer.dispose();
    this.renderer.forceContextLoss(); // browsers cap live WebGL contexts; free this one now
  }
}
