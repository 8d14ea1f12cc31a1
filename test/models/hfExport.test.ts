// `saveMoeLmHf` writes the same weights as the GGUF export, under the names transformers'
// Glm4MoeForCausalLM uses: every Hugging Face tensor name, put through llama.cpp's own
// HF → GGUF name table, gives exactly the GGUF file's tensors, with equal values (both F32, so
// exactly equal), and config.json says what the GGUF metadata says. This is how the HF folder
// is checked here: vLLM and SGLang need a GPU and Python, which this machine has neither of.
//
// The name table is transcribed from ggml-org/llama.cpp:
//   gguf-py/gguf/tensor_mapping.py  TensorNameMap: the HF names of each MODEL_TENSOR (only
//                                   the entries Glm4Moe's tensors use), looked up as is, then
//                                   with ".weight" or ".bias" cut off and put back on the GGUF
//                                   name (get_type_and_name's try_suffixes, which
//                                   convert_hf_to_gguf.py's map_tensor_name passes);
//   gguf-py/gguf/constants.py       TENSOR_NAMES: the GGUF name of each MODEL_TENSOR, and
//                                   MODEL_TENSORS[GLM4_MOE]: which MODEL_TENSORs the map holds
//                                   for glm4moe (ATTN_POST_NORM, not FFN_NORM, which also lists
//                                   "model.layers.{bid}.post_attention_layernorm");
//   convert_hf_to_gguf.py           first renames "e_score_correction_bias" to
//                                   "e_score_correction.bias" (ModelBase.filter_tensors; in
//                                   older trees Glm4MoeModel.modify_tensors), so the ".bias"
//                                   suffix rule gives blk.N.exp_probs_b.bias; then
//                                   Glm4MoeModel.modify_tensors stacks the per-expert tensors
//                                   of a block in expert order (torch.stack, dim 0) into
//                                   "model.layers.{bid}.mlp.experts.{gate,up,down}_proj.weight"
//                                   before the table maps them.
// GGUF dims are the torch shape reversed (ne[0] the contiguous one).

import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  loadMoeLm,
  MoeLmConfig,
  type MoeLmFiles,
  moeLmHfRefusal,
  moeLmInferenceGraph,
  saveMoeLmHf,
  writeMoeLmGguf,
} from "../../src/models/index.js";
import { defaultMoeConfig } from "../../src/nn/index.js";
import { type GgufValue, ParamStore, readGgufHeader, readGgufTensor, readSafetensors } from "../../src/runtime/index.js";

/** tensor_mapping.py: HF name (block names with "{bid}") → TENSOR_NAMES' GGUF name, for glm4moe. */
const HF_TO_GGUF: readonly [hf: string, gguf: string][] = [
  ["model.embed_tokens", "token_embd"], // TOKEN_EMBD
  ["model.norm", "output_norm"], // OUTPUT_NORM
  ["lm_head", "output"], // OUTPUT
  ["model.layers.{bid}.input_layernorm", "blk.{bid}.attn_norm"], // ATTN_NORM
  ["model.layers.{bid}.self_attn.q_proj", "blk.{bid}.attn_q"], // ATTN_Q
  ["model.layers.{bid}.self_attn.k_proj", "blk.{bid}.attn_k"], // ATTN_K
  ["model.layers.{bid}.self_attn.v_proj", "blk.{bid}.attn_v"], // ATTN_V
  ["model.layers.{bid}.self_attn.o_proj", "blk.{bid}.attn_output"], // ATTN_OUT
  ["model.layers.{bid}.post_attention_layernorm", "blk.{bid}.post_attention_norm"], // ATTN_POST_NORM
  ["model.layers.{bid}.mlp.gate_proj", "blk.{bid}.ffn_gate"], // FFN_GATE
  ["model.layers.{bid}.mlp.up_proj", "blk.{bid}.ffn_up"], // FFN_UP
  ["model.layers.{bid}.mlp.down_proj", "blk.{bid}.ffn_down"], // FFN_DOWN
  ["model.layers.{bid}.mlp.gate", "blk.{bid}.ffn_gate_inp"], // FFN_GATE_INP
  ["model.layers.{bid}.mlp.gate.e_score_correction", "blk.{bid}.exp_probs_b"], // FFN_EXP_PROBS_B
  ["model.layers.{bid}.mlp.experts.gate_proj", "blk.{bid}.ffn_gate_exps"], // FFN_GATE_EXP (merged)
  ["model.layers.{bid}.mlp.experts.up_proj", "blk.{bid}.ffn_up_exps"], // FFN_UP_EXP (merged)
  ["model.layers.{bid}.mlp.experts.down_proj", "blk.{bid}.ffn_down_exps"], // FFN_DOWN_EXP (merged)
  ["model.layers.{bid}.mlp.shared_experts.gate_proj", "blk.{bid}.ffn_gate_shexp"], // FFN_GATE_SHEXP
  ["model.layers.{bid}.mlp.shared_experts.up_proj", "blk.{bid}.ffn_up_shexp"], // FFN_UP_SHEXP
  ["model.layers.{bid}.mlp.shared_experts.down_proj", "blk.{bid}.ffn_down_shexp"], // FFN_DOWN_SHEXP
];

