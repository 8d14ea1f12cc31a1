// The MoE LM recipe end to end (tokenizer, corpus, training, checkpoints): a run stopped
// midway and resumed with --resume follows the uninterrupted run step for step. One thread:
// with more, ONNX Runtime may sum scatter-added gradients in a different order run to run.

import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadMoeLm } from "../../src/models/moeLmFiles.js";
import { type TrainLmOptions, trainLm } from "../../src/train/lmRecipe.js";

test("a stopped and resumed `train lm` run gives the uninterrupted loss curve", async () => {
  const dir = await mkdtemp(join(tmpdir(), "aigc-recipe-"));
  try {
    const base: TrainLmOptions = { preset: "tiny", out: "", steps: 6, seed: 5, threads: 1, resume: false, balance: true };
    const curve = (losses: number[]): Pick<TrainLmOptions, "onProgress"> => ({ onProgress: (p) => losses.push(p.loss) });
    const whole: number[] = [];
    await trainLm({ ...base, out: join(dir, "whole"), ...curve(whole) });
    const parts: number[] = [];
    await trainLm({ ...base, out: join(dir, "parts"), stopAt: 3, ...curve(parts) });
    await trainLm({ ...base, out: join(dir, "parts"), resume: true, ...curve(parts) });
    assert.equal(parts.length, 6);
    for (const [i, l] of parts.entries()) {
      assert.ok(Math.abs(l - whole[i]) <= 1e-6, `step ${i + 1}: resumed ${l} vs uninterrupted ${whole[i]}`);
    }
    // Both folders hold a loadable model with the same weights.
    const a = await loadMoeLm(join(dir, "whole"));
    const b = await loadMoeLm(join(dir, "parts"));
    for (const [name, v] of a.store.values) assert.deepEqual(b.store.get(name).data, v.data, name);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
