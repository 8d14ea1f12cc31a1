// A MoE LM model folder run by llama.cpp: the folder gives the tokenizer, chat template and
// sampling defaults as for our engine; the weights come from a GGUF export of the same model
// (a file given, checked against the folder, or one exported to a temporary file at load).

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GgufError, readGgufHeader } from "../runtime/index.js";
import { LlamaCppModel, type LlamaCppModelOptions } from "./llamaCppModel.js";
import type { MoeLmFiles } from "./moeLmFiles.js";
import { type GgufExportType, writeMoeLmGguf } from "./moeLmGguf.js";

export interface MoeLmLlamaCppOptions extends LlamaCppModelOptions {
  /** A GGUF export of this model (`aigc export gguf`); omitted: exported at load to a temporary file. */
  gguf?: string;
  /** The type of the export made at load (default f32: decodes as our engine does). */
  type?: GgufExportType;
}

/** The chat template of a model folder (tokenizer_config.json), if it has one. */
export function folderChatTemplate(dir: string): string | undefined {
  try {
    const config = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8")) as { chat_template?: unknown };
    return typeof config.chat_template === "string" ? config.chat_template : undefined;
  } catch {
    return undefined;
  }
}

/** Refuse a GGUF file that is not this folder's model (other architecture, shape or vocabulary). */
export function checkGgufMatchesFolder(path: string, files: MoeLmFiles): void {
  const { metadata } = readGgufHeader(path);
  const cfg = files.config.model;
  const value = (key: string) => {
    const v = metadata.get(key);
    return v && v.type !== "array" ? v.value : undefined;
  };
  const expected: [string, unknown][] = [
    ["general.architecture", "glm4moe"],
    ["glm4moe.embedding_length", cfg.dim],
    ["glm4moe.block_count", cfg.layers],
    ["glm4moe.attention.head_count", cfg.heads],
    ["glm4moe.expert_used_count", cfg.moe.topK],
  ];
  for (const [key, want] of expected) {
    if (value(key) !== want)
      throw new GgufError(
        `${path} is not this model's export: ${key} is ${JSON.stringify(value(key))}, the folder's model has ${want}`,
      );
  }
  const tokens = metadata.get("tokenizer.ggml.tokens");
  const ours = files.tokenizer.toHuggingFaceJson().model.vocab;
  if (tokens?.type !== "array" || tokens.itemType !== "string" || tokens.value.length !== files.tokenizer.vocabSize)
    throw new GgufError(`${path} is not this model's export: its vocabulary differs in size from the folder's tokenizer`);
  const differs = tokens.value.findIndex((t, id) => ours[t] !== id);
  if (differs >= 0)
    throw new GgufError(`${path} is not this model's export: token ${differs} differs from the folder's tokenizer`);
}

/** Load a model folder's weights into llama.cpp; `dispose` frees it and removes a temporary export. */
export async function loadMoeLmOnLlamaCpp(
  dir: string,
  files: MoeLmFiles,
  options: MoeLmLlamaCppOptions = {},
): Promise<{ model: LlamaCppModel; ggufPath: string; dispose(): Promise<void> }> {
  let path = options.gguf;
  let temporary: string | undefined;
  if (path) {
    checkGgufMatchesFolder(path, files);
  } else {
    temporary = mkdtempSync(join(tmpdir(), "aigc-gguf-"));
    path = join(temporary, `model.${options.type ?? "f32"}.gguf`);
    writeMoeLmGguf(
      { cfg: files.config.model, store: files.store, tokenizer: files.tokenizer, chatTemplate: folderChatTemplate(dir) },
      path,
      { type: options.type ?? "f32" },
    );
  }
  try {
    const model = await LlamaCppModel.load(path, { ...options, eosId: options.eosId ?? files.tokenizer.idOf("<|eos|>") });
    return {
      model,
      ggufPath: path,
      async dispose() {
        await model.dispose();
        if (temporary) rmSync(temporary, { recursive: true, force: true });
      },
    };
  } catch (e) {
    if (temporary) rmSync(temporary, { recursive: true, force: true });
    throw e;
  }
}
