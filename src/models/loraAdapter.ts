// A LoRA adapter on disk, in Hugging Face PEFT's layout, so PEFT's `PeftModel.from_pretrained`
// reads ours and we read PEFT's: adapter_config.json (PEFT's LoraConfig field names, keys
// sorted as PEFT writes them) and adapter_model.safetensors, whose keys are
//   base_model.model.<module>.lora_A.weight  [r, in]
//   base_model.model.<module>.lora_B.weight  [out, r]
// ("base_model.model." is PEFT's PeftModel + LoraModel wrapping; the adapter name, ".default",
// is stripped on save). Our own names drop the prefix: "<module>.lora_A.weight" (../nn/lora.ts).
// Loading validates both files against the base model and refuses the PEFT options this
// runtime does not compute (DoRA, rsLoRA, biases, per-module ranks, …), saying why.
// Merging folds an adapter into its base: W' = W + (α/r) · Aᵀ Bᵀ, with W stored [in, out].

import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { isLoraTarget, LoraConfig } from "../nn/index.js";
import {
  issueLines,
  jsonFile,
  ParamStore,
  Rng,
  readSafetensors,
  type SafeTensor,
  safeParseInput,
  writeModelFolder,
} from "../runtime/index.js";
import type { MoeLmConfig } from "./moeLm.js";
import { moeLmInferenceGraph } from "./moeLmInference.js";

export const ADAPTER_CONFIG_FILE = "adapter_config.json";
export const ADAPTER_WEIGHTS_FILE = "adapter_model.safetensors";
/** PEFT's prefix on every saved key: PeftModel.base_model (LoraModel) .model (the wrapped model). */
const PEFT_PREFIX = "base_model.model.";
const A_SUFFIX = ".lora_A.weight";
const B_SUFFIX = ".lora_B.weight";
// An embedding's update (PEFT's LoRA Embedding): A [r, V], B [C, r] against the table [V, C],
// which is the same algebra as a linear's with in = V, out = C.
const EMBEDDING_A_SUFFIX = ".lora_embedding_A";
const EMBEDDING_B_SUFFIX = ".lora_embedding_B";

/** Which half of which kind of update a parameter name is, or null. */
function updateHalf(name: string): { half: "a" | "b"; suffix: string; partner: string } | null {
  if (name.endsWith(A_SUFFIX)) return { half: "a", suffix: A_SUFFIX, partner: B_SUFFIX };
  if (name.endsWith(B_SUFFIX)) return { half: "b", suffix: B_SUFFIX, partner: A_SUFFIX };
  if (name.endsWith(EMBEDDING_A_SUFFIX)) return { half: "a", suffix: EMBEDDING_A_SUFFIX, partner: EMBEDDING_B_SUFFIX };
  if (name.endsWith(EMBEDDING_B_SUFFIX)) return { half: "b", suffix: EMBEDDING_B_SUFFIX, partner: EMBEDDING_A_SUFFIX };
  return null;
}

/** A LoRA adapter in memory: its config, its updates (our names), and the modules they update. */
export interface LoraAdapter {
  config: LoraConfig;
  /** Only "<module>.lora_A.weight" [r, in] and "<module>.lora_B.weight" [out, r]. */
  adapter: ParamStore;
  /** The updated modules, in file order ("model.layers.0.self_attn.q_proj", …). */
  modules: string[];
}

// ---------------------------------------------------------------------------------------------
// adapter_config.json

/** init_lora_weights values that train against a modified base weight (PiSSA, OLoRA, CorDA, LoftQ). */
const INIT_CHANGES_BASE = /^(pissa|olora|corda|loftq)/i;

/**
 * PEFT's LoraConfig as adapter_config.json holds it. Fields we do not read (task-specific ones,
 * newer PEFT versions' additions) pass; those that would change the computation are checked
 * after parsing, so a refusal names the option and the reason rather than a type.
 */
