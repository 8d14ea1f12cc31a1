// INT8 vs fp32 decode speed (batch 1) of the MoE LM, and held-out perplexity of both.
// Usage: node --import tsx bench/lm-int8.ts [--model DIR] [--preset small] [--tokens 64] [--threads 2] [--runs 11]
// int8 runs twice: as shipped (decoding steps with gathered int8 experts) and with QMoE experts
// throughout, for comparison.
// With --model, decoding runs over held-out text of the model's own corpus (teacher-forced:
// each step feeds the next real token) and perplexities are compared too (train one with
// `aigc train lm --preset small --out runs/lm-small`); without it, a seeded untrained model
// of the preset's shape decodes seeded random tokens (speed does not depend on the weights).
import { parseArgs } from "node:util";
import { decodeSpeeds, evalLm, trainedOrSeededLm } from "../src/cli/lm.js";
import type { MixedCorpusSizes } from "../src/data/corpora.js";
import { loadMoeLm } from "../src/models/moeLmFiles.js";
import { MoeLmModel } from "../src/models/moeLmModel.js";
import { Rng } from "../src/runtime/rng.js";
import { heldOutWindows } from "../src/train/index.js";
import { tokenizeCorpus } from "../src/train/lmRecipe.js";

const { values } = parseArgs({
  options: {
    model: { type: "string" },
    preset: { type: "string", default: "small" },
    tokens: { type: "string", default: "64" },
    threads: { type: "string", default: "2" },
    runs: { type: "string", default: "11" },
  },
});
const threads = Number(values.threads);
const tokens = Number(values.tokens);
const runs = Number(values.runs);

const { cfg, store, label } = await trainedOrSeededLm(values.model, values.preset as string);
const length = Math.min(cfg.maxSeq, 16 + tokens);
let streams: number[][];
if (values.model) {
  const files = await loadMoeLm(values.model);
  const corpus = tokenizeCorpus(files.tokenizer, { corpus: files.config.training.corpus as MixedCorpusSizes });
  streams = heldOutWindows(corpus.valid, runs, length).slice(0, runs);
} else {
  const rng = new Rng(7);
  streams = Array.from({ length: runs }, () => Array.from({ length }, () => Math.floor(rng.next() * cfg.vocab)));
}
const tokenizer = { encode: () => [], decode: (ids: readonly number[]) => ids.join(" ") };
console.log(
  `MoE LM ${label}: dim ${cfg.dim}, ${cfg.layers} layers, vocab ${cfg.vocab}, ${cfg.moe.experts} experts top-${cfg.moe.topK}; ${store.count()} params; ${threads} threads`,
);
const fp32 = await MoeLmModel.create(cfg, store, tokenizer, { threads });
const int8 = await MoeLmModel.create(cfg, store, tokenizer, { int8: true, threads });
const int8Qmoe = await MoeLmModel.create(cfg, store, tokenizer, { int8: true, threads, int8GatherMaxTokens: 0 });
// The three take turns on each stream (this machine is shared: single runs vary by tens of
// percent, so medians of many alternations are compared).
const speeds = await decodeSpeeds({ fp32, int8, int8Qmoe }, streams);
const speed = { fp32: speeds.fp32.median, int8: speeds.int8.median, int8Qmoe: speeds.int8Qmoe.median };
const speedup = speed.int8 / speed.fp32;
const qmoeSpeedup = speed.int8Qmoe / speed.fp32;
console.log(
  `decode batch 1 (${streams.length} streams × ${length - 16} steps, medians): fp32 ${speed.fp32.toFixed(1)} tok/s, int8 ${speed.int8.toFixed(1)} tok/s: speedup ${speedup.toFixed(2)}x (target >= 3.2x); with QMoE experts instead of gathered ones ${speed.int8Qmoe.toFixed(1)} tok/s: ${qmoeSpeedup.toFixed(2)}x`,
);
let perplexity: { fp32: number; int8: number; ratio: number; int8Gather: number; gatherRatio: number } | null = null;
if (values.model) {
  const r = await evalLm(values.model, { threads });
  perplexity = {
    fp32: r.perplexity,
    int8: r.int8.perplexity,
    ratio: r.int8.perplexity / r.perplexity,
    int8Gather: r.int8.gatherPerplexity,
    gatherRatio: r.int8.gatherPerplexity / r.perplexity,
  };
  const percent = (ratio: number) => `${((ratio - 1) * 100).toFixed(2)}%`;
  console.log(
    `held-out perplexity (target: int8 within 2%): fp32 ${r.perplexity.toFixed(3)}; int8 with QMoE experts (prompts) ${r.int8.perplexity.toFixed(3)} (${percent(perplexity.ratio)}); int8 with gathered experts (decoding steps) ${r.int8.gatherPerplexity.toFixed(3)} (${percent(perplexity.gatherRatio)})`,
  );
}
console.log(
  JSON.stringify({
    fp32TokensPerSec: speed.fp32,
    int8TokensPerSec: speed.int8,
    decodeSpeedup: speedup,
    int8QmoeTokensPerSec: speed.int8Qmoe,
    qmoeDecodeSpeedup: qmoeSpeedup,
    perplexity,
  }),
);
