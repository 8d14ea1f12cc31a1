// The MoE LM's inference graph: ids, positions, mask, domain and the KV cache in; logits and
// the new positions' keys and values out. Compiled for ONNX Runtime as fp32, or int8 through
// the quantize pass.

import { Graph, quantizeInt8, type Tensor, toOnnx } from "../graph/index.js";
import { LORA_BANK_DIM, LORA_SELECT, type LoraPlan, type MoeDispatch } from "../nn/index.js";
import { compile, type ParamStore } from "../runtime/index.js";
import { type MoeLmConfig, moeLayerIndices, moeLm, routerBiasName } from "./moeLm.js";

/**
 * The inference graph: ids, positions, mask, domain and the cache in; logits and cache out.
 * `lastOnly` (decoding) takes `logits_at` positions [L] and returns logits there only [B, L, V].
 * `lora` adds the plan's low-rank updates to the linears it targets (a base plus an unmerged adapter).
 * `bankModules` takes many adapters at once: `lora_select` [B, T, R] and each module's
 * `<module>.lora_bank_A` [in, R] / `lora_bank_B` [R, out] (see nn/lora.ts).
 */
export function moeLmInferenceGraph(
  cfg: MoeLmConfig,
  options: { lastOnly?: boolean; dispatch?: MoeDispatch; lora?: LoraPlan; bankModules?: readonly string[] } = {},
) {
  const g = new Graph();
  const ids = g.input("ids", "int64", ["B", "T"]);
  const positions = g.input("positions", "int64", ["B", "T"]);
  const domain = g.input("domain", "int64", ["B", "T"]);
  const mask = g.input("mask", "float32", ["B", 1, "T", "(P+T)"]);
  const d = cfg.dim / cfg.heads;
  const cache = Array.from({ length: cfg.layers }, (_, i) => ({
    pastK: g.input(`past_key.${i}`, "float32", ["B", cfg.heads, "P", d]),
    pastV: g.input(`past_value.${i}`, "float32", ["B", cfg.heads, "P", d]),
    mask,
  }));
  const moeInputs = moeLayerIndices(cfg).map((layer) => ({
    bias: g.param(routerBiasName(layer), [cfg.moe.experts], { kind: "constant", value: 0 }, { trainable: false }),
  }));
  const logitsAt = options.lastOnly ? g.input("logits_at", "int64", ["L"]) : undefined;
  // Image prefix: S is the number of feature rows fed this call (0 on steps without a prefix).
  const image = cfg.image
    ? {
        features: g.input("image_features", "float32", ["B", "S", cfg.image.features]),
        slots: g.input("image_slots", "int64", ["B", "T"]),
      }
    : undefined;
  const out = moeLm(g, cfg, {
    ids,
    mode: "infer",
    positions,
    domain,
    cache,
    moeInputs,
    logitsAt,
    dispatch: options.dispatch,
    image,
    lora: options.lora,
    loraBank: options.bankModules
      ? { modules: new Set(options.bankModules), select: g.input(LORA_SELECT, "float32", ["B", "T", LORA_BANK_DIM]) }
      : undefined,
  });
  const outputs: Record<string, Tensor> = { logits: out.logits };
  out.present.forEach((p, i) => {
    outputs[`new_key.${i}`] = p.k;
    outputs[`new_value.${i}`] = p.v;
  });
  return { g, outputs };
}

export async function compileMoeLm(
  cfg: MoeLmConfig,
  store: ParamStore,
  options: {
    int8?: boolean;
    int8Moe?: "qmoe" | "gather";
    threads?: number;
    lastOnly?: boolean;
    dispatch?: MoeDispatch;
    /** LoRA updates on the targeted linears; `store` then holds the adapter's lora_A / lora_B too. */
    lora?: LoraPlan;
    /** Many adapters per call: banks on these modules (see moeLmInferenceGraph). */
    bankModules?: readonly string[];
  } = {},
) {
  const { outputs } = moeLmInferenceGraph(cfg, options);
  const paramValue = (name: string) => store.get(name).data;
  const final = options.int8 ? quantizeInt8(outputs, { paramValue, moe: options.int8Moe }).outputs : outputs;
  return compile(toOnnx({ outputs: final, paramValue, name: options.int8 ? "moe_lm_int8" : "moe_lm" }), {
    threads: options.threads,
  });
}