const PeftLoraConfigFile = z.looseObject({
  peft_type: z.string(),
  task_type: z.string().nullable().optional(),
  base_model_name_or_path: z.string().nullable().optional(),
  r: z.number().int().positive(),
  lora_alpha: z.number().positive().default(8),
  lora_dropout: z.number().min(0).lt(1).default(0),
  target_modules: z.union([z.array(z.string().min(1)).min(1), z.string()]),
  bias: z.string().default("none"),
  fan_in_fan_out: z.boolean().default(false),
  use_rslora: z.boolean().default(false),
  use_dora: z.boolean().default(false),
  lora_bias: z.boolean().default(false),
  modules_to_save: z.array(z.string()).nullable().default(null),
  init_lora_weights: z.union([z.boolean(), z.string()]).default(true),
  exclude_modules: z
    .union([z.array(z.string()), z.string()])
    .nullable()
    .default(null),
  layers_to_transform: z
    .union([z.array(z.number().int()), z.number().int()])
    .nullable()
    .default(null),
  rank_pattern: z.record(z.string(), z.unknown()).nullable().default({}),
  alpha_pattern: z.record(z.string(), z.unknown()).nullable().default({}),
  layer_replication: z.array(z.unknown()).nullable().default(null),
  alora_invocation_tokens: z.array(z.number()).nullable().default(null),
});
type PeftLoraConfigFile = z.infer<typeof PeftLoraConfigFile>;

/** Why each option a file sets is refused (empty: everything it asks for is computed here). */
function refusals(c: PeftLoraConfigFile): string[] {
  const out: string[] = [];
  const isSet = (v: unknown) => v !== null && v !== undefined && (typeof v !== "object" || Object.keys(v).length > 0);
  if (c.peft_type !== "LORA")
    out.push(`peft_type ${JSON.stringify(c.peft_type)} is not supported: only "LORA" adapters load here`);
  if (c.task_type != null && c.task_type !== "CAUSAL_LM")
    out.push(
      `task_type ${JSON.stringify(c.task_type)} is not supported: the MoE LM is a causal LM (expected "CAUSAL_LM" or null)`,
    );
  if (typeof c.target_modules === "string")
    out.push(
      `target_modules ${JSON.stringify(c.target_modules)} is a regex (or "all-linear"), not supported: list the module names, e.g. ["q_proj", "v_proj"]`,
    );
  if (c.bias !== "none")
    out.push(
      `bias ${JSON.stringify(c.bias)} is not supported: the adapter would also change the base's biases (expected "none")`,
    );
  if (c.fan_in_fan_out)
    out.push("fan_in_fan_out true is not supported: it is for GPT-2-style Conv1D weights; the MoE LM's are nn.Linear-style");
  if (c.use_rslora) out.push("use_rslora true is not supported: rank-stabilized LoRA scales by alpha/sqrt(r), ours by alpha/r");
  if (c.use_dora) out.push("use_dora true is not supported: DoRA's magnitude vectors are not computed here");
  if (c.lora_bias) out.push("lora_bias true is not supported: lora_B has no bias here");
  if (c.modules_to_save && c.modules_to_save.length > 0)
    out.push(
      `modules_to_save ${JSON.stringify(c.modules_to_save)} is not supported: the adapter would replace whole modules, not only add low-rank updates`,
    );
  if (typeof c.init_lora_weights === "string" && INIT_CHANGES_BASE.test(c.init_lora_weights))
    out.push(
      `init_lora_weights ${JSON.stringify(c.init_lora_weights)} is not supported: it trains against a modified base weight (convert the adapter to plain LoRA first)`,
    );
  if (isSet(c.exclude_modules)) out.push("exclude_modules is not supported: every module target_modules matches is updated here");
  if (isSet(c.layers_to_transform)) out.push("layers_to_transform is not supported: target_modules applies to every layer here");
  if (isSet(c.rank_pattern)) out.push("rank_pattern is not supported: every module has rank r here");
  if (isSet(c.alpha_pattern)) out.push("alpha_pattern is not supported: every module has lora_alpha here");
  if (isSet(c.layer_replication)) out.push("layer_replication is not supported: the base's layers are used as they are");
  if (isSet(c.alora_invocation_tokens))
    out.push("alora_invocation_tokens is not supported: activated LoRA (aLoRA) is not computed here");
  return out;
}

