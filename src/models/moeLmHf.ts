// The MoE LM as a Hugging Face `Glm4MoeForCausalLM` folder (transformers' `glm4_moe`), the
// format vLLM and SGLang load to serve a model across GPUs with tensor and expert parallelism:
//   config.json             Glm4MoeConfig's fields (transformers' names)
//   model.safetensors       transformers' tensor names, nn.Linear weights [out, in]
//   tokenizer.json          the tokenizer (Hugging Face `tokenizers` format)
//   tokenizer_config.json   special tokens, and the chat template of the source folder
//   generation_config.json  the source folder's sampling defaults, with the special token ids
// The weights are those of the GGUF export: ./glm4moe.ts maps both, so the two carry the same
// padded experts (never chosen), the same zero q/k/v biases and the same values.
//
// What Glm4MoeForCausalLM fixes that our config leaves open (transformers'
// models/glm4_moe/modeling_glm4_moe.py, vLLM's model_executor/models/glm4_moe.py):
// - the router always scores with sigmoid (there is no scoring_func field): softmax models
//   are refused (their GGUF export says softmax in expert_gating_func);
// - shared experts always run (one SwiGLU of width moe_intermediate_size × n_shared_experts,
//   as ours): a model without them is refused;
// - rotary covers partial_rotary_factor of each head, and GLM-4.5 ships 0.5 (the default of
//   llama.cpp's converter and vLLM when the field is missing): written as 1.0, since we rotate
//   the whole head, rotate_half style (transformers' apply_rotary_pos_emb);
// - vLLM's Glm4MoeForCausalLM never ties lm_head to the embedding and refuses a checkpoint
//   that leaves a weight out: a tied model writes lm_head.weight too (equal to the
//   embedding), and says tie_word_embeddings: true for transformers, which ties them again.
// transformers' router fills the experts of the groups it drops with 0.0 (vLLM and llama.cpp
// with -inf) before its top-k: a token whose kept groups hold fewer than top-k experts with
// sigmoid score + selection bias > 0 could get a dropped or padding expert there. That takes
// many negative selection biases; the export notes each MoE block where it could happen.
//
// The router (mlp.gate.weight) and its selection bias stay float32 in a float16 export, as
// transformers and vLLM keep them (and -1e9, the padding experts' bias, overflows float16).

import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { BpeTokenizer } from "../data/index.js";
import {
  float32ToFloat16,
  jsonFile,
  type ModelFile,
  type ParamStore,
  type SafeTensor,
  writeModelFolder,
} from "../runtime/index.js";
import { glm4moeRefusal, glm4moeShape, glm4moeTensors } from "./glm4moe.js";
import { type MoeLmConfig, moeLayerIndices, routerBiasName } from "./moeLm.js";

export const HF_DTYPES = ["float32", "float16"] as const;
export type HfExportDtype = (typeof HF_DTYPES)[number];

export interface HfExportOptions {
  /** Weights' dtype (torch's name, as config.json's torch_dtype says it). Default float32: exact. */
  dtype?: HfExportDtype;
  /** The model folder the files came from: its chat template and generation_config.json go along. */
  source?: string;
}

export interface HfExportReport {
  dir: string;
  /** Tensors in model.safetensors. */
  tensors: number;
  /** Size of model.safetensors. */
  bytes: number;
  /** Zero experts added per MoE block to even out the groups. */
  paddedExperts: number;
  /** What a reader should know about this export, one line each (may be empty). */
  notes: string[];
}

/** Why a model cannot be written as a Glm4MoeForCausalLM folder (null: it can). */
export function moeLmHfRefusal(cfg: MoeLmConfig): string | null {
  const glm = glm4moeRefusal(cfg);
  if (glm) return glm;
  if (cfg.moe.scoreFunc !== "sigmoid")
    return "its router scores with softmax, and Glm4MoeForCausalLM's router always scores with sigmoid (export it as GGUF, which can say softmax)";
  if (cfg.moe.sharedExperts === 0)
    return "it has no shared experts, and Glm4MoeForCausalLM always runs n_shared_experts >= 1 of them";
  return null;
}

