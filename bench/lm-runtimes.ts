// Batch-1 decode speed of the MoE LM on every runtime, side by side: ONNX Runtime fp32 and
// int8, llama.cpp F32, Q8_0 and Q4_0, per preset and thread count, in one run.
// Usage: node --import tsx bench/lm-runtimes.ts [--presets small,base] [--threads 1,2]
//          [--runtimes ort,llama] [--runs 7] [--tokens 48] [--model DIR]
// Without --model, each preset is a seeded untrained model of its shape decoding seeded random
// tokens (speed does not depend on the weights); with --model, the trained folder decodes
// held-out text of its own corpus (the presets are ignored). Decoding is teacher-forced: 16
// prompt tokens at once, then one token per step. Within a (preset, threads) group the runtimes
// take turns on each stream (decodeSpeeds), so all meet the same machine load; ratios are to ORT
// fp32 of the same group. The fastest 8-bit path (ORT int8 or llama.cpp Q8_0) of each group is
// marked, and on `base` checked against issue #22's target: >= 3.2x ORT fp32.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { decodeSpeeds, trainedOrSeededLm } from "../src/cli/lm.js";
import type { BpeTokenizer } from "../src/data/bpe.js";
import type { MixedCorpusSizes } from "../src/data/corpora.js";
import type { BatchDecodeModel } from "../src/models/decodeModel.js";
import { LlamaCppModel } from "../src/models/llamaCppModel.js";
import { loadMoeLm } from "../src/models/moeLmFiles.js";
import { writeMoeLmGguf } from "../src/models/moeLmGguf.js";
import { MoeLmModel } from "../src/models/moeLmModel.js";
import { Rng } from "../src/runtime/rng.js";
import { clearSessionCache } from "../src/runtime/session.js";
import { heldOutWindows } from "../src/train/index.js";
import { tokenizeCorpus } from "../src/train/lmRecipe.js";

const TARGET = 3.2;
const PROMPT = 16;

// ---------------------------------------------------------------- flags

