// How well an image tower can see the findings: the tower alone learns the finding labels
// (binary cross-entropy on its pooled feature, as stage 1 of the progressive recipe), then
// each attribute is read back on held-out slices: is the finding there (any of its side
// labels > 0.5), and, among cases that have it, is the arg-max side / lobe / severity /
// size band right. The probe that chose the aligner's conv stem and max pooling
// (assets/aligner/RECIPE.md).
// Usage: node --import tsx bench/vision-probe.ts [--stem linear | --stem 32,64,128,128] [--pool mean|max]
//        [--steps 800] [--cases 8000] [--lr 3e-3] [--held-out 300] [--threads 2]
// Prints the BCE loss every 100 steps, then a table of attribute accuracies; the last line is JSON.
import { parseArgs } from "node:util";
import { gatherRows } from "../src/data/batches.js";
import { synthChestSet } from "../src/data/synth/index.js";
import { Graph, op } from "../src/graph/index.js";
import { AlignerConfig, alignerImageTower, pixelsInput } from "../src/models/aligner.js";
import { CHEST_WINDOWS, preprocessHu } from "../src/models/imageEncoder.js";
import { linear, Scope } from "../src/nn/index.js";
import { Evaluator } from "../src/runtime/evaluator.js";
import { ParamStore } from "../src/runtime/params.js";
import { Rng } from "../src/runtime/rng.js";
import { TrainStep } from "../src/runtime/trainStep.js";
import { FINDING_LABELS, findingLabels } from "../src/train/alignRecipe.js";
import { binaryCrossEntropyWithLogits } from "../src/train/losses.js";
import { cosineSchedule } from "../src/train/schedule.js";

const { values } = parseArgs({
  options: {
    stem: { type: "string", default: "32,64,128,128" },
    pool: { type: "string", default: "max" },
    steps: { type: "string", default: "800" },
    cases: { type: "string", default: "8000" },
    lr: { type: "string", default: "3e-3" },
    "held-out": { type: "string", default: "300" },
    threads: { type: "string" },
  },
});
const steps = Number(values.steps);
const threads = values.threads ? Number(values.threads) : undefined;
const config = AlignerConfig.parse({
  embedDim: 512,
  image: {
    imageSize: 128,
    windows: CHEST_WINDOWS,
    patch: 16,
    stem: values.stem === "linear" ? "linear" : { convChannels: values.stem.split(",").map(Number) },
    dim: 128,
    heads: 4,
    layers: 4,
    hidden: 256,
    pool: values.pool,
  },
  // The text tower is not built; the config only needs to be valid.
  text: { vocab: 8, maxLen: 8, dim: 32, heads: 4, layers: 1, hidden: 64, pool: "mean" },
  temperature: 0.1,
  learnableTemperature: false,
});

const labelCount = FINDING_LABELS.length;
const batch = 64;
const per = config.image.windows.length * config.image.imageSize ** 2;
const pixelShape = (b: number) => [b, config.image.windows.length, config.image.imageSize, config.image.imageSize];
const train = synthChestSet(101, Number(values.cases));
const pixels = new Float32Array(train.length * per);
const labels = new Float32Array(train.length * labelCount);
train.forEach((c, i) => {
  pixels.set(preprocessHu(c.hu, c.width, c.height, config.image), i * per);
  labels.set(findingLabels(c), i * labelCount);
});

/** The tower plus a linear label head on its pooled feature, for `b` slices. */
function probeGraph(b: number) {
  const g = new Graph();
  const image = alignerImageTower(g, config, pixelsInput(g, config, b));
  const logits = linear(new Scope(g).child("pretrain").child("image_classifier"), image.features, labelCount, { bias: true }); // [B, L]
  return { g, logits };
}

const { g, logits } = probeGraph(batch);
const y = g.input("labels", "float32", [batch, labelCount]);
const store = new ParamStore();
store.initMissing(g, 0);
const step = await TrainStep.create(binaryCrossEntropyWithLogits(logits, y), store, { threads });
const schedule = cosineSchedule({ lr: Number(values.lr), warmup: 50, total: steps });
const t0 = performance.now();
let loss = Number.NaN;
for (let s = 0; s < steps; s++) {
  const rng = Rng.forName(0, `b:${s}`);
  const rows = Array.from({ length: batch }, () => rng.int(train.length));
  const out = await step.run(
    {
      pixels: { dtype: "float32", shape: pixelShape(batch), data: gatherRows(pixels, rows, per) },
      labels: { dtype: "float32", shape: [batch, labelCount], data: gatherRows(labels, rows, labelCount) },
    },
    schedule(s),
  );
  loss = out.loss;
  if ((s + 1) % 100 === 0 || s + 1 === steps)
    console.log(`step ${s + 1}/${steps}  loss ${loss.toFixed(3)}  ${((performance.now() - t0) / (s + 1)).toFixed(0)} ms/step`);
}

// Held-out attribute accuracies.
const probe = probeGraph(1);
const evaluator = await Evaluator.create({ p: op.sigmoid(probe.logits) }, store, threads);
const types = ["nodule", "mass", "consolidation", "effusion", "pneumothorax", "emphysema", "cardiomegaly"];
const attributes: [string, RegExp][] = [
  ["side", /:(right|left|bilateral|none)$/],
  ["lobe", /:(RUL|RML|RLL|LUL|lingula|LLL)$/],
  ["severity", /:(small|moderate|large|mild|severe)$/],
  ["size band", /:size\d$/],
];
const tally = new Map<string, { right: number; n: number }>();
const count = (key: string, right: boolean) => {
  const t = tally.get(key) ?? { right: 0, n: 0 };
  tally.set(key, { right: t.right + (right ? 1 : 0), n: t.n + 1 });
};
for (const c of synthChestSet(31, Number(values["held-out"]))) {
  const out = await evaluator.run({
    pixels: { dtype: "float32", shape: pixelShape(1), data: preprocessHu(c.hu, c.width, c.height, config.image) },
  });
  const p = out.p.data as Float32Array;
  const truth = findingLabels(c);
  for (const type of types) {
    const own = FINDING_LABELS.flatMap((label, i) => (label.startsWith(`${type}:`) ? [{ label, i }] : []));
    const sideLabels = own.filter(({ label }) => attributes[0][1].test(label));
    const present = sideLabels.some(({ i }) => truth[i] === 1);
    count(`${type} present`, present === sideLabels.some(({ i }) => p[i] > 0.5));
    if (!present) continue;
    for (const [name, pattern] of attributes) {
      const group = own.filter(({ label }) => pattern.test(label));
      if (!group.some(({ i }) => truth[i] === 1)) continue;
      const best = group.reduce((a, b) => (p[b.i] > p[a.i] ? b : a));
      count(`${type} ${name}`, truth[best.i] === 1);
    }
  }
}
const rows = Object.fromEntries(
  [...tally].sort(([a], [b]) => a.localeCompare(b)).map(([k, { right, n }]) => [k, { accuracy: +(right / n).toFixed(3), n }]),
);
console.table(rows);
console.log(JSON.stringify({ stem: values.stem, pool: values.pool, steps, cases: train.length, loss, accuracy: rows }));
