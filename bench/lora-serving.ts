// Many LoRA adapters on one base (S-LoRA's question, on this CPU): 16 concurrent clients
// against the continuous batcher of the shipped chat model, in three settings, same requests:
//   base        every client asks for the base model;
//   mixed       client i asks for adapter i mod 4, all served unmerged in one running batch
//               (the base matmul once, each row's low-rank delta for its own adapter);
//   one-by-one  the naive server: one adapter at a time (its merged model), its 4 clients
//               served for a quarter of the time each, the other 12 waiting.
// Prints generated tokens/s per setting and the ratios mixed / base (target ≥ 0.7) and
// mixed / one-by-one (target ≥ 2). Adapters: r 8 on aigc finetune's default targets (attention,
// dense and shared-expert FFNs),
// random values (throughput does not depend on them; every request decodes its full length).
// Usage: node --import tsx bench/lora-serving.ts [--seconds 10] [--clients 16] [--tokens 32] [--rank 8]
import { parseArgs } from "node:util";
import { DEFAULT_LORA_TARGETS } from "../src/cli/finetune.js";
import { ContinuousBatcher } from "../src/generate/index.js";
import { loadMoeLm, MoeLmModel, mergeLora, randomLoraAdapter } from "../src/models/index.js";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    clients: { type: "string", default: "16" },
    tokens: { type: "string", default: "32" },
    rank: { type: "string", default: "8" },
    threads: { type: "string", default: "2" },
  },
});
const seconds = Number(values.seconds);
const clients = Number(values.clients);
const maxTokens = Number(values.tokens);
const threads = Number(values.threads);
const ADAPTERS = 4;

const files = await loadMoeLm("assets/chat");
const cfg = files.config.model;
const tokenizer = {
  encode: (s: string) => files.tokenizer.encode(s),
  decode: (ids: readonly number[]) => files.tokenizer.decode(ids),
};

const rank = Number(values.rank);
const adapters = Array.from({ length: ADAPTERS }, (_, k) =>
  randomLoraAdapter(cfg, { r: rank, alpha: 2 * rank, dropout: 0, targetModules: DEFAULT_LORA_TARGETS }, k + 1, 0.02),
);
const names = adapters.map((_, k) => `adapter-${k}`);
const served = await MoeLmModel.create(cfg, files.store, tokenizer, { threads });
for (const [k, a] of adapters.entries()) served.loadAdapter(names[k], a);
const mergedModels = await Promise.all(
  adapters.map((a) => MoeLmModel.create(cfg, mergeLora(files.store, a.adapter, a.config), tokenizer, { threads })),
);
const prompts = [
  "The sea at night",
  "A wise man once said",
  "function sum(values) {",
  "床前明月光",
  "Love is a",
  "In the beginning",
].map((p) => tokenizer.encode(p));

/** `n` clients, each sending its next request when the last one is answered, for `ms`; returns tokens generated. */
async function clientsFor(batcher: ContinuousBatcher, n: number, ms: number, adapterOf: (client: number) => string | undefined) {
  const until = performance.now() + ms;
  let tokens = 0;
  let seed = 0;
  await Promise.all(
    Array.from({ length: n }, async (_, c) => {
      while (performance.now() < until) {
        const opts = { maxTokens, temperature: 0.8, seed: seed++, ignoreEos: true };
        for await (const _chunk of batcher.submit(prompts[(c + seed) % prompts.length], opts, { adapter: adapterOf(c) }))
          tokens++;
      }
    }),
  );
  return tokens;
}

type Setting = "base" | "mixed" | "one-by-one";
async function run(setting: Setting): Promise<{ tokensPerSec: number; meanBatch: number }> {
  const ms = seconds * 1000;
  if (setting === "one-by-one") {
    let tokens = 0;
    let batches = 0;
    const t0 = performance.now();
    for (const model of mergedModels) {
      const batcher = new ContinuousBatcher(model, { maxBatch: clients, maxWaitMs: 2 });
      tokens += await clientsFor(batcher, clients / ADAPTERS, ms / ADAPTERS, () => undefined);
      batches += batcher.load().meanBatch / ADAPTERS;
      await batcher.close();
    }
    return { tokensPerSec: tokens / ((performance.now() - t0) / 1000), meanBatch: batches };
  }
  const batcher = new ContinuousBatcher(served, { maxBatch: clients, maxWaitMs: 2 });
  const t0 = performance.now();
  const tokens = await clientsFor(batcher, clients, ms, (c) => (setting === "mixed" ? names[c % ADAPTERS] : undefined));
  const result = { tokensPerSec: tokens / ((performance.now() - t0) / 1000), meanBatch: batcher.load().meanBatch };
  await batcher.close();
  return result;
}

// Warm up every compiled graph, then ABCCBA (this machine's speed drifts over minutes).
for (const s of ["base", "mixed", "one-by-one"] as const) {
  const batcher = new ContinuousBatcher(s === "one-by-one" ? mergedModels[0] : served, { maxBatch: clients, maxWaitMs: 2 });
  await clientsFor(batcher, clients, 1500, (c) => (s === "mixed" ? names[c % ADAPTERS] : undefined));
  await batcher.close();
}
const order: Setting[] = ["base", "mixed", "one-by-one", "one-by-one", "mixed", "base"];
const runs: { setting: Setting; tokensPerSec: number; meanBatch: number }[] = [];
for (const s of order) runs.push({ setting: s, ...(await run(s)) });
const mean = (s: Setting) => {
  const r = runs.filter((x) => x.setting === s);
  return {
    tokensPerSec: r.reduce((a, x) => a + x.tokensPerSec, 0) / r.length,
    meanBatch: r.reduce((a, x) => a + x.meanBatch, 0) / r.length,
  };
};
console.log(
  `${clients} concurrent clients, ${ADAPTERS} adapters (r ${values.rank}, attention + dense/shared FFNs), completions of ${maxTokens} tokens, shipped chat model, ${threads} threads, 2 runs of ${seconds} s per setting (ABCCBA):`,
);
for (const s of ["base", "mixed", "one-by-one"] as const) {
  const m = mean(s);
  const by = runs.filter((x) => x.setting === s).map((x) => x.tokensPerSec.toFixed(0));
  console.log(
    `  ${s.padEnd(10)} ${m.tokensPerSec.toFixed(0).padStart(5)} tok/s (runs ${by.join(", ")}), mean batch ${m.meanBatch.toFixed(2)}`,
  );
}
const vsBase = mean("mixed").tokensPerSec / mean("base").tokensPerSec;
const vsSequential = mean("mixed").tokensPerSec / mean("one-by-one").tokensPerSec;
console.log(`mixed / base ${vsBase.toFixed(2)}x (target >= 0.7x); mixed / one-by-one ${vsSequential.toFixed(2)}x (target >= 2x)`);
console.log(JSON.stringify({ runs, vsBase, vsSequential }));
process.exit(0);
