// Reading a model folder (config.json + model.safetensors), shared by every model's loader.
// Each problem is thrown as the caller's own error type, naming the file and what was expected.

import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { z } from "zod";
import { ParamStore } from "./params.js";
import { float16ToFloat32, readSafetensors } from "./safetensors.js";

export interface ModelFolderErrors {
  /** Makes the caller's error from a message. */
  fail: (message: string) => Error;
}

/**
 * `<dir>/config.json`, parsed and validated by `schema`.
 * `what` names the model in the missing-folder message ("no aligner in …"), `kind` in the
 * invalid-config one, and `trainCommand` says how to make one.
 */
export async function readModelConfig<S extends z.ZodType>(
  dir: string,
  o: ModelFolderErrors & { schema: S; what: string; kind: string; trainCommand: string },
): Promise<z.infer<S>> {
  const configPath = join(dir, "config.json");
  if (!existsSync(configPath))
    throw o.fail(`no ${o.what} in ${dir}: expected ${configPath} (train one with \`${o.trainCommand}\`)`);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(configPath, "utf8"));
  } catch (err) {
    throw o.fail(`${configPath} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = o.schema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw o.fail(`${configPath} is not a valid ${o.kind} config: ${issues}`);
  }
  return parsed.data;
}

/** `<dir>/model.safetensors` as float32 parameters (float16 tensors are widened). */
export async function readModelWeights(dir: string, o: ModelFolderErrors): Promise<ParamStore> {
  const weightsPath = join(dir, "model.safetensors");
  if (!existsSync(weightsPath)) throw o.fail(`no weights in ${dir}: expected ${weightsPath}`);
  let tensors: Awaited<ReturnType<typeof readSafetensors>>["tensors"];
  try {
    tensors = (await readSafetensors(weightsPath)).tensors;
  } catch (err) {
    throw o.fail(`${weightsPath}: ${(err as Error).message}`);
  }
  const store = new ParamStore();
  for (const [name, t] of Object.entries(tensors)) {
    if (t.dtype === "F16") store.set(name, t.shape, float16ToFloat32(t.data as Uint16Array));
    else if (t.dtype === "F32") store.set(name, t.shape, t.data as Float32Array);
    else throw o.fail(`${weightsPath}: tensor "${name}" is ${t.dtype}, expected F32 or F16`);
  }
  return store;
}
