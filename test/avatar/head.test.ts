// The procedural head: a valid GLB (read by our own parser and by three.js's GLTFLoader),
// every rig morph present, morphs that do what their names say (measured on the positions
// in the GLB), deterministic bytes, and the triangle budget.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { type BufferAttribute, type InterleavedBufferAttribute, Mesh } from "three";
import { GLTFLoader } from "three/examples/jsm/loaders/GLTFLoader.js";
import { EXPRESSION_SHAPES, VISEMES, visemeMorphName } from "../../src/apps/avatar/faceRig.js";
import { writeGlb } from "../../src/apps/avatar/head/glb.js";
import {
  buildHeadGeometry,
  buildHeadGlb,
  HEAD_MORPH_NAMES,
  headStats,
  type VertexRef,
} from "../../src/apps/avatar/head/index.js";

// ---------------------------------------------------------------------------------------
// A minimal GLB reader, written from the spec, independent of the writer.

interface AccessorDef {
  bufferView?: number;
  byteOffset?: number;
  componentType: number;
  count: number;
  type: string;
  min?: number[];
  max?: number[];
  sparse?: { count: number; indices: { bufferView: number; componentType: number }; values: { bufferView: number } };
}
interface GltfPrimitive {
  attributes: Record<string, number>;
  indices: number;
  material: number;
  targets?: Record<string, number>[];
}
interface GltfJson {
  asset: { version: string };
  accessors: AccessorDef[];
  bufferViews: { buffer: number; byteOffset?: number; byteLength: number }[];
  buffers: { byteLength: number }[];
  nodes: { name: string; mesh: number }[];
  meshes: {
    name: string;
    primitives: GltfPrimitive[];
    weights?: number[];
    extras?: { targetNames: string[] };
  }[];
  materials: { pbrMetallicRoughness: { baseColorFactor: number[] } }[];
}

function parseGlb(bytes: Uint8Array): { json: GltfJson; bin: Uint8Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert.equal(view.getUint32(0, true), 0x46546c67, "magic glTF");
  assert.equal(view.getUint32(4, true), 2, "version 2");
  assert.equal(view.getUint32(8, true), bytes.byteLength, "header length = file length");
  const jsonLength = view.getUint32(12, true);
  assert.equal(view.getUint32(16, true), 0x4e4f534a, "first chunk is JSON");
  assert.equal(jsonLength % 4, 0, "JSON chunk 4-byte aligned");
  const json = JSON.parse(new TextDecoder().decode(bytes.subarray(20, 20 + jsonLength))) as GltfJson;
  const binHeader = 20 + jsonLength;
  const binLength = view.getUint32(binHeader, true);
  assert.equal(view.getUint32(binHeader + 4, true), 0x004e4942, "second chunk is BIN");
  assert.equal(binLength % 4, 0, "BIN chunk 4-byte aligned");
  assert.equal(binHeader + 8 + binLength, bytes.byteLength, "no bytes after the BIN chunk");
  assert.equal(json.buffers[0].byteLength, binLength);
  return { json, bin: bytes.subarray(binHeader + 8, binHeader + 8 + binLength) };
}

const COMPONENTS: Record<string, number> = { SCALAR: 1, VEC3: 3, VEC4: 4 };

function viewBytes(json: GltfJson, bin: Uint8Array, index: number): Uint8Array {
  const bv = json.bufferViews[index];
  const offset = bv.byteOffset ?? 0;
  assert.ok(offset + bv.byteLength <= bin.byteLength, `bufferView ${index} inside the BIN chunk`);
  return bin.slice(offset, offset + bv.byteLength);
}

function readIndices(bytes: Uint8Array, componentType: number): number[] {
  if (componentType === 5123) return [...new Uint16Array(bytes.buffer, 0, bytes.byteLength / 2)];
  assert.equal(componentType, 5125, "indices are unsigned short or unsigned int");
  return [...new Uint32Array(bytes.buffer, 0, bytes.byteLength / 4)];
}

/** Decode an accessor to plain numbers: dense, all-zero (no bufferView), or sparse. */
function readAccessor(json: GltfJson, bin: Uint8Array, index: number): number[] {
  const a = json.accessors[index];
  const width = COMPONENTS[a.type];
  let values: number[];
  if (a.bufferView === undefined) values = new Array<number>(a.count * width).fill(0);
  else if (a.componentType === 5126) values = [...new Float32Array(viewBytes(json, bin, a.bufferView).buffer)];
  else values = readIndices(viewBytes(json, bin, a.bufferView), a.componentType);
  if (a.sparse) {
    const at = readIndices(viewBytes(json, bin, a.sparse.indices.bufferView), a.sparse.indices.componentType);
    const moved = [...new Float32Array(viewBytes(json, bin, a.sparse.values.bufferView).buffer)];
    assert.equal(at.length, a.sparse.count);
    at.forEach((v, i) => {
      for (let k = 0; k < width; k++) values[v * width + k] = moved[i * width + k];
    });
  }
  assert.equal(values.length, a.count * width, `accessor ${index} holds count x components values`);
  return values.map((v) => v + 0); // -0 and 0 are the same coordinate
}

