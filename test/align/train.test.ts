// A tiny alignment run on a few dozen synthetic (slice, report) pairs: InfoNCE pulls the
// training pairs together far above chance; the progressive recipe runs both stages at the
// same steps × batch; the written model folder reloads to the same retrieval figures.

import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadAligner } from "../../src/models/aligner.js";
import { alignPresets, FINDING_LABELS, findingLabels, prepareAlignData, trainAlign } from "../../src/train/alignRecipe.js";
import { evaluateRetrieval } from "../../src/train/retrieval.js";

const threads = 2;

test("stage-1 labels are multi-hot over type × side, lobe, severity, size band, air bronchograms, level and CTR band", () => {
  const y = findingLabels({
    sliceLevel: "mid",
    cardiothoracicRatio: 0.57,
    findings: [
      { type: "nodule", side: "right", lobe: "RUL", sizeMm: 9, region: { x0: 0, y0: 0, x1: 1, y1: 1 } },
      { type: "cardiomegaly", severity: "mild", region: { x0: 0, y0: 0, x1: 1, y1: 1 } },
      { type: "consolidation", side: "left", lobe: "LLL", airBronchograms: true, region: { x0: 0, y0: 0, x1: 1, y1: 1 } },
    ],
  });
  const on = FINDING_LABELS.filter((_, i) => y[i] === 1);
  assert.deepEqual(on, [
    "nodule:right",
    "consolidation:left",
    "cardiomegaly:none",
    "nodule:RUL",
    "consolidation:LLL",
    "cardiomegaly:mild",
    "nodule:size1",
    "level:mid",
    "ctr:9",
    "consolidation:airBronchograms",
  ]);
  const upper = findingLabels({ sliceLevel: "upper", findings: [] });
  assert.deepEqual(
    FINDING_LABELS.filter((_, i) => upper[i] === 1),
    ["level:upper"],
  );
});

test("a tiny direct run fits its training pairs far above chance, and the saved folder reproduces it", async () => {
  const dir = await mkdtemp(join(tmpdir(), "aigc-align-"));
  try {
    const { aligner, metrics } = await trainAlign({ recipe: "direct", preset: "tiny", out: dir, threads });
    const n = metrics.train.n;
    const chance = 1 / n;
    assert.equal(metrics.compute.pretrainSteps, 0);
    assert.equal(metrics.compute.examplesPerTower, alignPresets.tiny.steps * alignPresets.tiny.batch);
    assert.ok(
      metrics.train.i2t.r1 >= 8 * chance,
      `train image→text R@1 ${metrics.train.i2t.r1} should be >= 8x chance (${chance.toFixed(3)})`,
    );
    assert.ok(metrics.train.t2i.r1 >= 8 * chance, `train text→image R@1 ${metrics.train.t2i.r1} should be >= 8x chance`);
    const saved = JSON.parse(await readFile(join(dir, "metrics.json"), "utf8"));
    assert.deepEqual(saved.heldOut, metrics.heldOut);
    const loaded = await loadAligner(dir, { threads });
    const data = prepareAlignData(alignPresets.tiny, { trainSeed: 1, evalSeed: 2 });
    assert.deepEqual(await evaluateRetrieval(loaded, data.heldOut), await evaluateRetrieval(aligner, data.heldOut));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a tiny progressive run pre-trains then aligns at the same steps × batch", async () => {
  const stages: string[] = [];
  const { metrics } = await trainAlign({
    recipe: "progressive",
    preset: "tiny",
    threads,
    onProgress: (p) => {
      if (stages.at(-1) !== p.stage) stages.push(p.stage);
    },
  });
  assert.deepEqual(stages, ["pretrain", "align"]);
  assert.equal(metrics.compute.pretrainSteps + metrics.compute.alignSteps, alignPresets.tiny.steps);
  assert.ok(metrics.compute.pretrainSteps > 0);
  // 40 alignment steps after pre-training: the true text is in the top 5 far more often than by chance.
  const chanceR5 = 5 / metrics.train.n;
  assert.ok(
    metrics.train.i2t.r5 >= 2 * chanceR5,
    `train image→text R@5 ${metrics.train.i2t.r5} should be >= 2x chance ${chanceR5}`,
  );
});

test("a stage 1 longer than the whole run is refused before any data is made", async () => {
  await assert.rejects(
    trainAlign({ recipe: "progressive", preset: "tiny", steps: 10, pretrainSteps: 30 }),
    /pretrainSteps must be an integer from 0 to steps \(10\), got 30/,
  );
});
