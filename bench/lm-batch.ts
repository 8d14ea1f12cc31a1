// Batched generation: 16 prompts decoded together vs the same 16 one after another.
// Usage: node --import tsx bench/lm-batch.ts [--model DIR] [--preset tiny] [--prompts 16] [--tokens 32] [--threads 2]
//        [--rounds 9] [--dense-from N] (steps with >= N rows use the dense expert dispatch; see bench/moe-dispatch.ts)
// Without --model, a seeded untrained model of the preset's shape is used (speed does not
// depend on the weights' values).
import { parseArgs } from "node:util";
import { trainedOrSeededLm } from "../src/cli/lm.js";
import { generate } from "../src/generate/index.js";
import { MoeLmModel } from "../src/generate/moeLmModel.js";

const { values } = parseArgs({
  options: {
    model: { type: "string" },
    preset: { type: "string", default: "tiny" },
    prompts: { type: "string", default: "16" },
    tokens: { type: "string", default: "32" },
    threads: { type: "string", default: "2" },
    "dense-from": { type: "string" },
    rounds: { type: "string", default: "9" },
  },
});
const n = Number(values.prompts);
const tokens = Number(values.tokens);
const threads = Number(values.threads);

const { cfg, store, label } = await trainedOrSeededLm(values.model, values.preset as string);
const tokenizer = {
  encode: (s: string) => Array.from(s, (c) => c.charCodeAt(0) % cfg.vocab),
  decode: (ids: readonly number[]) => ids.join(" "),
};
const denseFromRows = values["dense-from"] === undefined ? undefined : Number(values["dense-from"]);
const model = await MoeLmModel.create(cfg, store, tokenizer, { threads, denseFromRows });
// Prompts of different lengths (8..23 tokens), as real traffic has.
const prompts = Array.from({ length: n }, (_, i) => Array.from({ length: 8 + i }, (_, j) => (i * 131 + j * 17) % cfg.vocab));
const opts = { maxTokens: tokens, temperature: 0, ignoreEos: true };
await generate(model, [prompts[0]], { ...opts, maxTokens: 4 }); // warm up

// This machine is shared and single runs vary by tens of percent: many rounds, each running
// both ways (in alternating order), and the medians compared.
const rounds = Number(values.rounds);
const seq: number[] = [];
const bat: number[] = [];
const sequential = async () => {
  const t0 = performance.now();
  let produced = 0;
  for (const p of prompts) produced += (await generate(model, [p], opts))[0].tokens.length;
  seq.push((produced * 1000) / (performance.now() - t0));
};
const batched = async () => {
  const t0 = performance.now();
  const produced = (await generate(model, prompts, opts)).reduce((a, r) => a + r.tokens.length, 0);
  bat.push((produced * 1000) / (performance.now() - t0));
};
for (let r = 0; r < rounds; r++) {
  if (r % 2 === 0) {
    await sequential();
    await batched();
  } else {
    await batched();
    await sequential();
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ratio = median(bat) / median(seq);
const roundRatios = bat.map((b, i) => b / seq[i]);
console.log(
  `MoE LM ${label}: ${n} prompts x ${tokens} tokens, ${threads} threads, dense dispatch from ${denseFromRows ?? "never"} rows, ${rounds} rounds`,
);
console.log(
  `sequential ${median(seq).toFixed(1)} tok/s, batched ${median(bat).toFixed(1)} tok/s (medians): ${ratio.toFixed(2)}x (target >= 4x); per round ${roundRatios.map((x) => x.toFixed(2)).join(" ")}`,
);
console.log(JSON.stringify({ sequentialTokensPerSec: median(seq), batchedTokensPerSec: median(bat), ratio, roundRatios }));
