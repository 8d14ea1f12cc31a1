// Checkpoints: a folder with config.json, model.safetensors (parameters under their
// graph names), optimizer.safetensors (AdamW moments) and trainer.json (step and the
// loop's own state), written by the one atomic model-folder writer, so a crash never leaves
// a half-written one.

import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { jsonFile, type ModelFile, writeModelFolder } from "./modelFolder.js";
import { ParamStore } from "./params.js";
import { readSafetensors, type SafeTensor } from "./safetensors.js";
import type { TrainStep } from "./trainStep.js";

export interface CheckpointContents {
  store: ParamStore;
  /** AdamW moments by parameter name (absent for inference-only folders). */
  moments?: Map<string, { m: Float32Array; v: Float32Array }>;
  step: number;
  config: unknown;
  /** Whatever the training loop needs to resume (seed, best eval loss, ...). */
  state: Record<string, unknown>;
}

const f32 = (shape: number[], data: Float32Array): SafeTensor => ({ dtype: "F32", shape, data });

export async function saveCheckpoint(
  dir: string,
  options: { store: ParamStore; trainStep?: TrainStep; config: unknown; state?: Record<string, unknown> },
): Promise<void> {
  const params: Record<string, SafeTensor> = {};
  for (const [name, v] of options.store.values) params[name] = f32(v.shape, v.data);
  const files: Record<string, ModelFile> = { "model.safetensors": { tensors: params, metadata: { format: "pt" } } };
  const step = options.trainStep?.stepCount ?? 0;
  if (options.trainStep) {
    const moments: Record<string, SafeTensor> = {};
    for (const [name, mv] of options.trainStep.moments) {
      const shape = options.store.get(name).shape;
      moments[`${name}.exp_avg`] = f32(shape, mv.m);
      moments[`${name}.exp_avg_sq`] = f32(shape, mv.v);
    }
    files["optimizer.safetensors"] = { tensors: moments, metadata: { step: String(step) } };
  }
  files["config.json"] = jsonFile(options.config);
  files["trainer.json"] = jsonFile({ step, ...options.state });
  await writeModelFolder(dir, files);
}

export async function loadCheckpoint(dir: string): Promise<CheckpointContents> {
  const modelPath = join(dir, "model.safetensors");
  if (!existsSync(modelPath))
    throw new Error(`no checkpoint in ${dir}: expected ${modelPath} (from \`aigc train\` or saveCheckpoint)`);
  const config = JSON.parse(await readFile(join(dir, "config.json"), "utf8")) as unknown;
  const store = new ParamStore();
  const { tensors } = await readSafetensors(modelPath);
  for (const [name, t] of Object.entries(tensors)) {
    if (t.dtype !== "F32") throw new Error(`${modelPath}: parameter "${name}" is ${t.dtype}, expected F32`);
    store.set(name, t.shape, t.data as Float32Array);
  }
  const trainerPath = join(dir, "trainer.json");
  const state = existsSync(trainerPath) ? (JSON.parse(await readFile(trainerPath, "utf8")) as Record<string, unknown>) : {};
  const step = typeof state.step === "number" ? state.step : 0;
  let moments: CheckpointContents["moments"];
  const optPath = join(dir, "optimizer.safetensors");
  if (existsSync(optPath)) {
    moments = new Map();
    const opt = (await readSafetensors(optPath)).tensors;
    for (const name of store.values.keys()) {
      const m = opt[`${name}.exp_avg`];
      const v = opt[`${name}.exp_avg_sq`];
      if (m && v) moments.set(name, { m: m.data as Float32Array, v: v.data as Float32Array });
    }
  }
  return { store, moments, step, config, state };
}
