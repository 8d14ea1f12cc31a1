// The image–text aligner: a ViT image tower and a transformer text tower projected into one
// shared, L2-normalised space (512-d by default), trained with symmetric InfoNCE (CLIP).
// On disk, a model folder holds config.json (kind "aigc-aligner"), model.safetensors
// (CLIP-style names: vision_model.*, visual_projection.weight, text_model.*,
// text_projection.weight, logit_scale), tokenizer.json (Hugging Face) and metrics.json.

import { existsSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { BpeTokenizer } from "../data/index.js";
import { Graph, op, type Tensor } from "../graph/index.js";
import { Scope } from "../nn/index.js";
import {
  Evaluator,
  type HostTensor,
  jsonFile,
  type ModelFile,
  ParamStore,
  readModelConfig,
  readSafetensors,
  type SafeTensor,
  writeModelFolder,
} from "../runtime/index.js";
import { ImageEncoderConfig, type ImageEncoderOutputs, imageEncoder, preprocessHu } from "./imageEncoder.js";
import { TextEncoderConfig, type TextEncoderOutputs, textEncoder, tokenizeTexts } from "./textEncoder.js";

export const ALIGNER_KIND = "aigc-aligner";

export const AlignerConfig = z
  .object({
    /** Width E of the shared embedding space. */
    embedDim: z.number().int().positive(),
    /** The image tower (windows, resampled size, ViT shape). */
    image: ImageEncoderConfig,
    /** The text tower (vocabulary, length, encoder shape). */
    text: TextEncoderConfig,
    /** InfoNCE temperature τ: fixed, or the starting value of the learnable one. */
    temperature: z.number().positive(),
    /** Learn log(1/τ) as the parameter `logit_scale` (clamped to 1/τ <= 100, as OpenCLIP). */
    learnableTemperature: z.boolean(),
  })
  .strict()
  .readonly();
export type AlignerConfig = z.infer<typeof AlignerConfig>;

export const AlignerFileConfig = z
  .object({
    kind: z.literal(ALIGNER_KIND),
    model: AlignerConfig,
    /** How the model was trained (recipe, preset, seeds, steps): informational. */
    training: z.record(z.string(), z.unknown()).default({}),
  })
  .strict()
  .readonly();
export type AlignerFileConfig = z.infer<typeof AlignerFileConfig>;

/** A model folder that cannot be read: says which file and what was expected. */
export class AlignerFileError extends Error {
  override readonly name = "AlignerFileError";
}

// ---------------------------------------------------------------- graph

/** The image tower under CLIP's names: pixels [B, C, S, S] -> unit embedding [B, E]. */
export function alignerImageTower(graph: Graph, cfg: AlignerConfig, pixels: Tensor): ImageEncoderOutputs {
  const root = new Scope(graph);
  return imageEncoder(root.child("vision_model"), root.child("visual_projection"), cfg.image, pixels, cfg.embedDim);
}

/** The text tower under CLIP's names: ids [B, T] -> unit embedding [B, E]. */
export function alignerTextTower(graph: Graph, cfg: AlignerConfig, ids: Tensor): TextEncoderOutputs {
  const root = new Scope(graph);
  return textEncoder(root.child("text_model"), root.child("text_projection"), cfg.text, ids, cfg.embedDim);
}

/** Graph inputs of the image tower for a batch of `batch` slices. */
export const pixelsInput = (graph: Graph, cfg: AlignerConfig, batch: number): Tensor =>
  graph.input("pixels", "float32", [batch, cfg.image.windows.length, cfg.image.imageSize, cfg.image.imageSize]);
/** Graph input of the text tower for a batch of `batch` texts. */
export const idsInput = (graph: Graph, cfg: AlignerConfig, batch: number): Tensor =>
  graph.input("ids", "int64", [batch, cfg.text.maxLen]);

/** The learnable log(1/τ) when the config asks for one (OpenCLIP's `logit_scale`). */
export function alignerLogitScale(graph: Graph, cfg: AlignerConfig): Tensor | undefined {
  if (!cfg.learnableTemperature) return undefined;
  return new Scope(graph).param("logit_scale", [], { kind: "constant", value: Math.log(1 / cfg.temperature) });
}

/** Every parameter the aligner keeps, name -> shape (heads used only in pre-training are left out). */
export function alignerParamShapes(cfg: AlignerConfig): Map<string, readonly number[]> {
  const g = new Graph();
  alignerImageTower(g, cfg, pixelsInput(g, cfg, 1));
  alignerTextTower(g, cfg, idsInput(g, cfg, 1));
  alignerLogitScale(g, cfg);
  return new Map([...g.params].map(([name, t]) => [name, t.shape as readonly number[]]));
}

// ---------------------------------------------------------------- inference

/** One CT slice in Hounsfield units, row-major. */
export interface HuSlice {
  hu: ArrayLike<number>;
  width: number;
  height: number;
}

const EMBED_BATCH = 64;

/** A trained aligner in memory: embeds slices and texts into the shared space. */
export class Aligner {
  private readonly evaluators = new Map<string, Promise<Evaluator>>();

  constructor(
    readonly config: AlignerFileConfig,
    readonly store: ParamStore,
    readonly tokenizer: BpeTokenizer,
    readonly threads?: number,
  ) {}

  get model(): AlignerConfig {
    return this.config.model;
  }

  /** Current 1/τ (the learnable one as clamped in training). */
  inverseTemperature(): number {
    if (!this.model.learnableTemperature) return 1 / this.model.temperature;
    const v = this.store.get("logit_scale").data[0];
    return Math.exp(Math.min(Math.log(100), Math.max(0, v)));
  }

  /** The float32 input of one slice: [C, S, S]. */
  preprocess(slice: HuSlice): Float32Array {
    return preprocessHu(slice.hu, slice.width, slice.height, this.model.image);
  }

  /** Unit embeddings [n, E] (row-major) of n slices. */
  async embedSlices(slices: readonly HuSlice[]): Promise<Float32Array> {
    const { imageSize, windows } = this.model.image;
    const per = windows.length * imageSize * imageSize;
    const pixels = new Float32Array(slices.length * per);
    slices.forEach((s, i) => {
      pixels.set(this.preprocess(s), i * per);
    });
    return this.embedPixels(pixels, slices.length);
  }

  /** Unit embeddings [count, E] of `count` preprocessed images (pixels [count, C, S, S]). */
  async embedPixels(pixels: Float32Array, count: number): Promise<Float32Array> {
    const { imageSize, windows } = this.model.image;
    const shape = [windows.length, imageSize, imageSize];
    return this.embedRows("image", pixels, count, shape);
  }

  /** Unit embeddings [n, E] of n texts. */
  async embedTexts(texts: readonly string[]): Promise<Float32Array> {
    const ids = tokenizeTexts(this.tokenizer, texts, this.model.text.maxLen);
    return this.embedRows("text", ids, texts.length, [this.model.text.maxLen]);
  }

  /** Runs one tower over `rowCount` rows in fixed batches (the last one padded by repeating row 0). */
  private async embedRows(
    tower: "image" | "text",
    rows: Float32Array | BigInt64Array,
    rowCount: number,
    rowShape: number[],
  ): Promise<Float32Array> {
    const e = this.model.embedDim;
    const out = new Float32Array(rowCount * e);
    if (rowCount === 0) return out;
    const batch = Math.min(rowCount, EMBED_BATCH);
    const evaluator = await this.evaluator(tower, batch);
    const per = rowShape.reduce((a, b) => a * b, 1);
    for (let start = 0; start < rowCount; start += batch) {
      const count = Math.min(batch, rowCount - start);
      const data = rows instanceof Float32Array ? new Float32Array(batch * per) : new BigInt64Array(batch * per);
      for (let i = 0; i < batch; i++) {
        const src = start + (i < count ? i : 0);
        if (data instanceof Float32Array) data.set((rows as Float32Array).subarray(src * per, (src + 1) * per), i * per);
        else data.set((rows as BigInt64Array).subarray(src * per, (src + 1) * per), i * per);
      }
      const input: HostTensor = { dtype: tower === "image" ? "float32" : "int64", shape: [batch, ...rowShape], data };
      const result = (await evaluator.run({ [tower === "image" ? "pixels" : "ids"]: input })).embedding.data as Float32Array;
      out.set(result.subarray(0, count * e), start * e);
    }
    return out;
  }

  private evaluator(tower: "image" | "text", batch: number): Promise<Evaluator> {
    const key = `${tower}:${batch}`;
    let hit = this.evaluators.get(key);
    if (!hit) {
      const g = new Graph();
      const embedding =
        tower === "image"
          ? alignerImageTower(g, this.model, pixelsInput(g, this.model, batch)).embedding
          : alignerTextTower(g, this.model, idsInput(g, this.model, batch)).embedding;
      hit = Evaluator.create({ embedding: op.reshape(embedding, [batch, this.model.embedDim]) }, this.store, this.threads);
      this.evaluators.set(key, hit);
    }
    return hit;
  }
}

// ---------------------------------------------------------------- files

/**
 * Writes a model folder (config.json, model.safetensors, tokenizer.json and, when given,
 * metrics.json) with the atomic model-folder writer, so a crash leaves no half model.
 * Only the aligner's own parameters are saved.
 */
export async function saveAligner(
  dir: string,
  options: { config: AlignerFileConfig; store: ParamStore; tokenizer: BpeTokenizer; metrics?: unknown },
): Promise<void> {
  const tensors: Record<string, SafeTensor> = {};
  for (const name of alignerParamShapes(options.config.model).keys()) {
    const v = options.store.get(name);
    tensors[name] = { dtype: "F32", shape: v.shape, data: v.data };
  }
  const files: Record<string, ModelFile> = {
    "model.safetensors": { tensors, metadata: { format: "pt" } },
    "tokenizer.json": (path) => options.tokenizer.save(path),
    "config.json": jsonFile(options.config),
  };
  if (options.metrics !== undefined) files["metrics.json"] = jsonFile(options.metrics);
  // Keep files the folder already has that we do not write (RECIPE.md, metrics.json when none is given).
  await writeModelFolder(dir, files, { keep: ["RECIPE.md", "metrics.json"] });
}

/** Reads and validates a model folder; every problem is an AlignerFileError naming the file. */
export async function loadAligner(dir: string, options: { threads?: number } = {}): Promise<Aligner> {
  const config = await readModelConfig(dir, {
    schema: AlignerFileConfig,
    what: "aligner",
    kind: ALIGNER_KIND,
    trainCommand: `aigc train align --recipe progressive --out ${dir}`,
    fail: (message) => new AlignerFileError(message),
  });
  const weightsPath = join(dir, "model.safetensors");
  if (!existsSync(weightsPath)) throw new AlignerFileError(`no weights in ${dir}: expected ${weightsPath}`);
  let tensors: Record<string, SafeTensor>;
  try {
    tensors = (await readSafetensors(weightsPath)).tensors;
  } catch (err) {
    throw new AlignerFileError(`${weightsPath}: ${(err as Error).message}`);
  }
  const store = new ParamStore();
  for (const [name, want] of alignerParamShapes(config.model)) {
    const t = tensors[name];
    if (!t) throw new AlignerFileError(`${weightsPath} has no tensor "${name}" that the config's model needs`);
    if (t.dtype !== "F32") throw new AlignerFileError(`${weightsPath}: tensor "${name}" is ${t.dtype}, expected F32`);
    if (t.shape.join() !== want.join())
      throw new AlignerFileError(`${weightsPath}: tensor "${name}" has shape [${t.shape}], the config needs [${want}]`);
    store.set(name, t.shape, t.data as Float32Array);
  }
  const tokenizerPath = join(dir, "tokenizer.json");
  if (!existsSync(tokenizerPath)) throw new AlignerFileError(`no tokenizer in ${dir}: expected ${tokenizerPath}`);
  let tokenizer: BpeTokenizer;
  try {
    tokenizer = BpeTokenizer.load(tokenizerPath);
  } catch (err) {
    throw new AlignerFileError((err as Error).message);
  }
  if (tokenizer.vocabSize !== config.model.text.vocab)
    throw new AlignerFileError(
      `${tokenizerPath} has ${tokenizer.vocabSize} tokens but the config's text vocab is ${config.model.text.vocab}`,
    );
  return new Aligner(config, store, tokenizer, options.threads);
}
