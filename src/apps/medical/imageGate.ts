// Whether the report model can read an image, and how sure it is of each finding.
//
// The model was trained on synthetic axial chest CT slices only; anything else (a screenshot,
// a photo, a brain MR, an abdominal CT) would still get a fluent report. So before a report
// the slice passes three checks, cheapest first:
//   1. colour: a rendered CT slice is grey; a colour picture is refused outright;
//   2. HU profile: the shares of air, lung, fat, soft tissue, contrast and bone, and how much
//      of the border is air (a body surrounded by air), as a Mahalanobis distance from the
//      profiles of training slices;
//   3. image features: the Mahalanobis distance of the vision tower's pooled feature (what its
//      finding head reads) from the training slices' (Lee et al. 2018, "A simple unified
//      framework for detecting out-of-distribution samples").
// Both Gaussians are fitted on training slices, with shrinkage towards the diagonal; each
// threshold is a high quantile of held-out chest slices' distances, so the share of real
// chest slices refused is known (measured by bench/report-grounding.ts).
//
// Finding confidence: the finding head (trained with the report, binary cross-entropy on
// type x side, lobe, severity and size band) gives a probability per label; a written
// finding's confidence is the product of its labels' probabilities, with one temperature
// fitted on held-out reports so that confidence matches how often such findings are right.

import { existsSync } from "node:fs";
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { type LabelledFinding, labelReport, type SynthCase } from "../../data/index.js";
import { type ClinicalContext, contextFromSynthEhr, type ReportLanguage } from "../../models/index.js";
import { issueLines, safeParseInput } from "../../runtime/index.js";
import { FINDING_LABELS, findingLabels } from "../../train/index.js";
import { matchedPredictions } from "./findingMetrics.js";

/** A CT slice in Hounsfield units, row-major. */
export interface HuSlice {
  hu: ArrayLike<number>;
  width: number;
  height: number;
}

/** What the vision tower reads of one slice. */
export interface ImageReading {
  /** The image prefix: patch features [S * F]. */
  features: Float32Array;
  /** The pooled feature [F] the finding head reads (and the gate measures). */
  pooled: Float32Array;
  /** The finding head's logits over FINDING_LABELS. */
  labelLogits: Float32Array;
}

/** What fitting a gate needs of a report generator. */
export interface GateFitTarget {
  readImage(slice: HuSlice): Promise<ImageReading>;
  write(
    req: { slice: HuSlice; context: ClinicalContext; lang: ReportLanguage },
    options: { constrained?: boolean },
    reading?: ImageReading,
  ): Promise<string>;
}

// ---------------------------------------------------------------- HU profile

/** HU bands of the profile: air, lung, fat and partial volume, soft tissue, contrast, bone. */
const huBands = [-900, -500, -100, 100, 400] as const;

/** The HU profile of a slice: the share of pixels per band, then the share of the border ring that is air. */
export function huProfile(slice: HuSlice): number[] {
  const { hu, width, height } = slice;
  const counts = new Array<number>(huBands.length + 1).fill(0);
  const stride = Math.max(1, Math.floor(Math.sqrt((width * height) / 65536)));
  let n = 0;
  let border = 0;
  let borderAir = 0;
  const ring = Math.max(1, Math.round(0.04 * Math.min(width, height)));
  for (let y = 0; y < height; y += stride) {
    for (let x = 0; x < width; x += stride) {
      const v = hu[y * width + x];
      let band = 0;
      while (band < huBands.length && v >= huBands[band]) band++;
      counts[band]++;
      n++;
      if (x < ring || y < ring || x >= width - ring || y >= height - ring) {
        border++;
        if (v < huBands[0]) borderAir++;
      }
    }
  }
  return [...counts.map((c) => c / n), border === 0 ? 0 : borderAir / border];
}

// ---------------------------------------------------------------- Gaussians

