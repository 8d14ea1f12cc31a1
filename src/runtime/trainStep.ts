// The train-step executor: loss, gradients, global-norm clipping and the AdamW update
// are one exported graph, so a training step is one ONNX Runtime call. Parameters and
// optimizer moments go in as inputs and come back as outputs; the host only swaps
// buffers.

import { type Graph, grad, op, type Tensor, toOnnx } from "../graph/index.js";
import type { ParamStore } from "./params.js";
import { type CompiledGraph, compile, type HostTensor } from "./session.js";

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Clip the global gradient norm to this value; 0 disables clipping. */
  clipNorm: number;
}
export const defaultAdamW: AdamWConfig = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, clipNorm: 1 };

/** Which parameters decay: matrices and embeddings, not norms or biases (as in nanoGPT). */
export const decaysByDefault = (param: Tensor): boolean => param.rank >= 2;

export interface TrainStepOptions {
  optimizer?: Partial<AdamWConfig>;
  decays?: (p: Tensor) => boolean;
  /** Extra forward values to return each step (e.g. router load), by name. */
  extras?: Record<string, Tensor>;
  threads?: number;
  /**
   * Inputs fed as they are every step (a QLoRA base's 4-bit codes): fed, not embedded, so
   * ONNX Runtime cannot fold their dequantization into float32 constants.
   */
  fixedFeeds?: Record<string, HostTensor>;
}

export interface StepResult {
  loss: number;
  gradNorm: number;
  extras: Record<string, HostTensor>;
}

const scalarF32 = (v: number): HostTensor => ({ dtype: "float32", shape: [], data: Float32Array.of(v) });
const mName = (p: string) => `adam.m.${p}`;
const vName = (p: string) => `adam.v.${p}`;
const newName = (p: string) => `new.${p}`;
const newM = (p: string) => `new.adam.m.${p}`;
const newV = (p: string) => `new.adam.v.${p}`;

/** Build loss + grads + clipped AdamW update into `graph`; returns the outputs to export. */
function buildUpdate(graph: Graph, loss: Tensor, params: Tensor[], cfg: AdamWConfig, decays: (p: Tensor) => boolean) {
  const grads = grad(loss, params);
  const lr = graph.input("lr", "float32", []);
  const bc1 = graph.input("bc1", "float32", []); // 1 - beta1^t
  const bc2 = graph.input("bc2", "float32", []); // 1 - beta2^t
  const sumSquares = grads.map((g) => op.reduceSum(op.mul(g, g)));
  const gradNorm = op.sqrt(sumSquares.reduce((a, b) => op.add(a, b)));
  // torch.nn.utils.clip_grad_norm_: scale = min(1, maxNorm / (norm + 1e-6)).
  const scale =
    cfg.clipNorm > 0 ? op.where(op.greater(gradNorm, cfg.clipNorm), op.div(cfg.clipNorm, op.add(gradNorm, 1e-6)), 1) : null;
  const outputs: Record<string, Tensor> = { loss, gradNorm };
  params.forEach((p, i) => {
    const name = p.node.op === "param" ? p.node.attrs.name : `p${i}`;
    const g = scale ? op.mul(grads[i], scale) : grads[i];
    const m = graph.input(mName(name), "float32", p.shape);
    const v = graph.input(vName(name), "float32", p.shape);
    const m1 = op.add(op.mul(m, cfg.beta1), op.mul(g, 1 - cfg.beta1));
    const v1 = op.add(op.mul(v, cfg.beta2), op.mul(op.mul(g, g), 1 - cfg.beta2));
    const decayed = decays(p) && cfg.weightDecay > 0 ? op.mul(p, op.sub(1, op.mul(lr, cfg.weightDecay))) : p;
    const denom = op.add(op.div(op.sqrt(v1), op.sqrt(bc2)), cfg.eps);
    const p1 = op.sub(decayed, op.mul(op.div(lr, bc1), op.div(m1, denom)));
    outputs[newName(name)] = p1;
    outputs[newM(name)] = m1;
    outputs[newV(name)] = v1;
  });
  return outputs;
}