/** TensorNameMap(glm4moe, blocks).get_name(name, try_suffixes=(".weight", ".bias")). */
function tensorNameMap(blocks: number): (name: string) => string | undefined {
  const mapping = new Map<string, string>();
  for (const [hf, gguf] of HF_TO_GGUF) {
    if (!hf.includes("{bid}")) mapping.set(hf, gguf);
    else for (let bid = 0; bid < blocks; bid++) mapping.set(hf.replaceAll("{bid}", `${bid}`), gguf.replaceAll("{bid}", `${bid}`));
  }
  return (name) => {
    const exact = mapping.get(name);
    if (exact !== undefined) return exact;
    for (const suffix of [".weight", ".bias"]) {
      const base = name.endsWith(suffix) ? mapping.get(name.slice(0, -suffix.length)) : undefined;
      if (base !== undefined) return base + suffix;
    }
    return undefined;
  };
}

interface Mapped {
  dims: number[];
  data: Float32Array;
  from: string;
}

/** The HF tensors as convert_hf_to_gguf.py's Glm4MoeModel would write them: GGUF name → dims, values. */
async function convertHfToGguf(hfDir: string, nRoutedExperts: number, blocks: number): Promise<Map<string, Mapped>> {
  const { tensors } = await readSafetensors(join(hfDir, "model.safetensors"));
  const getName = tensorNameMap(blocks);
  const out = new Map<string, Mapped>();
  const put = (name: string, shape: number[], data: Float32Array) => {
    const gguf = getName(name);
    assert.ok(gguf, `llama.cpp's table has no GGUF name for ${name}`);
    assert.ok(!out.has(gguf), `${gguf} comes from two HF tensors`);
    out.set(gguf, { dims: [...shape].reverse(), data, from: name });
  };
  const experts = new Map<string, Map<number, { shape: number[]; data: Float32Array }>>();
  for (const [hfName, t] of Object.entries(tensors)) {
    assert.equal(t.dtype, "F32", `${hfName} is ${t.dtype}, the float32 export should be F32`);
    const name = hfName.endsWith("e_score_correction_bias")
      ? hfName.replace("e_score_correction_bias", "e_score_correction.bias")
      : hfName;
    const expert = /^model\.layers\.(\d+)\.mlp\.experts\.(\d+)\.(gate_proj|up_proj|down_proj)\.weight$/.exec(name);
    if (!expert) {
      put(name, t.shape, t.data as Float32Array);
      continue;
    }
    const merged = `model.layers.${expert[1]}.mlp.experts.${expert[3]}.weight`;
    const byIndex = experts.get(merged) ?? new Map();
    byIndex.set(Number(expert[2]), { shape: t.shape, data: t.data as Float32Array });
    experts.set(merged, byIndex);
  }
  for (const [merged, byIndex] of experts) {
    assert.equal(byIndex.size, nRoutedExperts, `${merged}: ${byIndex.size} experts, n_routed_experts is ${nRoutedExperts}`);
    const first = byIndex.get(0);
    assert.ok(first, `${merged}: no expert 0`);
    const size = first.data.length;
    const stacked = new Float32Array(nRoutedExperts * size);
    for (let xid = 0; xid < nRoutedExperts; xid++) {
      const e = byIndex.get(xid);
      assert.ok(e, `${merged}: no expert ${xid}`);
      assert.deepEqual(e.shape, first.shape);
      stacked.set(e.data, xid * size); // torch.stack(datas, dim=0): [E, out, in]
    }
    put(merged, [nRoutedExperts, ...first.shape], stacked);
  }
  return out;
}

function firstDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

/** The exported tensors against the GGUF file's: same set, same dims, equal values. */
async function assertSameTensors(hfDir: string, ggufPath: string, tied: boolean): Promise<void> {
  const header = readGgufHeader(ggufPath);
  const config = JSON.parse(await readFile(join(hfDir, "config.json"), "utf8"));
  const mapped = await convertHfToGguf(hfDir, config.n_routed_experts, config.num_hidden_layers);
  const ggufNames = header.tensors.map((t) => t.name).sort();
  // A tied model also carries lm_head.weight (vLLM's Glm4MoeForCausalLM reads it); the GGUF
  // leaves output.weight out, and llama.cpp reads token_embd in its place.
  const expected = tied ? [...ggufNames, "output.weight"].sort() : ggufNames;
  assert.deepEqual([...mapped.keys()].sort(), expected);
  for (const info of header.tensors) {
    const m = mapped.get(info.name);
    assert.ok(m);
    assert.equal(info.type, "F32", info.name);
    assert.deepEqual(m.dims, info.dims, `${info.name} (from ${m.from}): dims`);
    const at = firstDifference(m.data, readGgufTensor(ggufPath, info));
    assert.equal(at, -1, `${info.name} (from ${m.from}) differs from the GGUF tensor at element ${at}`);
  }
  if (tied) {
    const output = mapped.get("output.weight");
    const embd = mapped.get("token_embd.weight");
    assert.ok(output && embd);
    assert.deepEqual(output.dims, embd.dims);
    assert.equal(firstDifference(output.data, embd.data), -1, "lm_head.weight of a tied model is the embedding");
  }
}

const scalar = (v: GgufValue | undefined): number | boolean | string | undefined =>
  v && v.type !== "array" ? v.value : undefined;

/** config.json against the GGUF metadata (the hyperparameter each glm4moe key carries). */
async function assertSameHyperparameters(hfDir: string, ggufPath: string): Promise<void> {
  const c = JSON.parse(await readFile(join(hfDir, "config.json"), "utf8"));
  const { metadata } = readGgufHeader(ggufPath);
  const g = (key: string) => scalar(metadata.get(key));
  const f32 = Math.fround;
  assert.equal(c.architectures[0], "Glm4MoeForCausalLM");
  assert.equal(c.model_type, "glm4_moe");
  assert.equal(g("general.architecture"), "glm4moe");
  const pairs: [string, unknown, unknown][] = [
    ["vocab_size", c.vocab_size, g("glm4moe.vocab_size")],
    ["max_position_embeddings", c.max_position_embeddings, g("glm4moe.context_length")],
    ["hidden_size", c.hidden_size, g("glm4moe.embedding_length")],
    ["num_hidden_layers", c.num_hidden_layers, g("glm4moe.block_count")],
    ["intermediate_size", c.intermediate_size, g("glm4moe.feed_forward_length")],
    ["num_attention_heads", c.num_attention_heads, g("glm4moe.attention.head_count")],
    ["num_key_value_heads", c.num_key_value_heads, g("glm4moe.attention.head_count_kv")],
    ["head_dim (keys)", c.head_dim, g("glm4moe.attention.key_length")],
    ["head_dim (values)", c.head_dim, g("glm4moe.attention.value_length")],
    // convert_hf_to_gguf.py: rope dimension = head_dim * partial_rotary_factor (0.5 when absent)
    ["head_dim * partial_rotary_factor", c.head_dim * c.partial_rotary_factor, g("glm4moe.rope.dimension_count")],
    ["rope_theta", f32(c.rope_theta), g("glm4moe.rope.freq_base")],
    ["rms_norm_eps", f32(c.rms_norm_eps), g("glm4moe.attention.layer_norm_rms_epsilon")],
    ["first_k_dense_replace", c.first_k_dense_replace, g("glm4moe.leading_dense_block_count")],
    ["n_routed_experts", c.n_routed_experts, g("glm4moe.expert_count")],
    ["num_experts_per_tok", c.num_experts_per_tok, g("glm4moe.expert_used_count")],
    ["moe_intermediate_size", c.moe_intermediate_size, g("glm4moe.expert_feed_forward_length")],
    ["n_shared_experts", c.n_shared_experts, g("glm4moe.expert_shared_count")],
    ["n_group", c.n_group, g("glm4moe.expert_group_count")],
    ["topk_group", c.topk_group, g("glm4moe.expert_group_used_count")],
    ["routed_scaling_factor", f32(c.routed_scaling_factor), g("glm4moe.expert_weights_scale")],
    ["norm_topk_prob", c.norm_topk_prob, g("glm4moe.expert_weights_norm")],
    // Glm4MoeForCausalLM always scores with sigmoid: ExpertGatingFuncType.SIGMOID = 2
    ["(sigmoid router)", 2, g("glm4moe.expert_gating_func")],
    ["num_nextn_predict_layers", c.num_nextn_predict_layers, g("glm4moe.nextn_predict_layers")],
    ["bos_token_id", c.bos_token_id, g("tokenizer.ggml.bos_token_id")],
    ["eos_token_id", c.eos_token_id, g("tokenizer.ggml.eos_token_id")],
    ["pad_token_id", c.pad_token_id, g("tokenizer.ggml.padding_token_id")],
  ];
  for (const [field, hf, ggufValue] of pairs) assert.equal(hf, ggufValue, `config.json ${field} vs GGUF`);
  assert.equal(c.partial_rotary_factor, 1, "we rotate the whole head");
  assert.equal(c.attention_bias, true, "the q/k/v biases are in the file (zeros)");
  assert.equal(c.use_qk_norm, false);
  const { tensors } = readGgufHeader(ggufPath);
  assert.equal(c.tie_word_embeddings, !tensors.some((t) => t.name === "output.weight"), "tied: no output.weight in the GGUF");
}

