// `aigc train lm`, `aigc eval lm`, `aigc generate`, `aigc quantize`, `aigc ablate balance`.

import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import cliProgress from "cli-progress";
import { CHAT_ROLE_TOKENS, chatTemplatePrompt, type MixedCorpusSizes } from "../data/index.js";
import { constraints, generate, generateStream } from "../generate/index.js";
import { quantizeInt8, toOnnx } from "../graph/index.js";
import {
  type BatchDecodeModel,
  loadGenerationDefaults,
  loadMoeLm,
  loadMoeLmOnLlamaCpp,
  MoeLmConfig,
  type MoeLmFiles,
  MoeLmModel,
  moeLmInferenceGraph,
  saveMoeLm,
} from "../models/index.js";
import { ParamStore, writeModelFolder } from "../runtime/index.js";
import {
  type ChatCorpusSpec,
  heldOutWindows,
  type LmPresetName,
  lmPresets,
  setupMoeLmTraining,
  type TrainLmOptions,
  type TrainLmResult,
  tokenizeCorpus,
  trainLm,
} from "../train/index.js";

const fmtEta = (s: number) =>
  Number.isFinite(s) ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s` : "-";

export type TrainLmCliOptions = Omit<TrainLmOptions, "onProgress" | "onStart"> & { quiet?: boolean };

export async function trainLmWithProgress(options: TrainLmCliOptions): Promise<TrainLmResult> {
  const bar = new cliProgress.SingleBar(
    {
      format:
        "train |{bar}| {value}/{total} | loss {loss} | eval {evalLoss} | {tps} tok/s | load CV {cv} | dropped {drop} | ETA {etaText}",
      hideCursor: true,
      noTTYOutput: true, // in logs and CI: a line every few seconds
      notTTYSchedule: 5000,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = 0;
  let startStep = 0;
  const result = await trainLm({
    ...options,
    onStart: (info) => {
      startStep = info.startStep;
      if (!options.quiet) {
        console.error(
          `MoE LM ${options.preset}: ${(info.params / 1e6).toFixed(2)}M params, vocab ${info.vocab}, ${info.trainTokens} training tokens, unigram baseline ${info.unigram.toFixed(3)} nats/token`,
        );
        bar.start(options.steps ?? lmPresets[options.preset].steps, info.startStep, {
          loss: "-",
          evalLoss: "-",
          tps: "-",
          cv: "-",
          drop: "-",
          etaText: "-",
        });
      }
      started = performance.now();
    },
    onProgress: (p) => {
      if (options.quiet) return;
      const perStep = (performance.now() - started) / 1000 / Math.max(1, p.step - startStep);
      const update: Record<string, string> = {
        loss: p.loss.toFixed(3),
        tps: Math.round(p.tokensPerSec).toString(),
        cv: p.stats.loadCV.toFixed(2),
        drop: `${(p.stats.dropRate * 100).toFixed(1)}%`,
        etaText: fmtEta(perStep * (p.steps - p.step)),
      };
      if (p.evalLoss !== undefined) update.evalLoss = p.evalLoss.toFixed(3);
      bar.update(p.step, update);
    },
  });
  if (!options.quiet) bar.stop();
  return result;
}

export interface LmEvalReport {
  perplexity: number;
  crossEntropy: number;
  unigramPerplexity: number;
  activeExpertFraction: number;
  loadCV: number;
  dropRate: number;
  int8: {
    /** With QMoE experts (what prompts of more than int8GatherMaxTokens tokens run). */
    perplexity: number;
    /** With gathered int8 experts (what decoding steps run: int8 activations too). */
    gatherPerplexity: number;
    decodeSpeedup: number;
    fp32TokensPerSec: number;
    int8TokensPerSec: number;
  };
}

/**
 * Decoding speed on a known token stream (teacher-forced, batch 1): the first `promptLength`
 * tokens are fed at once, then the rest one per step, as generation feeds its sampled tokens.
 * Real text routes each token to different experts; a greedy loop of one undertrained model
 * can repeat two tokens and keep the same few experts in cache, which flatters fp32 and int8
 * alike and is not what decoding meets in use. Returns steps per second.
 */
async function decodeStepsPerSec(model: BatchDecodeModel, stream: readonly number[], promptLength = 16): Promise<number> {
  if (stream.length <= promptLength) throw new RangeError(`decodeStepsPerSec: the stream needs more than ${promptLength} tokens`);
  const session = await model.open(1);
  try {
    await session.feed([0], [stream.slice(0, promptLength)]);
    const t0 = performance.now();
    for (let i = promptLength; i < stream.length; i++) await session.feed([0], [[stream[i]]]);
    return ((stream.length - promptLength) * 1000) / (performance.now() - t0);
  } finally {
    await session.close();
  }
}

/**
 * Median decoding steps/s of each model over the same streams, the models taking turns on
 * each stream so all meet the same machine load; also every run.
 */
export async function decodeSpeeds<K extends string>(
  models: Record<K, BatchDecodeModel>,
  streams: readonly (readonly number[])[],
): Promise<Record<K, { median: number; runs: number[] }>> {
  const entries = Object.entries(models) as [K, BatchDecodeModel][];
  for (const [, model] of entries) await decodeStepsPerSec(model, streams[0]); // warm up (first calls compile and plan shapes)
  const runs = Object.fromEntries(entries.map(([k]) => [k, [] as number[]])) as Record<K, number[]>;
  for (const stream of streams) for (const [k, model] of entries) runs[k].push(await decodeStepsPerSec(model, stream));
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  return Object.fromEntries(entries.map(([k]) => [k, { median: median(runs[k]), runs: runs[k] }])) as Record<
    K,
    { median: number; runs: number[] }
  >;
}

export async function evalLm(
  dir: string,
  options: { threads?: number; windows?: number; decodeTokens?: number } = {},
): Promise<LmEvalReport> {
  const files = await loadMoeLm(dir);
  const cfg = files.config.model;
  // The model's own corpus (same sizes as training): the last 10% of each language is held out.
  const training = files.config.training as { corpus?: MixedCorpusSizes; chat?: ChatCorpusSpec; batch?: number; seqLen?: number };
  const corpus = tokenizeCorpus(files.tokenizer, { corpus: training.corpus ?? lmPresets.tiny.corpus, chat: training.chat });
  const sequences = heldOutWindows(corpus.valid, options.windows ?? 24, Math.min(cfg.maxSeq, 128));
  const tokenizer = {
    encode: (s: string) => files.tokenizer.encode(s),
    decode: (ids: readonly number[]) => files.tokenizer.decode(ids),
  };
  const fp32 = await MoeLmModel.create(cfg, files.store, tokenizer, { threads: options.threads });
  const int8 = await MoeLmModel.create(cfg, files.store, tokenizer, { threads: options.threads, int8: true });
  // Scored with gathered experts at every size (one window per call: that form copies each
  // token's expert weights, so large calls need much memory).
  const gather = await MoeLmModel.create(cfg, files.store, tokenizer, {
    threads: options.threads,
    int8: true,
    int8GatherMaxTokens: Number.POSITIVE_INFINITY,
  });
  const ceOf = async (m: MoeLmModel, batch = 8) => {
    let sum = 0;
    for (let i = 0; i < sequences.length; i += batch)
      sum += (await m.crossEntropy(sequences.slice(i, i + batch))) * Math.min(batch, sequences.length - i);
    return sum / sequences.length;
  };
  const ce = await ceOf(fp32);
  const ce8 = await ceOf(int8);
  const ceGather = await ceOf(gather, 1);
  const decodeTokens = options.decodeTokens ?? 48;
  const speed = await decodeSpeeds({ fp32, int8 }, heldOutWindows(corpus.valid, 7, Math.min(cfg.maxSeq, 16 + decodeTokens)));
  // Router statistics with the training dispatch (capacity, drops) on held-out batches.
  const t = await setupMoeLmTraining({
    cfg,
    batch: training.batch ?? 8,
    seqLen: Math.min(training.seqLen ?? 96, cfg.maxSeq),
    seed: 0,
    store: cloneStore(files.store),
    domainHints: false,
    gumbelAnnealSteps: 0,
    trainStep: { threads: options.threads },
  });
  const { stats } = await t.evaluate(corpus.valid, 1, 4);
  return {
    perplexity: Math.exp(ce),
    crossEntropy: ce,
    unigramPerplexity: Math.exp(corpus.unigram),
    activeExpertFraction: stats.activeExpertFraction,
    loadCV: stats.loadCV,
    dropRate: stats.dropRate,
    int8: {
      perplexity: Math.exp(ce8),
      gatherPerplexity: Math.exp(ceGather),
      decodeSpeedup: speed.int8.median / speed.fp32.median,
      fp32TokensPerSec: speed.fp32.median,
      int8TokensPerSec: speed.int8.median,
    },
  };
}

/** A trained model's config and weights, or a seeded untrained model of a preset's shape (for speed benchmarks). */
export async function trainedOrSeededLm(
  modelDir: string | undefined,
  preset: string,
): Promise<{ cfg: MoeLmConfig; store: ParamStore; label: string }> {
  if (modelDir) {
    const files = await loadMoeLm(modelDir);
    return { cfg: files.config.model, store: files.store, label: modelDir };
  }
  const p = lmPresets[preset as LmPresetName];
  if (!p) throw new Error(`unknown preset "${preset}": one of ${Object.keys(lmPresets).join(", ")}`);
  const cfg = MoeLmConfig.parse({ ...p.model, vocab: p.vocab });
  return { cfg, store: ParamStore.fromGraph(moeLmInferenceGraph(cfg).g, 0), label: `${preset} (untrained)` };
}

function cloneStore(store: ParamStore): ParamStore {
  const copy = new ParamStore();
  for (const [name, v] of store.values) copy.set(name, [...v.shape], Float32Array.from(v.data));
  return copy;
}

export interface GenerateOptions {
  model: string;
  /** One prompt streams its continuation; several are generated as one batch. */
  prompt: string[];
  maxTokens: number;
  /** Default: the model's generation_config.json (else 1). */
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  seed?: number;
  stop?: string[];
  int8: boolean;
  /** "llama-cpp": decode with llama.cpp on a GGUF export of the model (default "onnxruntime"). */
  runtime?: "onnxruntime" | "llama-cpp";
  /** llama-cpp: the GGUF file (default: exported at load). */
  gguf?: string;
  threads?: number;
  /** Each prompt is a user turn in the model's chat template; the answer is generated. */
  chat?: boolean;
  /** Write one JSON array, an entry per prompt: { prompt, text, tokens, finishReason }. */
  json?: boolean;
  write: (text: string) => void;
}

/**
 * Writes each prompt followed by its continuation: one prompt streams token by token; several
 * run as one batch (one row each) and are written in order, a blank line between them (or as
 * JSON with `json`).
 */
export async function generateFromModel(options: GenerateOptions): Promise<void> {
  const files = await loadMoeLm(options.model);
  const cfg = files.config.model;
  if (options.prompt.length === 0) throw new Error("give at least one --prompt");
  if (options.chat && files.tokenizer.idOf(CHAT_ROLE_TOKENS[2]) === undefined) {
    throw new Error(`${options.model} is a base model (its tokenizer has no ${CHAT_ROLE_TOKENS[2]} token): leave out --chat`);
  }
  const prompts = options.prompt.map((text, i) => {
    const which = options.prompt.length === 1 ? "the prompt" : `prompt ${i + 1}`;
    if (text.trim().length === 0) throw new Error(`${which} is empty`);
    const ids = files.tokenizer.encode(options.chat ? chatTemplatePrompt([{ role: "user", content: text }]) : text);
    if (ids.length === 0) throw new Error(`${which} is empty`);
    if (ids.length >= cfg.maxSeq) {
      throw new Error(
        `${which} is ${ids.length} tokens; the model's context is ${cfg.maxSeq} (at most ${cfg.maxSeq - 1} prompt tokens)`,
      );
    }
    return ids;
  });
  const tokenizer = {
    encode: (s: string) => files.tokenizer.encode(s),
    decode: (x: readonly number[]) => files.tokenizer.decode(x),
  };
  if (options.gguf && options.runtime !== "llama-cpp") throw new Error("--gguf needs --runtime llama-cpp");
  const onLlama =
    options.runtime === "llama-cpp"
      ? await loadMoeLmOnLlamaCpp(options.model, files, {
          gguf: options.gguf,
          type: options.int8 ? "q8_0" : "f32",
          threads: options.threads,
          gpu: "auto",
        })
      : undefined;
  try {
    const model =
      onLlama?.model ??
      (await MoeLmModel.create(cfg, files.store, tokenizer, {
        int8: options.int8,
        threads: options.threads,
        eosId: files.tokenizer.idOf("<|eos|>"),
      }));
    await generateWith(model, prompts, files, options);
  } finally {
    await onLlama?.dispose();
  }
}