function assertBounds(json: GltfJson, bin: Uint8Array, index: number): void {
  const a = json.accessors[index];
  assert.ok(a.min && a.max, `POSITION accessor ${index} has min and max`);
  const values = readAccessor(json, bin, index);
  for (let k = 0; k < 3; k++) {
    const column = values.filter((_, i) => i % 3 === k);
    assert.equal(a.min[k], Math.min(...column), `accessor ${index} min[${k}]`);
    assert.equal(a.max[k], Math.max(...column), `accessor ${index} max[${k}]`);
  }
}

// ---------------------------------------------------------------------------------------
// three.js

async function loadWithThree(bytes: Uint8Array): Promise<Mesh[]> {
  const buffer = bytes.slice().buffer;
  const gltf = await new Promise<{ scene: { traverse(f: (o: object) => void): void } }>((resolve, reject) =>
    new GLTFLoader().parse(buffer, "", resolve, reject),
  );
  const meshes: Mesh[] = [];
  gltf.scene.traverse((o) => {
    if (o instanceof Mesh) meshes.push(o);
  });
  return meshes;
}

type Vec3 = [number, number, number];
type Attribute = BufferAttribute | InterleavedBufferAttribute;

/** Position of a vertex with the named morph at `weight` (three's relative morph targets). */
function morphedPosition(meshes: Mesh[], ref: VertexRef, morph: string | null, weight = 1): Vec3 {
  const mesh = meshes[ref.part];
  const base = mesh.geometry.getAttribute("position") as Attribute;
  const p: Vec3 = [base.getX(ref.vertex), base.getY(ref.vertex), base.getZ(ref.vertex)];
  if (morph === null) return p;
  const slot = mesh.morphTargetDictionary?.[morph];
  assert.ok(slot !== undefined, `morph ${morph} on mesh ${ref.part}`);
  const delta = mesh.geometry.morphAttributes.position?.[slot];
  assert.ok(delta, `morph ${morph} has position deltas`);
  assert.ok(mesh.geometry.morphTargetsRelative, "glTF morph targets are deltas");
  return [p[0] + weight * delta.getX(ref.vertex), p[1] + weight * delta.getY(ref.vertex), p[2] + weight * delta.getZ(ref.vertex)];
}

const MM = 0.001;

