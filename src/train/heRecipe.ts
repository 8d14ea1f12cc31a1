// The recipe of the shipped encrypted models: train them in plaintext WITH THE ENGINE
// (graph ops, ParamStore, TrainStep: one ONNX Runtime call per step) on the synthetic
// EHR split, then export the weights to the JSON the encrypted evaluator reads.
//
// Each model is built so the exported function is exactly the trained one:
//   logistic: logits = x @ W + b with 2 classes; softmax over 2 logits = sigmoid(l1 − l0),
//             so the score is x · (W[:,1] − W[:,0]) + (b1 − b0).
//   mlp:      h = x @ W1 + b1; a = op.mul(h, h) (the square activation the ciphertext
//             evaluation uses); logits = a @ W2 + b2; score = a · (W2[:,1] − W2[:,0]) + Δb2.
// `assets/he/recipe.ts` runs this and writes assets/he/*.json.

import { type EhrDataset, ehrSplit } from "../data/index.js";
import { Graph, op, type Tensor } from "../graph/index.js";
import { type HeModel, type LogisticModel, type MlpModel, plainScore, standardise } from "../models/index.js";
import { linear, Scope } from "../nn/index.js";
import { ParamStore, TrainStep } from "../runtime/index.js";
import { trainLoop } from "./loop.js";
import { crossEntropy } from "./losses.js";
import { constantSchedule } from "./schedule.js";

export interface RecipeOptions {
  steps: number;
  lr: number;
  hidden: number;
  seed: number;
  threads?: number;
}
export const recipeDefaults: RecipeOptions = { steps: 600, lr: 2e-2, hidden: 8, seed: 0 };

function scaler(d: EhrDataset) {
  const f = d.features.length;
  const mean = new Array<number>(f).fill(0);
  const std = new Array<number>(f).fill(0);
  for (const row of d.x) for (let j = 0; j < f; j++) mean[j] += row[j] / d.x.length;
  for (const row of d.x) for (let j = 0; j < f; j++) std[j] += (row[j] - mean[j]) ** 2 / d.x.length;
  return { featureMean: mean.map(round6), featureStd: std.map((v) => round6(Math.sqrt(v))) };
}

const round6 = (v: number) => Math.round(v * 1e6) / 1e6;

/** Accuracy of a model's scores (class 1 when score > 0) on a dataset. */
export function plainAccuracy(model: HeModel, dataset: EhrDataset): number {
  let correct = 0;
  dataset.x.forEach((row, i) => {
    if ((plainScore(model, standardise(model, row)) > 0 ? 1 : 0) === dataset.y[i]) correct++;
  });
  return correct / dataset.x.length;
}

async function train(
  d: EhrDataset,
  scale: { featureMean: number[]; featureStd: number[] },
  build: (s: Scope, x: Tensor) => Tensor,
  o: RecipeOptions,
) {
  const n = d.x.length;
  const f = d.features.length;
  const xs = new Float32Array(n * f);
  const ys = new BigInt64Array(n);
  d.x.forEach((row, i) => {
    row.forEach((v, j) => {
      xs[i * f + j] = (v - scale.featureMean[j]) / scale.featureStd[j];
    });
    ys[i] = BigInt(d.y[i]);
  });
  const g = new Graph();
  const x = g.input("x", "float32", [n, f]); // [B, F]
  const y = g.input("y", "int64", [n]); // [B]
  const loss = crossEntropy(build(new Scope(g), x), y); // logits [B, 2]
  const store = ParamStore.fromGraph(g, o.seed);
  const trainStep = await TrainStep.create(loss, store, { threads: o.threads, optimizer: { weightDecay: 0 } });
  const batch = {
    x: { dtype: "float32" as const, shape: [n, f], data: xs },
    y: { dtype: "int64" as const, shape: [n], data: ys },
  };
  const { losses } = await trainLoop({
    trainStep,
    store,
    steps: o.steps,
    schedule: constantSchedule(o.lr),
    batchAt: () => batch,
  });
  return { store, finalLoss: losses.at(-1)! };
}

const col = (w: Float32Array, rows: number, cols: number, c: number) => Array.from({ length: rows }, (_, r) => w[r * cols + c]);

/** Train both shipped models; deterministic for a given seed. */
export async function trainEhrModels(opts: Partial<RecipeOptions> = {}): Promise<{ logistic: LogisticModel; mlp: MlpModel }> {
  const o = { ...recipeDefaults, ...opts };
  const { train: trainSet, heldOut } = ehrSplit();
  const f = trainSet.features.length;
  const scale = scaler(trainSet);
  const card = { features: [...trainSet.features], ...scale };

  const lin = await train(trainSet, scale, (s, x) => linear(s.child("out"), x, 2, { std: 0.1, bias: true }), o);
  const w = lin.store.get("out.weight").data; // [F, 2]
  const b = lin.store.get("out.bias").data; // [2]
  const logistic: LogisticModel = {
    kind: "logistic",
    name: "ehr-logistic",
    ...card,
    weights: col(w, f, 2, 1).map((v, j) => round6(v - w[j * 2])),
    bias: round6(b[1] - b[0]),
  };

  const h = o.hidden;
  const mlpRun = await train(
    trainSet,
    scale,
    (s, x) => {
      const hid = linear(s.child("fc1"), x, h, { std: 0.3, bias: true }); // [B, H]
      return linear(s.child("out"), op.mul(hid, hid), 2, { std: 0.1, bias: true }); // square activation -> [B, 2]
    },
    o,
  );
  const w1 = mlpRun.store.get("fc1.weight").data; // [F, H]
  const b1 = mlpRun.store.get("fc1.bias").data; // [H]
  const w2 = mlpRun.store.get("out.weight").data; // [H, 2]
  const b2 = mlpRun.store.get("out.bias").data; // [2]
  const mlp: MlpModel = {
    kind: "mlp",
    name: "ehr-mlp",
    ...card,
    w1: Array.from({ length: f }, (_, i) => Array.from({ length: h }, (_, k) => round6(w1[i * h + k]))),
    b1: Array.from(b1, round6),
    w2: Array.from({ length: h }, (_, k) => round6(w2[k * 2 + 1] - w2[k * 2])),
    b2: round6(b2[1] - b2[0]),
  };
  const provenance = (m: HeModel, finalLoss: number) => ({
    recipe: "src/train/heRecipe.ts via assets/he/recipe.ts (engine: TrainStep, full batch, AdamW)",
    data: "synthEhrRisk: 2000 training patients (seed 11), 512 held out (seed 12)",
    steps: o.steps,
    lr: o.lr,
    finalTrainLoss: round6(finalLoss),
    heldOutAccuracy: plainAccuracy(m, heldOut),
  });
  logistic.provenance = provenance(logistic, lin.finalLoss);
  mlp.provenance = provenance(mlp, mlpRun.finalLoss);
  return { logistic, mlp };
}
