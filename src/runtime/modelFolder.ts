// Model folders (config.json, model.safetensors, tokenizer.json, model.onnx, ...): the one
// atomic writer every model, checkpoint and export uses, and the readers shared by every
// model's loader. Reading throws each problem as the caller's own error type, naming the
// file and what was expected.

import { existsSync } from "node:fs";
import { copyFile, link, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { z } from "zod";
import { ParamStore } from "./params.js";
import { float16ToFloat32, readSafetensors, type SafeTensor, writeSafetensors } from "./safetensors.js";
import { issueLines, safeParseInput } from "./zodIssues.js";

/** One file of a model folder: text, bytes, safetensors tensors, or a function that writes it at `path`. */
export type ModelFile =
  | string
  | Uint8Array
  | { tensors: Record<string, SafeTensor>; metadata?: Record<string, string> }
  | ((path: string) => void | Promise<void>);

export interface WriteModelFolderOptions {
  /**
   * Entries of the folder already at `dir` that the new folder keeps where it does not write
   * them itself: these names, or "others" for every entry. Default: none (a fresh folder).
   */
  keep?: readonly string[] | "others";
}

/** Copy a file or folder, hard-linking files where the file system allows (written files are always new, never edited in place). */
async function linkOrCopy(from: string, to: string): Promise<void> {
  if ((await stat(from)).isDirectory()) {
    await mkdir(to);
    for (const name of await readdir(from)) await linkOrCopy(join(from, name), join(to, name));
    return;
  }
  await link(from, to).catch(() => copyFile(from, to));
}

/**
 * Writes a model folder atomically: every file goes into a temporary folder next to `dir`,
 * the kept entries of the old folder are linked or copied in, and the temporary folder is
 * swapped into place (the old one moves aside first, so a complete folder exists at every
 * instant). A crash or a failed write never leaves a half-written model at `dir`.
 */
export async function writeModelFolder(
  dir: string,
  files: Readonly<Record<string, ModelFile>>,
  options: WriteModelFolderOptions = {},
): Promise<void> {
  const tmp = `${dir}.partial-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    for (const [name, file] of Object.entries(files)) {
      const path = join(tmp, name);
      if (typeof file === "string" || file instanceof Uint8Array) await writeFile(path, file);
      else if (typeof file === "function") await file(path);
      else await writeSafetensors(path, file.tensors, file.metadata);
    }
    if (options.keep && existsSync(dir)) {
      const kept = options.keep === "others" ? await readdir(dir) : options.keep;
      for (const name of kept)
        if (!Object.hasOwn(files, name) && existsSync(join(dir, name))) await linkOrCopy(join(dir, name), join(tmp, name));
    }
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  const old = `${dir}.old-${process.pid}`;
  await rm(old, { recursive: true, force: true });
  if (existsSync(dir)) await rename(dir, old);
  await rename(tmp, dir);
  await rm(old, { recursive: true, force: true });
}

/** A JSON file as the model folders write it: two-space indents and a final newline. */
export const jsonFile = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

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
  options: ModelFolderErrors & { schema: S; what: string; kind: string; trainCommand: string },
): Promise<z.infer<S>> {
  const configPath = join(dir, "config.json");
  if (!existsSync(configPath))
    throw options.fail(`no ${options.what} in ${dir}: expected ${configPath} (train one with \`${options.trainCommand}\`)`);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(configPath, "utf8"));
  } catch (err) {
    throw options.fail(`${configPath} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = safeParseInput(options.schema, raw);
  if (!parsed.success)
    throw options.fail(
      `${configPath} is not a valid ${options.kind} config: ${issueLines(parsed.error, raw, { root: "the file" })}`,
    );
  return parsed.data;
}

/** `<dir>/model.safetensors` as float32 parameters (float16 tensors are widened). */
export async function readModelWeights(dir: string, options: ModelFolderErrors): Promise<ParamStore> {
  const weightsPath = join(dir, "model.safetensors");
  if (!existsSync(weightsPath)) throw options.fail(`no weights in ${dir}: expected ${weightsPath}`);
  let tensors: Awaited<ReturnType<typeof readSafetensors>>["tensors"];
  try {
    tensors = (await readSafetensors(weightsPath)).tensors;
  } catch (err) {
    throw options.fail(`${weightsPath}: ${(err as Error).message}`);
  }
  const store = new ParamStore();
  for (const [name, t] of Object.entries(tensors)) {
    if (t.dtype === "F16") store.set(name, t.shape, float16ToFloat32(t.data as Uint16Array));
    else if (t.dtype === "F32") store.set(name, t.shape, t.data as Float32Array);
    else throw options.fail(`${weightsPath}: tensor "${name}" is ${t.dtype}, expected F32 or F16`);
  }
  return store;
}
