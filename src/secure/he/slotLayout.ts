// The slot layout the encrypted client and server agree on: each sample occupies a block of
// slots of a CKKS ciphertext. No node: imports (the client uses this file).

import type { HeModel } from "../../models/index.js";

/** The slot layout of a model: each sample occupies a block of `2 * width` slots. */
export interface SlotLayout {
  /** Power of two ≥ the input and hidden widths. */
  width: number;
  /** Slots per sample: the features twice (x ‖ x), so rotations within a block are cyclic. */
  block: number;
  /** Samples per ciphertext (slots / block). */
  samplesPerCiphertext: number;
}

const nextPow2 = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

export function modelWidth(model: HeModel): number {
  return nextPow2(Math.max(model.features.length, model.kind === "mlp" ? model.b1.length : 1));
}

export function slotLayout(width: number, slots: number): SlotLayout {
  if (width !== nextPow2(width)) throw new Error(`slot layout: width ${width} must be a power of two`);
  const block = 2 * width;
  if (block > slots) throw new Error(`slot layout: a block of ${block} slots does not fit in ${slots} slots`);
  return { width, block, samplesPerCiphertext: slots / block };
}

/** Rotation steps the server needs (Galois keys the client must generate): powers of two below `width`. */
export function galoisStepsFor(width: number): number[] {
  const steps: number[] = [];
  for (let s = 1; s < width; s *= 2) steps.push(s);
  return steps;
}

/** Pack standardised samples into slot vectors: sample i at block i, as x ‖ x (zero-padded to width). */
export function packSamples(rows: readonly (readonly number[])[], layout: SlotLayout, slots: number): Float64Array[] {
  const out: Float64Array[] = [];
  for (let start = 0; start < rows.length; start += layout.samplesPerCiphertext) {
    const v = new Float64Array(slots);
    const chunk = rows.slice(start, start + layout.samplesPerCiphertext);
    chunk.forEach((x, i) => {
      if (x.length > layout.width) throw new Error(`a sample has ${x.length} values; this layout holds ${layout.width}`);
      for (let j = 0; j < x.length; j++) {
        v[i * layout.block + j] = x[j];
        v[i * layout.block + layout.width + j] = x[j];
      }
    });
    out.push(v);
  }
  return out;
}

/** Read the scores back: sample i's score is in slot i · block. */
export function unpackScores(vectors: readonly Float64Array[], layout: SlotLayout, count: number): number[] {
  const scores: number[] = [];
  for (const v of vectors)
    for (let i = 0; i < layout.samplesPerCiphertext && scores.length < count; i++) scores.push(v[i * layout.block]);
  if (scores.length < count) throw new Error(`expected ${count} scores, the ciphertexts hold ${scores.length}`);
  return scores;
}
