// NF4, the QLoRA paper's 4-bit NormalFloat (Dettmers et al. 2023), in the layout of
// bitsandbytes and ONNX Runtime's com.microsoft.MatMulBnb4 (op.matmulBnb4):
//
//   - the weight is W [N, K] = [out, in] row-major (PyTorch's linear weight; our linear
//     weights are [in, out], so transpose first), flattened to N*K values;
//   - blocks of `blockSize` consecutive flat values share one float32 absmax (the last block
//     may be short); each value v becomes the code of the nearest codebook entry to
//     v / absmax (ties go to the lower code);
//   - two codes per byte, the even flat index in the high nibble: packed[i >> 1] =
//     code[2j] << 4 | code[2j + 1]; packed has ceil(N*K / 2) bytes.
//
// Quantization does what ONNX Runtime's own QuantizeBlockBnb4 does, float32 rounding
// included, so the codes are the ones bitsandbytes would store.
//
// Double quantization (QLoRA §3) stores the absmaxes themselves in 8 bits: offset = their
// mean; the centred values are quantized linearly, symmetric, zero point 128, with one
// float32 scale per 256 of them: absmax ≈ (q - 128) * scale + offset. (bitsandbytes uses its
// dynamic 8-bit float map for this step; a linear map is exactly what DequantizeLinear
// computes, costs the same 8 bits, and op.dequantizeAbsmax rebuilds it in the graph.)

/** The 16 NF4 levels, exactly as bitsandbytes and ONNX Runtime store them (each a float32). */
export const NF4_CODEBOOK: readonly number[] = Object.freeze([
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
  -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
]);

/** Block sizes ONNX Runtime's MatMulBnb4 kernels are built for. */
export const BNB4_BLOCK_SIZES: readonly number[] = Object.freeze([16, 32, 64, 128, 256]);
/** QLoRA's block size for the weights. */
export const NF4_BLOCK_SIZE = 64;
/** QLoRA's block size for the second quantization (of the absmaxes). */
export const ABSMAX_BLOCK_SIZE = 256;
/** Zero point of the 8-bit absmax codes. */
export const ABSMAX_ZERO_POINT = 128;

const CODEBOOK32 = Float32Array.from(NF4_CODEBOOK);
/** Decision points between neighbouring levels (exact midpoints, the constants ONNX Runtime branches on). */
const THRESHOLDS = Float32Array.from({ length: 15 }, (_, i) => (NF4_CODEBOOK[i] + NF4_CODEBOOK[i + 1]) / 2);

/** A blockwise NF4 tensor: `numel` values in blocks of `blockSize`. */
export interface Nf4Tensor {
  /** Two codes per byte, even flat index in the high nibble: [ceil(numel / 2)]. */
  packed: Uint8Array;
  /** One scale per block: [ceil(numel / blockSize)]. */
  absmax: Float32Array;
  numel: number;
  blockSize: number;
}

/** Double-quantized absmaxes: absmax[i] ≈ (absmaxQ[i] - 128) * absmaxScale[i / blockSize] + absmaxOffset. */
export interface QuantizedAbsmax {
  absmaxQ: Uint8Array;
  absmaxScale: Float32Array;
  absmaxOffset: number;
  blockSize: number;
}

export function checkBnb4BlockSize(blockSize: number, what: string): void {
  if (!BNB4_BLOCK_SIZES.includes(blockSize)) {
    throw new Error(
      `${what}: block size ${blockSize} is not supported; it must be one of ${BNB4_BLOCK_SIZES.join(", ")} (the sizes ONNX Runtime's MatMulBnb4 takes)`,
    );
  }
}

/** Bytes of packed codes and number of blocks for `numel` values. */
export function nf4Sizes(numel: number, blockSize: number): { packedBytes: number; blocks: number } {
  return { packedBytes: Math.ceil(numel / 2), blocks: Math.ceil(numel / blockSize) };
}

/** The code of v / absmax, given as v * (1 / absmax) in float32 like ONNX Runtime. */
function nf4Code(scaled: number): number {
  let code = 0;
  while (code < 15 && scaled > THRESHOLDS[code]) code++;
  return code;
}

/** Quantize w ([out, in] row-major, flattened) to NF4 in blocks of `blockSize`. */
export function quantizeNf4(w: Float32Array, blockSize = NF4_BLOCK_SIZE): Nf4Tensor {
  checkBnb4BlockSize(blockSize, "quantizeNf4");
  if (w.length === 0) throw new Error("quantizeNf4: w is empty");
  const numel = w.length;
  const { packedBytes, blocks } = nf4Sizes(numel, blockSize);
  const packed = new Uint8Array(packedBytes);
  const absmax = new Float32Array(blocks);
  for (let b = 0; b < blocks; b++) {
    const start = b * blockSize;
    const end = Math.min(start + blockSize, numel);
    let m = 0;
    for (let i = start; i < end; i++) {
      const v = w[i];
      if (!Number.isFinite(v)) throw new Error(`quantizeNf4: w[${i}] is ${v}; only finite weights can be quantized`);
      m = Math.max(m, Math.abs(v));
    }
    absmax[b] = m;
    const reciprocal = m > 0 ? Math.fround(1 / m) : 0;
    for (let i = start; i < end; i++) {
      const code = nf4Code(Math.fround(w[i] * reciprocal));
      packed[i >> 1] |= i % 2 === 0 ? code << 4 : code;
    }
  }
  // An odd numel leaves the last low nibble unused; ONNX Runtime fills it with the code of 0.
  if (numel % 2 === 1) packed[packedBytes - 1] |= nf4Code(0);
  return { packed, absmax, numel, blockSize };
}

