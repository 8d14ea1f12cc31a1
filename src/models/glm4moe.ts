// The MoE LM in the shape of GLM-4.5's MoE (`glm4moe` in llama.cpp, `Glm4MoeForCausalLM` in
// transformers): the architecture other engines already run that expresses ours exactly —
// pre-norm blocks with separate q/k/v/o projections (GLM adds q/k/v biases: zeros here),
// NEOX-style rotary over the whole head, leading dense SwiGLU blocks, then a sigmoid or softmax
// router with DeepSeek-V3's selection bias, group-limited routing (group score = sum of its
// top-2), top-k routed SwiGLU experts renormalised and scaled, and shared experts.
//
// Two things it cannot say, handled here:
// - groups must have equal sizes: ours may not (text 64, image 32, code 32). Every group is
//   padded to the largest with experts that can never win (router row 0, selection bias
//   -1e9, weights 0): with sigmoid scores that is exact, since selection and the group scores
//   only ever see real experts and the weights are renormalised over the chosen ones. Softmax
//   scores would change (the padded logits enter the denominator), so that is refused.
// - per-token domain hints and image prefixes have no equivalent: multimodal models are
//   refused; domain hints are a runtime option our engine alone offers.
//
// Each tensor comes out row-major with its ggml dims (ne[0] contiguous first) and both names,
// so the GGUF writer and the Hugging Face writer share one mapping.

import { type BpeTokenizer, byteLevelChar } from "../data/index.js";
import type { ParamStore } from "../runtime/index.js";
import { type MoeLmConfig, moeLayerIndices, routerBiasName } from "./moeLm.js";

/** The hyperparameters of the glm4moe form. */
export interface Glm4MoeShape {
  vocab: number;
  maxSeq: number;
  dim: number;
  heads: number;
  headDim: number;
  layers: number;
  denseLayers: number;
  denseHidden: number;
  /** Routed experts after padding (groups × groupSize). */
  experts: number;
  groups: number;
  groupSize: number;
  topK: number;
  topkGroups: number;
  expertHidden: number;
  sharedExperts: number;
  scoreFunc: "sigmoid" | "softmax";
  routedScaling: number;
  ropeTheta: number;
  normEps: number;
  tieEmbeddings: boolean;
  /** Zero experts added to even out the groups (0 when they already are). */
  paddedExperts: number;
}

/**
 * One tensor of the glm4moe form: values row-major, ggml dims (ne[0] contiguous first).
 * `role` says how a quantizing writer may store it: matrices may be quantized, the router
 * and vectors stay float32, the embedding is what a tied model also reads out with.
 */
export interface Glm4MoeTensor {
  gguf: string;
  /** Hugging Face names: one, or one per expert for the stacked expert tensors. */
  hf: string[];
  dims: number[];
  data: Float32Array;
  role: "matrix" | "vector" | "router" | "embedding" | "output";
}

/** Selection bias of padded experts: far below any real score + bias, finite so sums stay finite. */
export const PADDED_EXPERT_BIAS = -1e9;

/** Why a model cannot be written as glm4moe (null: it can). */
export function glm4moeRefusal(cfg: MoeLmConfig): string | null {
  if (cfg.image) return "the model has an image prefix (multimodal): glm4moe has no input for image features";
  const sizes = cfg.moe.groups.map((g) => g.size);
  const even = sizes.every((s) => s === sizes[0]);
  if (!even && cfg.moe.scoreFunc === "softmax")
    return `expert groups of sizes ${sizes.join("/")} need padding, which changes softmax router scores (padding is exact only for sigmoid scores)`;
  const smallest = [...sizes].sort((a, b) => a - b).slice(0, cfg.moe.topkGroups);
  if (smallest.reduce((a, b) => a + b, 0) < cfg.moe.topK)
    return `top-${cfg.moe.topK} can exceed the real experts of ${cfg.moe.topkGroups} kept groups`;
  return null;
}

export function glm4moeShape(cfg: MoeLmConfig): Glm4MoeShape {
  const refusal = glm4moeRefusal(cfg);
  if (refusal) throw new Error(`cannot express this model as glm4moe: ${refusal}`);
  const groupSize = Math.max(...cfg.moe.groups.map((g) => g.size));
  const experts = groupSize * cfg.moe.groups.length;
  return {
    vocab: cfg.vocab,
    maxSeq: cfg.maxSeq,
    dim: cfg.dim,
    heads: cfg.heads,
    headDim: cfg.dim / cfg.heads,
    layers: cfg.layers,
    denseLayers: cfg.denseLayers,
    denseHidden: cfg.denseHidden,
    experts,
    groups: cfg.moe.groups.length,
    groupSize,
    topK: cfg.moe.topK,
    topkGroups: cfg.moe.topkGroups,
    expertHidden: cfg.moe.expertHidden,
    sharedExperts: cfg.moe.sharedExperts,
    scoreFunc: cfg.moe.scoreFunc,
    routedScaling: cfg.moe.routedScaling,
    ropeTheta: cfg.ropeTheta,
    normEps: cfg.normEps,
    tieEmbeddings: cfg.tieEmbeddings,
    paddedExperts: experts - cfg.moe.experts,
  };
}

