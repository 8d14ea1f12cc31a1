// A trained MoE LM on disk: config.json, model.safetensors (parameters and router biases,
// Hugging Face-style names), tokenizer.json (Hugging Face format), and for chat models
// generation_config.json (the sampling the model is meant to be used with, as Hugging Face
// models ship it). Loading validates everything and says what is wrong.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { BpeTokenizer } from "../data/index.js";
import {
  issueLines,
  jsonFile,
  type ParamStore,
  readModelConfig,
  readModelWeights,
  safeParseInput,
  storeTensors,
  writeModelFolder,
} from "../runtime/index.js";
import { MoeLmConfig } from "./moeLm.js";

export const MODEL_KIND = "aigc-moe-lm";

export const MoeLmFileConfig = z
  .object({
    kind: z.literal(MODEL_KIND),
    model: MoeLmConfig,
    /** How the model was trained (preset, corpus sizes, seed, steps): informational. */
    training: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();
export type MoeLmFileConfig = z.infer<typeof MoeLmFileConfig>;

export interface MoeLmFiles {
  config: MoeLmFileConfig;
  store: ParamStore;
  tokenizer: BpeTokenizer;
}

/** The sampling a model is meant to be used with, where a request says nothing. */
export interface GenerationDefaults {
  temperature: number;
  topP: number;
  repetitionPenalty: number;
}

const GenerationConfigFile = z.object({
  temperature: z.number().min(0).default(1),
  top_p: z.number().gt(0).max(1).default(1),
  repetition_penalty: z.number().gt(0).default(1),
});

/** generation_config.json of a model folder; none: plain sampling (temperature 1, no filters). */
export function loadGenerationDefaults(dir: string): GenerationDefaults {
  const path = join(dir, "generation_config.json");
  if (!existsSync(path)) return { temperature: 1, topP: 1, repetitionPenalty: 1 };
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new Error(`${path} is not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  const parsed = safeParseInput(GenerationConfigFile, json);
  if (!parsed.success)
    throw new Error(`${path} is not a valid generation config: ${issueLines(parsed.error, json, { root: "the file" })}`);
  return { temperature: parsed.data.temperature, topP: parsed.data.top_p, repetitionPenalty: parsed.data.repetition_penalty };
}

/** The generation_config.json entry of a model folder (Hugging Face's field names). */
export const generationConfigFile = (d: GenerationDefaults) =>
  jsonFile({ temperature: d.temperature, top_p: d.topP, repetition_penalty: d.repetitionPenalty });

/**
 * Write a model dir (atomically). `weights: "f16"` halves the file (shipped models): loading widens the
 * weights back to float32, so the model then computes exactly as the rounded weights say.
 */
export async function saveMoeLm(dir: string, files: MoeLmFiles, options: { weights?: "f32" | "f16" } = {}): Promise<void> {
  const tensors = storeTensors(files.store, { weights: options.weights });
  // Other entries of the folder (checkpoint/, model.onnx, RECIPE.md) stay.
  await writeModelFolder(
    dir,
    {
      "model.safetensors": { tensors, metadata: { format: "pt" } },
      "tokenizer.json": (path) => files.tokenizer.save(path),
      "config.json": jsonFile(files.config),
    },
    { keep: "others" },
  );
}

export async function loadMoeLm(dir: string): Promise<MoeLmFiles> {
  const fail = (message: string) => new Error(message);
  const config = await readModelConfig(dir, {
    schema: MoeLmFileConfig,
    what: "model",
    kind: MODEL_KIND,
    trainCommand: `aigc train lm --preset tiny --out ${dir}`,
    fail,
  });
  const store = await readModelWeights(dir, { fail });
  const tokenizerPath = join(dir, "tokenizer.json");
  if (!existsSync(tokenizerPath)) throw new Error(`no tokenizer in ${dir}: expected ${tokenizerPath}`);
  const tokenizer = BpeTokenizer.load(tokenizerPath);
  if (tokenizer.vocabSize !== config.model.vocab) {
    throw new Error(`${tokenizerPath} has ${tokenizer.vocabSize} tokens but the model's vocab is ${config.model.vocab}`);
  }
  return { config, store, tokenizer };
}