const GaussianFit = z.object({
  mean: z.array(z.number()),
  /** Row-major inverse of the shrunk covariance. */
  precision: z.array(z.number()),
  /** Distances above this are refused. */
  threshold: z.number().positive(),
});
type GaussianFit = z.infer<typeof GaussianFit>;

/** Inverse of a symmetric positive-definite d x d matrix (Gauss-Jordan with partial pivoting). */
function invert(matrix: Float64Array, d: number): Float64Array {
  const a = Float64Array.from(matrix);
  const inv = new Float64Array(d * d);
  for (let i = 0; i < d; i++) inv[i * d + i] = 1;
  for (let col = 0; col < d; col++) {
    let pivot = col;
    for (let r = col + 1; r < d; r++) if (Math.abs(a[r * d + col]) > Math.abs(a[pivot * d + col])) pivot = r;
    if (Math.abs(a[pivot * d + col]) < 1e-12) throw new Error("invert: the covariance is singular");
    for (let k = 0; k < d; k++) {
      [a[col * d + k], a[pivot * d + k]] = [a[pivot * d + k], a[col * d + k]];
      [inv[col * d + k], inv[pivot * d + k]] = [inv[pivot * d + k], inv[col * d + k]];
    }
    const p = a[col * d + col];
    for (let k = 0; k < d; k++) {
      a[col * d + k] /= p;
      inv[col * d + k] /= p;
    }
    for (let r = 0; r < d; r++) {
      if (r === col) continue;
      const f = a[r * d + col];
      if (f === 0) continue;
      for (let k = 0; k < d; k++) {
        a[r * d + k] -= f * a[col * d + k];
        inv[r * d + k] -= f * inv[col * d + k];
      }
    }
  }
  return inv;
}

/** Mean and shrunk-covariance precision of `rows` (Ledoit–Wolf-style shrinkage towards the mean variance). */
function fitGaussian(rows: readonly ArrayLike<number>[], shrinkage: number): Omit<GaussianFit, "threshold"> {
  const d = rows[0].length;
  const mean = new Float64Array(d);
  for (const r of rows) for (let i = 0; i < d; i++) mean[i] += r[i] / rows.length;
  const cov = new Float64Array(d * d);
  for (const r of rows)
    for (let i = 0; i < d; i++) {
      const di = r[i] - mean[i];
      for (let j = 0; j < d; j++) cov[i * d + j] += (di * (r[j] - mean[j])) / (rows.length - 1);
    }
  let trace = 0;
  for (let i = 0; i < d; i++) trace += cov[i * d + i];
  const floor = Math.max(trace / d, 1e-8);
  for (let i = 0; i < d * d; i++) cov[i] *= 1 - shrinkage;
  for (let i = 0; i < d; i++) cov[i * d + i] += shrinkage * floor;
  return { mean: [...mean], precision: [...invert(cov, d)] };
}

function mahalanobis(fit: Omit<GaussianFit, "threshold">, x: ArrayLike<number>): number {
  const d = fit.mean.length;
  if (x.length !== d) throw new Error(`mahalanobis: expected ${d} values, got ${x.length}`);
  const diff = Array.from({ length: d }, (_, i) => x[i] - fit.mean[i]);
  let sum = 0;
  for (let i = 0; i < d; i++) {
    let row = 0;
    for (let j = 0; j < d; j++) row += fit.precision[i * d + j] * diff[j];
    sum += diff[i] * row;
  }
  return Math.sqrt(Math.max(0, sum));
}

const quantile = (values: readonly number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};

// ---------------------------------------------------------------- finding confidence

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** The finding head's labels a written finding asserts (type x side, lobe, severity, size band, air bronchograms). */
export function findingLabelIndices(finding: LabelledFinding): number[] {
  let labels: Float32Array;
  try {
    // (the region a synthetic finding also has is not read by findingLabels)
    const findings = [finding] as Parameters<typeof findingLabels>[0]["findings"];
    labels = findingLabels({ findings, sliceLevel: "mid", cardiothoracicRatio: undefined });
  } catch {
    return []; // an attribute the head has no label for: confidence from the type alone below
  }
  const level = FINDING_LABELS.indexOf("level:mid");
  return [...labels.keys()].filter((i) => labels[i] === 1 && i !== level);
}

