// A small, dependency-free glTF 2.0 binary (.glb) writer for one morphable mesh: a JSON
// chunk and a BIN chunk, every chunk and buffer view 4-byte aligned, POSITION accessors
// with the min/max the spec requires, morph targets (POSITION + NORMAL deltas) named by
// `mesh.extras.targetNames`, which three.js's GLTFLoader maps to `morphTargetDictionary`,
// stored sparse where only part of the mesh moves.
// Spec: https://registry.khronos.org/glTF/specs/2.0/glTF-2.0.html

const GLB_MAGIC = 0x46546c67; // "glTF"
const GLB_VERSION = 2;
const CHUNK_JSON = 0x4e4f534a; // "JSON"
const CHUNK_BIN = 0x004e4942; // "BIN\0"

const COMPONENT_FLOAT = 5126;
const COMPONENT_UNSIGNED_SHORT = 5123;
const COMPONENT_UNSIGNED_INT = 5125;
const TARGET_ARRAY_BUFFER = 34962;
const TARGET_ELEMENT_ARRAY_BUFFER = 34963;
const MODE_TRIANGLES = 4;

export type Rgba = readonly [number, number, number, number];

/** A PBR metallic-roughness material; the base colour multiplies COLOR_0. */
export interface GlbMaterial {
  name: string;
  baseColor: Rgba;
  metallic: number;
  roughness: number;
  doubleSided?: boolean;
}

/** One morph target of one primitive: per-vertex deltas, `[V*3]` each; normals optional. */
export interface GlbMorphTarget {
  position: Float32Array;
  normal?: Float32Array;
}

/** A triangle list drawn with one material. Arrays are flat: positions/normals `[V*3]`, colors `[V*4]`. */
export interface GlbPrimitive {
  positions: Float32Array;
  normals: Float32Array;
  colors: Float32Array;
  indices: Uint32Array;
  material: number;
  /** One entry per mesh target name, in the same order. */
  targets: GlbMorphTarget[];
}

/** A mesh, one node each; a mesh without target names has no morph targets. */
export interface GlbMesh {
  name: string;
  targetNames: string[];
  primitives: GlbPrimitive[];
}

export interface GlbScene {
  meshes: GlbMesh[];
  materials: GlbMaterial[];
  generator: string;
}

/** Thrown when the scene handed to `writeGlb` is inconsistent. */
export class GlbInputError extends Error {
  override name = "GlbInputError";
}

interface AccessorJson {
  bufferView?: number;
  componentType: number;
  count: number;
  type: "SCALAR" | "VEC3" | "VEC4";
  min?: number[];
  max?: number[];
  sparse?: { count: number; indices: { bufferView: number; componentType: number }; values: { bufferView: number } };
}

interface BufferViewJson {
  buffer: 0;
  byteOffset: number;
  byteLength: number;
  target?: number;
}

const align4 = (n: number): number => (n + 3) & ~3;

function vec3Bounds(values: Float32Array): { min: number[]; max: number[] } {
  const min = [Infinity, Infinity, Infinity];
  const max = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < values.length; i += 3) {
    for (let k = 0; k < 3; k++) {
      // Bounds of the float32 values as stored, so validators comparing them agree exactly.
      const v = values[i + k];
      if (v < min[k]) min[k] = v;
      if (v > max[k]) max[k] = v;
    }
  }
  if (values.length === 0) return { min: [0, 0, 0], max: [0, 0, 0] };
  return { min, max };
}

const isAllZero = (values: Float32Array): boolean => values.every((v) => v === 0);

function checkScene(scene: GlbScene): void {
  for (const mesh of scene.meshes) checkMesh(mesh, scene.materials.length);
}

