// One decode step of the MoE LM at several batch sizes, with each way of running the routed
// experts: fp32 through ONNX Runtime's sparse MoE op vs the dense dispatch (every expert as two
// wide matmuls, masked by the routing weights), and int8 through QMoE vs the gather form (the
// chosen experts' int8 weights gathered per token, integer matmuls). Prints the median step
// time of each and where each wins: what `denseFromRows` (model option,
// `batching.denseFromRows` in the server config) and `int8GatherMaxTokens` should be.
// Usage: node --import tsx bench/moe-dispatch.ts [--model assets/lm-tiny] [--preset tiny] [--threads 2] [--past 64]
import { parseArgs } from "node:util";
import { trainedOrSeededLm } from "../src/cli/lm.js";
import { compileMoeLm } from "../src/models/moeLmInference.js";
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

/** Feeds for one step of b rows; `variant` changes the token ids, so the experts chosen change. */
function stepFeeds(b: number, variant: number): Record<string, HostTensor> {
  let seed = 1 + variant;
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
        shape: [b, cfg.heads, past, d],
        data: Float32Array.from({ length: past * b * cfg.dim }, () => random() - 0.5),
      };
    }
  }
  return feeds;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sessions = {
  sparse: await compileMoeLm(cfg, store, { lastOnly: true, dispatch: "sparse", threads }),
  dense: await compileMoeLm(cfg, store, { lastOnly: true, dispatch: "dense", threads }),
  qmoe: await compileMoeLm(cfg, store, { lastOnly: true, int8: true, int8Moe: "qmoe", threads }),
  gather: await compileMoeLm(cfg, store, { lastOnly: true, int8: true, int8Moe: "gather", threads }),
};
type Kind = keyof typeof sessions;
const kinds = Object.keys(sessions) as Kind[];
const results = Object.fromEntries(kinds.map((k) => [k, {} as Record<number, number>])) as Record<Kind, Record<number, number>>;
for (const b of batchSizes) {
  // Each kind runs eight steps in a row over eight token sets (real decoding routes every step
  // differently, and one session keeps its weights warm in cache); the kinds take turns so
  // machine noise hits them alike. A time is the mean step of one such turn.
  const feeds = Array.from({ length: 8 }, (_, v) => stepFeeds(b, v));
  const times = Object.fromEntries(kinds.map((k) => [k, [] as number[]])) as Record<Kind, number[]>;
  for (let r = 0; r < 9; r++) {
    for (const kind of kinds) {
      const t0 = performance.now();
      for (const f of feeds) await sessions[kind].run(f);
      if (r >= 1) times[kind].push((performance.now() - t0) / feeds.length);
    }
  }
  for (const kind of kinds) results[kind][b] = median(times[kind]);
}
console.log(`MoE LM ${label}: one decode step over ${past} cached positions, ${threads} threads (median ms)`);
console.log("rows  sparse   dense  | int8: qmoe  gather");
for (const b of batchSizes) {
  const r = (k: Kind) => results[k][b].toFixed(2).padStart(6);
  console.log(`${String(b).padStart(4)}  ${r("sparse")}  ${r("dense")}  |       ${r("qmoe")}  ${r("gather")}`);
}
const winsAt = (a: Kind, b: Kind) => batchSizes.filter((rows) => results[a][rows] < results[b][rows]);
console.log(`dense beats sparse at rows ${winsAt("dense", "sparse").join(", ") || "none"}`);
console.log(`int8: gather beats QMoE at rows ${winsAt("gather", "qmoe").join(", ") || "none"}`);
console.log(
  JSON.stringify({
    sparseMs: results.sparse,
    denseMs: results.dense,
    qmoeMs: results.qmoe,
    gatherMs: results.gather,
    denseWinsAtRows: winsAt("dense", "sparse"),
    gatherWinsAtRows: winsAt("gather", "qmoe"),
  }),
);
