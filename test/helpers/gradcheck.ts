// Gradient check against central finite differences, run end to end through the same
// path training uses: build the graph, differentiate it with `grad`, export it with
// `toOnnx`, run it in ONNX Runtime. The loss is reduceSum(out * W) with W a fixed
// pseudo-random tensor, so every output element gets a distinct weight and a rule that
// mixes up elements cannot cancel out.
//
// The finite differences run the exported forward model once per perturbation
// (x_i + h and x_i - h); keep inputs small (tens of elements).

import { Graph, grad, op, type PrimOp, type Tensor, toOnnx } from "../../src/graph/index.js";
import { type CompiledGraph, compile, type HostTensor } from "../../src/runtime/session.js";

/** Builds the function under test from graph inputs (one per `GradInput`, same order). */
export type Builder = (g: Graph, inputs: Tensor[]) => Tensor;

export type FloatDType = "float32" | "float64";

export interface GradInput {
  /** Name used in reports, e.g. "a" or "weight". */
  label: string;
  shape: readonly number[];
  data: ArrayLike<number>;
}

export interface GradcheckOptions {
  /** dtype of every input and of the graph (default float64). */
  dtype?: FloatDType;
  /** Finite-difference step (default 1e-6 for float64, 1e-2 for float32). */
  eps?: number;
  /** Pass when |analytic - numeric| <= atol + rtol * max(|analytic|, |numeric|). */
  rtol?: number;
  atol?: number;
  /** Seed of the loss weights W. */
  seed?: number;
  /**
   * Finite differences of this builder are the reference instead of `builder`'s own
   * (e.g. the soft path a straight-through estimator passes its gradient to).
   */
  reference?: Builder;
}

export interface InputReport {
  label: string;
  maxAbs: number;
  maxRel: number;
  /** Element closest to (or furthest past) the tolerance. */
  worst: { index: number; analytic: number; numeric: number };
  /** Failing elements (at most 5 kept). */
  failures: { index: number; analytic: number; numeric: number }[];
  ok: boolean;
}

export interface GradcheckResult {
  inputs: InputReport[];
  ok: boolean;
  /** Ops of the forward graph (what the check exercised). */
  forwardOps: Set<PrimOp>;
  /** Ops that `grad` added (the backward pass). */
  backwardOps: Set<PrimOp>;
  /** The loss at the unperturbed inputs. */
  loss: number;
  rtol: number;
  atol: number;
  eps: number;
}

/** Deterministic PRNG (mulberry32), so every run checks the same numbers. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Uniform values in [low, high). */
export function uniform(shape: readonly number[], low: number, high: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: size(shape) }, () => low + (high - low) * r());
}

/** Values in [-1, 1) (default) or [-scale, scale). */
export const randn = (shape: readonly number[], seed: number, scale = 1): number[] => uniform(shape, -scale, scale, seed);

/**
 * Distinct values at least `gap` apart, shuffled: for max / top-k, whose gradient is
 * only defined without ties, and stable under an eps perturbation.
 */
export function distinct(shape: readonly number[], seed: number, gap = 0.25): number[] {
  const n = size(shape);
  const r = rng(seed);
  const values = Array.from({ length: n }, (_, i) => (i - n / 2) * gap);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [values[i], values[j]] = [values[j], values[i]];
  }
  return values;
}

/** Values in ±[low, high): bounded away from 0 (for relu and other kinks at 0). */
export function awayFromZero(shape: readonly number[], seed: number, low = 0.1, high = 1): number[] {
  const r = rng(seed);
  return Array.from({ length: size(shape) }, () => (r() < 0.5 ? -1 : 1) * (low + (high - low) * r()));
}

/** An int64 constant (indices), from plain numbers. */
export const indices = (g: Graph, values: readonly number[], shape: readonly number[]): Tensor =>
  op.constant(
    g,
    BigInt64Array.from(values, (v) => BigInt(v)),
    shape,
  );

function toArray(dtype: FloatDType, values: ArrayLike<number>): Float32Array | Float64Array {
  return dtype === "float32" ? Float32Array.from(values) : Float64Array.from(values);
}

const host = (dtype: FloatDType, shape: readonly number[], data: Float32Array | Float64Array): HostTensor => ({
  dtype,
  shape: [...shape],
  data,
});

/** loss = reduceSum(out * W); float32 outputs are cast to float64 first, so rounding in the sum does not swamp the differences. */
function weightedLoss(g: Graph, out: Tensor, seed: number): Tensor {
  if (out.dtype !== "float32" && out.dtype !== "float64") throw new Error(`gradcheck: output must be float, got ${out.dtype}`);
  const shape = out.shape.map((d) => {
    if (typeof d !== "number") throw new Error(`gradcheck: output shape must be static, got [${out.shape.join(", ")}]`);
    return d;
  });
  const w = op.constant(
    g,
    Float64Array.from(uniform(shape, 0.5, 1.5, seed), (v, i) => (i % 2 === 0 ? v : -v)),
    shape,
  );
  return op.reduceSum(op.mul(op.cast(out, "float64"), w));
}

/**
 * Analytic gradients (autodiff, exported, run in ONNX Runtime) against central finite
 * differences, for every element of every input.
 */