/** Confidence that `finding` is right, from the head's logits at `temperature`. */
export function findingConfidence(finding: LabelledFinding, labelLogits: ArrayLike<number>, temperature: number): number {
  const indices = findingLabelIndices(finding);
  if (indices.length === 0) return 0;
  return indices.reduce((p, i) => p * sigmoid(labelLogits[i] / temperature), 1);
}

/** Expected calibration error of confidences against outcomes, `bins` equal-width bins. */
export function expectedCalibrationError(points: readonly { confidence: number; correct: boolean }[], bins = 10): number {
  const sums = Array.from({ length: bins }, () => ({ n: 0, confidence: 0, correct: 0 }));
  for (const p of points) {
    const b = sums[Math.min(bins - 1, Math.floor(p.confidence * bins))];
    b.n++;
    b.confidence += p.confidence;
    b.correct += p.correct ? 1 : 0;
  }
  return sums.reduce((e, b) => e + (b.n === 0 ? 0 : ((b.n / points.length) * Math.abs(b.confidence - b.correct)) / b.n), 0);
}

// ---------------------------------------------------------------- the gate

export const IMAGE_GATE_FILE = "gate.json";

const ImageGateFile = z
  .object({
    kind: z.literal("aigc-report-gate"),
    /** Greyscale pictures only: the largest share of coloured pixels accepted. */
    maxColourShare: z.number(),
    hu: GaussianFit,
    features: GaussianFit,
    /** Temperature of the finding head's logits for finding confidence. */
    labelTemperature: z.number().positive(),
    /** How it was fitted (cases, seeds, quantile, shrinkage, held-out measurements): informational. */
    fitted: z.record(z.string(), z.unknown()),
  })
  .strict();
type ImageGateFile = z.infer<typeof ImageGateFile>;

export interface GateVerdict {
  accepted: boolean;
  /** Why the image is refused (empty when accepted). */
  reasons: string[];
  huDistance: number;
  featureDistance: number;
}

export class ImageGate {
  private constructor(readonly file: ImageGateFile) {}

  static fromJson(json: unknown, where: string): ImageGate {
    const parsed = safeParseInput(ImageGateFile, json);
    if (!parsed.success)
      throw new Error(`${where}: not a report-model gate (${issueLines(parsed.error, json, { root: "the file" })})`);
    return new ImageGate(parsed.data);
  }

  /** The gate of a report model folder, or undefined when it has none. */
  static async load(dir: string): Promise<ImageGate | undefined> {
    const path = join(dir, IMAGE_GATE_FILE);
    if (!existsSync(path)) return undefined;
    return ImageGate.fromJson(JSON.parse(await readFile(path, "utf8")), path);
  }

  async save(dir: string): Promise<void> {
    const path = join(dir, IMAGE_GATE_FILE);
    await writeFile(`${path}.tmp`, `${JSON.stringify(this.file)}\n`);
    await rename(`${path}.tmp`, path);
  }

  get labelTemperature(): number {
    return this.file.labelTemperature;
  }

  check(slice: HuSlice, reading: ImageReading, image: { colourShare?: number } = {}): GateVerdict {
    const reasons: string[] = [];
    const colour = image.colourShare ?? 0;
    if (colour > this.file.maxColourShare)
      reasons.push(`a colour picture (${(100 * colour).toFixed(0)}% of pixels coloured); CT slices are grey`);
    const huDistance = mahalanobis(this.file.hu, huProfile(slice));
    if (huDistance > this.file.hu.threshold)
      reasons.push(
        `its Hounsfield-unit profile (air, lung, soft tissue, bone, air around the body) is unlike a chest CT slice's (distance ${huDistance.toFixed(1)}, chest slices stay below ${this.file.hu.threshold.toFixed(1)})`,
      );
    const featureDistance = mahalanobis(this.file.features, reading.pooled);
    if (featureDistance > this.file.features.threshold)
      reasons.push(
        `the vision tower's reading is unlike any training slice's (distance ${featureDistance.toFixed(1)}, chest slices stay below ${this.file.features.threshold.toFixed(1)})`,
      );
    return { accepted: reasons.length === 0, reasons, huDistance, featureDistance };
  }
}

