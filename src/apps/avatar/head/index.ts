// The digital human's head as a glTF 2.0 binary with morph targets for three.js.
//
// Frame: glTF conventions, metres, Y up, the face looks down +Z; the origin is the head
// centre (half-way between crown and chin, on the mid-sagittal plane, about level with the
// ear canals in depth). The head is 0.22 m from chin to crown; the neck runs down to
// y = -0.21. The character's left is +X (so `eyeBlinkLeft` closes the eye at +X).
//
// Morph targets (mesh.extras.targetNames → three.js morphTargetDictionary): the 15 Oculus
// visemes as `viseme_<name>`, then the ARKit expression shapes of `../faceRig.ts`. They live
// on the node "AvatarHead"; "AvatarHeadStatic" holds what no morph moves (back of the head,
// eyeballs, hair cap, ears, neck). GLTFLoader turns each multi-primitive node into a Group
// of Meshes, so set influences on every Mesh that has a morphTargetDictionary:
//   head.traverse((o) => { if (o.morphTargetDictionary) o.morphTargetInfluences[o.morphTargetDictionary[name]] = w; });
// Budget: about 10.7k triangles, 5.8k vertices, 1.3 MB (0.8 MB without normal deltas).

import { type GlbMaterial, type GlbPrimitive, type GlbScene, writeGlb } from "./glb.js";
import { buildHeadGeometry, type HeadGeometry, type HeadMaterialName, type HeadPart } from "./headMesh.js";

export type { HeadGeometry, HeadLandmarks, HeadMaterialName, HeadPart, VertexRef } from "./headMesh.js";
export { buildHeadGeometry, HEAD_MORPH_NAMES } from "./headMesh.js";

/** Materials by part; colour comes from COLOR_0, these set the surface response. */
const MATERIALS: Record<HeadMaterialName, GlbMaterial> = {
  skin: { name: "skin", baseColor: [1, 1, 1, 1], metallic: 0, roughness: 0.62 },
  eye: { name: "eye", baseColor: [1, 1, 1, 1], metallic: 0, roughness: 0.12 },
  teeth: { name: "teeth", baseColor: [1, 1, 1, 1], metallic: 0, roughness: 0.35 },
  // Seen from inside and outside through the open mouth.
  mouth: { name: "mouth", baseColor: [1, 1, 1, 1], metallic: 0, roughness: 0.8, doubleSided: true },
  hair: { name: "hair", baseColor: [1, 1, 1, 1], metallic: 0, roughness: 0.85 },
};
const MATERIAL_ORDER: readonly HeadMaterialName[] = ["skin", "eye", "teeth", "mouth", "hair"];

export interface HeadGlbOptions {
  /**
   * Store normal deltas with the morph targets (default true): right shading on the opened
   * jaw, at about twice the morph cost in the vertex shader.
   */
  morphNormals?: boolean;
}

/**
 * The head as GLB bytes (the same bytes every call). Two nodes: "AvatarHead", whose mesh
 * carries every morph target (one primitive per material), and "AvatarHeadStatic", the
 * triangles no morph moves, without targets. Primitives follow `buildHeadGeometry().parts`.
 */
export function buildHeadGlb(geometry: HeadGeometry = buildHeadGeometry(), options: HeadGlbOptions = {}): Uint8Array {
  const morphNormals = options.morphNormals ?? true;
  const primitive = (p: HeadPart): GlbPrimitive => ({
    positions: p.positions,
    normals: p.normals,
    colors: p.colors,
    indices: p.indices,
    material: MATERIAL_ORDER.indexOf(p.material),
    targets: p.targets.map((t) => (morphNormals ? t : { position: t.position })),
  });
  const scene: GlbScene = {
    generator: "AIGC Studio procedural head",
    materials: MATERIAL_ORDER.map((m) => MATERIALS[m]),
    meshes: [
      {
        name: "AvatarHead",
        targetNames: [...geometry.morphNames],
        primitives: geometry.parts.filter((p) => p.targets.length > 0).map(primitive),
      },
      {
        name: "AvatarHeadStatic",
        targetNames: [],
        primitives: geometry.parts.filter((p) => p.targets.length === 0).map(primitive),
      },
    ],
  };
  return writeGlb(scene);
}

export interface HeadStats {
  triangles: number;
  vertices: number;
  morphTargets: string[];
}

export function headStats(geometry: HeadGeometry = buildHeadGeometry()): HeadStats {
  const { parts, morphNames } = geometry;
  return {
    triangles: parts.reduce((n, p) => n + p.indices.length / 3, 0),
    vertices: parts.reduce((n, p) => n + p.positions.length / 3, 0),
    morphTargets: [...morphNames],
  };
}