let dir: string;
let tiny: MoeLmFiles;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "aigc-hf-export-"));
  tiny = await loadMoeLm("assets/lm-tiny");
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("lm-tiny: the HF folder's tensors, through llama.cpp's name table, are the GGUF export's", async () => {
  const hf = join(dir, "tiny-hf");
  const ggufPath = join(dir, "tiny.f32.gguf");
  const report = await saveMoeLmHf(tiny, hf, { source: "assets/lm-tiny" });
  writeMoeLmGguf({ cfg: tiny.config.model, store: tiny.store, tokenizer: tiny.tokenizer }, ggufPath, { type: "f32" });
  assert.equal(report.paddedExperts, 64, "groups 64/32/32 are evened out to 3 × 64");
  assert.match(report.notes[0], /64 zero experts per MoE block \(n_routed_experts 192\)/);
  await assertSameTensors(hf, ggufPath, true);
  await assertSameHyperparameters(hf, ggufPath);
  // The tokenizer goes along unchanged; lm-tiny has no chat template and no generation_config.json.
  assert.equal(await readFile(join(hf, "tokenizer.json"), "utf8"), await readFile("assets/lm-tiny/tokenizer.json", "utf8"));
  const tokenizerConfig = JSON.parse(await readFile(join(hf, "tokenizer_config.json"), "utf8"));
  assert.equal(tokenizerConfig.eos_token, "<|eos|>");
  assert.equal(tokenizerConfig.chat_template, undefined);
  await assert.rejects(readFile(join(hf, "generation_config.json")), { code: "ENOENT" });
});

test("an untied model without dense blocks, with even groups and two shared experts, maps the same way", async () => {
  const cfg = MoeLmConfig.parse({
    vocab: tiny.config.model.vocab,
    maxSeq: 64,
    dim: 32,
    heads: 4,
    layers: 2,
    denseLayers: 0,
    denseHidden: 64,
    tieEmbeddings: false,
    ropeTheta: 500000,
    normEps: 1e-5,
    moe: {
      ...defaultMoeConfig,
      experts: 8,
      groups: [
        { name: "a", size: 4 },
        { name: "b", size: 4 },
      ],
      topK: 3,
      topkGroups: 1,
      expertHidden: 8,
      sharedExperts: 2,
      scoreFunc: "sigmoid",
      routedScaling: 2.5,
    },
  });
  const store = ParamStore.fromGraph(moeLmInferenceGraph(cfg).g, 7);
  const files = { config: { model: cfg }, store, tokenizer: tiny.tokenizer };
  const hf = join(dir, "untied-hf");
  const ggufPath = join(dir, "untied.f32.gguf");
  const report = await saveMoeLmHf(files, hf);
  writeMoeLmGguf({ cfg, store, tokenizer: tiny.tokenizer }, ggufPath, { type: "f32" });
  assert.equal(report.paddedExperts, 0);
  await assertSameTensors(hf, ggufPath, false);
  await assertSameHyperparameters(hf, ggufPath);
  // lm_head [V, C] is ours [C, V] transposed.
  const { tensors } = await readSafetensors(join(hf, "model.safetensors"));
  const head = tensors["lm_head.weight"];
  const ours = store.get("lm_head.weight").data;
  assert.deepEqual(head.shape, [cfg.vocab, cfg.dim]);
  assert.equal((head.data as Float32Array)[5 * cfg.dim + 3], ours[3 * cfg.vocab + 5]);
  // Mostly negative selection biases: transformers' 0.0 for dropped groups could then win.
  assert.deepEqual(report.notes, []);
  store.get("model.layers.1.mlp.gate.e_score_correction_bias").data.set([0.1, -0.2, -0.3, -0.1, 0.2, 0.3, -0.1, -0.4]);
  const negative = await saveMoeLmHf(files, join(dir, "negative-hf"));
  assert.equal(negative.notes.length, 1);
  assert.match(
    negative.notes[0],
    /^block 1: its worst 1 groups hold 1 experts with a selection bias >= 0, fewer than top-3: transformers' router/,
  );
});