/** For each padded expert slot, our expert index, or -1 for a padding expert. */
export function paddedExpertMap(cfg: MoeLmConfig): number[] {
  const groupSize = Math.max(...cfg.moe.groups.map((g) => g.size));
  const map: number[] = [];
  let first = 0;
  for (const g of cfg.moe.groups) {
    for (let j = 0; j < groupSize; j++) map.push(j < g.size ? first + j : -1);
    first += g.size;
  }
  return map;
}

/** A row-major [rows, cols] matrix transposed to [cols, rows]. */
function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c];
  return out;
}

/**
 * Every tensor of the glm4moe form, in llama.cpp's order (embedding, blocks, final norm,
 * output). Our linears are stored [in, out]; GGUF and transformers want [out, in].
 */
export function glm4moeTensors(cfg: MoeLmConfig, store: ParamStore): Glm4MoeTensor[] {
  const shape = glm4moeShape(cfg);
  const { dim: c, expertHidden: h } = shape;
  const out: Glm4MoeTensor[] = [];
  const get = (name: string) => store.get(name);
  /** A linear [in, out] as ggml {in, out} (row-major [out, in]). */
  const linear = (gguf: string, hf: string, name: string) => {
    const { shape: s, data } = get(name);
    out.push({ gguf, hf: [hf], dims: [s[0], s[1]], data: transpose(data, s[0], s[1]), role: "matrix" });
  };
  const vector = (gguf: string, hf: string, data: Float32Array) =>
    out.push({ gguf, hf: [hf], dims: [data.length], data, role: "vector" });

  out.push({
    gguf: "token_embd.weight",
    hf: ["model.embed_tokens.weight"],
    dims: [c, cfg.vocab],
    data: get("model.embed_tokens.weight").data,
    role: "embedding",
  });
  const moeLayers = new Set(moeLayerIndices(cfg));
  const expertMap = paddedExpertMap(cfg);
  for (let i = 0; i < cfg.layers; i++) {
    const ours = `model.layers.${i}`;
    const blk = `blk.${i}`;
    vector(`${blk}.attn_norm.weight`, `${ours}.input_layernorm.weight`, get(`${ours}.input_layernorm.weight`).data);
    for (const [g, p] of [
      ["attn_q", "q_proj"],
      ["attn_k", "k_proj"],
      ["attn_v", "v_proj"],
    ]) {
      linear(`${blk}.${g}.weight`, `${ours}.self_attn.${p}.weight`, `${ours}.self_attn.${p}.weight`);
      vector(`${blk}.${g}.bias`, `${ours}.self_attn.${p}.bias`, new Float32Array(c)); // GLM's biases; ours has none
    }
    linear(`${blk}.attn_output.weight`, `${ours}.self_attn.o_proj.weight`, `${ours}.self_attn.o_proj.weight`);
    vector(
      `${blk}.post_attention_norm.weight`,
      `${ours}.post_attention_layernorm.weight`,
      get(`${ours}.post_attention_layernorm.weight`).data,
    );
    if (!moeLayers.has(i)) {
      for (const [g, p] of [
        ["ffn_gate", "gate_proj"],
        ["ffn_up", "up_proj"],
        ["ffn_down", "down_proj"],
      ])
        linear(`${blk}.${g}.weight`, `${ours}.mlp.${p}.weight`, `${ours}.mlp.${p}.weight`);
      continue;
    }
    // Router: ours [C, E] -> rows per padded expert [E', C]; padded rows 0, their bias -1e9.
    const router = get(`${ours}.mlp.gate.weight`).data;
    const bias = get(routerBiasName(i)).data;
    const e = cfg.moe.experts;
    const routerRows = new Float32Array(shape.experts * c);
    const selectionBias = new Float32Array(shape.experts);
    expertMap.forEach((ourExpert, slot) => {
      if (ourExpert < 0) {
        selectionBias[slot] = PADDED_EXPERT_BIAS;
        return;
      }
      for (let k = 0; k < c; k++) routerRows[slot * c + k] = router[k * e + ourExpert];
      selectionBias[slot] = bias[ourExpert];
    });
    out.push({
      gguf: `${blk}.ffn_gate_inp.weight`,
      hf: [`${ours}.mlp.gate.weight`],
      dims: [c, shape.experts],
      data: routerRows,
      role: "router",
    });
    out.push({
      gguf: `${blk}.exp_probs_b.bias`,
      hf: [`${ours}.mlp.gate.e_score_correction_bias`],
      dims: [shape.experts],
      data: selectionBias,
      role: "vector",
    });
    // Experts: ours gateUp [E, 2H, C] with gate/up rows interleaved, down [E, C, H].
    const gateUp = get(`${ours}.mlp.experts.gate_up_proj`).data;
    const down = get(`${ours}.mlp.experts.down_proj`).data;
    const gate = new Float32Array(shape.experts * h * c);
    const up = new Float32Array(shape.experts * h * c);
    const downOut = new Float32Array(shape.experts * c * h);
    expertMap.forEach((ourExpert, slot) => {
      if (ourExpert < 0) return;
      for (let j = 0; j < h; j++) {
        const row = (ourExpert * 2 * h + 2 * j) * c;
        gate.set(gateUp.subarray(row, row + c), (slot * h + j) * c);
        up.set(gateUp.subarray(row + c, row + 2 * c), (slot * h + j) * c);
      }
      downOut.set(down.subarray(ourExpert * c * h, (ourExpert + 1) * c * h), slot * c * h);
    });
    const perExpert = (p: string) => expertMap.map((_, slot) => `${ours}.mlp.experts.${slot}.${p}.weight`);
    const stacked = (g: string, p: string, dims: number[], data: Float32Array) =>
      out.push({ gguf: `${blk}.${g}.weight`, hf: perExpert(p), dims, data, role: "matrix" });
    stacked("ffn_gate_exps", "gate_proj", [c, h, shape.experts], gate);
    stacked("ffn_down_exps", "down_proj", [h, c, shape.experts], downOut);
    stacked("ffn_up_exps", "up_proj", [c, h, shape.experts], up);
    if (cfg.moe.sharedExperts > 0) {
      for (const [g, p] of [
        ["ffn_gate_shexp", "gate_proj"],
        ["ffn_down_shexp", "down_proj"],
        ["ffn_up_shexp", "up_proj"],
      ])
        linear(`${blk}.${g}.weight`, `${ours}.mlp.shared_experts.${p}.weight`, `${ours}.mlp.shared_experts.${p}.weight`);
    }
  }
  vector("output_norm.weight", "model.norm.weight", get("model.norm.weight").data);
  if (!cfg.tieEmbeddings) {
    const { data } = get("lm_head.weight"); // [C, V]
    out.push({
      gguf: "output.weight",
      hf: ["lm_head.weight"],
      dims: [c, cfg.vocab],
      data: transpose(data, c, cfg.vocab),
      role: "output",
    });
  }
  return out;
}

