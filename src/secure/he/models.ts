// Encrypted-model definitions: the JSON a plaintext model is exported to, the plaintext
// reference evaluation (the function the encrypted evaluation must reproduce), and the
// slot layout both sides agree on. No node: imports (the client uses this file).
//
// Both models output a score (a logit). The server returns it encrypted; the client
// decrypts it and applies the sigmoid itself: the sigmoid is not a polynomial, and the
// client needs only the score's sign for the class.

import { z } from "zod";

const finite = z.number().finite();

const modelCard = {
  name: z.string().min(1),
  /** Feature names, in input order. */
  features: z.array(z.string()).min(1),
  /** The client standardises x → (x - mean) / std before encrypting. */
  featureMean: z.array(finite),
  featureStd: z.array(finite.positive()),
  /** How the weights were produced (recipe, data, held-out metrics): documentation only. */
  provenance: z.record(z.string(), z.unknown()).optional(),
};

export const logisticModelSchema = z
  .object({ kind: z.literal("logistic"), ...modelCard, weights: z.array(finite), bias: finite })
  .strict();
/** score = w · x + b. */
export type LogisticModel = z.infer<typeof logisticModelSchema>;

export const mlpModelSchema = z
  .object({
    kind: z.literal("mlp"),
    ...modelCard,
    /** Layer 1 weights [in][hidden] (x @ W1, as the engine's `linear`). */
    w1: z.array(z.array(finite)).min(1),
    b1: z.array(finite),
    /** Layer 2 weights [hidden] and bias: one output score. */
    w2: z.array(finite),
    b2: finite,
  })
  .strict();
/** score = Σ_j w2[j] · (x @ W1 + b1)[j]² + b2 (square activation). */
export type MlpModel = z.infer<typeof mlpModelSchema>;

export const heModelSchema = z.discriminatedUnion("kind", [logisticModelSchema, mlpModelSchema]).superRefine((m, ctx) => {
  const d = m.features.length;
  if (m.featureMean.length !== d || m.featureStd.length !== d)
    ctx.addIssue({ code: "custom", message: `featureMean and featureStd must have ${d} entries (one per feature)` });
  if (m.kind === "logistic" && m.weights.length !== d)
    ctx.addIssue({ code: "custom", message: `weights must have ${d} entries` });
  if (m.kind === "mlp") {
    const h = m.b1.length;
    if (m.w1.length !== d || m.w1.some((row) => row.length !== h))
      ctx.addIssue({ code: "custom", message: `w1 must be [${d}][${h}] (features × hidden)` });
    if (m.w2.length !== h) ctx.addIssue({ code: "custom", message: `w2 must have ${h} entries (hidden)` });
  }
});
export type HeModel = z.infer<typeof heModelSchema>;

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

export function modelWidth(m: HeModel): number {
  return nextPow2(Math.max(m.features.length, m.kind === "mlp" ? m.b1.length : 1));
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

/** Standardise one sample with the model card's mean and std. */
export function standardise(m: Pick<HeModel, "featureMean" | "featureStd" | "features">, x: readonly number[]): number[] {
  if (x.length !== m.features.length)
    throw new Error(`expected ${m.features.length} features (${m.features.join(", ")}), got ${x.length}`);
  return x.map((v, j) => (v - m.featureMean[j]) / m.featureStd[j]);
}

/** Plaintext reference: the score of one standardised sample. */
export function plainScore(m: HeModel, x: readonly number[]): number {
  if (m.kind === "logistic") return m.weights.reduce((s, w, j) => s + w * x[j], m.bias);
  let score = m.b2;
  for (let k = 0; k < m.b1.length; k++) {
    let h = m.b1[k];
    for (let j = 0; j < x.length; j++) h += x[j] * m.w1[j][k];
    score += m.w2[k] * h * h;
  }
  return score;
}

export const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

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
