// Held-out perplexity of a model's GGUF exports run by llama.cpp, against our engine's fp32
// (the anchor, measured in the same run): F32 (should equal), Q8_0 (target: within 2%),
// Q4_0 (reported), and the file sizes.
// Usage: node --import tsx bench/lm-gguf.ts [--model assets/chat] [--windows 16] [--length 128] [--threads 2]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { MixedCorpusSizes } from "../src/data/index.js";
import { LlamaCppModel, loadMoeLm, MoeLmModel, writeMoeLmGguf } from "../src/models/index.js";
import { heldOutWindows } from "../src/train/index.js";
import { type ChatCorpusSpec, tokenizeCorpus } from "../src/train/lmRecipe.js";

const { values } = parseArgs({
  options: {
    model: { type: "string", default: "assets/chat" },
    windows: { type: "string", default: "16" },
    length: { type: "string", default: "128" },
    threads: { type: "string", default: "2" },
  },
});
const threads = Number(values.threads);
const files = await loadMoeLm(values.model as string);
const cfg = files.config.model;
const training = files.config.training as { corpus: MixedCorpusSizes; chat?: ChatCorpusSpec };
const corpus = tokenizeCorpus(files.tokenizer, { corpus: training.corpus, chat: training.chat });
const windows = heldOutWindows(corpus.valid, Number(values.windows), Math.min(cfg.maxSeq, Number(values.length)));
console.log(`${values.model}: ${windows.length} held-out windows of ${windows[0].length} tokens, ${threads} threads`);

const ours = await MoeLmModel.create(cfg, files.store, files.tokenizer, { threads });
let ce = 0;
for (const w of windows) ce += await ours.crossEntropy([w]);
const anchor = Math.exp(ce / windows.length);
console.log(`our engine fp32 (anchor)   perplexity ${anchor.toFixed(3)}`);

const dir = mkdtempSync(join(tmpdir(), "lm-gguf-"));
const results: Record<string, { perplexity: number; ratio: number; megabytes: number }> = {};
try {
  for (const type of ["f32", "q8_0", "q4_0"] as const) {
    const path = join(dir, `model.${type}.gguf`);
    const report = writeMoeLmGguf({ cfg, store: files.store, tokenizer: files.tokenizer }, path, { type });
    const model = await LlamaCppModel.load(path, { threads });
    let sum = 0;
    for (const w of windows) sum += await model.crossEntropy([w]);
    await model.dispose();
    const perplexity = Math.exp(sum / windows.length);
    const ratio = perplexity / anchor;
    results[type] = { perplexity, ratio, megabytes: report.bytes / 1e6 };
    const target = type === "q8_0" ? ` (target: within 2%: ${Math.abs(ratio - 1) <= 0.02 ? "met" : "MISSED"})` : "";
    console.log(
      `llama.cpp ${type.padEnd(5)} ${(report.bytes / 1e6).toFixed(1).padStart(6)} MB  perplexity ${perplexity.toFixed(3)}  ${((ratio - 1) * 100).toFixed(2)}% vs anchor${target}`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(JSON.stringify({ model: values.model, anchorPerplexity: anchor, llamaCpp: results }));
