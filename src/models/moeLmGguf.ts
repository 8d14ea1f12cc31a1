// The MoE LM as a GGUF file of llama.cpp's `glm4moe` architecture (see ./glm4moe.ts for the
// mapping): hyperparameters and the tokenizer as metadata, tensors as F32, F16, Q8_0 or Q4_0.
//
// Storage by tensor role, as llama.cpp's own quantizer does it:
//   vectors (norms, biases) and the router: F32 always (ggml reads norms as F32; the router's
//   few weights decide which experts run);
//   matrices: the requested type;
//   the token embedding (which tied models also read out with): the requested type, except
//   Q4_0 files keep it at Q8_0 (llama.cpp keeps the output tensor above 4 bits too).
// A matrix whose rows are not a multiple of 32 cannot be block-quantized: it stays F16.

import { statSync } from "node:fs";
import type { BpeTokenizer } from "../data/index.js";
import { type GgmlType, type GgufValue, gguf, type ParamStore, writeGguf } from "../runtime/index.js";
import { type GgufVocab, ggufVocab, glm4moeShape, glm4moeTensors, placeholderVocab } from "./glm4moe.js";
import type { MoeLmConfig } from "./moeLm.js";

export const GGUF_TYPES = ["f32", "f16", "q8_0", "q4_0"] as const;
export type GgufExportType = (typeof GGUF_TYPES)[number];

const GGML_OF: Record<GgufExportType, GgmlType> = { f32: "F32", f16: "F16", q8_0: "Q8_0", q4_0: "Q4_0" };
/** llama.cpp's general.file_type numbers (LLAMA_FTYPE_*). */
const FILE_TYPE: Record<GgufExportType, number> = { f32: 0, f16: 1, q4_0: 2, q8_0: 7 };

export interface GgufExportReport {
  path: string;
  tensors: number;
  bytes: number;
  paddedExperts: number;
  /** Tensors stored in another type than asked, with why. */
  kept: string[];
}

/** The glm4moe metadata of a model (architecture keys, then the tokenizer). */
function metadata(
  cfg: MoeLmConfig,
  vocab: GgufVocab,
  type: GgufExportType,
  name: string,
  chatTemplate?: string,
): [string, GgufValue][] {
  const s = glm4moeShape(cfg);
  const a = "glm4moe";
  const entries: [string, GgufValue][] = [
    ["general.architecture", gguf.str(a)],
    ["general.name", gguf.str(name)],
    ["general.file_type", gguf.u32(FILE_TYPE[type])],
    ["general.quantization_version", gguf.u32(2)],
    ["general.alignment", gguf.u32(32)],
    [`${a}.vocab_size`, gguf.u32(s.vocab)],
    [`${a}.context_length`, gguf.u32(s.maxSeq)],
    [`${a}.embedding_length`, gguf.u32(s.dim)],
    [`${a}.block_count`, gguf.u32(s.layers)],
    [`${a}.feed_forward_length`, gguf.u32(s.denseHidden)],
    [`${a}.attention.head_count`, gguf.u32(s.heads)],
    [`${a}.attention.head_count_kv`, gguf.u32(s.heads)],
    [`${a}.attention.key_length`, gguf.u32(s.headDim)],
    [`${a}.attention.value_length`, gguf.u32(s.headDim)],
    [`${a}.attention.layer_norm_rms_epsilon`, gguf.f32(s.normEps)],
    [`${a}.rope.dimension_count`, gguf.u32(s.headDim)],
    [`${a}.rope.freq_base`, gguf.f32(s.ropeTheta)],
    [`${a}.leading_dense_block_count`, gguf.u32(s.denseLayers)],
    [`${a}.expert_count`, gguf.u32(s.experts)],
    [`${a}.expert_used_count`, gguf.u32(s.topK)],
    [`${a}.expert_feed_forward_length`, gguf.u32(s.expertHidden)],
    [`${a}.expert_shared_count`, gguf.u32(s.sharedExperts)],
    [`${a}.expert_group_count`, gguf.u32(s.groups)],
    [`${a}.expert_group_used_count`, gguf.u32(s.topkGroups)],
    [`${a}.expert_weights_scale`, gguf.f32(s.routedScaling)],
    [`${a}.expert_weights_norm`, gguf.bool(s.scoreFunc === "sigmoid")],
    [`${a}.expert_gating_func`, gguf.u32(s.scoreFunc === "softmax" ? 1 : 2)],
    [`${a}.nextn_predict_layers`, gguf.u32(0)],
    ["tokenizer.ggml.model", gguf.str("gpt2")],
    // llama.cpp's "smaug-bpe" splits with Llama 3's pattern (ours, see src/data/bpe.ts) and,
    // unlike "llama-bpe", applies the merges to every piece, as our tokenizer does.
    ["tokenizer.ggml.pre", gguf.str("smaug-bpe")],
    ["tokenizer.ggml.tokens", gguf.strings(vocab.tokens)],
    ["tokenizer.ggml.token_type", gguf.i32s(vocab.types)],
    ["tokenizer.ggml.merges", gguf.strings(vocab.merges)],
    ["tokenizer.ggml.add_bos_token", gguf.bool(false)],
    ["tokenizer.ggml.add_eos_token", gguf.bool(false)],
  ];
  if (vocab.bos !== undefined) entries.push(["tokenizer.ggml.bos_token_id", gguf.u32(vocab.bos)]);
  // The end of a turn is our eos too (llama.cpp stops generating at end-of-generation tokens).
  if (vocab.eos !== undefined)
    entries.push(["tokenizer.ggml.eos_token_id", gguf.u32(vocab.eos)], ["tokenizer.ggml.eot_token_id", gguf.u32(vocab.eos)]);
  if (vocab.pad !== undefined) entries.push(["tokenizer.ggml.padding_token_id", gguf.u32(vocab.pad)]);
  if (chatTemplate) entries.push(["tokenizer.chat_template", gguf.str(chatTemplate)]);
  return entries;
}

