// Batches: random windows of a token stream for language models, chosen by (seed, step)
// alone, so a run resumed from a checkpoint sees exactly the batches it would have; and
// rows of a row-major array stacked into a batch.

import { type HostTensor, Rng } from "../runtime/index.js";

export interface LmBatch {
  ids: HostTensor;
  targets: HostTensor;
}

export function lmBatch(tokens: Int32Array, batch: number, length: number, seed: number, step: number): LmBatch {
  if (tokens.length < length + 2)
    throw new Error(`corpus of ${tokens.length} tokens is shorter than one window of ${length + 1}`);
  const rng = Rng.forName(seed, `batch:${step}`);
  const ids = new BigInt64Array(batch * length);
  const targets = new BigInt64Array(batch * length);
  for (let b = 0; b < batch; b++) {
    const start = rng.int(tokens.length - length - 1);
    for (let i = 0; i < length; i++) {
      ids[b * length + i] = BigInt(tokens[start + i]);
      targets[b * length + i] = BigInt(tokens[start + i + 1]);
    }
  }
  return {
    ids: { dtype: "int64", shape: [batch, length], data: ids },
    targets: { dtype: "int64", shape: [batch, length], data: targets },
  };
}

/** Split a token stream into train and held-out parts (the tail is held out). */
export function splitTokens(tokens: Int32Array, heldOut = 0.1): { train: Int32Array; valid: Int32Array } {
  const cut = Math.floor(tokens.length * (1 - heldOut));
  return { train: tokens.subarray(0, cut), valid: tokens.subarray(cut) };
}

/** Entropy (nats per token) of the unigram distribution of `train`, scored on `valid`: the baseline to beat. */
export function unigramCrossEntropy(train: Int32Array, valid: Int32Array, vocab: number): number {
  const counts = new Float64Array(vocab).fill(1); // add-one smoothing
  for (const t of train) counts[t]++;
  const total = counts.reduce((a, b) => a + b, 0);
  let nll = 0;
  for (const t of valid) nll -= Math.log(counts[t] / total);
  return nll / valid.length;
}

/** Rows `rows` of a row-major [n, per] array, stacked. */
export function gatherRows(src: Float32Array, rows: number[], per: number): Float32Array;
export function gatherRows(src: BigInt64Array, rows: number[], per: number): BigInt64Array;
export function gatherRows(src: Float32Array | BigInt64Array, rows: number[], per: number): Float32Array | BigInt64Array {
  if (src instanceof Float32Array) {
    const out = new Float32Array(rows.length * per);
    for (const [i, r] of rows.entries()) out.set(src.subarray(r * per, (r + 1) * per), i * per);
    return out;
  }
  const out = new BigInt64Array(rows.length * per);
  for (const [i, r] of rows.entries()) out.set(src.subarray(r * per, (r + 1) * per), i * per);
  return out;
}
