// One decode step of the MoE LM at several batch sizes, routed experts run by ONNX Runtime's
// sparse MoE op vs the dense dispatch (every expert as two wide matmuls, masked by the
// routing weights). Prints the median step time of each and which wins: the crossover that
// `denseFromRows` (model option, `batching.denseFromRows` in the server config) should take.
// Usage: node --import tsx bench/moe-dispatch.ts [--model assets/lm-tiny] [--preset tiny] [--threads 2] [--past 64]
import { parseArgs } from "node:util";
import { trainedOrSeededLm } from "../src/cli/lm.js";
import { compileMoeLm } from "../src/generate/moeLmModel.js";
import type { HostTensor } from "../src/runtime/session.js";

const { values } = parseArgs({
  options: {
    model: { type: "string" },
    preset: { type: "string", default: "tiny" },
    threads: { type: "string", default: "2" },
    past: { type: "string", default: "64" },
  },
});
const { cfg, store, label } = await trainedOrSeededLm(values.model, values.preset as string);
const threads = Number(values.threads);
const past = Number(values.past);
const d = cfg.dim / cfg.heads;
const batchSizes = [1, 2, 4, 8, 12, 16, 24, 32];

function stepFeeds(b: number): Record<string, HostTensor> {
  let seed = 1;
  const random = () => {
    seed = (seed * 16807) % 2147483647;
    return seed / 2147483647;
  };
  const feeds: Record<string, HostTensor> = {
    ids: {
      dtype: "int64",
      shape: [b, 1],
      data: BigInt64Array.from({ length: b }, () => BigInt(Math.floor(random() * cfg.vocab))),
    },
    positions: { dtype: "int64", shape: [b, 1], data: new BigInt64Array(b).fill(BigInt(past)) },
    domain: { dtype: "int64", shape: [b, 1], data: new BigInt64Array(b).fill(-1n) },
    mask: { dtype: "float32", shape: [b, 1, 1, past + 1], data: new Float32Array(b * (past + 1)) },
    logits_at: { dtype: "int64", shape: [1], data: BigInt64Array.of(0n) },
  };
  for (let i = 0; i < cfg.layers; i++) {
    for (const kind of ["past_key", "past_value"]) {
      feeds[`${kind}.${i}`] = {
        dtype: "float32",
        shape: [past, b, cfg.heads, d],
        data: Float32Array.from({ length: past * b * cfg.dim }, () => random() - 0.5),
      };
    }
  }
  return feeds;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results: Record<string, Record<number, number>> = { sparse: {}, dense: {} };
const sessions = {
  sparse: await compileMoeLm(cfg, store, { lastOnly: true, dispatch: "sparse", threads }),
  dense: await compileMoeLm(cfg, store, { lastOnly: true, dispatch: "dense", threads }),
};
for (const b of batchSizes) {
  const feeds = stepFeeds(b);
  // Interleave the two so machine noise hits both alike.
  const times: Record<"sparse" | "dense", number[]> = { sparse: [], dense: [] };
  for (let r = 0; r < 40; r++) {
    for (const kind of ["sparse", "dense"] as const) {
      const t0 = performance.now();
      await sessions[kind].run(feeds);
      if (r >= 5) times[kind].push(performance.now() - t0);
    }
  }
  results.sparse[b] = median(times.sparse);
  results.dense[b] = median(times.dense);
}
console.log(`MoE LM ${label}: one decode step over ${past} cached positions, ${threads} threads (median ms)`);
console.log("rows  sparse   dense   faster");
for (const b of batchSizes) {
  const sp = results.sparse[b];
  const de = results.dense[b];
  console.log(
    `${String(b).padStart(4)}  ${sp.toFixed(2).padStart(6)}  ${de.toFixed(2).padStart(6)}   ${de < sp ? "dense" : "sparse"}`,
  );
}
const crossover = batchSizes.find((b) => batchSizes.filter((x) => x >= b).every((x) => results.dense[x] < results.sparse[x]));
console.log(JSON.stringify({ sparseMs: results.sparse, denseMs: results.dense, denseFromRows: crossover ?? null }));
