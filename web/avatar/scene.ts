// The three.js scene: renderer, camera, lights and the head loaded from /avatar/head.glb.
// The head's meshes are gathered with their morph-target dictionaries so the face code can
// set a blend shape by name on every mesh that has it (skin, teeth, eyes, lids).

import * as THREE from "three";
import { GLTFLoader } from "three/examples/jsm/loaders/GLTFLoader.js";

export interface HeadRig {
  root: THREE.Object3D;
  /** Meshes with morph targets. */
  morphMeshes: THREE.Mesh[];
  /** Every morph-target name the head has. */
  morphNames: Set<string>;
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

  // Frame the face: the head's origin is its centre and it is about 0.22 m chin to crown
  // (see src/apps/avatar/head); show 0.38 m of height so the neck does not dominate.
  const visibleHeight = 0.38;
  const target = new THREE.Vector3(0, -0.025, 0);
  const distance = visibleHeight / 2 / Math.tan(THREE.MathUtils.degToRad(camera.fov / 2));
  camera.position.set(target.x, target.y + 0.01, target.z + distance);
  camera.lookAt(target);
  return { renderer, scene, camera, head: { root, morphMeshes, morphNames } };
}

/** Set one blend shape on every mesh that has it. */
export function setMorph(head: HeadRig, name: string, weight: number): void {
  for (const mesh of head.morphMeshes) {
    const i = mesh.morphTargetDictionary?.[name];
    if (i !== undefined && mesh.morphTargetInfluences) mesh.morphTargetInfluences[i] = weight;
  }
}
