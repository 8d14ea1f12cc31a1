// A deterministic synthetic EHR cardiovascular-risk dataset (no real patients, nothing
// downloaded). Eight features per patient, drawn from plausible adult distributions:
//
//   age ~ U(30, 80) years; male ~ Bernoulli(0.5); bmi ~ N(27, 4.5) clipped to [17, 45];
//   systolicBp ~ N(118 + 0.45·(age−30), 14) mmHg; glucose ~ N(92 + 0.9·(bmi−25), 18) mg/dL;
//   cholesterol ~ N(195 + 0.5·(age−30), 32) mg/dL; smoker ~ Bernoulli(0.22);
//   familyHistory ~ Bernoulli(0.3).
//
// Label (10-year event), with z-scores zAge = (age−55)/14, zBmi = (bmi−27)/4.5,
// zBp = (systolicBp−130)/16, zGlu = (glucose−95)/20, zChol = (cholesterol−205)/33:
//
//   logit = −0.4 + 0.9·zAge + 0.35·male + 0.5·zBmi + 0.6·zBp + 0.7·zGlu + 0.4·zChol
//           + 0.8·smoker + 0.5·familyHistory + 0.45·zGlu·zBmi (metabolic interaction)
//           + 0.35·zAge·zBp
//
// The interaction terms are what a quadratic MLP can represent and a linear model cannot.
// label ~ Bernoulli(sigmoid(2·logit)), then 5% of labels flipped (label noise).

import { Rng } from "../runtime/index.js";

export const ehrFeatures = ["age", "male", "bmi", "systolicBp", "glucose", "cholesterol", "smoker", "familyHistory"] as const;

export interface EhrDataset {
  features: readonly string[];
  /** Raw (unstandardised) rows. */
  x: number[][];
  /** 0 / 1 labels. */
  y: number[];
}

const clip = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** The generative rule's logit (before the sharpening factor and label noise). */
export function ehrRiskLogit(features: readonly number[]): number {
  const [age, male, bmi, bp, glu, chol, smoker, family] = features;
  const zAge = (age - 55) / 14;
  const zBmi = (bmi - 27) / 4.5;
  const zBp = (bp - 130) / 16;
  const zGlu = (glu - 95) / 20;
  const zChol = (chol - 205) / 33;
  return (
    -0.4 +
    0.9 * zAge +
    0.35 * male +
    0.5 * zBmi +
    0.6 * zBp +
    0.7 * zGlu +
    0.4 * zChol +
    0.8 * smoker +
    0.5 * family +
    0.45 * zGlu * zBmi +
    0.35 * zAge * zBp
  );
}

/** `count` patients from seed `seed`: the same seed gives the same rows on every machine. */
export function synthEhrRisk(count: number, seed: number): EhrDataset {
  const rng = new Rng(seed);
  const x: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < count; i++) {
    const age = 30 + 50 * rng.next();
    const male = rng.next() < 0.5 ? 1 : 0;
    const bmi = clip(27 + 4.5 * rng.normal(), 17, 45);
    const bp = 118 + 0.45 * (age - 30) + 14 * rng.normal();
    const glucose = 92 + 0.9 * (bmi - 25) + 18 * rng.normal();
    const chol = 195 + 0.5 * (age - 30) + 32 * rng.normal();
    const smoker = rng.next() < 0.22 ? 1 : 0;
    const family = rng.next() < 0.3 ? 1 : 0;
    const row = [age, male, bmi, bp, glucose, chol, smoker, family];
    const p = 1 / (1 + Math.exp(-2 * ehrRiskLogit(row)));
    let label = rng.next() < p ? 1 : 0;
    if (rng.next() < 0.05) label = 1 - label;
    x.push(row);
    y.push(label);
  }
  return { features: ehrFeatures, x, y };
}

/** The split the shipped models use: 2000 training patients (seed 11), 512 held out (seed 12). */
export const ehrSplit = () => ({ train: synthEhrRisk(2000, 11), heldOut: synthEhrRisk(512, 12) });