async function generateWith(
  model: BatchDecodeModel,
  prompts: number[][],
  files: MoeLmFiles,
  options: GenerateOptions,
): Promise<void> {
  const defaults = loadGenerationDefaults(options.model);
  const sampling = {
    maxTokens: options.maxTokens, // each row also stops at the model's context
    temperature: options.temperature ?? defaults.temperature,
    topK: options.topK,
    topP: options.topP ?? defaults.topP,
    repetitionPenalty: options.repetitionPenalty ?? defaults.repetitionPenalty,
    seed: options.seed,
    stop: options.stop,
    // Never half a character: the sampler only picks tokens that keep the text valid UTF-8.
    logitsMask: constraints.constrainedMask(constraints.utf8TextAutomaton, constraints.vocabularyFromBpe(files.tokenizer)),
  };
  if (prompts.length === 1 && !options.json) {
    options.write(options.chat ? "" : options.prompt[0]);
    for await (const chunk of generateStream(model, prompts[0], sampling)) options.write(chunk.text);
    options.write("\n");
    return;
  }
  const results = await generate(model, prompts, sampling);
  if (options.json) {
    options.write(`${JSON.stringify(results.map((r, i) => ({ prompt: options.prompt[i], ...r })))}\n`);
    return;
  }
  const entry = (r: (typeof results)[number], i: number) =>
    options.chat ? `> ${options.prompt[i]}\n${r.text}\n` : `${options.prompt[i]}${r.text}\n`;
  options.write(results.map(entry).join("\n"));
}

