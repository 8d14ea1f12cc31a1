// A trained MoE LM on disk: config.json, model.safetensors (parameters and router biases,
// Hugging Face-style names), tokenizer.json (Hugging Face format). Loading validates
// everything and says what is wrong.

import { existsSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { BpeTokenizer } from "../data/index.js";
import {
  jsonFile,
  type ParamStore,
  readModelConfig,
  readModelWeights,
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