/** adapter_config.json as PEFT's `save_pretrained` writes it: its fields, keys sorted, inference mode on. */
function peftConfigJson(config: LoraConfig, baseModel: string): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: baseModel,
    bias: "none",
    exclude_modules: null,
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: config.alpha,
    lora_bias: false,
    lora_dropout: config.dropout,
    megatron_config: null,
    megatron_core: "megatron.core",
    modules_to_save: null,
    peft_type: "LORA",
    r: config.r,
    rank_pattern: {},
    revision: null,
    target_modules: [...config.targetModules],
    task_type: "CAUSAL_LM",
    use_dora: false,
    use_rslora: false,
  };
  return Object.fromEntries(Object.entries(fields).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

// ---------------------------------------------------------------------------------------------
// Checking an adapter against its base

const shape = (s: readonly number[]) => `[${s.join(", ")}]`;

// The routed experts are stacked tensors here (gate_up_proj [E, 2H, C], rows interleaved gate_0,
// up_0, …; down_proj [E, C, H]) and separate linears in Hugging Face's Glm4Moe, which is what
// PEFT adapts: "…mlp.experts.<e>.gate_proj". Files hold the per-expert updates; training and
// graphs hold them stacked, "…mlp.experts.gate_proj.lora_A.weight" [E, r, in] / lora_B [E, out, r].
const EXPERT_MODULE = /^(.*\.mlp\.experts)\.(\d+)\.(gate_proj|up_proj|down_proj)$/;
const STACKED_EXPERT_UPDATE = /^(.*\.mlp\.experts)\.(gate_proj|up_proj|down_proj)\.lora_(A|B)\.weight$/;

/**
 * Module `module` of `base` as a linear [in, out]: the parameter its update lands in and where
 * W[i][o] sits there (a linear's own [in, out] weight, or one expert's rows of the stacked
 * experts). Undefined when the base has no such module; `stored` is its parameter's shape.
 */
function linearView(
  base: ParamStore,
  module: string,
): { param: string; stored: number[]; inDim: number; outDim: number; at: (i: number, o: number) => number } | undefined {
  const expert = EXPERT_MODULE.exec(module);
  if (!expert) {
    const w = base.values.get(`${module}.weight`);
    if (!w || w.shape.length !== 2) return w && { param: `${module}.weight`, stored: w.shape, inDim: 0, outDim: 0, at: () => -1 };
    const [inDim, outDim] = w.shape;
    return { param: `${module}.weight`, stored: w.shape, inDim, outDim, at: (i, o) => i * outDim + o };
  }
  const [, experts, index, proj] = expert;
  const e = Number(index);
  const param = `${experts}.${proj === "down_proj" ? "down_proj" : "gate_up_proj"}`;
  const w = base.values.get(param);
  if (!w || w.shape.length !== 3 || e >= w.shape[0]) return undefined;
  const [, rows, cols] = w.shape;
  if (proj === "down_proj") return { param, stored: w.shape, inDim: cols, outDim: rows, at: (i, o) => (e * rows + o) * cols + i };
  const half = proj === "gate_proj" ? 0 : 1;
  return { param, stored: w.shape, inDim: cols, outDim: rows / 2, at: (i, o) => (e * rows + 2 * o + half) * cols + i };
}

/** Stacked expert updates (training's, graphs') split per expert, as files hold them; other entries shared. */
export function unstackExpertLora(adapter: ParamStore): ParamStore {
  const out = new ParamStore();
  for (const [name, entry] of adapter.values) {
    const m = STACKED_EXPERT_UPDATE.exec(name);
    if (!m || entry.shape.length !== 3) {
      out.values.set(name, entry);
      continue;
    }
    const [experts, rows, cols] = entry.shape;
    for (let e = 0; e < experts; e++)
      out.set(
        `${m[1]}.${e}.${m[2]}.lora_${m[3]}.weight`,
        [rows, cols],
        entry.data.subarray(e * rows * cols, (e + 1) * rows * cols),
      );
  }
  return out;
}

/** Per-expert updates stacked back (what a graph with LoRA on the routed experts reads); other entries shared. */
export function stackExpertLora(adapter: ParamStore): ParamStore {
  const out = new ParamStore();
  const stacks = new Map<string, { shape: number[]; parts: Float32Array[] }>();
  for (const [name, entry] of adapter.values) {
    const m = /^(.*\.mlp\.experts)\.(\d+)\.(gate_proj|up_proj|down_proj)\.lora_(A|B)\.weight$/.exec(name);
    if (!m) {
      out.values.set(name, entry);
      continue;
    }
    const key = `${m[1]}.${m[3]}.lora_${m[4]}.weight`;
    let stack = stacks.get(key);
    if (!stack) {
      stack = { shape: entry.shape, parts: [] };
      stacks.set(key, stack);
    }
    stack.parts[Number(m[2])] = entry.data;
  }
  for (const [
    key,
    {
      shape: [rows, cols],
      parts,
    },
  ] of stacks) {
    const data = new Float32Array(parts.length * rows * cols);
    parts.forEach((p, e) => {
      if (!p) throw new Error(`stackExpertLora: ${key} has no update for expert ${e}`);
      data.set(p, e * rows * cols);
    });
    out.set(key, [parts.length, rows, cols], data);
  }
  return out;
}

/**
 * Checks every update of `adapter` (our names) against `base` and `config`, and returns the
 * updated modules in order. `where` starts each message (the file, or the function); `key`
 * names a parameter as the caller's user knows it (PEFT's key, for files).
 */
function checkAdapter(
  base: ParamStore,
  adapter: ParamStore,
  config: LoraConfig,
  where: string,
  key: (name: string) => string = (name) => name,
): string[] {
  const { r, targetModules } = config;
  const modules: string[] = [];
  const halves = new Map<string, { a?: string; b?: string }>();
  for (const [name, entry] of adapter.values) {
    const half = updateHalf(name);
    const isA = half?.half === "a";
    if (!half) {
      const hint = /\.lora_[AB]\.[^.]+\.weight$/.test(name)
        ? ' (drop the adapter name, e.g. ".default", as PEFT\'s save_pretrained does)'
        : "";
      throw new Error(`${where}: ${key(name)} is not a LoRA update (expected <module>${A_SUFFIX} or <module>${B_SUFFIX})${hint}`);
    }
    const module = name.slice(0, -half.suffix.length);
    if (!isLoraTarget(module, targetModules))
      throw new Error(
        `${where}: ${key(name)} updates ${module}, which target_modules ${JSON.stringify(targetModules)} does not match`,
      );
    const view = linearView(base, module);
    if (!view)
      throw new Error(
        `${where}: ${key(name)} updates ${module}, but the base has no ${EXPERT_MODULE.test(module) ? "such routed expert" : `${module}.weight`} (is the adapter for another model?)`,
      );
    if (view.stored.length !== 2 && !EXPERT_MODULE.test(module))
      throw new Error(
        `${where}: ${key(name)} updates ${module}, but the base's ${module}.weight is ${shape(view.stored)}, not a 2-D [in, out] linear weight`,
      );
    const { inDim, outDim } = view;
    const weight = { shape: EXPERT_MODULE.test(module) ? [inDim, outDim] : view.stored };
    const expected = isA ? [r, inDim] : [outDim, r];
    if (entry.shape.length !== 2 || entry.shape[0] !== expected[0] || entry.shape[1] !== expected[1]) {
      const rankAt = isA ? 0 : 1;
      const why =
        entry.shape.length === 2 && entry.shape[rankAt] !== r && entry.shape[1 - rankAt] === expected[1 - rankAt]
          ? `but r is ${r} in the config`
          : `but the base's ${module}.weight is ${shape(weight.shape)}`;
      throw new Error(`${where}: ${key(name)} is ${shape(entry.shape)} ${why} (expects ${shape(expected)})`);
    }
    let pair = halves.get(module);
    if (!pair) {
      pair = {};
      halves.set(module, pair);
      modules.push(module);
    }
    pair[isA ? "a" : "b"] = name;
  }
  for (const module of modules) {
    const pair = halves.get(module) ?? {};
    if (!pair.a || !pair.b) {
      const has = pair.a ?? pair.b ?? "";
      const lacks = `${module}${updateHalf(has)?.partner ?? B_SUFFIX}`;
      throw new Error(`${where}: ${key(has)} has no partner ${key(lacks)} (every update needs both lora_A and lora_B)`);
    }
  }
  if (modules.length === 0)
    throw new Error(`${where}: no LoRA updates (expected <module>${A_SUFFIX} and <module>${B_SUFFIX} pairs)`);
  return modules;
}

// ---------------------------------------------------------------------------------------------
// Saving and loading

/**
 * Write an adapter folder (atomically): adapter_config.json and adapter_model.safetensors, as
 * PEFT writes them. `adapter` holds only the lora_A / lora_B parameters, our names;
 * `baseModel` becomes base_model_name_or_path (e.g. "assets/chat").
 */
export async function saveLoraAdapter(
  dir: string,
  files: { config: LoraConfig; adapter: ParamStore; baseModel: string },
): Promise<void> {
  const config = LoraConfig.parse(files.config);
  const tensors: Record<string, SafeTensor> = {};
  for (const [name, value] of unstackExpertLora(files.adapter).values) {
    if (!updateHalf(name))
      throw new Error(
        `saveLoraAdapter: ${name} is not a LoRA update (pass only the <module>${A_SUFFIX} / <module>${B_SUFFIX} parameters)`,
      );
    const rankAt = updateHalf(name)?.half === "a" ? 0 : 1; // A [r, in], B [out, r]
    if (value.shape.length !== 2 || value.shape[rankAt] !== config.r)
      throw new Error(`saveLoraAdapter: ${name} is ${shape(value.shape)}, but r is ${config.r} (A is [r, in], B [out, r])`);
    tensors[`${PEFT_PREFIX}${name}`] = { dtype: "F32", shape: value.shape, data: value.data };
  }
  await writeModelFolder(dir, {
    [ADAPTER_WEIGHTS_FILE]: { tensors, metadata: { format: "pt" } },
    [ADAPTER_CONFIG_FILE]: jsonFile(peftConfigJson(config, files.baseModel)),
  });
}

/**
 * Read an adapter folder (ours or PEFT's) and check it against `base`: every update's module
 * has a 2-D base weight [in, out], lora_A is [r, in], lora_B [out, r], and each comes in a pair.
 */
export async function loadLoraAdapter(dir: string, base: ParamStore): Promise<LoraAdapter> {
  const configPath = join(dir, ADAPTER_CONFIG_FILE);
  if (!existsSync(configPath)) throw new Error(`no LoRA adapter in ${dir}: expected ${configPath}`);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(configPath, "utf8"));
  } catch (err) {
    throw new Error(`${configPath} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = safeParseInput(PeftLoraConfigFile, raw);
  if (!parsed.success)
    throw new Error(`${configPath} is not a valid PEFT LoRA config: ${issueLines(parsed.error, raw, { root: "the file" })}`);
  const refused = refusals(parsed.data);
  if (refused.length > 0) throw new Error(`${configPath}: ${refused.join("; ")}`);
  const file = parsed.data;
  const targetModules = typeof file.target_modules === "string" ? [file.target_modules] : file.target_modules; // (a string was refused)
  const config: LoraConfig = { r: file.r, alpha: file.lora_alpha, dropout: file.lora_dropout, targetModules };

  const weightsPath = join(dir, ADAPTER_WEIGHTS_FILE);
  if (!existsSync(weightsPath)) throw new Error(`no LoRA weights in ${dir}: expected ${weightsPath}`);
  // A corrupt file throws SafetensorsError, naming the file and what is wrong.
  const { tensors } = await readSafetensors(weightsPath);
  const adapter = new ParamStore();
  for (const [key, t] of Object.entries(tensors)) {
    if (!key.startsWith(PEFT_PREFIX))
      throw new Error(
        `${weightsPath}: tensor "${key}" does not start with "${PEFT_PREFIX}" (PEFT's prefix on every adapter key)`,
      );
    if (t.dtype !== "F32") throw new Error(`${weightsPath}: tensor "${key}" is ${t.dtype}, expected F32`);
    adapter.set(key.slice(PEFT_PREFIX.length), t.shape, t.data as Float32Array);
  }
  const modules = checkAdapter(base, adapter, config, weightsPath, (name) => `${PEFT_PREFIX}${name}`);
  return { config, adapter, modules };
}

