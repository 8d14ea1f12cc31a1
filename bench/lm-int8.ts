// INT8 vs fp32 decode speed (batch 1) of the MoE LM, and held-out perplexity of both.
// Usage: node --import tsx bench/lm-int8.ts [--model DIR] [--preset small] [--tokens 64] [--threads 2]
// With --model, the trained model's perplexity is compared too (train one with
// `aigc train lm --preset small --out runs/lm-small`); without it, a seeded untrained model of
// the preset's shape measures speed only (speed does not depend on the weights' values).
import { parseArgs } from "node:util";
import { evalLm, trainedOrSeededLm } from "../src/cli/lm.js";
import { generate } from "../src/generate/index.js";
import { MoeLmModel } from "../src/generate/moeLmModel.js";

const { values } = parseArgs({
  options: {
    model: { type: "string" },
    preset: { type: "string", default: "small" },
    tokens: { type: "string", default: "64" },
    threads: { type: "string", default: "2" },
    runs: { type: "string", default: "5" },
  },
});
const threads = Number(values.threads);
const tokens = Number(values.tokens);
const runs = Number(values.runs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const { cfg, store, label } = await trainedOrSeededLm(values.model, values.preset as string);
const tokenizer = {
  encode: (s: string) => Array.from(s, (c) => c.charCodeAt(0) % 256),
  decode: (ids: readonly number[]) => ids.join(" "),
};
console.log(
  `MoE LM ${label}: dim ${cfg.dim}, ${cfg.layers} layers, vocab ${cfg.vocab}, ${cfg.moe.experts} experts top-${cfg.moe.topK}; ${store.count()} params; ${threads} threads`,
);

async function tokensPerSec(int8: boolean): Promise<number[]> {
  const model = await MoeLmModel.create(cfg, store, tokenizer, { int8, threads });
  const prompt = Array.from({ length: 16 }, (_, i) => (i * 37) % cfg.vocab);
  await generate(model, [prompt], { maxTokens: 8, temperature: 0, ignoreEos: true });
  const out: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const [res] = await generate(model, [prompt], { maxTokens: tokens, temperature: 0, ignoreEos: true });
    out.push((res.tokens.length * 1000) / (performance.now() - t0));
  }
  return out;
}

// Interleave fp32 and int8 runs so both see the same machine load.
const fp32: number[] = [];
const int8: number[] = [];
for (let i = 0; i < 2; i++) {
  fp32.push(...(await tokensPerSec(false)));
  int8.push(...(await tokensPerSec(true)));
}
const speedup = median(int8) / median(fp32);
console.log(
  `decode batch 1: fp32 ${median(fp32).toFixed(1)} tok/s, int8 ${median(int8).toFixed(1)} tok/s (medians of ${fp32.length}); speedup ${speedup.toFixed(2)}x (target >= 3.2x)`,
);
let perplexity: { fp32: number; int8: number; ratio: number } | null = null;
if (values.model) {
  const r = await evalLm(values.model, { threads });
  perplexity = { fp32: r.perplexity, int8: r.int8.perplexity, ratio: r.int8.perplexity / r.perplexity };
  console.log(
    `held-out perplexity: fp32 ${r.perplexity.toFixed(3)}, int8 ${r.int8.perplexity.toFixed(3)} (${((perplexity.ratio - 1) * 100).toFixed(2)}%, target within 2%)`,
  );
}
console.log(
  JSON.stringify({ fp32TokensPerSec: median(fp32), int8TokensPerSec: median(int8), decodeSpeedup: speedup, perplexity }),
);
