// `aigc export`: a trained MoE LM in the formats other engines load: GGUF (llama.cpp, Ollama,
// LM Studio, node-llama-cpp) and a Hugging Face Glm4MoeForCausalLM folder (transformers,
// vLLM, SGLang).

import type { Command } from "commander";
import { Option } from "commander";
import {
  folderChatTemplate,
  GGUF_TYPES,
  type GgufExportType,
  HF_DTYPES,
  type HfExportDtype,
  loadMoeLm,
  saveMoeLmHf,
  writeMoeLmGguf,
} from "../models/index.js";

export function registerExportCommands(program: Command): void {
  const exportCmd = program.command("export").description("write a trained MoE LM in formats other engines load");
  exportCmd
    .command("gguf")
    .description("a GGUF v3 file of llama.cpp's glm4moe architecture, tokenizer and chat template included")
    .requiredOption("--model <dir>", "model folder (e.g. assets/chat)")
    .requiredOption("--out <file>", "the .gguf file to write")
    .addOption(new Option("--type <type>", "tensor type of the matrices").choices(GGUF_TYPES).default("f32"))
    .action(async (o: { model: string; out: string; type: GgufExportType }) => {
      const files = await loadMoeLm(o.model);
      const r = writeMoeLmGguf(
        {
          cfg: files.config.model,
          store: files.store,
          tokenizer: files.tokenizer,
          chatTemplate: folderChatTemplate(o.model),
          name: o.model.split("/").filter(Boolean).pop(),
        },
        o.out,
        { type: o.type },
      );
      console.log(`${r.path}: ${(r.bytes / 1e6).toFixed(2)} MB, ${r.tensors} tensors (${o.type})`);
      if (r.paddedExperts > 0)
        console.log(
          `  expert groups evened out with ${r.paddedExperts} zero experts per MoE block that are never chosen (exact: see src/models/glm4moe.ts)`,
        );
      for (const line of r.kept) console.log(`  ${line}`);
    });
  exportCmd
    .command("hf")
    .description(
      "a Hugging Face Glm4MoeForCausalLM folder (config.json, model.safetensors, tokenizer), as vLLM and SGLang load it",
    )
    .requiredOption("--model <dir>", "model folder (e.g. assets/chat)")
    .requiredOption("--out <dir>", "the folder to write")
    .addOption(
      new Option("--dtype <dtype>", "weight type (router and selection bias stay float32)").choices(HF_DTYPES).default("float32"),
    )
    .action(async (o: { model: string; out: string; dtype: HfExportDtype }) => {
      const files = await loadMoeLm(o.model);
      const r = await saveMoeLmHf(files, o.out, { dtype: o.dtype, source: o.model });
      console.log(`${r.dir}: model.safetensors ${(r.bytes / 1e6).toFixed(2)} MB, ${r.tensors} tensors (${o.dtype})`);
      if (r.paddedExperts > 0)
        console.log(`  expert groups evened out with ${r.paddedExperts} zero experts per MoE block that are never chosen`);
      for (const line of r.notes) console.log(`  ${line}`);
    });
}