export class TrainStep {
  /** Number of updates applied so far (AdamW's t). */
  stepCount = 0;
  readonly moments = new Map<string, { m: Float32Array; v: Float32Array }>();

  private constructor(
    private readonly compiled: CompiledGraph,
    readonly paramNames: string[],
    readonly dataInputs: string[],
    readonly extraNames: string[],
    readonly cfg: AdamWConfig,
    readonly store: ParamStore,
    private readonly fixedFeeds: Record<string, HostTensor>,
  ) {
    for (const name of paramNames) {
      const n = store.get(name).data.length;
      this.moments.set(name, { m: new Float32Array(n), v: new Float32Array(n) });
    }
  }

  /** Differentiate `loss` w.r.t. the graph's trainable parameters and compile the step. */
  static async create(loss: Tensor, store: ParamStore, opts: TrainStepOptions = {}): Promise<TrainStep> {
    const graph = loss.graph;
    const cfg = { ...defaultAdamW, ...opts.optimizer };
    const dataInputs = [...graph.inputs.keys()];
    const params = graph.trainableParams();
    if (params.length === 0) throw new Error("TrainStep: the graph has no trainable parameters");
    const outputs = buildUpdate(graph, loss, params, cfg, opts.decays ?? decaysByDefault);
    const extras = opts.extras ?? {};
    for (const [k, t] of Object.entries(extras)) outputs[`extra.${k}`] = t;
    // Frozen parameters are embedded as constants; trainable ones are fed each step.
    const model = toOnnx({
      outputs,
      name: "train_step",
      paramValue: (name) =>
        params.some((p) => p.node.op === "param" && p.node.attrs.name === name) ? undefined : store.get(name).data,
    });
    const compiled = await compile(model, { threads: opts.threads });
    const names = params.map((p) => (p.node.op === "param" ? p.node.attrs.name : ""));
    const fixed = opts.fixedFeeds ?? {};
    return new TrainStep(
      compiled,
      names,
      dataInputs.filter((n) => !(n in fixed)),
      Object.keys(extras),
      cfg,
      store,
      fixed,
    );
  }

  /** Continue from saved AdamW moments and step count (see loadCheckpoint). */
  restore(moments: Map<string, { m: Float32Array; v: Float32Array }>, stepCount: number): void {
    for (const name of this.paramNames) {
      const mv = moments.get(name);
      if (!mv) throw new Error(`restore: no optimizer state for parameter "${name}"`);
      if (mv.m.length !== this.store.get(name).data.length)
        throw new Error(`restore: optimizer state for "${name}" has the wrong size`);
      this.moments.set(name, mv);
    }
    this.stepCount = stepCount;
  }

  /** One optimizer step on a batch at learning rate `lr`. */
  async run(batch: Record<string, HostTensor>, lr: number): Promise<StepResult> {
    const t = this.stepCount + 1;
    const feeds: Record<string, HostTensor> = {
      ...this.fixedFeeds,
      ...batch,
      lr: scalarF32(lr),
      bc1: scalarF32(1 - this.cfg.beta1 ** t),
      bc2: scalarF32(1 - this.cfg.beta2 ** t),
    };
    for (const name of this.paramNames) {
      const p = this.store.host(name);
      const mv = this.moments.get(name)!;
      feeds[name] = p;
      feeds[mName(name)] = { dtype: "float32", shape: p.shape, data: mv.m };
      feeds[vName(name)] = { dtype: "float32", shape: p.shape, data: mv.v };
    }
    const out = await this.compiled.run(feeds);
    const loss = out.loss.data[0] as number;
    if (!Number.isFinite(loss)) throw new Error(`TrainStep: loss is ${loss} at step ${t}; parameters were left unchanged`);
    for (const name of this.paramNames) {
      const p = this.store.get(name);
      this.store.set(name, p.shape, out[newName(name)].data as Float32Array);
      this.moments.set(name, { m: out[newM(name)].data as Float32Array, v: out[newV(name)].data as Float32Array });
    }
    this.stepCount = t;
    const extras: Record<string, HostTensor> = {};
    for (const k of this.extraNames) extras[k] = out[`extra.${k}`];
    return { loss, gradNorm: out.gradNorm.data[0] as number, extras };
  }
}