/**
 * An adapter with random A and B (normal, `std`) on the modules `config` targets in a MoE LM
 * of `cfg`: what benchmarks and tests serve (a trained B is not zero; PEFT's
 * init_lora_weights=False does the same). Routed-expert updates per expert, as files hold them.
 */
export function randomLoraAdapter(cfg: MoeLmConfig, config: LoraConfig, seed: number, std: number): LoraAdapter {
  const stacked = new ParamStore();
  for (const [name, t] of moeLmInferenceGraph(cfg, { lora: { config, train: false } }).g.params) {
    if (!name.includes(".lora_")) continue;
    const rng = Rng.forName(seed, name);
    const shape = t.shape as number[];
    stacked.set(
      name,
      shape,
      Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * std),
    );
  }
  const adapter = unstackExpertLora(stacked);
  const modules = [...adapter.values.keys()].flatMap((n) => {
    const half = updateHalf(n);
    return half?.half === "a" ? [n.slice(0, -half.suffix.length)] : [];
  });
  return { config, adapter, modules };
}

// ---------------------------------------------------------------------------------------------
// Merging

/**
 * The base with the adapter folded in: W' = W + (α/r) · Aᵀ Bᵀ for every updated module, in our
 * [in, out] layout (W'[i][o] += s · Σ_k A[k][i] · B[o][k]), which is PEFT's merge (W += s · B A
 * in torch's [out, in]). A new store: merged weights are new arrays, the other parameters are
 * shared with `base`; lora_A / lora_B parameters that `base` itself holds are left out.
 */
