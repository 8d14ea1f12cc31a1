// `aigc train charlm`: a character-level GPT on Debian's fortunes, with a progress bar,
// held-out eval, checkpoints, resume, and a sample at the end. The engine's demo job.

import { existsSync } from "node:fs";
import { join } from "node:path";
import cliProgress from "cli-progress";
import { loadFortunes } from "../data/index.js";
import { compile, loadCheckpoint, Rng, writeModelFolder } from "../runtime/index.js";
import { cosineSchedule, exportGptInference, setupCharLm, trainLoop } from "../train/index.js";

export const charLmPresets = {
  tiny: { model: { blockSize: 64, dim: 96, heads: 4, layers: 2 }, batch: 16, steps: 600, lr: 3e-3 },
  small: { model: { blockSize: 128, dim: 256, heads: 4, layers: 2 }, batch: 8, steps: 2000, lr: 1e-3 },
} as const;
export type CharLmPreset = keyof typeof charLmPresets;

export interface TrainCharLmOptions {
  preset: CharLmPreset;
  out: string;
  steps?: number;
  seed: number;
  threads?: number;
  resume: boolean;
  sample: number;
}

export async function trainCharLm(options: TrainCharLmOptions): Promise<{ evalLoss: number; unigram: number; sample: string }> {
  const preset = charLmPresets[options.preset];
  const steps = options.steps ?? preset.steps;
  const text = loadFortunes(300_000);
  const ckptDir = join(options.out, "checkpoint");
  const ckpt = options.resume && existsSync(ckptDir) ? await loadCheckpoint(ckptDir) : undefined;
  const s = await setupCharLm(text, {
    model: preset.model,
    batch: preset.batch,
    seed: options.seed,
    store: ckpt?.store,
    trainStep: { threads: options.threads },
  });
  if (ckpt?.moments) s.trainStep.restore(ckpt.moments, ckpt.step);
  const tokensPerStep = preset.batch * preset.model.blockSize;
  const bar = new cliProgress.SingleBar(
    {
      format: "train |{bar}| {value}/{total} steps | loss {loss} | eval {evalLoss} | {tps} tok/s | ETA {eta_formatted}",
      hideCursor: true,
      noTTYOutput: true, // in logs and CI: a line every few seconds
      notTTYSchedule: 5000,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(steps, s.trainStep.stepCount, { loss: "-", evalLoss: "-", tps: "-" });
  await trainLoop({
    trainStep: s.trainStep,
    store: s.store,
    steps,
    schedule: cosineSchedule({ lr: preset.lr, warmup: Math.min(50, steps / 10), total: steps }),
    batchAt: s.batchAt,
    evaluate: () => s.evaluate(),
    evalEvery: Math.max(1, Math.floor(steps / 5)),
    checkpoint: {
      dir: ckptDir,
      every: Math.max(1, Math.floor(steps / 5)),
      config: { ...s.cfg, tokenizer: s.tokenizer.chars.join("") },
    },
    onStep: (i) => {
      const update: Record<string, string> = {
        loss: i.loss.toFixed(3),
        tps: Math.round((tokensPerStep * 1000) / i.ms).toString(),
      };
      if (i.evalLoss !== undefined) update.evalLoss = i.evalLoss.toFixed(3);
      bar.update(i.step, update);
    },
  });
  bar.stop();
  const evalLoss = await s.evaluate();
  const model = exportGptInference(s.cfg, s.store);
  await writeModelFolder(options.out, { "model.onnx": model.bytes }, { keep: "others" });
  const session = await compile(model, { threads: options.threads });
  // Sample by re-running the whole window each token: the engine demo, not the fast decoder.
  const rng = new Rng(options.seed);
  const ids = Array.from(s.tokenizer.encode("\n"));
  for (let i = 0; i < options.sample; i++) {
    const window = ids.slice(-s.cfg.blockSize);
    const out = await session.run({
      ids: { dtype: "int64", shape: [1, window.length], data: BigInt64Array.from(window, BigInt) },
    });
    const logits = (out.logits.data as Float32Array).subarray((window.length - 1) * s.cfg.vocab, window.length * s.cfg.vocab);
    ids.push(sampleIndex(logits, 0.8, rng));
  }
  return { evalLoss, unigram: s.unigram, sample: s.tokenizer.decode(ids.slice(1)) };
}

function sampleIndex(logits: Float32Array, temperature: number, rng: Rng): number {
  let max = Number.NEGATIVE_INFINITY;
  for (const l of logits) max = Math.max(max, l);
  const p = Array.from(logits, (l) => Math.exp((l - max) / temperature));
  let r = rng.next() * p.reduce((a, b) => a + b, 0);
  for (let i = 0; i < p.length; i++) {
    r -= p[i];
    if (r <= 0) return i;
  }
  return p.length - 1;
}
