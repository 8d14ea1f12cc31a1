// The EHR cardiovascular-risk models (logistic regression, and an MLP with a square
// activation) as the JSON a trained model is exported to, and the plaintext reference score:
// the function the encrypted evaluation (src/secure/he) must reproduce. No node: imports
// (the encrypted-inference client uses this file).
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

/** Standardise one sample with the model card's mean and std. */
export function standardise(
  model: Pick<HeModel, "featureMean" | "featureStd" | "features">,
  features: readonly number[],
): number[] {
  if (features.length !== model.features.length)
    throw new Error(`expected ${model.features.length} features (${model.features.join(", ")}), got ${features.length}`);
  return features.map((v, j) => (v - model.featureMean[j]) / model.featureStd[j]);
}

/** Plaintext reference: the score of one standardised sample. */
export function plainScore(model: HeModel, features: readonly number[]): number {
  if (model.kind === "logistic") return model.weights.reduce((s, w, j) => s + w * features[j], model.bias);
  let score = model.b2;
  for (let k = 0; k < model.b1.length; k++) {
    let h = model.b1[k];
    for (let j = 0; j < features.length; j++) h += features[j] * model.w1[j][k];
    score += model.w2[k] * h * h;
  }
  return score;
}

export const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));