export function mergeLora(base: ParamStore, adapter: ParamStore, config: LoraConfig): ParamStore {
  const updates = unstackExpertLora(adapter);
  const modules = checkAdapter(base, updates, config, "mergeLora");
  const scale = config.alpha / config.r;
  const r = config.r;
  const merged = new ParamStore();
  for (const [name, entry] of base.values) {
    if (updateHalf(name) || STACKED_EXPERT_UPDATE.test(name)) continue;
    merged.values.set(name, entry);
  }
  const copies = new Map<string, Float32Array>(); // each updated parameter copied once (experts share one)
  for (const module of modules) {
    const view = linearView(base, module)!;
    let out = copies.get(view.param);
    if (!out) {
      out = Float32Array.from(base.get(view.param).data);
      copies.set(view.param, out);
      merged.set(view.param, [...view.stored], out);
    }
    const a = (updates.values.get(`${module}${A_SUFFIX}`) ?? updates.get(`${module}${EMBEDDING_A_SUFFIX}`)).data; // [r, in]
    const b = (updates.values.get(`${module}${B_SUFFIX}`) ?? updates.get(`${module}${EMBEDDING_B_SUFFIX}`)).data; // [out, r]
    const { inDim, outDim, at } = view;
    const bt = new Float32Array(r * outDim); // Bᵀ [r, out], rows contiguous for the inner loop
    for (let o = 0; o < outDim; o++) for (let k = 0; k < r; k++) bt[k * outDim + o] = b[o * r + k];
    const row = new Float32Array(outDim);
    for (let i = 0; i < inDim; i++) {
      row.fill(0);
      for (let k = 0; k < r; k++) {
        const sa = scale * a[k * inDim + i];
        if (sa === 0) continue;
        const bRow = k * outDim;
        for (let o = 0; o < outDim; o++) row[o] += sa * bt[bRow + o];
      }
      for (let o = 0; o < outDim; o++) out[at(i, o)] += row[o];
    }
  }
  return merged;
}