/** Check that packed codes and absmaxes have the sizes `numel` values in blocks of `blockSize` need. */
export function checkNf4Sizes(packedLength: number, absmaxLength: number, numel: number, blockSize: number, what: string): void {
  checkBnb4BlockSize(blockSize, what);
  const { packedBytes, blocks } = nf4Sizes(numel, blockSize);
  if (packedLength !== packedBytes) {
    throw new Error(`${what}: packed codes have ${packedLength} bytes; ${numel} values need ceil(${numel} / 2) = ${packedBytes}`);
  }
  if (absmaxLength !== blocks) {
    throw new Error(
      `${what}: absmax has ${absmaxLength} values; ${numel} values in blocks of ${blockSize} need ${blocks} (one per block)`,
    );
  }
}

/** The float32 values an NF4 tensor stands for (what MatMulBnb4 multiplies by), flattened [out, in]. */
export function dequantizeNf4(q: Nf4Tensor, absmax: Float32Array = q.absmax): Float32Array {
  checkNf4Sizes(q.packed.length, absmax.length, q.numel, q.blockSize, "dequantizeNf4");
  const out = new Float32Array(q.numel);
  for (let i = 0; i < q.numel; i++) {
    const byte = q.packed[i >> 1];
    const code = i % 2 === 0 ? byte >> 4 : byte & 0xf;
    out[i] = CODEBOOK32[code] * absmax[Math.floor(i / q.blockSize)]; // float32 product, as in ONNX Runtime
  }
  return out;
}

/** Second quantization of the absmaxes (QLoRA's double quantization), 8 bits each. */
export function quantizeAbsmax(absmax: Float32Array, blockSize = ABSMAX_BLOCK_SIZE): QuantizedAbsmax {
  if (absmax.length === 0) throw new Error("quantizeAbsmax: absmax is empty");
  if (!Number.isInteger(blockSize) || blockSize < 1)
    throw new Error(`quantizeAbsmax: block size ${blockSize} must be a positive integer`);
  let sum = 0;
  for (let i = 0; i < absmax.length; i++) {
    if (!Number.isFinite(absmax[i])) throw new Error(`quantizeAbsmax: absmax[${i}] is ${absmax[i]}`);
    sum += absmax[i];
  }
  const offset = Math.fround(sum / absmax.length);
  const blocks = Math.ceil(absmax.length / blockSize);
  const absmaxQ = new Uint8Array(absmax.length);
  const absmaxScale = new Float32Array(blocks);
  for (let b = 0; b < blocks; b++) {
    const start = b * blockSize;
    const end = Math.min(start + blockSize, absmax.length);
    let m = 0;
    for (let i = start; i < end; i++) m = Math.max(m, Math.abs(absmax[i] - offset));
    const scale = Math.fround(m / 127);
    absmaxScale[b] = scale;
    for (let i = start; i < end; i++) {
      const q = scale > 0 ? Math.round((absmax[i] - offset) / scale) : 0;
      absmaxQ[i] = ABSMAX_ZERO_POINT + Math.max(-127, Math.min(127, q));
    }
  }
  return { absmaxQ, absmaxScale, absmaxOffset: offset, blockSize };
}

/** The absmaxes double quantization stands for; float32 steps in the order op.dequantizeAbsmax takes them. */
export function dequantizeAbsmax(dq: QuantizedAbsmax): Float32Array {
  const blocks = Math.ceil(dq.absmaxQ.length / dq.blockSize);
  if (dq.absmaxScale.length !== blocks) {
    throw new Error(
      `dequantizeAbsmax: ${dq.absmaxScale.length} scales for ${dq.absmaxQ.length} codes in blocks of ${dq.blockSize} (need ${blocks})`,
    );
  }
  return Float32Array.from(dq.absmaxQ, (q, i) =>
    Math.fround(Math.fround((q - ABSMAX_ZERO_POINT) * dq.absmaxScale[Math.floor(i / dq.blockSize)]) + dq.absmaxOffset),
  );
}

/**
 * Bits stored per weight for `params` weights: 4-bit codes plus float32 absmaxes
 * (4 + 32/64 = 4.5 at block size 64), or with double quantization 8-bit absmaxes plus a
 * float32 scale per 256 of them and one float32 offset (4 + 8/64 + 32/(64·256) ≈ 4.127).
 */
export function nf4Bits(params: number, blockSize = NF4_BLOCK_SIZE, doubleQuant = false): number {
  if (!Number.isInteger(params) || params < 1) throw new Error(`nf4Bits: params ${params} must be a positive integer`);
  checkBnb4BlockSize(blockSize, "nf4Bits");
  const { packedBytes, blocks } = nf4Sizes(params, blockSize);
  const scaleBits = doubleQuant ? 8 * blocks + 32 * Math.ceil(blocks / ABSMAX_BLOCK_SIZE) + 32 : 32 * blocks;
  return (8 * packedBytes + scaleBits) / params;
}