/** Write model.onnx (fp32) or model.int8.onnx next to the weights; returns the path and sizes. */
export async function exportLmOnnx(dir: string, int8: boolean) {
  const files = await loadMoeLm(dir);
  const { outputs } = moeLmInferenceGraph(files.config.model);
  const paramValue = (name: string) => files.store.get(name).data;
  const q = int8 ? quantizeInt8(outputs, { paramValue }) : null;
  const model = toOnnx({ outputs: q?.outputs ?? outputs, paramValue, name: int8 ? "moe_lm_int8" : "moe_lm" });
  const name = int8 ? "model.int8.onnx" : "model.onnx";
  await writeModelFolder(dir, { [name]: model.bytes }, { keep: "others" });
  const path = join(dir, name);
  return { path, bytes: model.bytes.length, report: q?.report };
}

/** Copy a trained model's files (no checkpoint) to `out`, weights rounded to f16 when asked: how shipped models are made. */
export async function packLm(model: string, out: string, weights: "f32" | "f16") {
  const files = await loadMoeLm(model);
  await saveMoeLm(out, files, { weights });
  // A chat model's template and sampling travel with it.
  const extras = ["tokenizer_config.json", "generation_config.json"].filter((name) => existsSync(join(model, name)));
  if (extras.length > 0) {
    const entries = Object.fromEntries(extras.map((name) => [name, readFileSync(join(model, name), "utf8")]));
    await writeModelFolder(out, entries, { keep: "others" });
  }
  return { bytes: statSync(join(out, "model.safetensors")).size };
}