describe("avatar head GLB", async () => {
  const geometry = buildHeadGeometry();
  const glb = buildHeadGlb(geometry);
  const { json, bin } = parseGlb(glb);
  const meshes = await loadWithThree(glb);
  const { landmarks } = geometry;
  const rigNames = [...VISEMES.map(visemeMorphName), ...EXPRESSION_SHAPES];
  // Mesh 0 carries the morph targets; mesh 1 holds the triangles no morph moves.
  const [morphMesh, staticMesh] = json.meshes;
  const allPrimitives = json.meshes.flatMap((m) => m.primitives);
  const targetsOf = (primitive: GltfPrimitive): Record<string, number>[] => primitive.targets ?? [];

  it("is a valid glTF 2.0 binary: accessors in range, POSITION bounds, targets on every morphing primitive", () => {
    assert.equal(json.asset.version, "2.0");
    assert.deepEqual(
      json.nodes.map((n) => n.name),
      ["AvatarHead", "AvatarHeadStatic"],
    );
    assert.deepEqual(morphMesh.extras?.targetNames, [...HEAD_MORPH_NAMES]);
    assert.deepEqual(
      morphMesh.weights,
      HEAD_MORPH_NAMES.map(() => 0),
    );
    assert.equal(staticMesh.extras, undefined);
    assert.ok(staticMesh.primitives.every((p) => p.targets === undefined));
    assert.ok(morphMesh.primitives.every((p) => targetsOf(p).length === HEAD_MORPH_NAMES.length));
    for (const primitive of allPrimitives) {
      const vertexCount = json.accessors[primitive.attributes.POSITION].count;
      assertBounds(json, bin, primitive.attributes.POSITION);
      assert.equal(json.accessors[primitive.attributes.NORMAL].count, vertexCount);
      assert.equal(json.accessors[primitive.attributes.COLOR_0].count, vertexCount);
      assert.ok(json.materials[primitive.material], "material exists");
      const indices = readAccessor(json, bin, primitive.indices);
      assert.ok(
        indices.every((i) => i < vertexCount),
        "indices in range",
      );
      for (const target of targetsOf(primitive)) {
        assert.equal(json.accessors[target.POSITION].count, vertexCount);
        assertBounds(json, bin, target.POSITION);
      }
    }
  });

  it("loads in three.js with every viseme and expression shape in morphTargetDictionary", () => {
    assert.equal(meshes.length, allPrimitives.length);
    for (const mesh of meshes.slice(0, morphMesh.primitives.length)) {
      const dictionary = mesh.morphTargetDictionary ?? {};
      for (const name of rigNames) assert.ok(name in dictionary, `${name} on ${mesh.name}`);
      assert.equal(mesh.morphTargetInfluences?.length, rigNames.length);
    }
  });

  it("three.js reads the same positions and deltas as our own parser", () => {
    const slot = HEAD_MORPH_NAMES.indexOf("viseme_aa");
    allPrimitives.forEach((primitive, part) => {
      const ours = readAccessor(json, bin, primitive.attributes.POSITION);
      assert.deepEqual([...meshes[part].geometry.getAttribute("position").array], ours);
      const targets = targetsOf(primitive);
      if (targets.length === 0) return;
      const deltas = readAccessor(json, bin, targets[slot].POSITION);
      assert.deepEqual([...(meshes[part].geometry.morphAttributes.position?.[slot]?.array ?? [])], deltas);
    });
  });

  it("sil is the rest pose and every other morph moves something", () => {
    HEAD_MORPH_NAMES.forEach((name, slot) => {
      const moved = morphMesh.primitives.some((p) => readAccessor(json, bin, targetsOf(p)[slot].POSITION).some((d) => d !== 0));
      assert.equal(moved, name !== "viseme_sil", name);
    });
  });

  const lipGap = (morph: string | null): number =>
    morphedPosition(meshes, landmarks.upperLipCenter, morph)[1] - morphedPosition(meshes, landmarks.lowerLipCenter, morph)[1];
  const mouthWidth = (morph: string | null): number =>
    morphedPosition(meshes, landmarks.mouthCornerLeft, morph)[0] - morphedPosition(meshes, landmarks.mouthCornerRight, morph)[0];
  const lidGap = (side: "Left" | "Right", morph: string | null): number =>
    morphedPosition(meshes, landmarks[`upperLid${side}`], morph)[1] -
    morphedPosition(meshes, landmarks[`lowerLid${side}`], morph)[1];

  it("lips: closed at rest, viseme_aa opens them >= 15 mm, viseme_PP keeps them shut", () => {
    assert.ok(Math.abs(lipGap(null)) < 0.01 * MM, `rest gap ${lipGap(null)}`);
    assert.ok(Math.abs(lipGap("viseme_sil")) < 0.01 * MM);
    assert.ok(lipGap("viseme_aa") >= 15 * MM, `aa gap ${(lipGap("viseme_aa") / MM).toFixed(1)} mm`);
    assert.ok(lipGap("jawOpen") > lipGap("viseme_aa"), "jawOpen opens wider than aa");
    assert.ok(Math.abs(lipGap("viseme_PP")) < 0.3 * MM, `PP gap ${(lipGap("viseme_PP") / MM).toFixed(2)} mm`);
    for (const v of ["viseme_O", "viseme_E", "viseme_DD", "viseme_kk"]) assert.ok(lipGap(v) > 3 * MM, `${v} opens the lips`);
    for (const v of ["viseme_SS", "viseme_FF", "viseme_CH"])
      assert.ok(lipGap(v) < lipGap("viseme_aa") / 2, `${v} stays nearly closed`);
  });

  it("lip width: U narrower than rest, rest narrower than E; O and pucker narrow too", () => {
    const rest = mouthWidth(null);
    assert.ok(mouthWidth("viseme_U") < rest - 10 * MM, `U ${mouthWidth("viseme_U")} vs rest ${rest}`);
    assert.ok(mouthWidth("viseme_E") > rest + 8 * MM, `E ${mouthWidth("viseme_E")} vs rest ${rest}`);
    assert.ok(mouthWidth("viseme_U") < mouthWidth("viseme_O"), "U narrower than O");
    assert.ok(mouthWidth("mouthPucker") < rest - 10 * MM);
    // Rounded lips protrude.
    const upperZ = (m: string | null) => morphedPosition(meshes, landmarks.upperLipCenter, m)[2];
    assert.ok(upperZ("viseme_U") > upperZ(null) + 5 * MM);
  });

  it("eyeBlinkLeft closes the left (+X) eye and leaves the right one open", () => {
    assert.ok(morphedPosition(meshes, landmarks.upperLidLeft, null)[0] > 0, "left eye is at +X");
    for (const side of ["Left", "Right"] as const)
      assert.ok(lidGap(side, null) > 6 * MM, `${side} eye open at rest: ${lidGap(side, null)}`);
    assert.ok(lidGap("Left", "eyeBlinkLeft") <= 0, `left lids meet: ${lidGap("Left", "eyeBlinkLeft")}`);
    assert.ok(Math.abs(lidGap("Right", "eyeBlinkLeft") - lidGap("Right", null)) < 1e-6, "right eye unchanged");
    assert.ok(lidGap("Right", "eyeBlinkRight") <= 0);
    // Half a blink is half closed: the lid travels, it does not pop.
    const half = lidGap("Left", null) + 0.5 * (lidGap("Left", "eyeBlinkLeft") - lidGap("Left", null));
    const upper = morphedPosition(meshes, landmarks.upperLidLeft, "eyeBlinkLeft", 0.5)[1];
    assert.ok(Math.abs(upper - morphedPosition(meshes, landmarks.lowerLidLeft, null)[1] - half) < 1e-6);
    assert.ok(lidGap("Left", "eyeWideLeft") > lidGap("Left", null) + 2 * MM, "eyeWide opens");
    assert.ok(lidGap("Left", "eyeSquintLeft") < lidGap("Left", null) - 2 * MM, "eyeSquint narrows");
  });

  it("mouthSmileLeft raises the left corner only; mouthFrownLeft lowers it", () => {
    const y = (ref: VertexRef, m: string | null) => morphedPosition(meshes, ref, m)[1];
    assert.ok(y(landmarks.mouthCornerLeft, "mouthSmileLeft") > y(landmarks.mouthCornerLeft, null) + 3 * MM);
    assert.ok(Math.abs(y(landmarks.mouthCornerRight, "mouthSmileLeft") - y(landmarks.mouthCornerRight, null)) < 1e-6);
    assert.ok(y(landmarks.mouthCornerRight, "mouthSmileRight") > y(landmarks.mouthCornerRight, null) + 3 * MM);
    assert.ok(y(landmarks.mouthCornerLeft, "mouthFrownLeft") < y(landmarks.mouthCornerLeft, null) - 2 * MM);
  });

  it("no tearing: every edge stays within 3x its rest length (+2 mm) under every morph", () => {
    morphMesh.primitives.forEach((primitive, part) => {
      const rest = readAccessor(json, bin, primitive.attributes.POSITION);
      const indices = readAccessor(json, bin, primitive.indices);
      targetsOf(primitive).forEach((target, slot) => {
        const delta = readAccessor(json, bin, target.POSITION);
        let worst = 0;
        for (let t = 0; t < indices.length; t += 3) {
          for (const [a, b] of [
            [indices[t], indices[t + 1]],
            [indices[t + 1], indices[t + 2]],
            [indices[t + 2], indices[t]],
          ]) {
            const len = (d: number[] | null) =>
              Math.hypot(...[0, 1, 2].map((k) => rest[b * 3 + k] - rest[a * 3 + k] + (d ? d[b * 3 + k] - d[a * 3 + k] : 0)));
            worst = Math.max(worst, len(delta) - (3 * len(null) + 2 * MM));
          }
        }
        assert.ok(worst <= 0, `part ${part}, ${HEAD_MORPH_NAMES[slot]}: an edge overstretched by ${(worst / MM).toFixed(2)} mm`);
      });
    });
  });

  it("is deterministic, head-sized and within the triangle budget", () => {
    assert.deepEqual(buildHeadGlb(), glb);
    const stats = headStats(geometry);
    assert.ok(stats.triangles <= 12_000, `${stats.triangles} triangles`);
    assert.equal(
      stats.triangles,
      allPrimitives.reduce((n, p) => n + json.accessors[p.indices].count / 3, 0),
    );
    assert.deepEqual(stats.morphTargets, [...HEAD_MORPH_NAMES]);
    // About 0.22 m from chin to crown, face towards +Z, lips on the mid-line.
    const upperLip = morphedPosition(meshes, landmarks.upperLipCenter, null);
    assert.ok(upperLip[2] > 0.08 && Math.abs(upperLip[0]) < 1e-9, "lips on the mid-line at the front");
    const ys = allPrimitives.flatMap((p) => readAccessor(json, bin, p.attributes.POSITION).filter((_, i) => i % 3 === 1));
    const crown = ys.reduce((a, b) => Math.max(a, b), -Infinity);
    assert.ok(crown > 0.1 && crown < 0.13, `crown at ${crown}`);
  });

  it("can leave the normal deltas out: same positions, no NORMAL targets, smaller file", async () => {
    const lean = buildHeadGlb(geometry, { morphNormals: false });
    const parsed = parseGlb(lean);
    assert.ok(lean.byteLength < glb.byteLength);
    for (const p of parsed.json.meshes[0].primitives)
      assert.ok(targetsOf(p).every((t) => t.NORMAL === undefined && t.POSITION !== undefined));
    const leanMeshes = await loadWithThree(lean);
    assert.equal(
      lipGap("viseme_aa"),
      morphedPosition(leanMeshes, landmarks.upperLipCenter, "viseme_aa")[1] -
        morphedPosition(leanMeshes, landmarks.lowerLipCenter, "viseme_aa")[1],
    );
  });
});