/** Which type a tensor of this role and row length is stored as in a file of `type`. */
function storedType(role: string, rowLength: number, type: GgufExportType): { stored: GgmlType; why?: string } {
  if (role === "vector" || role === "router") return { stored: "F32" };
  let stored = GGML_OF[type];
  let why: string | undefined;
  if (type === "q4_0" && (role === "embedding" || role === "output")) {
    stored = "Q8_0";
    why = "kept at Q8_0: it is also the output projection";
  }
  if ((stored === "Q8_0" || stored === "Q4_0") && rowLength % 32 !== 0) {
    stored = "F16";
    why = `kept at F16: rows of ${rowLength} are not a multiple of 32`;
  }
  return { stored, why };
}

/**
 * Write a MoE LM as a glm4moe GGUF file. Without a tokenizer (untrained models of a preset's
 * shape, for speed runs) the file gets a placeholder vocabulary.
 */
export function writeMoeLmGguf(
  model: { cfg: MoeLmConfig; store: ParamStore; tokenizer?: BpeTokenizer; chatTemplate?: string; name?: string },
  path: string,
  options: { type: GgufExportType },
): GgufExportReport {
  const { cfg, store, tokenizer } = model;
  const shape = glm4moeShape(cfg);
  const vocab = tokenizer ? ggufVocab(tokenizer) : placeholderVocab(cfg.vocab);
  if (vocab.tokens.length !== cfg.vocab)
    throw new Error(`the tokenizer has ${vocab.tokens.length} tokens but the model's vocab is ${cfg.vocab}`);
  const kept: string[] = [];
  const tensors = glm4moeTensors(cfg, store).map((t) => {
    const { stored, why } = storedType(t.role, t.dims[0], options.type);
    if (why) kept.push(`${t.gguf}: ${why}`);
    return { name: t.gguf, dims: t.dims, type: stored, data: t.data };
  });
  writeGguf(path, metadata(cfg, vocab, options.type, model.name ?? "aigc-moe-lm", model.chatTemplate), tensors);
  const { size } = statSync(path);
  return { path, tensors: tensors.length, bytes: size, paddedExperts: shape.paddedExperts, kept };
}