const { values } = parseArgs({
  options: {
    presets: { type: "string", default: "small,base" },
    threads: { type: "string", default: "1,2" },
    runtimes: { type: "string", default: "ort,llama" },
    runs: { type: "string", default: "7" },
    tokens: { type: "string", default: "48" },
    model: { type: "string" },
  },
});
const list = (s: string) =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x.length > 0);
const positiveInt = (flag: string, s: string): number => {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} takes positive integers, got "${s}"`);
  return n;
};
const threadCounts = list(values.threads).map((s) => positiveInt("--threads", s));
const runs = positiveInt("--runs", values.runs);
const tokens = positiveInt("--tokens", values.tokens);
const runtimeFamilies = list(values.runtimes);
for (const r of runtimeFamilies)
  if (r !== "ort" && r !== "llama") throw new Error(`--runtimes: "${r}" must be one of ort, llama`);
const useOrt = runtimeFamilies.includes("ort");
const useLlama = runtimeFamilies.includes("llama");
if (!useOrt && !useLlama) throw new Error("--runtimes: give at least one of ort, llama");
const presets = values.model ? [values.model] : list(values.presets);

/** The runtimes in table order; `bits` picks the 8-bit paths the target is about. */
const RUNTIMES = [
  { key: "ortFp32", label: "ORT fp32", family: "ort", bits: 32 },
  { key: "ortInt8", label: "ORT int8", family: "ort", bits: 8 },
  { key: "llamaF32", label: "llama.cpp F32", family: "llama", bits: 32, gguf: "f32" },
  { key: "llamaQ8_0", label: "llama.cpp Q8_0", family: "llama", bits: 8, gguf: "q8_0" },
  { key: "llamaQ4_0", label: "llama.cpp Q4_0", family: "llama", bits: 4, gguf: "q4_0" },
  // llama.cpp picking the token itself: its own speed, as llama-server or Ollama users get it
  // (the rows above copy every step's whole distribution into JavaScript for our sampler).
  { key: "llamaQ8_0Native", label: "llama.cpp Q8_0 greedy in llama.cpp", family: "llama", bits: 8, gguf: "q8_0", next: "greedy" },
] as const;
type RuntimeKey = (typeof RUNTIMES)[number]["key"];
const runtimes = RUNTIMES.filter((r) => runtimeFamilies.includes(r.family));

interface Row {
  preset: string;
  threads: number;
  runtime: string;
  tokensPerSec: number;
  msPerToken: number;
  /** Tokens/s over ORT fp32's of the same preset and threads (null without --runtimes ort). */
  ratio: number | null;
  /** The fastest 8-bit path of its group. */
  fastest8bit: boolean;
  runs: number[];
}

// ---------------------------------------------------------------- the runs

const llama = useLlama ? { writeMoeLmGguf, load: LlamaCppModel.load } : null;
const rows: Row[] = [];
const dir = mkdtempSync(join(tmpdir(), "lm-runtimes-"));
try {
  for (const preset of presets) {
    const { cfg, store, label } = await trainedOrSeededLm(values.model, preset);
    const name = values.model ? label : preset;
    const length = Math.min(cfg.maxSeq, PROMPT + tokens);
    let streams: number[][];
    let tokenizer: BpeTokenizer | undefined;
    if (values.model) {
      const files = await loadMoeLm(values.model);
      tokenizer = files.tokenizer;
      const corpus = tokenizeCorpus(files.tokenizer, { corpus: files.config.training.corpus as MixedCorpusSizes });
      streams = heldOutWindows(corpus.valid, runs, length).slice(0, runs);
    } else {
      const rng = new Rng(7);
      streams = Array.from({ length: runs }, () => Array.from({ length }, () => rng.int(cfg.vocab)));
    }
    console.error(
      `${name}: dim ${cfg.dim}, ${cfg.layers} layers, vocab ${cfg.vocab}, ${cfg.moe.experts} experts top-${cfg.moe.topK}; ${(store.count() / 1e6).toFixed(1)}M params (${((store.count() * 4) / 1e6).toFixed(0)} MB fp32); ${streams.length} streams x ${length - PROMPT} steps`,
    );
    // One GGUF file per type, shared by the thread counts.
    const ggufs = new Map<string, string>();
    if (llama) {
      for (const r of runtimes) {
        if (!("gguf" in r) || "next" in r) continue;
        const path = join(dir, `${name.replace(/[^\w.-]/g, "_")}.${r.gguf}.gguf`);
        const t0 = performance.now();
        await llama.writeMoeLmGguf({ cfg, store, tokenizer }, path, { type: r.gguf });
        console.error(
          `  wrote ${r.gguf} GGUF (${(statSync(path).size / 1e6).toFixed(0)} MB) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
        );
        ggufs.set(r.key, path);
      }
    }
    const ortTokenizer = { encode: () => [], decode: (ids: readonly number[]) => ids.join(" ") };
    for (const threads of threadCounts) {
      const models: Partial<Record<RuntimeKey, BatchDecodeModel>> = {};
      const loaded: LlamaCppModel[] = [];
      try {
        if (useOrt) {
          models.ortFp32 = await MoeLmModel.create(cfg, store, ortTokenizer, { threads });
          models.ortInt8 = await MoeLmModel.create(cfg, store, ortTokenizer, { int8: true, threads });
        }
        if (llama) {
          for (const r of runtimes) {
            if (!("gguf" in r)) continue;
            const path = [...ggufs.entries()].find(([key]) =>
              RUNTIMES.find((x) => x.key === key && "gguf" in x && x.gguf === r.gguf),
            )?.[1];
            if (!path) continue;
            const m = await LlamaCppModel.load(path, { threads, next: "next" in r ? r.next : "distribution" });
            loaded.push(m);
            models[r.key] = m;
          }
        }
        const speeds = await decodeSpeeds(models as Record<RuntimeKey, BatchDecodeModel>, streams);
        const anchor = speeds.ortFp32?.median;
        const group: Row[] = runtimes.map((r) => {
          const s = speeds[r.key];
          return {
            preset: name,
            threads,
            runtime: r.label,
            tokensPerSec: s.median,
            msPerToken: 1000 / s.median,
            ratio: anchor ? s.median / anchor : null,
            fastest8bit: false,
            runs: s.runs,
          };
        });
        const eightBit = group.filter((_, i) => runtimes[i].bits === 8);
        const fastest = eightBit.reduce((a, b) => (b.tokensPerSec > a.tokensPerSec ? b : a), eightBit[0]);
        if (fastest) fastest.fastest8bit = true;
        for (const row of group)
          console.error(`  ${threads} thr  ${row.runtime.padEnd(15)} ${row.tokensPerSec.toFixed(1)} tok/s`);
        rows.push(...group);
      } finally {
        // Free this group's models before the next: base holds several copies of its weights.
        for (const m of loaded) await m.dispose();
        await clearSessionCache();
      }
    }
    for (const path of ggufs.values()) rmSync(path, { force: true });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------- report

const header = ["preset", "threads", "runtime", "tokens/s", "ms/token", "vs ORT fp32"];
const cells = rows.map((r) => [
  r.preset,
  String(r.threads),
  `${r.runtime}${r.fastest8bit ? " *" : ""}`,
  r.tokensPerSec.toFixed(1),
  r.msPerToken.toFixed(2),
  r.ratio === null ? "-" : `${r.ratio.toFixed(2)}x`,
]);
const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
const line = (c: string[]) => c.map((x, i) => (i < 3 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join("  ");
console.log(line(header));
for (const c of cells) console.log(line(c));
console.log(`* the fastest 8-bit path of its preset and threads; medians of ${runs} runs of ${tokens} decoding steps, batch 1`);

const checks = rows
  .filter((r) => r.fastest8bit && r.preset === "base" && r.ratio !== null)
  .map((r) => ({ threads: r.threads, runtime: r.runtime, ratio: r.ratio as number, meets: (r.ratio as number) >= TARGET }));
for (const c of checks) {
  console.log(
    `base, ${c.threads} thread${c.threads === 1 ? "" : "s"}: fastest 8-bit path ${c.runtime} at ${c.ratio.toFixed(2)}x ORT fp32: ${c.meets ? "meets" : "misses"} the >= ${TARGET}x target`,
  );
}
console.log(JSON.stringify({ target: TARGET, runs, tokens, rows, base: checks }));