function checkMesh(mesh: GlbMesh, materialCount: number): void {
  if (mesh.primitives.length === 0) throw new GlbInputError(`mesh "${mesh.name}" has no primitives, expected at least one`);
  mesh.primitives.forEach((p, i) => {
    const vertexCount = p.positions.length / 3;
    const where = `mesh "${mesh.name}", primitive ${i}`;
    if (!Number.isInteger(vertexCount))
      throw new GlbInputError(`${where}: positions length ${p.positions.length} is not a multiple of 3`);
    if (p.normals.length !== p.positions.length)
      throw new GlbInputError(`${where}: normals length ${p.normals.length}, expected ${p.positions.length}`);
    if (p.colors.length !== vertexCount * 4)
      throw new GlbInputError(`${where}: colors length ${p.colors.length}, expected ${vertexCount * 4} (RGBA)`);
    if (p.indices.length % 3 !== 0)
      throw new GlbInputError(`${where}: ${p.indices.length} indices is not a whole number of triangles`);
    if (p.material < 0 || p.material >= materialCount)
      throw new GlbInputError(`${where}: material ${p.material}, expected 0..${materialCount - 1}`);
    for (const index of p.indices)
      if (index >= vertexCount) throw new GlbInputError(`${where}: index ${index} >= vertex count ${vertexCount}`);
    if (p.targets.length !== mesh.targetNames.length)
      throw new GlbInputError(
        `${where}: ${p.targets.length} morph targets, expected ${mesh.targetNames.length} (one per target name)`,
      );
    p.targets.forEach((t, k) => {
      if (t.position.length !== p.positions.length || (t.normal !== undefined && t.normal.length !== p.positions.length))
        throw new GlbInputError(`${where}, target "${mesh.targetNames[k]}": delta arrays must have ${p.positions.length} values`);
    });
  });
}

