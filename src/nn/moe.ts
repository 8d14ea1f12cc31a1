// DeepSeek-style Mixture-of-Experts feed-forward block.
//
//   router:   scores = softmax|sigmoid(x @ Wg)  (with Gumbel noise / tau while training)
//             choose = scores + bias            (aux-loss-free balancing bias: choosing only)
//             keep the best `topkGroups` domain groups (group score = sum of its top-2),
//             optionally restrict a token to its domain group (image tokens -> image experts),
//             then top-k experts; weights = scores of the chosen (sigmoid: renormalised) x scaling.
//   experts:  E small SwiGLU FFNs, plus always-on shared experts.
//   train:    static-shape dispatch with a capacity per expert; overflow assignments are dropped
//             (and counted), earlier tokens first.
//   infer:    no drops, fused into ONNX Runtime's MoE contrib op (sparse, top-k per token).
//
// Dims: N tokens, C width, E experts, K top-k, G groups, S largest group, H expert hidden,
// P capacity (slots per expert).
//
// Gumbel-Softmax: the course's router draws g ~ Gumbel(0, 1) and uses softmax((logits + g) / tau)
// to explore experts during training. Selection is hard (top-k, no gradient); the gradient
// reaches the router through the soft probabilities used as weights (straight-through).

import { z } from "zod";
import { op, type Tensor } from "../graph/index.js";
import { linear, swiGlu } from "./layers.js";
import { isLoraTarget, type LoraPlan } from "./lora.js";
import type { Scope } from "./scope.js";

