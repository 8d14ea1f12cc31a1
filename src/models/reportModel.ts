// The medical report model: the aligned image encoder (the aligner's ViT, fine-tuned) turns
// a CT slice into patch features; they fill the first S positions of the MoE language
// model's prompt as an image prefix (routed to the image experts); the EHR follows as text
// (no names or IDs: only age, sex, smoking, symptoms, vitals, labs, history); the model
// writes the report (FINDINGS / IMPRESSION) in English or Chinese.
//
// On disk a report model folder holds config.json (kind "aigc-report-model": the LM config
// with its image section, and the vision tower's config), model.safetensors (vision_model.*
// vision_head.* and model.* under Hugging Face-style names), tokenizer.json and words.json
// (the general, non-medical words of the training reports per language, which constrained
// decoding allows besides the terminology lexicon of that language).

import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { BpeTokenizer } from "../data/index.js";
import { Graph, op, type Tensor } from "../graph/index.js";
import {
  jsonFile,
  type ParamStore,
  readModelConfig,
  readModelWeights,
  storeTensors,
  writeModelFolder,
} from "../runtime/index.js";
import { AlignerConfig, alignerImageTower } from "./aligner.js";
import { MoeLmConfig } from "./moeLm.js";

export const REPORT_MODEL_KIND = "aigc-report-model";

export const ReportModelFileConfig = z
  .object({
    kind: z.literal(REPORT_MODEL_KIND),
    /** The language model; its `image` section says how many prefix slots and features per slot. */
    lm: MoeLmConfig,
    /** The vision tower (the aligner's image encoder and its preprocessing). */
    vision: AlignerConfig,
    /** Average k x k neighbouring patch tokens into one prefix slot (1 = a slot per patch). */
    visionPool: z.number().int().positive().default(1),
    /** How it was trained (recipe, seeds, steps, metrics): informational. */
    training: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();
export type ReportModelFileConfig = z.infer<typeof ReportModelFileConfig>;

export class ReportModelError extends Error {
  override readonly name = "ReportModelError";
}

// ---------------------------------------------------------------- vision graph

/** How many prefix slots the vision tower gives: patches per side / pool, squared. */
export function visionSlots(vision: AlignerConfig, pool: number): number {
  const side = vision.image.imageSize / vision.image.patch;
  if (vision.image.pool === "cls")
    throw new ReportModelError("a report model needs a patch-token vision tower (pool 'mean' or 'max', not 'cls')");
  if (side % pool !== 0) throw new ReportModelError(`visionPool ${pool} must divide the ${side} patches per side`);
  return (side / pool) ** 2;
}

/**
 * The reduction that pools the vision tower's tokens the way the tower itself pools: max for
 * a max-pooled tower, whose tokens flag what they show; else the mean.
 */
export const towerReduce = (vision: AlignerConfig): typeof op.reduceMean =>
  vision.image.pool === "max" ? op.reduceMax : op.reduceMean;

/** Patch tokens [B, S, F] of the vision tower for pixels [B, C, H, W] (the LM's image prefix), k x k pooled by `towerReduce`. */
export function visionTokens(graph: Graph, vision: AlignerConfig, pixels: Tensor, pool = 1): Tensor {
  const tokens = alignerImageTower(graph, vision, pixels).tokens; // [B, N, D], N = side²
  if (pool === 1) return tokens;
  const [b, , d] = tokens.shape;
  const side = vision.image.imageSize / vision.image.patch;
  const s = side / pool;
  // [B, side, side, D] -> [B, s, k, s, k, D] -> pool over the two k axes -> [B, s*s, D]
  const grid = op.reshape(tokens, [b, s, pool, s, pool, d]);
  const reduce = towerReduce(vision);
  return op.reshape(reduce(reduce(grid, 4, true), 2, true), [b, s * s, d]);
}

/** A graph computing the image prefix of `batch` slices: input "pixels", output "features". */
export function visionFeaturesGraph(vision: AlignerConfig, batch: number, pool = 1): { g: Graph; features: Tensor } {
  const g = new Graph();
  const { windows, imageSize } = vision.image;
  const pixels = g.input("pixels", "float32", [batch, windows.length, imageSize, imageSize]);
  return { g, features: visionTokens(g, vision, pixels, pool) };
}

// ---------------------------------------------------------------- files

/**
 * Parameters the report model keeps: the vision tower's, its finding head (vision_head: the
 * image's own reading of the findings, which gives their confidence) and the LM's; not the
 * aligner's unused projection.
 */
const keptParam = (name: string) =>
  name.startsWith("vision_model.") || name.startsWith("vision_head.") || name.startsWith("model.") || name.startsWith("lm_head.");

export async function saveReportModel(
  dir: string,
  options: {
    config: ReportModelFileConfig;
    store: ParamStore;
    tokenizer: BpeTokenizer;
    generalWords: GeneralWords;
    weights?: "f32" | "f16";
  },
): Promise<void> {
  const tensors = storeTensors(options.store, { weights: options.weights, include: keptParam });
  await writeModelFolder(
    dir,
    {
      "model.safetensors": { tensors, metadata: { format: "pt" } },
      "tokenizer.json": (path) => options.tokenizer.save(path),
      "config.json": jsonFile(options.config),
      "words.json": `${JSON.stringify({ generalWords: options.generalWords })}\n`,
    },
    { keep: ["RECIPE.md", "metrics.json"] },
  );
}

/** The non-medical words of the training reports, per report language. */
export type GeneralWords = { en: string[]; zh: string[] };
const GeneralWordsFile = z.object({ generalWords: z.object({ en: z.array(z.string()), zh: z.array(z.string()) }) });

export interface ReportModelFiles {
  config: ReportModelFileConfig;
  store: ParamStore;
  tokenizer: BpeTokenizer;
  generalWords: GeneralWords;
}

export async function loadReportModelFiles(dir: string): Promise<ReportModelFiles> {
  const fail = (message: string) => new ReportModelError(message);
  const config = await readModelConfig(dir, {
    schema: ReportModelFileConfig,
    what: "report model",
    kind: REPORT_MODEL_KIND,
    trainCommand: `aigc train report --out ${dir}`,
    fail,
  });
  if (!config.lm.image)
    throw new ReportModelError(`${join(dir, "config.json")}: lm.image is missing; a report model needs an image prefix`);
  const store = await readModelWeights(dir, { fail });
  const tokenizerPath = join(dir, "tokenizer.json");
  if (!existsSync(tokenizerPath)) throw new ReportModelError(`no tokenizer in ${dir}: expected ${tokenizerPath}`);
  const tokenizer = BpeTokenizer.load(tokenizerPath);
  if (tokenizer.vocabSize !== config.lm.vocab)
    throw new ReportModelError(`${tokenizerPath} has ${tokenizer.vocabSize} tokens but the model's vocab is ${config.lm.vocab}`);
  const wordsPath = join(dir, "words.json");
  const words = existsSync(wordsPath) ? GeneralWordsFile.safeParse(JSON.parse(await readFile(wordsPath, "utf8"))) : undefined;
  if (!words?.success)
    throw new ReportModelError(`${wordsPath} is missing or not { "generalWords": { "en": string[], "zh": string[] } }`);
  return { config, store, tokenizer, generalWords: words.data.generalWords };
}