export async function gradcheck(
  builder: Builder,
  inputs: readonly GradInput[],
  opts: GradcheckOptions = {},
): Promise<GradcheckResult> {
  const dtype = opts.dtype ?? "float64";
  const eps = opts.eps ?? (dtype === "float64" ? 1e-6 : 1e-2);
  const rtol = opts.rtol ?? (dtype === "float64" ? 1e-6 : 1e-2);
  const atol = opts.atol ?? (dtype === "float64" ? 1e-7 : 1e-3);
  const seed = opts.seed ?? 1234;

  const g = new Graph();
  const xs = inputs.map((inp, i) => g.input(`x${i}`, dtype, inp.shape));
  const out = builder(g, xs);
  const loss = weightedLoss(g, out, seed);
  const forwardCount = g.nodes.length;
  const refLoss = opts.reference ? weightedLoss(g, opts.reference(g, xs), seed) : loss;
  const forwardOps = new Set(g.nodes.slice(0, forwardCount).map((n) => n.op));
  const before = g.nodes.length;
  const grads = grad(loss, xs);
  const backwardOps = new Set(g.nodes.slice(before).map((n) => n.op));

  const gradOutputs: Record<string, Tensor> = { loss };
  grads.forEach((d, i) => {
    gradOutputs[`d${i}`] = d;
  });
  const backward = await compile(toOnnx({ outputs: gradOutputs, name: "gradcheck_backward" }), { threads: 1 });
  const forward = await compile(toOnnx({ outputs: { loss: refLoss }, name: "gradcheck_forward" }), { threads: 1 });

  const values = inputs.map((inp) => toArray(dtype, inp.data));
  inputs.forEach((inp, i) => {
    if (values[i].length !== size(inp.shape)) {
      throw new Error(`gradcheck: input "${inp.label}" has ${values[i].length} values for shape [${inp.shape.join(", ")}]`);
    }
  });
  const feeds = (): Record<string, HostTensor> =>
    Object.fromEntries(inputs.map((inp, i) => [`x${i}`, host(dtype, inp.shape, values[i])]));
  const lossOf = async (model: CompiledGraph): Promise<number> => Number((await model.run(feeds())).loss.data[0]);

  const result = await backward.run(feeds());
  const lossValue = Number(result.loss.data[0]);
  const reports: InputReport[] = [];
  for (let i = 0; i < inputs.length; i++) {
    const analytic = result[`d${i}`].data;
    if (analytic.length !== values[i].length) {
      throw new Error(`gradcheck: gradient of "${inputs[i].label}" has ${analytic.length} values, input has ${values[i].length}`);
    }
    const report: InputReport = {
      label: inputs[i].label,
      maxAbs: 0,
      maxRel: 0,
      worst: { index: -1, analytic: 0, numeric: 0 },
      failures: [],
      ok: true,
    };
    let worstExcess = -Infinity;
    const x = values[i];
    for (let k = 0; k < x.length; k++) {
      const orig = x[k];
      x[k] = orig + eps;
      const up = x[k]; // float32 storage rounds: divide by the step actually taken
      const lossUp = await lossOf(forward);
      x[k] = orig - eps;
      const down = x[k];
      const lossDown = await lossOf(forward);
      x[k] = orig;
      const numeric = (lossUp - lossDown) / (up - down);
      const a = Number(analytic[k]);
      const abs = Math.abs(a - numeric);
      const scale = Math.max(Math.abs(a), Math.abs(numeric));
      const rel = scale > 0 ? abs / scale : 0;
      const excess = abs - (atol + rtol * scale);
      report.maxAbs = Math.max(report.maxAbs, Number.isNaN(abs) ? Infinity : abs);
      report.maxRel = Math.max(report.maxRel, Number.isNaN(rel) ? Infinity : rel);
      const failed = !(excess <= 0); // NaN fails
      const badness = Number.isNaN(excess) ? Infinity : excess;
      if (badness > worstExcess) {
        worstExcess = badness;
        report.worst = { index: k, analytic: a, numeric };
      }
      if (failed) {
        report.ok = false;
        if (report.failures.length < 5) report.failures.push({ index: k, analytic: a, numeric });
      }
    }
    reports.push(report);
  }
  return {
    inputs: reports,
    ok: reports.every((r) => r.ok),
    forwardOps,
    backwardOps,
    loss: lossValue,
    rtol,
    atol,
    eps,
  };
}

/** A readable table of per-input errors, one line each. */
export function formatReport(label: string, r: GradcheckResult): string {
  const lines = r.inputs.map((inp) => {
    const head = `  ${inp.ok ? "ok  " : "FAIL"} ${label} d/d${inp.label}: max abs ${inp.maxAbs.toExponential(2)}, max rel ${inp.maxRel.toExponential(2)}`;
    const bad = inp.failures.map((f) => `[${f.index}] analytic ${f.analytic} vs numeric ${f.numeric}`).join("; ");
    return bad ? `${head}\n       ${bad}` : head;
  });
  return `${label} (eps ${r.eps}, rtol ${r.rtol}, atol ${r.atol}, loss ${r.loss})\n${lines.join("\n")}`;
}