export interface FitGateOptions {
  /** Training slices the Gaussians are fitted on. */
  fitCases: readonly SynthCase[];
  /** Held-out slices that set the thresholds and the temperature. */
  calibrationCases: readonly SynthCase[];
  /** Share of held-out chest slices each distance lets through (default 0.999). */
  quantile?: number;
  shrinkage?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Fits a report model's gate: the two Gaussians, their thresholds, and the confidence temperature. */
export async function fitImageGate(generator: GateFitTarget, options: FitGateOptions): Promise<ImageGate> {
  const q = options.quantile ?? 0.999;
  const shrinkage = options.shrinkage ?? 0.05;
  const total = options.fitCases.length + options.calibrationCases.length;
  let done = 0;
  const read = async (c: SynthCase) => {
    const reading = await generator.readImage(c);
    options.onProgress?.(++done, total);
    return { reading, profile: huProfile(c) };
  };
  const fit = [];
  for (const c of options.fitCases) fit.push(await read(c));
  const hu = fitGaussian(
    fit.map((f) => f.profile),
    shrinkage,
  );
  const features = fitGaussian(
    fit.map((f) => f.reading.pooled),
    shrinkage,
  );
  const calibration = [];
  for (const c of options.calibrationCases) calibration.push({ c, ...(await read(c)) });
  // A small margin over the quantile: the held-out set is finite.
  const huThreshold =
    1.1 *
    quantile(
      calibration.map((x) => mahalanobis(hu, x.profile)),
      q,
    );
  const featureThreshold =
    1.1 *
    quantile(
      calibration.map((x) => mahalanobis(features, x.reading.pooled)),
      q,
    );
  // Temperature: the one that makes held-out findings' confidence most likely (log loss).
  const written: { finding: LabelledFinding; logits: Float32Array; correct: boolean }[] = [];
  for (const x of calibration) {
    const text = await generator.write(
      { slice: x.c, context: contextFromSynthEhr(x.c.ehr), lang: "en" },
      { constrained: true },
      x.reading,
    );
    const predicted = labelReport(text, "en");
    const correct = matchedPredictions(predicted, x.c.findings);
    for (const [i, finding] of predicted.entries()) written.push({ finding, logits: x.reading.labelLogits, correct: correct[i] });
  }
  const logLoss = (t: number) =>
    written.reduce((sum, w) => {
      const p = Math.min(1 - 1e-6, Math.max(1e-6, findingConfidence(w.finding, w.logits, t)));
      return sum - (w.correct ? Math.log(p) : Math.log(1 - p));
    }, 0);
  let labelTemperature = 1;
  let bestLoss = logLoss(labelTemperature);
  for (let t = 0.25; t <= 4.001; t += 0.05) {
    const loss = logLoss(t);
    if (loss < bestLoss) [labelTemperature, bestLoss] = [t, loss];
  }
  return ImageGate.fromJson(
    {
      kind: "aigc-report-gate",
      maxColourShare: 0.01,
      hu: { ...hu, threshold: huThreshold },
      features: { ...features, threshold: featureThreshold },
      labelTemperature: Math.round(labelTemperature * 100) / 100,
      fitted: {
        fitCases: options.fitCases.length,
        calibrationCases: options.calibrationCases.length,
        quantile: q,
        margin: 1.1,
        shrinkage,
        calibrationFindings: written.length,
      },
    },
    "fitImageGate",
  );
}
