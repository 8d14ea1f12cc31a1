// The three.js scene: renderer, camera, lights and the head loaded from /avatar/head.glb.
// The head's meshes are gathered with their morph-target dictionaries so the face code can
// set a blend shape by name on every mesh that has it (skin, teeth, eyes, lids). The blend
// shapes are applied on the CPU (cpuMorph.ts): `applyMorphs` before each render.

import * as THREE from "three";
import { GLTFLoader } from "three/examples/jsm/loaders/GLTFLoader.js";
import { CpuMorphedMesh, sparseTarget } from "./cpuMorph.js";

export interface HeadRig {
  root: THREE.Object3D;
  /** Meshes with morph targets. */
  morphMeshes: THREE.Mesh[];
  /** Every morph-target name the head has. */
  morphNames: Set<string>;
  /** The CPU blenders of the morph meshes, same order. */
  morphers: CpuMorphedMesh[];
}

export interface Stage {
  renderer: THREE.WebGLRenderer;
  scene: THREE.Scene;
  camera: THREE.PerspectiveCamera;
  head: HeadRig;
}

export async function createStage(canvas: HTMLCanvasElement, headUrl: string): Promise<Stage> {
  // preserveDrawingBuffer lets tests read the pixels the head was drawn with.
  // Default: Lambert shading, no MSAA — what holds 60 FPS under software rendering (SwiftShader,
  // 2 cores; bench/avatar.ts). ?quality=high keeps the glTF's PBR materials and antialiasing.
  const high = new URLSearchParams(location.search).get("quality") === "high";
  const renderer = new THREE.WebGLRenderer({ canvas, antialias: high, alpha: true, preserveDrawingBuffer: true });
  renderer.setPixelRatio(Math.min(window.devicePixelRatio, 2));
  renderer.setSize(canvas.clientWidth || canvas.width, canvas.clientHeight || canvas.height, false);
  renderer.outputColorSpace = THREE.SRGBColorSpace;

  const scene = new THREE.Scene();
  const camera = new THREE.PerspectiveCamera(24, canvas.width / canvas.height, 0.05, 10);
  scene.add(new THREE.HemisphereLight(0xf4f1ee, 0x4a4036, 1.6));
  const key = new THREE.DirectionalLight(0xffffff, 2.2);
  key.position.set(0.6, 0.8, 1.2);
  scene.add(key);
  const rim = new THREE.DirectionalLight(0xbcd4ff, 0.9);
  rim.position.set(-0.8, 0.4, -0.6);
  scene.add(rim);

  const gltf = await new GLTFLoader().loadAsync(headUrl);
  const root = gltf.scene;
  scene.add(root);
  if (!high)
    root.traverse((o) => {
      const mesh = o as THREE.Mesh;
      if (!mesh.isMesh) return;
      const pbr = mesh.material as THREE.MeshStandardMaterial;
      mesh.material = new THREE.MeshLambertMaterial({ vertexColors: pbr.vertexColors, side: pbr.side, color: pbr.color });
      pbr.dispose();
    });
  const morphMeshes: THREE.Mesh[] = [];
  const morphNames = new Set<string>();
  root.traverse((o) => {
    const mesh = o as THREE.Mesh;
    if (mesh.isMesh && mesh.morphTargetDictionary) {
      morphMeshes.push(mesh);
      for (const name of Object.keys(mesh.morphTargetDictionary)) morphNames.add(name);
    }
  });
  if (morphMeshes.length === 0) throw new Error(`${headUrl} has no mesh with morph targets`);
  const morphers = morphMeshes.map(cpuMorphs);

  // Frame the face: the head's origin is its centre and it is about 0.22 m chin to crown
  // (see src/apps/avatar/head); show 0.38 m of height so the neck does not dominate.
  const visibleHeight = 0.38;
  const target = new THREE.Vector3(0, -0.025, 0);
  const distance = visibleHeight / 2 / Math.tan(THREE.MathUtils.degToRad(camera.fov / 2));
  camera.position.set(target.x, target.y + 0.01, target.z + distance);
  camera.lookAt(target);
  return { renderer, scene, camera, head: { root, morphMeshes, morphNames, morphers } };
}

/** Move a mesh's morph targets to the CPU: sparse deltas kept, the geometry left plain for the GPU. */
function cpuMorphs(mesh: THREE.Mesh): CpuMorphedMesh {
  const geometry = mesh.geometry;
  const position = geometry.getAttribute("position");
  const normal = geometry.getAttribute("normal");
  const plain = (a: unknown): a is THREE.BufferAttribute =>
    a instanceof THREE.BufferAttribute && a.array instanceof Float32Array && a.itemSize === 3;
  if (!geometry.morphTargetsRelative || !plain(position) || (normal && !plain(normal)))
    throw new Error(`mesh "${mesh.name}": expected relative float32 morph targets on plain position / normal buffers (glTF)`);
  const normalTargets = normal ? geometry.morphAttributes.normal : undefined;
  const targets = (geometry.morphAttributes.position ?? []).map((t, i) => sparseTarget(t.array, normalTargets?.[i]?.array));
  geometry.morphAttributes = {};
  position.setUsage(THREE.DynamicDrawUsage);
  normal?.setUsage(THREE.DynamicDrawUsage);
  mesh.frustumCulled = false; // the geometry's bounds do not cover how far the morphs move it
  return new CpuMorphedMesh(position.array as Float32Array, normal?.array as Float32Array | undefined, targets);
}

/** Blend the current blend-shape weights into the meshes; returns how many meshes changed (uploaded). */
export function applyMorphs(head: HeadRig): number {
  let changed = 0;
  head.morphMeshes.forEach((mesh, i) => {
    if (!mesh.morphTargetInfluences || !head.morphers[i].apply(mesh.morphTargetInfluences)) return;
    const geometry = mesh.geometry;
    geometry.getAttribute("position").needsUpdate = true;
    const normal = geometry.getAttribute("normal");
    if (normal) normal.needsUpdate = true;
    changed++;
  });
  return changed;
}

/** Draw at this share of the canvas's resolution in each direction (see renderScale.ts). */
export function setRenderScale(stage: Stage, scale: number): void {
  stage.renderer.setPixelRatio(Math.min(window.devicePixelRatio, 2) * scale);
}

/** Set one blend shape on every mesh that has it. */
export function setMorph(head: HeadRig, name: string, weight: number): void {
  for (const mesh of head.morphMeshes) {
    const i = mesh.morphTargetDictionary?.[name];
    if (i !== undefined && mesh.morphTargetInfluences) mesh.morphTargetInfluences[i] = weight;
  }
}