test("chat: the chat template and sampling defaults go along; float16 keeps the router float32", async () => {
  const chat = await loadMoeLm("assets/chat");
  const hf = join(dir, "chat-hf");
  await saveMoeLmHf(chat, hf, { source: "assets/chat", dtype: "float16" });
  const config = JSON.parse(await readFile(join(hf, "config.json"), "utf8"));
  assert.equal(config.torch_dtype, "float16");
  const source = JSON.parse(await readFile("assets/chat/tokenizer_config.json", "utf8"));
  const tokenizerConfig = JSON.parse(await readFile(join(hf, "tokenizer_config.json"), "utf8"));
  assert.equal(tokenizerConfig.chat_template, source.chat_template);
  const generation = JSON.parse(await readFile(join(hf, "generation_config.json"), "utf8"));
  const sourceGeneration = JSON.parse(await readFile("assets/chat/generation_config.json", "utf8"));
  assert.deepEqual(generation, {
    do_sample: true,
    ...sourceGeneration,
    bos_token_id: config.bos_token_id,
    eos_token_id: config.eos_token_id,
    pad_token_id: config.pad_token_id,
  });
  const { tensors, metadata } = await readSafetensors(join(hf, "model.safetensors"));
  assert.equal(metadata.format, "pt", "transformers refuses safetensors without format: pt");
  for (const [name, t] of Object.entries(tensors)) {
    const router = /\.mlp\.gate\.(weight|e_score_correction_bias)$/.test(name);
    assert.equal(t.dtype, router ? "F32" : "F16", name);
  }
  // The padding experts' selection bias survives (it would be -inf in float16).
  const bias = tensors["model.layers.1.mlp.gate.e_score_correction_bias"].data as Float32Array;
  assert.equal(bias[bias.length - 1], -1e9);
});

test("what Glm4MoeForCausalLM cannot run exactly is refused, naming the reason", async () => {
  const base = tiny.config.model;
  const refused = async (cfg: MoeLmConfig, reason: RegExp) => {
    assert.match(moeLmHfRefusal(cfg) ?? "", reason);
    await assert.rejects(saveMoeLmHf({ ...tiny, config: { model: cfg } }, join(dir, "refused")), (e: Error) => {
      assert.match(e.message, /^cannot export this model as Glm4MoeForCausalLM: /);
      assert.match(e.message, reason);
      return true;
    });
  };
  await refused(
    { ...base, moe: { ...base.moe, scoreFunc: "softmax" } },
    /sizes 64\/32\/32 need padding, which changes softmax router scores/,
  );
  const even = [
    { name: "a", size: 64 },
    { name: "b", size: 64 },
  ];
  await refused(
    { ...base, moe: { ...base.moe, groups: even, scoreFunc: "softmax" } },
    /router scores with softmax, and Glm4MoeForCausalLM's router always scores with sigmoid/,
  );
  await refused({ ...base, image: { slots: 4, features: 16 } }, /image prefix \(multimodal\)/);
  await refused({ ...base, moe: { ...base.moe, sharedExperts: 0 } }, /no shared experts/);
  assert.equal(moeLmHfRefusal(base), null);
});