/** config.json: transformers' Glm4MoeConfig, with GLM-4.5's own config.json as the model. */
function hfConfig(cfg: MoeLmConfig, tokenizer: BpeTokenizer, dtype: HfExportDtype): Record<string, unknown> {
  const s = glm4moeShape(cfg);
  return {
    architectures: ["Glm4MoeForCausalLM"],
    model_type: "glm4_moe",
    vocab_size: s.vocab,
    hidden_size: s.dim,
    intermediate_size: s.denseHidden,
    moe_intermediate_size: s.expertHidden,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    num_key_value_heads: s.heads,
    head_dim: s.headDim,
    partial_rotary_factor: 1.0,
    max_position_embeddings: s.maxSeq,
    rms_norm_eps: s.normEps,
    rope_theta: s.ropeTheta,
    rope_scaling: null,
    attention_bias: true,
    attention_dropout: 0.0,
    hidden_act: "silu",
    n_routed_experts: s.experts,
    n_shared_experts: s.sharedExperts,
    num_experts_per_tok: s.topK,
    n_group: s.groups,
    topk_group: s.topkGroups,
    routed_scaling_factor: s.routedScaling,
    norm_topk_prob: true,
    first_k_dense_replace: s.denseLayers,
    use_qk_norm: false,
    num_nextn_predict_layers: 0,
    tie_word_embeddings: s.tieEmbeddings,
    ...specialTokenIds(tokenizer),
    use_cache: true,
    torch_dtype: dtype,
  };
}

function specialTokenIds(tokenizer: BpeTokenizer): Record<string, number> {
  const ids: Record<string, number> = {};
  for (const [key, token] of [
    ["bos_token_id", "<|bos|>"],
    ["eos_token_id", "<|eos|>"],
    ["pad_token_id", "<|pad|>"],
  ] as const) {
    const id = tokenizer.idOf(token);
    if (id !== undefined) ids[key] = id;
  }
  return ids;
}

/** A JSON object file of the source folder, or undefined when it has none. */
function sourceJson(source: string | undefined, name: string): Record<string, unknown> | undefined {
  if (!source) return undefined;
  const path = join(source, name);
  if (!existsSync(path)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new Error(`${path} is not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new Error(`${path}: expected a JSON object`);
  return json as Record<string, unknown>;
}

/**
 * MoE blocks where transformers' router could pick a dropped-group or padding expert: its
 * worst `topkGroups` groups hold fewer than top-k experts whose selection bias is >= 0 (an
 * expert with bias >= 0 always scores above the 0.0 transformers gives dropped experts).
 */
function zeroMaskNotes(cfg: MoeLmConfig, store: ParamStore): string[] {
  if (cfg.moe.topkGroups >= cfg.moe.groups.length) return []; // no group is ever dropped
  const notes: string[] = [];
  for (const layer of moeLayerIndices(cfg)) {
    const bias = store.get(routerBiasName(layer)).data;
    let first = 0;
    const safe = cfg.moe.groups.map((g) => {
      let n = 0;
      for (let j = first; j < first + g.size; j++) if (bias[j] >= 0) n++;
      first += g.size;
      return n;
    });
    const worst = safe
      .sort((a, b) => a - b)
      .slice(0, cfg.moe.topkGroups)
      .reduce((a, b) => a + b, 0);
    if (worst < cfg.moe.topK)
      notes.push(
        `block ${layer}: its worst ${cfg.moe.topkGroups} groups hold ${worst} experts with a selection bias >= 0, fewer than top-${cfg.moe.topK}: transformers' router, which gives dropped groups 0.0 rather than -inf, may route some tokens differently (vLLM and llama.cpp do not)`,
      );
  }
  return notes;
}

