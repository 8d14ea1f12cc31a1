// The lip-sync model: a small streaming network from log-mel frames to the Oculus viseme
// of one frame. It sees a window of C frames ending `lookahead` frames after the frame it
// decides (the "current" frame sits at index C - 1 - lookahead), so its algorithmic
// latency is lookahead hops plus the part of a frame's window past its centre.
//
// Graph, bottom to top (dims: B batch, C context frames, M mel bands, F per-frame width,
// H hidden width, V = 15 visemes):
//   mel [B, C, M] -> minus the window's mean level (gain invariance) -> scaled
//   -> per-frame linear + ReLU [B, C, F] -> flatten [B, C·F]
//   -> linear + ReLU [B, H] -> residual linear + ReLU [B, H] -> linear [B, V] logits
//   -> softmax: visemes [B, V].
// Only MatMul, Add, Sub, Mul, ReduceMean, Relu, Reshape and Softmax: onnxruntime-web's
// wasm backend runs all of them, no contrib ops.

import { z } from "zod";
import { Graph, op, type Tensor, toOnnx } from "../graph/index.js";
import { linear, Scope } from "../nn/index.js";

export const LipSyncConfig = z
  .object({
    /** Mel bands M per frame (must match the feature extractor). */
    melBands: z.number().int().positive(),
    /** Frames C in the window the model sees, look-ahead included. */
    context: z.number().int().positive(),
    /** Frames after the decided frame inside the window (each adds one hop of latency). */
    lookahead: z.number().int().min(0),
    /** Per-frame projection width F. */
    frameDim: z.number().int().positive(),
    /** Hidden width H of the window MLP. */
    hidden: z.number().int().positive(),
    /** Output classes V (the 15 Oculus visemes). */
    visemes: z.number().int().positive(),
    /** Log-mel values are divided by this after the mean level is removed (keeps inputs near unit scale). */
    featureScale: z.number().positive(),
  })
  .strict()
  .refine((c) => c.lookahead < c.context, { message: "lookahead must be smaller than context" });
export type LipSyncConfig = z.infer<typeof LipSyncConfig>;

/** Index of the decided frame inside the window. */
export const currentFrameIndex = (config: LipSyncConfig): number => config.context - 1 - config.lookahead;

/** mel [B, C, M] -> viseme logits [B, V]; parameters under `scope`. */
export function lipSyncLogits(scope: Scope, cfg: LipSyncConfig, mel: Tensor): Tensor {
  if (mel.rank !== 3 || mel.shape[1] !== cfg.context || mel.shape[2] !== cfg.melBands)
    throw new Error(`lipSyncLogits: mel must be [B, ${cfg.context}, ${cfg.melBands}], got [${mel.shape.join(", ")}]`);
  // A gain change shifts every log-mel value by the same amount: remove the window's mean.
  const level = op.reduceMean(op.reduceMean(mel, -1, true), -2, true); // [B, 1, 1]
  const x = op.mul(op.sub(mel, level), 1 / cfg.featureScale); // [B, C, M]
  const perFrame = op.relu(linear(scope.child("frame_proj"), x, cfg.frameDim, { bias: true, std: 1 / Math.sqrt(cfg.melBands) })); // [B, C, F]
  const flat = op.reshape(perFrame, [-1, cfg.context * cfg.frameDim]); // [B, C·F]
  const h1 = op.relu(
    linear(scope.child("fc1"), flat, cfg.hidden, { bias: true, std: Math.sqrt(2 / (cfg.context * cfg.frameDim)) }),
  ); // [B, H]
  const h2 = op.add(h1, op.relu(linear(scope.child("fc2"), h1, cfg.hidden, { bias: true, std: Math.sqrt(1 / cfg.hidden) }))); // [B, H]
  return linear(scope.child("head"), h2, cfg.visemes, { bias: true, std: 0.01 }); // [B, V]
}

/** The model's input [B, C, M] as a graph input named "mel" with batch `batch` (a number or symbol). */
export function lipSyncInput(graph: Graph, cfg: LipSyncConfig, batch: number | string): Tensor {
  return graph.input("mel", "float32", [batch, cfg.context, cfg.melBands]);
}

/** Inference ONNX: input "mel" [B, C, M] (B dynamic), output "visemes" [B, V] probabilities; weights embedded. */
export function exportLipSyncOnnx(cfg: LipSyncConfig, weights: (name: string) => Float32Array): Uint8Array {
  const graph = new Graph();
  const mel = lipSyncInput(graph, cfg, "B");
  const visemes = op.softmax(lipSyncLogits(new Scope(graph).child("lipsync"), cfg, mel), -1);
  return toOnnx({ outputs: { visemes }, name: "lipsync", paramValue: weights }).bytes;
}