/** The tokenizer as GGUF's `gpt2`-style vocabulary: tokens in id order, their types, merges. */
export interface GgufVocab {
  tokens: string[];
  /** llama.cpp token types: 1 normal, 3 control (special tokens). */
  types: number[];
  merges: string[];
  bos?: number;
  eos?: number;
  pad?: number;
}

export function ggufVocab(tokenizer: BpeTokenizer): GgufVocab {
  const json = tokenizer.toHuggingFaceJson();
  const tokens: string[] = new Array(tokenizer.vocabSize);
  for (const [token, id] of Object.entries(json.model.vocab)) tokens[id as number] = token;
  const types = tokens.map((_, id) => (tokenizer.isSpecial(id) ? 3 : 1));
  const merges = json.model.merges.map((m) => (Array.isArray(m) ? m.join(" ") : m));
  return {
    tokens,
    types,
    merges,
    bos: tokenizer.idOf("<|bos|>"),
    eos: tokenizer.idOf("<|eos|>"),
    pad: tokenizer.idOf("<|pad|>"),
  };
}

/**
 * A stand-in vocabulary for untrained models of a preset's shape (speed runs): the 256 byte
 * tokens, then numbered control tokens up to the vocabulary size, no merges.
 */
export function placeholderVocab(vocab: number): GgufVocab {
  const tokens: string[] = [];
  const types: number[] = [];
  for (let b = 0; b < 256 && tokens.length < vocab; b++) {
    tokens.push(byteLevelChar(b));
    types.push(1);
  }
  while (tokens.length < vocab) {
    tokens.push(`<|reserved_${tokens.length}|>`);
    types.push(3);
  }
  return { tokens, types, merges: [] };
}