describe("GLB writer", () => {
  const material = { name: "a", baseColor: [1, 1, 1, 1] as const, metallic: 0, roughness: 1 };

  it("round-trips random meshes with dense, sparse and all-zero morph deltas", () => {
    const float = fc.float({ min: -2, max: 2, noNaN: true, noDefaultInfinity: true });
    const meshArb = fc.integer({ min: 1, max: 30 }).chain((vertexCount) =>
      fc.record({
        positions: fc.array(float, { minLength: vertexCount * 3, maxLength: vertexCount * 3 }),
        triangles: fc
          .array(fc.nat(vertexCount - 1), { minLength: 3, maxLength: 30 })
          .map((a) => a.slice(0, a.length - (a.length % 3))),
        // Per target, per vertex: whether it moves (so some targets are sparse, some all zero).
        targets: fc.array(fc.array(fc.tuple(fc.boolean(), float), { minLength: vertexCount, maxLength: vertexCount }), {
          minLength: 1,
          maxLength: 3,
        }),
      }),
    );
    const plain = (a: Iterable<number>): number[] => [...a].map((v) => v + 0);
    fc.assert(
      fc.property(meshArb, ({ positions, triangles, targets }) => {
        const vertexCount = positions.length / 3;
        const deltas = targets.map((t) => Float32Array.from(t.flatMap(([moves, d]) => (moves ? [d, -d, d / 2] : [0, 0, 0]))));
        const glb = writeGlb({
          generator: "test",
          materials: [material],
          meshes: [
            {
              name: "m",
              targetNames: targets.map((_, i) => `t${i}`),
              primitives: [
                {
                  positions: Float32Array.from(positions),
                  normals: new Float32Array(vertexCount * 3).fill(0.5),
                  colors: new Float32Array(vertexCount * 4).fill(1),
                  indices: Uint32Array.from(triangles),
                  material: 0,
                  targets: deltas.map((d) => ({ position: d, normal: d })),
                },
              ],
            },
          ],
        });
        const { json, bin } = parseGlb(glb);
        const primitive = json.meshes[0].primitives[0];
        assert.deepEqual(readAccessor(json, bin, primitive.attributes.POSITION), plain(Float32Array.from(positions)));
        assertBounds(json, bin, primitive.attributes.POSITION);
        assert.deepEqual(readAccessor(json, bin, primitive.indices), triangles);
        (primitive.targets ?? []).forEach((t, i) => {
          assert.deepEqual(readAccessor(json, bin, t.POSITION), plain(deltas[i]));
          assert.deepEqual(readAccessor(json, bin, t.NORMAL), plain(deltas[i]));
          assertBounds(json, bin, t.POSITION);
        });
      }),
      { numRuns: 150 },
    );
  });

  it("rejects inconsistent input with a message naming the problem", () => {
    const triangle = {
      positions: new Float32Array(9),
      normals: new Float32Array(9),
      colors: new Float32Array(12),
      indices: Uint32Array.of(0, 1, 2),
      material: 0,
    };
    assert.throws(
      () =>
        writeGlb({
          generator: "test",
          materials: [material],
          meshes: [{ name: "m", targetNames: ["a"], primitives: [{ ...triangle, targets: [] }] }],
        }),
      /0 morph targets, expected 1/,
    );
    assert.throws(
      () =>
        writeGlb({
          generator: "test",
          materials: [material],
          meshes: [{ name: "m", targetNames: [], primitives: [{ ...triangle, indices: Uint32Array.of(0, 1, 3), targets: [] }] }],
        }),
      /index 3 >= vertex count 3/,
    );
  });
});