/**
 * Write a MoE LM as a Hugging Face Glm4MoeForCausalLM folder (atomically: a complete folder
 * or the old one at `dir`, never half of one). Refuses what Glm4MoeForCausalLM cannot run
 * exactly (see moeLmHfRefusal).
 */
export async function saveMoeLmHf(
  files: { config: { model: MoeLmConfig }; store: ParamStore; tokenizer: BpeTokenizer },
  dir: string,
  options: HfExportOptions = {},
): Promise<HfExportReport> {
  const cfg = files.config.model;
  const refusal = moeLmHfRefusal(cfg);
  if (refusal) throw new Error(`cannot export this model as Glm4MoeForCausalLM: ${refusal}`);
  const dtype = options.dtype ?? "float32";
  if (!HF_DTYPES.includes(dtype)) throw new Error(`dtype must be one of ${HF_DTYPES.join(", ")}, got ${String(dtype)}`);
  if (files.tokenizer.vocabSize !== cfg.vocab)
    throw new Error(`the tokenizer has ${files.tokenizer.vocabSize} tokens but the model's vocab is ${cfg.vocab}`);

  const store = (data: Float32Array, shape: number[], keepF32: boolean): SafeTensor =>
    dtype === "float16" && !keepF32 ? { dtype: "F16", shape, data: float32ToFloat16(data) } : { dtype: "F32", shape, data };
  const tensors: Record<string, SafeTensor> = {};
  for (const t of glm4moeTensors(cfg, files.store)) {
    const keepF32 = t.role === "router" || t.gguf.endsWith(".exp_probs_b.bias");
    if (t.hf.length === 1) {
      tensors[t.hf[0]] = store(t.data, [...t.dims].reverse(), keepF32); // ggml {in, out} -> [out, in]
      continue;
    }
    // Stacked experts: ggml {in, out, E}, expert j's [out, in] matrix at slice j.
    const [inDim, outDim] = t.dims;
    const size = inDim * outDim;
    t.hf.forEach((name, j) => {
      tensors[name] = store(t.data.subarray(j * size, (j + 1) * size), [outDim, inDim], keepF32);
    });
  }
  if (cfg.tieEmbeddings) {
    // vLLM's Glm4MoeForCausalLM loads lm_head from the file even for tied models (see the header).
    const embed = tensors["model.embed_tokens.weight"];
    tensors["lm_head.weight"] = { ...embed };
  }

  const tokenizerConfig: Record<string, unknown> = { ...files.tokenizer.toHuggingFaceConfig() };
  const chatTemplate = sourceJson(options.source, "tokenizer_config.json")?.chat_template;
  if (typeof chatTemplate === "string") tokenizerConfig.chat_template = chatTemplate;
  const folder: Record<string, ModelFile> = {
    "config.json": jsonFile(hfConfig(cfg, files.tokenizer, dtype)),
    "model.safetensors": { tensors, metadata: { format: "pt" } },
    "tokenizer.json": (path) => files.tokenizer.save(path),
    "tokenizer_config.json": jsonFile(tokenizerConfig),
  };
  const generation = sourceJson(options.source, "generation_config.json");
  if (generation) {
    // transformers' generate() stops at generation_config's eos_token_id, and samples only with do_sample.
    const sampled = typeof generation.temperature === "number" && generation.temperature > 0;
    folder["generation_config.json"] = jsonFile({
      ...(sampled ? { do_sample: true } : {}),
      ...generation,
      ...specialTokenIds(files.tokenizer),
    });
  }
  await writeModelFolder(dir, folder);

  const shape = glm4moeShape(cfg);
  const notes = zeroMaskNotes(cfg, files.store);
  if (shape.paddedExperts > 0)
    notes.unshift(
      `expert groups evened out with ${shape.paddedExperts} zero experts per MoE block (n_routed_experts ${shape.experts}), never chosen`,
    );
  return {
    dir,
    tensors: Object.keys(tensors).length,
    bytes: statSync(join(dir, "model.safetensors")).size,
    paddedExperts: shape.paddedExperts,
    notes,
  };
}
