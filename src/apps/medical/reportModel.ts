// The medical report model: the aligned image encoder (the aligner's ViT, fine-tuned) turns
// a CT slice into patch features; they fill the first S positions of the MoE language
// model's prompt as an image prefix (routed to the image experts); the EHR follows as text
// (no names or IDs: only age, sex, smoking, symptoms, vitals, labs, history); the model
// writes the report (FINDINGS / IMPRESSION) in English or Chinese.
//
// On disk a report model folder holds config.json (kind "aigc-report-model": the LM config
// with its image section, and the vision tower's config), model.safetensors (vision_model.*
// and model.* under Hugging Face-style names), tokenizer.json and words.json (the general,
// non-medical words of the training reports, which constrained decoding allows besides the
// terminology lexicon).

import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { BpeTokenizer } from "../../data/bpe.js";
import type { Ehr } from "../../data/medical/index.js";
import type { SynthEhr } from "../../data/synth/index.js";
import { Graph, op, type Tensor } from "../../graph/index.js";
import { AlignerConfig, alignerImageTower } from "../../models/aligner.js";
import { MoeLmConfig } from "../../models/moeLm.js";
import { readModelConfig, readModelWeights } from "../../runtime/modelFolder.js";
import type { ParamStore } from "../../runtime/params.js";
import { float32ToFloat16, type SafeTensor, writeSafetensors } from "../../runtime/safetensors.js";

export const REPORT_MODEL_KIND = "aigc-report-model";
export const reportLanguages = ["en", "zh"] as const;
export type ReportLanguage = (typeof reportLanguages)[number];

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

// ---------------------------------------------------------------- prompt

/** What the report model reads of a patient's record: no names, IDs or dates. */
export interface ClinicalContext {
  age?: number;
  sex?: "male" | "female" | "other" | "unknown";
  smoking?: string;
  symptoms: string[];
  /** name -> "value unit" */
  vitals: Record<string, string>;
  labs: Record<string, string>;
  history: string[];
}

export function contextFromSynthEhr(e: SynthEhr): ClinicalContext {
  const v = e.vitals;
  const l = e.labs;
  return {
    age: e.age,
    sex: e.sex === "M" ? "male" : "female",
    smoking: e.smoker.status === "never" ? "never smoker" : `${e.smoker.status} smoker ${e.smoker.packYears} pack-years`,
    symptoms: e.symptoms,
    vitals: {
      HR: `${v.heartRate}`,
      RR: `${v.respRate}`,
      SpO2: `${v.spo2}%`,
      T: `${v.tempC}`,
      BP: `${v.systolic}/${v.diastolic}`,
    },
    labs: {
      WBC: `${l.wbc}`,
      CRP: `${l.crp}`,
      Hb: `${l.hemoglobin}`,
      PLT: `${l.platelets}`,
      NTproBNP: `${l.ntProBnp}`,
      LDH: `${l.ldh}`,
    },
    history: e.history,
  };
}

/** A FHIR-derived EHR: observations become vitals/labs by their display names, conditions the history. */
export function contextFromFhir(e: Ehr): ClinicalContext {
  const labs: Record<string, string> = {};
  for (const o of e.observations.slice(0, 12)) {
    if (o.value === null || typeof o.value === "object") continue;
    labs[o.display.slice(0, 40)] = `${o.value}${o.unit ? ` ${o.unit}` : ""}`;
  }
  return {
    age: e.age,
    sex: e.sex,
    symptoms: [],
    vitals: {},
    labs,
    history: e.conditions.slice(0, 8).map((c) => c.display.slice(0, 60)),
  };
}

/** The EHR as one compact line, always in the same order (short: every token costs decode time). */
export function contextText(c: ClinicalContext): string {
  const parts: string[] = [];
  if (c.age !== undefined || c.sex) parts.push(`${c.age ?? "?"} ${c.sex ?? "unknown"}`);
  if (c.smoking) parts.push(c.smoking);
  if (c.symptoms.length) parts.push(c.symptoms.join(", "));
  const kv = (r: Record<string, string>) =>
    Object.entries(r)
      .map(([k, v]) => `${k} ${v}`)
      .join(" ");
  if (Object.keys(c.vitals).length) parts.push(kv(c.vitals));
  if (Object.keys(c.labs).length) parts.push(kv(c.labs));
  if (c.history.length) parts.push(c.history.join(", "));
  return `EHR: ${parts.join("; ")}`;
}

/** Token ids of the prompt: the image slots, then the EHR and the language tag. */
export function reportPrompt(tokenizer: BpeTokenizer, slots: number, context: ClinicalContext, lang: ReportLanguage): number[] {
  if (tokenizer.imageTokenIds.length < slots)
    throw new ReportModelError(`the tokenizer reserves ${tokenizer.imageTokenIds.length} image tokens; the model needs ${slots}`);
  const text = `${contextText(context)}\nReport (${lang}):\n`;
  return [...tokenizer.imageTokenIds.slice(0, slots), ...tokenizer.encode(text, { allowSpecial: false })];
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
export function visionTokens(g: Graph, vision: AlignerConfig, pixels: Tensor, pool = 1): Tensor {
  const tokens = alignerImageTower(g, vision, pixels).tokens; // [B, N, D], N = side²
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

/** Parameters the report model keeps: the vision tower's and the LM's (not the unused projection head). */
const keptParam = (name: string) => name.startsWith("vision_model.") || name.startsWith("model.") || name.startsWith("lm_head.");

export async function saveReportModel(
  dir: string,
  o: {
    config: ReportModelFileConfig;
    store: ParamStore;
    tokenizer: BpeTokenizer;
    generalWords: readonly string[];
    weights?: "f32" | "f16";
  },
): Promise<void> {
  const tmp = `${dir}.partial-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const tensors: Record<string, SafeTensor> = {};
  for (const [name, v] of o.store.values) {
    if (!keptParam(name)) continue;
    tensors[name] =
      o.weights === "f16"
        ? { dtype: "F16", shape: v.shape, data: float32ToFloat16(v.data) }
        : { dtype: "F32", shape: v.shape, data: v.data };
  }
  await writeSafetensors(join(tmp, "model.safetensors"), tensors, { format: "pt" });
  o.tokenizer.save(join(tmp, "tokenizer.json"));
  await writeFile(join(tmp, "config.json"), `${JSON.stringify(o.config, null, 2)}\n`);
  await writeFile(join(tmp, "words.json"), `${JSON.stringify({ generalWords: o.generalWords })}\n`);
  if (existsSync(dir)) {
    for (const keep of ["RECIPE.md", "metrics.json"])
      if (existsSync(join(dir, keep))) await rename(join(dir, keep), join(tmp, keep));
    await rm(dir, { recursive: true, force: true });
  }
  await rename(tmp, dir);
}

export interface ReportModelFiles {
  config: ReportModelFileConfig;
  store: ParamStore;
  tokenizer: BpeTokenizer;
  generalWords: string[];
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
  const words = existsSync(wordsPath)
    ? z.object({ generalWords: z.array(z.string()) }).safeParse(JSON.parse(await readFile(wordsPath, "utf8")))
    : undefined;
  if (!words?.success) throw new ReportModelError(`${wordsPath} is missing or not { "generalWords": string[] }`);
  return { config, store, tokenizer, generalWords: words.data.generalWords };
}
