// Blend shapes applied on the CPU. three.js blends morph targets in the vertex shader, reading
// every target's delta from a texture for every vertex; under software WebGL (SwiftShader, no
// GPU) that loop over the head's 37 targets is what keeps the page from 60 FPS (measured:
// the same mesh without morph attributes holds 60, with them 30). Here each target keeps only
// the vertices it moves, and a frame adds the deltas of the targets whose weight is not zero
// (a handful at a time) into plain position / normal buffers the GPU just draws.

/** One morph target, sparse: the vertices it moves and their xyz deltas (3 per vertex). */
export interface SparseTarget {
  vertices: Uint32Array;
  positionDeltas: Float32Array;
  /** Normal deltas for the same vertices, if the target has them. */
  normalDeltas?: Float32Array;
}

/** Keep the vertices whose position (or normal) delta is not zero. Deltas are [V·3]. */
export function sparseTarget(positionDeltas: ArrayLike<number>, normalDeltas?: ArrayLike<number>): SparseTarget {
  const kept: number[] = [];
  for (let v = 0; v * 3 < positionDeltas.length; v++) {
    const i = v * 3;
    const moved = positionDeltas[i] !== 0 || positionDeltas[i + 1] !== 0 || positionDeltas[i + 2] !== 0;
    const turned =
      normalDeltas !== undefined && (normalDeltas[i] !== 0 || normalDeltas[i + 1] !== 0 || normalDeltas[i + 2] !== 0);
    if (moved || turned) kept.push(v);
  }
  const pick = (src: ArrayLike<number>) => {
    const out = new Float32Array(kept.length * 3);
    kept.forEach((v, k) => {
      out[k * 3] = src[v * 3];
      out[k * 3 + 1] = src[v * 3 + 1];
      out[k * 3 + 2] = src[v * 3 + 2];
    });
    return out;
  };
  return {
    vertices: Uint32Array.from(kept),
    positionDeltas: pick(positionDeltas),
    ...(normalDeltas ? { normalDeltas: pick(normalDeltas) } : {}),
  };
}

/** out = base + Σ weight_t · delta_t over the targets with a non-zero weight (one buffer: positions or normals). */
export function blendTargets(
  base: Float32Array,
  targets: readonly SparseTarget[],
  weights: ArrayLike<number>,
  which: "positionDeltas" | "normalDeltas",
  out: Float32Array,
): void {
  out.set(base);
  targets.forEach((t, i) => {
    const w = weights[i];
    const deltas = t[which];
    if (w === 0 || !deltas) return;
    const vs = t.vertices;
    for (let k = 0; k < vs.length; k++) {
      const o = vs[k] * 3;
      out[o] += w * deltas[k * 3];
      out[o + 1] += w * deltas[k * 3 + 1];
      out[o + 2] += w * deltas[k * 3 + 2];
    }
  });
}

/** One mesh's morphs on the CPU: call `apply` with its influences before each render. */
export class CpuMorphedMesh {
  private readonly basePositions: Float32Array;
  private readonly baseNormals?: Float32Array;
  /** The weights last blended, as given (three.js keeps float64 influences); NaN before the first. */
  private readonly applied: Float64Array;

  constructor(
    private readonly positions: Float32Array,
    private readonly normals: Float32Array | undefined,
    readonly targets: readonly SparseTarget[],
  ) {
    this.basePositions = positions.slice();
    this.baseNormals = normals?.slice();
    this.applied = new Float64Array(targets.length).fill(Number.NaN);
  }

  /** Blend into the position / normal buffers if the weights changed; true if they did (upload them). */
  apply(weights: ArrayLike<number>): boolean {
    let changed = false;
    for (let i = 0; i < this.applied.length && !changed; i++) changed = this.applied[i] !== (weights[i] ?? 0);
    if (!changed) return false;
    for (let i = 0; i < this.applied.length; i++) this.applied[i] = weights[i] ?? 0;
    blendTargets(this.basePositions, this.targets, this.applied, "positionDeltas", this.positions);
    if (this.normals && this.baseNormals)
      blendTargets(this.baseNormals, this.targets, this.applied, "normalDeltas", this.normals);
    return true;
  }
}
