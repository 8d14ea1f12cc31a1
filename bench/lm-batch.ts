// Batched generation: 16 prompts decoded together vs the same 16 one after another.
// Usage: node --import tsx bench/lm-batch.ts [--model DIR] [--preset tiny] [--prompts 16] [--tokens 32] [--threads 2]
//        [--rounds 15] [--warmup 3] [--dense-from N] (steps with >= N rows use the dense expert dispatch; see bench/moe-dispatch.ts)
//        [--no-pack] (prefill the prompts left-padded, not packed in one row)
// The ratio compares both ways on one model (--threads). A single row's decode step is a
// little faster on one thread, so the sequential way also runs on a 1-thread model and the
// ratio against the faster of the two is printed too.
// Without --model, a seeded untrained model of the preset's shape is used (speed does not
// depend on the weights' values).
import { parseArgs } from "node:util";
import { trainedOrSeededLm } from "../src/cli/lm.js";
import { generate } from "../src/generate/index.js";
import { MoeLmModel } from "../src/models/moeLmModel.js";

const { values } = parseArgs({
  options: {
    model: { type: "string" },
    preset: { type: "string", default: "tiny" },
    prompts: { type: "string", default: "16" },
    tokens: { type: "string", default: "32" },
    threads: { type: "string", default: "2" },
    "dense-from": { type: "string" },
    rounds: { type: "string", default: "15" },
    warmup: { type: "string", default: "3" },
    "no-pack": { type: "boolean", default: false },
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
const packPrefill = !values["no-pack"];
const model = await MoeLmModel.create(cfg, store, tokenizer, { threads, denseFromRows, packPrefill });
const oneThread = await MoeLmModel.create(cfg, store, tokenizer, { threads: 1, packPrefill });
// Prompts of different lengths (8..23 tokens), as real traffic has.
const prompts = Array.from({ length: n }, (_, i) => Array.from({ length: 8 + i }, (_, j) => (i * 131 + j * 17) % cfg.vocab));
const opts = { maxTokens: tokens, temperature: 0, ignoreEos: true };

/** Tokens per second of one way of generating every prompt. */
async function tokensPerSec(run: () => Promise<{ tokens: number[] }[]>): Promise<number> {
  const t0 = performance.now();
  const produced = (await run()).reduce((a, r) => a + r.tokens.length, 0);
  return (produced * 1000) / (performance.now() - t0);
}
/** Every prompt in its own `generate` call, one after another. */
async function oneByOne(m: MoeLmModel) {
  const out = [];
  for (const p of prompts) out.push(...(await generate(m, [p], opts)));
  return out;
}
const ways = {
  sequential: () => oneByOne(model),
  batched: () => generate(model, prompts, opts),
  sequential1: () => oneByOne(oneThread),
};
type Way = keyof typeof ways;
const order = Object.keys(ways) as Way[];

// Whole rounds of every way first, not counted: throughput rises over the first rounds
// (JIT, ONNX Runtime's buffers for each new input shape) to the steady state a server runs in.
for (let r = 0; r < Number(values.warmup); r++) for (const way of order) await ways[way]();

// This machine is shared and single runs vary by tens of percent: many rounds, each running
// every way (in rotating order), and the medians compared.
const rounds = Number(values.rounds);
const measured: Record<Way, number[]> = { sequential: [], batched: [], sequential1: [] };
for (let r = 0; r < rounds; r++) {
  for (let k = 0; k < order.length; k++) {
    const way = order[(r + k) % order.length];
    measured[way].push(await tokensPerSec(ways[way]));
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const seq = median(measured.sequential);
const bat = median(measured.batched);
const seq1 = median(measured.sequential1);
const ratio = bat / seq;
const ratioBestSequential = bat / Math.max(seq, seq1);
const roundRatios = measured.batched.map((b, i) => b / measured.sequential[i]);
console.log(
  `MoE LM ${label}: ${n} prompts x ${tokens} tokens, ${threads} threads, dense dispatch from ${denseFromRows ?? "never"} rows, prefill ${packPrefill ? "packed where it pays" : "padded"}, ${rounds} rounds`,
);
console.log(
  `sequential ${seq.toFixed(1)} tok/s, batched ${bat.toFixed(1)} tok/s (medians): ${ratio.toFixed(2)}x (target >= 4x); per round ${roundRatios.map((x) => x.toFixed(2)).join(" ")}`,
);
console.log(
  `sequential on 1 thread ${seq1.toFixed(1)} tok/s: batched vs the faster sequential ${ratioBestSequential.toFixed(2)}x`,
);
console.log(
  JSON.stringify({
    sequentialTokensPerSec: seq,
    batchedTokensPerSec: bat,
    sequentialOneThreadTokensPerSec: seq1,
    ratio,
    ratioBestSequential,
    roundRatios,
  }),
);