export const MoeConfig = z
  .object({
    /** Routed experts E. */
    experts: z.number().int().positive(),
    /** Domain groups in expert order; sizes may differ and must add up to `experts`. */
    groups: z.array(z.object({ name: z.string().min(1), size: z.number().int().min(2) })).min(1),
    /** Experts per token K. */
    topK: z.number().int().positive(),
    /** Groups a token may use (group-limited routing); = groups.length disables the limit. */
    topkGroups: z.number().int().positive(),
    /** Hidden width H of each routed expert. */
    expertHidden: z.number().int().positive(),
    /** Always-on shared experts (each of width expertHidden). */
    sharedExperts: z.number().int().min(0),
    scoreFunc: z.enum(["softmax", "sigmoid"]),
    /** Multiplier on the routed weights (DeepSeek-V3's routed_scaling_factor). */
    routedScaling: z.number().positive(),
    /** Gumbel-Softmax temperature during training; 0 turns the noise off. */
    gumbelTau: z.number().min(0),
    /** Weight of the Switch-style auxiliary balance loss; 0 turns it off. */
    auxLossWeight: z.number().min(0),
    /** Step of the aux-loss-free bias update; 0 turns it off. */
    biasUpdateRate: z.number().min(0),
    /** Slots per expert = ceil(capacityFactor * N * K / E) during training. */
    capacityFactor: z.number().positive(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const total = c.groups.reduce((a, g) => a + g.size, 0);
    if (total !== c.experts)
      ctx.addIssue({ code: "custom", message: `group sizes add up to ${total}, expected experts = ${c.experts}` });
    if (c.topK > c.experts) ctx.addIssue({ code: "custom", message: `topK ${c.topK} exceeds experts ${c.experts}` });
    if (c.topkGroups > c.groups.length) {
      ctx.addIssue({ code: "custom", message: `topkGroups ${c.topkGroups} exceeds the ${c.groups.length} groups` });
    }
  });
export type MoeConfig = z.infer<typeof MoeConfig>;

/** The course's defaults: 128 experts in text / image / code groups, top-10 (~8% active). */
export const defaultMoeConfig: MoeConfig = {
  experts: 128,
  groups: [
    { name: "text", size: 64 },
    { name: "image", size: 32 },
    { name: "code", size: 32 },
  ],
  topK: 10,
  topkGroups: 2,
  expertHidden: 64,
  sharedExperts: 1,
  scoreFunc: "softmax",
  routedScaling: 1,
  gumbelTau: 1,
  auxLossWeight: 0.01,
  biasUpdateRate: 1e-3,
  capacityFactor: 1.25,
};

/** The group index of every expert, in expert order. */
export function expertGroups(cfg: MoeConfig): number[] {
  return cfg.groups.flatMap((g, i) => new Array<number>(g.size).fill(i));
}

export interface RouterInputs {
  /** Aux-loss-free balancing bias [E], added to the scores for choosing only. */
  bias?: Tensor;
  /** Gumbel(0, 1) noise [N, E] (training only; the host draws it so runs are reproducible). */
  gumbel?: Tensor;
  /** Domain group per token [N] (int64), -1 for none. */
  domain?: Tensor;
}

export interface Routing {
  /** Weights of the chosen experts [N, K]. */
  weights: Tensor;
  /** Chosen experts [N, K] (int64). */
  indices: Tensor;
  /** Routing probabilities [N, E] (for the balance loss). */
  probs: Tensor;
}

const int64 = (g: Tensor["graph"], values: number[]) =>
  op.constant(
    g,
    BigInt64Array.from(values, (v) => BigInt(v)),
    [values.length],
  );

/** Which experts each token may use after group limiting and domain hints: bool [N, E]. */
function allowedExperts(choose: Tensor, cfg: MoeConfig, domain?: Tensor): Tensor | null {
  const g = choose.graph;
  const groupOf = expertGroups(cfg);
  const groupOfExpert = int64(g, groupOf); // [E]
  const n = choose.shape[0];
  let allowed: Tensor | null = null;
  if (cfg.topkGroups < cfg.groups.length) {
    // Lay experts out as [G, S], padding short groups with a column that never wins.
    const sMax = Math.max(...cfg.groups.map((x) => x.size));
    const table: number[] = [];
    let first = 0;
    for (const grp of cfg.groups) {
      for (let j = 0; j < sMax; j++) table.push(j < grp.size ? first + j : cfg.experts);
      first += grp.size;
    }
    const padded = op.concat([choose, op.full(g, [n, 1], -1e9, choose.dtype)], 1); // [N, E+1]
    const grouped = op.reshape(op.gather(padded, int64(g, table), 1), [n, cfg.groups.length, sMax]); // [N, G, S]
    const groupScore = op.reduceSum(op.topK(grouped, 2, -1).values, -1); // [N, G]
    const kept = op.topK(groupScore, cfg.topkGroups, -1).indices; // [N, kg]
    const groupMask = op.reduceSum(op.oneHot(kept, cfg.groups.length), 1); // [N, G] in {0, 1}
    allowed = op.greater(op.gather(groupMask, groupOfExpert, 1), 0.5); // [N, E]
  }
  if (domain) {
    // allowed = noHint ? otherwise : inGroup, in {0, 1} floats (ONNX Runtime has no bool Where).
    const d = op.unsqueeze(domain, 1); // [N, 1]
    const inGroup = op.cast(op.equal(d, groupOfExpert), "float32"); // [N, E]
    const noHint = op.cast(op.equal(d, -1), "float32"); // [N, 1]
    const otherwise = allowed ? op.cast(allowed, "float32") : op.full(g, [n, cfg.experts], 1);
    allowed = op.greater(op.add(op.mul(noHint, otherwise), op.mul(op.sub(1, noHint), inGroup)), 0.5);
  }
  return allowed;
}

/** The router (DeepSeek-V3's Gate): returns (weights, indices) and the probabilities. */
export function routeTokens(scope: Scope, x: Tensor, cfg: MoeConfig, inputs: RouterInputs = {}): Routing {
  let logits = linear(scope, x, cfg.experts); // [N, E]
  if (inputs.gumbel) logits = op.div(op.add(logits, inputs.gumbel), cfg.gumbelTau);
  const scores = cfg.scoreFunc === "softmax" ? op.softmax(logits, -1) : op.sigmoid(logits);
  const choose = inputs.bias ? op.add(op.stopGradient(scores), inputs.bias) : op.stopGradient(scores);
  const allowed = allowedExperts(choose, cfg, inputs.domain);
  const masked = allowed ? op.where(allowed, choose, -1e9) : choose;
  const { indices } = op.topK(masked, cfg.topK, -1); // [N, K]
  let weights = op.gatherElements(allowed ? op.where(allowed, scores, 0) : scores, indices, 1); // [N, K]
  if (cfg.scoreFunc === "sigmoid") weights = op.div(weights, op.add(op.reduceSum(weights, -1, true), 1e-20));
  if (cfg.routedScaling !== 1) weights = op.mul(weights, cfg.routedScaling);
  const probs = cfg.scoreFunc === "softmax" ? scores : op.div(scores, op.reduceSum(scores, -1, true));
  return { weights, indices, probs };
}

/**
 * Routed expert weights, stored in the layout ONNX Runtime's MoE / QMoE ops read, so the
 * inference export (and its int8 version) uses them as they are:
 * gateUp [E, 2H, C], rows interleaved gate_0, up_0, gate_1, up_1, ...; down [E, C, H].
 */
interface ExpertWeights {
  gateUp: Tensor;
  down: Tensor;
}

function expertWeights(s: Scope, cfg: MoeConfig, c: number, outStd: number): ExpertWeights {
  const e = s.child("experts");
  const gateUp = e.matrix("gate_up_proj", [cfg.experts, 2 * cfg.expertHidden, c], { kind: "normal", std: 0.02 });
  const down = e.matrix("down_proj", [cfg.experts, c, cfg.expertHidden], { kind: "normal", std: outStd });
  if (!s.lora) return { gateUp, down };
  // LoRA on the routed experts, as PEFT updates Glm4Moe's per-expert gate/up/down_proj linears:
  // each expert's rank-r updates, stacked, folded into the stacked weights inside the graph
  // (PEFT's ParamWrapper does the same; hence no dropout here).
  const update = (proj: string, inDim: number, outDim: number) => {
    const each = Array.from({ length: cfg.experts }, (_, i) =>
      isLoraTarget(`${e.prefix}.${i}.${proj}`, s.lora!.config.targetModules),
    );
    if (!each.some(Boolean)) return null;
    if (!each.every(Boolean))
      throw new Error(
        `LoRA targets ${JSON.stringify(s.lora!.config.targetModules)} update some routed experts' ${proj} but not all`,
      );
    return expertLoraDelta(e.child(proj), cfg.experts, inDim, outDim, s.lora!); // [E, out, in]
  };
  const h = cfg.expertHidden;
  const dGate = update("gate_proj", c, h);
  const dUp = update("up_proj", c, h);
  const dDown = update("down_proj", h, c);
  let adaptedGateUp = gateUp;
  if (dGate || dUp) {
    // gate_up rows are interleaved gate_0, up_0, gate_1, ...: stack the two updates on a new axis 2.
    const zeros = op.full(s.graph, [cfg.experts, h, c], 0);
    const delta = op.reshape(op.concat([op.unsqueeze(dGate ?? zeros, 2), op.unsqueeze(dUp ?? zeros, 2)], 2), [
      cfg.experts,
      2 * h,
      c,
    ]);
    adaptedGateUp = op.add(gateUp, delta);
  }
  return { gateUp: adaptedGateUp, down: dDown ? op.add(down, dDown) : down };
}

/**
 * The routed experts' updates as weight deltas (α/r) · B_e A_e [E, out, in], from stacked
 * A [E, r, in] and B [E, out, r] under `scope` ("…mlp.experts.gate_proj.lora_A.weight"; the
 * adapter file splits them per expert, PEFT's "…mlp.experts.<e>.gate_proj.lora_A.weight").
 */
function expertLoraDelta(scope: Scope, experts: number, inDim: number, outDim: number, plan: LoraPlan): Tensor {
  const { r, alpha, dropout } = plan.config;
  if (plan.train && dropout > 0)
    throw new Error(`LoRA on the routed experts takes no dropout (got ${dropout}): the update is folded into their weights`);
  const bound = 1 / Math.sqrt(inDim);
  const a = scope
    .child("lora_A")
    .param("weight", [experts, r, inDim], { kind: "uniform", low: -bound, high: bound }, "float32", true);
  const b = scope.child("lora_B").param("weight", [experts, outDim, r], { kind: "constant", value: 0 }, "float32", true);
  return op.mul(op.matmul(b, a), alpha / r);
}

/** SwiGLU of every expert over its slots: xe [E, P, C] -> [E, P, C]. */
function runExperts(xe: Tensor, w: ExpertWeights, cfg: MoeConfig): Tensor {
  const [e, p] = xe.shape;
  const gateUp = op.reshape(op.matmul(xe, op.transposeLast(w.gateUp)), [e, p, cfg.expertHidden, 2]); // [E, P, H, 2]
  const gate = op.squeeze(op.slice(gateUp, 3, 0, 1), 3);
  const up = op.squeeze(op.slice(gateUp, 3, 1, 2), 3);
  return op.matmul(op.mul(op.silu(gate), up), op.transposeLast(w.down)); // [E, P, H] @ [E, H, C]
}

/** The always-on shared experts (one SwiGLU of width sharedExperts * H), added last. */
function addSharedExperts(s: Scope, x: Tensor, routed: Tensor, cfg: MoeConfig, outStd: number): Tensor {
  if (cfg.sharedExperts === 0) return routed;
  return op.add(routed, swiGlu(s.child("shared_experts"), x, cfg.sharedExperts * cfg.expertHidden, outStd));
}

export interface MoeTrainOutputs {
  out: Tensor; // [N, C]
  /** Switch-style balance loss (already weighted), or null when off. */
  auxLoss: Tensor | null;
  /** Assignments per expert [E] (before capacity drops). */
  load: Tensor;
  /** Assignments dropped by the capacity limit (scalar). */
  dropped: Tensor;
}

/** Training forward: capacity-limited dispatch with static shapes. x [N, C], N static. */
export function moeTrain(scope: Scope, x: Tensor, cfg: MoeConfig, inputs: RouterInputs, outStd = 0.02): MoeTrainOutputs {
  const [n, c] = x.shape as number[];
  if (typeof n !== "number" || typeof c !== "number") throw new Error("moeTrain: token count and width must be static");
  const g = x.graph;
  const { weights, indices, probs } = routeTokens(scope.child("gate"), x, cfg, inputs);
  const w = expertWeights(scope, cfg, c, outStd);
  const e = cfg.experts;
  const nk = n * cfg.topK;
  const p = Math.ceil((cfg.capacityFactor * nk) / e);

  // Position of each assignment inside its expert's queue (token-major: earlier tokens first).
  const flat = op.reshape(indices, [nk]); // [NK]
  const oneHot = op.oneHot(flat, e); // [NK, E]
  const load = op.reduceSum(oneHot, 0); // [E]
  const position = op.reduceSum(op.mul(op.cumSum(oneHot, 0, { exclusive: true }), oneHot), 1); // [NK]
  const kept = op.less(position, p); // [NK]
  const overflow = e * p; // one spare slot collects dropped assignments
  const slot = op.where(kept, op.add(op.mul(flat, p), op.cast(position, "int64")), overflow); // [NK]

  // Slot -> token table (token n + 1; 0 = empty slot -> the zero row at index N).
  const tokenOf = int64(
    g,
    Array.from({ length: nk }, (_, i) => Math.floor(i / cfg.topK) + 1),
  );
  const table = op.scatterElementsAdd(op.full(g, [overflow + 1], 0, "int64"), slot, tokenOf, 0); // [EP+1]
  const slotToken = op.sub(op.slice(table, 0, 0, overflow), 1); // [EP], -1 = empty
  const rowOf = op.where(op.less(slotToken, 0), n, slotToken);
  const xPad = op.concat([x, op.full(g, [1, c], 0, x.dtype)], 0); // [N+1, C]
  const xe = op.reshape(op.gather(xPad, rowOf, 0), [e, p, c]); // [E, P, C]
  const ye = op.reshape(runExperts(xe, w, cfg), [overflow, c]); // [E*P, C]
  const picked = op.gather(op.concat([ye, op.full(g, [1, c], 0, x.dtype)], 0), slot, 0); // [NK, C]; dropped -> 0
  const routed = op.reduceSum(op.reshape(op.mul(picked, op.reshape(weights, [nk, 1])), [n, cfg.topK, c]), 1); // [N, C]

  const out = addSharedExperts(scope, x, routed, cfg, outStd);
  // Switch Transformer: E * sum_e f_e * P_e, f = fraction of assignments, P = mean probability.
  const auxLoss =
    cfg.auxLossWeight > 0 ? op.mul(op.reduceSum(op.mul(op.div(load, nk), op.reduceMean(probs, 0))), cfg.auxLossWeight * e) : null;
  const dropped = op.sub(nk, op.reduceSum(op.cast(kept, "float32")));
  return { out, auxLoss, load, dropped };
}

/**
 * How inference runs the routed experts (both exact: every chosen expert, no drops):
 * - "sparse": ONNX Runtime's fused MoE op, which runs only the chosen experts (best for a few tokens);
 * - "dense": every expert on every token as two wide matmuls, outputs weighted by the routing
 *   weights (0 for experts not chosen). On a CPU this wins once a batch touches most experts
 *   anyway: one [N, C] x [C, E*2H] GEMM beats E small ones.
 */
export type MoeDispatch = "sparse" | "dense";

/** Inference forward: every chosen expert runs (no drops). */
export function moeInfer(
  scope: Scope,
  x: Tensor,
  cfg: MoeConfig,
  inputs: Omit<RouterInputs, "gumbel">,
  outStd = 0.02,
  dispatch: MoeDispatch = "sparse",
): Tensor {
  const c = x.shape[1] as number;
  const { weights, indices } = routeTokens(scope.child("gate"), x, cfg, inputs);
  const w = expertWeights(scope, cfg, c, outStd);
  if (dispatch === "dense") {
    const n = x.shape[0];
    const e = cfg.experts;
    const h = cfg.expertHidden;
    const sparse = op.scatterElementsAdd(op.full(x.graph, [n, e], 0, x.dtype), indices, weights, 1); // [N, E]
    const gateUpAll = op.reshape(op.transpose(w.gateUp, [2, 0, 1]), [c, e * 2 * h]); // [E, 2H, C] -> [C, E*2H]
    const gateUp = op.reshape(op.matmul(x, gateUpAll), [n, e, h, 2]); // [N, E, H, 2]
    const gate = op.squeeze(op.slice(gateUp, 3, 0, 1), 3);
    const up = op.squeeze(op.slice(gateUp, 3, 1, 2), 3);
    const act = op.mul(op.mul(op.silu(gate), up), op.unsqueeze(sparse, 2)); // [N, E, H], 0 for unchosen experts
    const downAll = op.reshape(op.transpose(w.down, [0, 2, 1]), [e * h, c]); // [E, C, H] -> [E*H, C]
    return addSharedExperts(scope, x, op.matmul(op.reshape(act, [n, e * h]), downAll), cfg, outStd);
  }
  return addSharedExperts(scope, x, op.moeSwiGlu(x, indices, weights, w.gateUp, w.down), cfg, outStd);
}

/** DeepSeek-V3's aux-loss-free balancing: bias += rate * sign(mean load - load), in place. */
export function updateRouterBias(bias: Float32Array, load: ArrayLike<number>, rate: number): void {
  let mean = 0;
  for (let i = 0; i < load.length; i++) mean += load[i];
  mean /= load.length;
  for (let i = 0; i < bias.length; i++) bias[i] += rate * Math.sign(mean - load[i]);
}