/** Serialise the scene as one GLB: one node per mesh, morph weights all zero. */
export function writeGlb(scene: GlbScene): Uint8Array {
  checkScene(scene);
  const binParts: Uint8Array[] = [];
  let binLength = 0;
  const bufferViews: BufferViewJson[] = [];
  const accessors: AccessorJson[] = [];

  const addView = (bytes: Uint8Array, target: number | undefined): number => {
    bufferViews.push({
      buffer: 0,
      byteOffset: binLength,
      byteLength: bytes.byteLength,
      ...(target === undefined ? {} : { target }),
    });
    binParts.push(bytes);
    const padded = align4(bytes.byteLength);
    if (padded > bytes.byteLength) binParts.push(new Uint8Array(padded - bytes.byteLength));
    binLength += padded;
    return bufferViews.length - 1;
  };
  const addAccessor = (accessor: AccessorJson): number => {
    accessors.push(accessor);
    return accessors.length - 1;
  };
  const bytesOf = (a: Float32Array | Uint16Array | Uint32Array): Uint8Array =>
    new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

  // All-zero deltas get an accessor without a buffer view, which the spec defines as zeros.
  const zeroVec3Accessors = new Map<number, number>();
  const zeroVec3Accessor = (count: number): number => {
    const cached = zeroVec3Accessors.get(count);
    if (cached !== undefined) return cached;
    const index = addAccessor({ componentType: COMPONENT_FLOAT, count, type: "VEC3", min: [0, 0, 0], max: [0, 0, 0] });
    zeroVec3Accessors.set(count, index);
    return index;
  };
  const vec3Accessor = (values: Float32Array, withBounds: boolean): number => {
    const count = values.length / 3;
    const view = addView(bytesOf(values), TARGET_ARRAY_BUFFER);
    return addAccessor({
      bufferView: view,
      componentType: COMPONENT_FLOAT,
      count,
      type: "VEC3",
      ...(withBounds ? vec3Bounds(values) : {}),
    });
  };
  // Morph deltas touch part of the mesh: store them sparse (zeros plus the moved vertices)
  // when that is smaller than the dense array.
  const deltaAccessor = (values: Float32Array, withBounds: boolean): number => {
    const count = values.length / 3;
    if (isAllZero(values)) return zeroVec3Accessor(count);
    const moved: number[] = [];
    for (let v = 0; v < count; v++) if (values[v * 3] !== 0 || values[v * 3 + 1] !== 0 || values[v * 3 + 2] !== 0) moved.push(v);
    const shortIndices = count <= 0xffff;
    const indexBytes = shortIndices ? 2 : 4;
    if (moved.length * (12 + indexBytes) >= count * 12) return vec3Accessor(values, withBounds);
    const movedValues = new Float32Array(moved.length * 3);
    moved.forEach((v, i) => {
      movedValues.set(values.subarray(v * 3, v * 3 + 3), i * 3);
    });
    const indexView = addView(bytesOf(shortIndices ? Uint16Array.from(moved) : Uint32Array.from(moved)), undefined);
    const valueView = addView(bytesOf(movedValues), undefined);
    return addAccessor({
      componentType: COMPONENT_FLOAT,
      count,
      type: "VEC3",
      ...(withBounds ? vec3Bounds(values) : {}),
      sparse: {
        count: moved.length,
        indices: { bufferView: indexView, componentType: shortIndices ? COMPONENT_UNSIGNED_SHORT : COMPONENT_UNSIGNED_INT },
        values: { bufferView: valueView },
      },
    });
  };

  const primitiveJson = (p: GlbPrimitive) => {
    const vertexCount = p.positions.length / 3;
    const position = vec3Accessor(p.positions, true);
    const normal = vec3Accessor(p.normals, false);
    const colorView = addView(bytesOf(p.colors), TARGET_ARRAY_BUFFER);
    const color = addAccessor({ bufferView: colorView, componentType: COMPONENT_FLOAT, count: vertexCount, type: "VEC4" });
    const shortIndices = vertexCount <= 0xffff;
    const indexData = shortIndices ? Uint16Array.from(p.indices) : p.indices;
    const indexView = addView(bytesOf(indexData), TARGET_ELEMENT_ARRAY_BUFFER);
    const indices = addAccessor({
      bufferView: indexView,
      componentType: shortIndices ? COMPONENT_UNSIGNED_SHORT : COMPONENT_UNSIGNED_INT,
      count: p.indices.length,
      type: "SCALAR",
    });
    const targets = p.targets.map((t) => ({
      POSITION: deltaAccessor(t.position, true),
      ...(t.normal === undefined ? {} : { NORMAL: deltaAccessor(t.normal, false) }),
    }));
    return {
      attributes: { POSITION: position, NORMAL: normal, COLOR_0: color },
      indices,
      material: p.material,
      mode: MODE_TRIANGLES,
      ...(targets.length > 0 ? { targets } : {}),
    };
  };
  const meshesJson = scene.meshes.map((mesh) => ({
    name: mesh.name,
    primitives: mesh.primitives.map(primitiveJson),
    ...(mesh.targetNames.length > 0 ? { weights: mesh.targetNames.map(() => 0), extras: { targetNames: mesh.targetNames } } : {}),
  }));

  const json = {
    asset: { version: "2.0", generator: scene.generator },
    scene: 0,
    scenes: [{ nodes: scene.meshes.map((_, i) => i) }],
    nodes: scene.meshes.map((mesh, i) => ({ name: mesh.name, mesh: i })),
    meshes: meshesJson,
    materials: scene.materials.map((m) => ({
      name: m.name,
      pbrMetallicRoughness: { baseColorFactor: [...m.baseColor], metallicFactor: m.metallic, roughnessFactor: m.roughness },
      ...(m.doubleSided ? { doubleSided: true } : {}),
    })),
    accessors,
    bufferViews,
    buffers: [{ byteLength: binLength }],
  };

  // The JSON chunk is padded with spaces, the BIN chunk with zeros (spec, "Chunks").
  const jsonBytes = new TextEncoder().encode(JSON.stringify(json));
  const jsonLength = align4(jsonBytes.byteLength);
  const totalLength = 12 + 8 + jsonLength + 8 + binLength;
  const out = new Uint8Array(totalLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, GLB_MAGIC, true);
  view.setUint32(4, GLB_VERSION, true);
  view.setUint32(8, totalLength, true);
  view.setUint32(12, jsonLength, true);
  view.setUint32(16, CHUNK_JSON, true);
  out.set(jsonBytes, 20);
  out.fill(0x20, 20 + jsonBytes.byteLength, 20 + jsonLength);
  let offset = 20 + jsonLength;
  view.setUint32(offset, binLength, true);
  view.setUint32(offset + 4, CHUNK_BIN, true);
  offset += 8;
  for (const part of binParts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}
