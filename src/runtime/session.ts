// ONNX Runtime sessions: compile an exported graph once (cached by content), run it.

import { createHash } from "node:crypto";
import * as ort from "onnxruntime-node";
import type { DType, OnnxModel, TypedArray } from "../graph/index.js";

/** A tensor in host memory, as fed to and returned from a session. */
export interface HostTensor {
  dtype: DType;
  shape: number[];
  data: TypedArray;
}

export interface SessionOptions {
  /** Intra-op threads; defaults to AIGC_THREADS or the number of cores (at most 8). */
  threads?: number;
}

// Our dtype names are ONNX Runtime's tensor type names.
const dtypes: ReadonlySet<string> = new Set<DType>(["float32", "float64", "int64", "int32", "int8", "uint8", "bool"]);

export function defaultThreads(): number {
  const env = Number(process.env.AIGC_THREADS);
  if (Number.isInteger(env) && env > 0) return env;
  return Math.min(8, Math.max(1, (globalThis.navigator?.hardwareConcurrency as number | undefined) ?? 2));
}

export const toOrt = (tensor: HostTensor): ort.Tensor =>
  new ort.Tensor(tensor.dtype, tensor.data as ort.Tensor.DataType, tensor.shape);

export function fromOrt(tensor: ort.Tensor): HostTensor {
  if (!dtypes.has(tensor.type)) throw new Error(`unsupported output dtype ${tensor.type}`);
  return { dtype: tensor.type as DType, shape: [...tensor.dims], data: tensor.data as TypedArray };
}

export class CompiledGraph {
  constructor(
    readonly session: ort.InferenceSession,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
  ) {}

  /** Run with every graph input fed; returns every output by name. */
  async run(feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const name of this.inputNames) {
      const t = feeds[name];
      if (!t) throw new Error(`run: missing input "${name}" (inputs: ${this.inputNames.join(", ")})`);
      ortFeeds[name] = toOrt(t);
    }
    const out = await this.session.run(ortFeeds);
    const result: Record<string, HostTensor> = {};
    for (const name of this.outputNames) result[name] = fromOrt(out[name]);
    return result;
  }
}

const cache = new Map<string, Promise<CompiledGraph>>();

/** Create (or reuse) an ONNX Runtime session for an exported model. */
export function compile(model: OnnxModel, opts: SessionOptions = {}): Promise<CompiledGraph> {
  const threads = opts.threads ?? defaultThreads();
  const key = `${threads}:${createHash("sha256").update(model.bytes).digest("hex")}`;
  let hit = cache.get(key);
  if (!hit) {
    hit = ort.InferenceSession.create(model.bytes, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
      logSeverityLevel: 2,
      // QuickGeluFusion turns x * sigmoid(x) into com.microsoft.QuickGelu, which has no
      // float64 kernel: keep it off for float64 graphs (gradient checks).
      ...(model.hasFloat64 ? { extra: { optimization: { disable_specified_optimizers: "QuickGeluFusion" } } } : {}),
    }).then((s) => new CompiledGraph(s, model.inputNames, model.outputNames));
    hit.catch(() => cache.delete(key));
    cache.set(key, hit);
  }
  return hit;
}

/** Drop cached sessions (and their memory). */
export async function clearSessionCache(): Promise<void> {
  const all = [...cache.values()];
  cache.clear();
  for (const p of all) {
    try {
      await (await p).session.release();
    } catch {
      // a session that failed to build has nothing to release
    }
  }
}

export const ortVersion = (): string => ort.env.versions.node ?? "unknown";
