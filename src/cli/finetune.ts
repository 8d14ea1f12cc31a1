// `aigc finetune`: adapt a trained MoE LM to new text, fully, with LoRA or with QLoRA, from a
// JSONL file in OpenAI's fine-tuning format (chat or completion records: the loss counts the
// answers only) or from plain text. Writes a PEFT adapter folder (LoRA, QLoRA) or a model
// folder (full), and reports held-out perplexity before and after.
// `aigc lora merge`: an adapter folded into its base, written as a model folder.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import cliProgress from "cli-progress";
import type { Command } from "commander";
import { Option } from "commander";
import { type FinetuneStream, readFinetuneData } from "../data/index.js";
import { loadLoraAdapter, loadMoeLm, type MoeLmFiles, mergeLora, saveLoraAdapter, saveMoeLm } from "../models/index.js";
import { LoraConfig } from "../nn/index.js";
import { writeModelFolder } from "../runtime/index.js";
import { FINETUNE_METHODS, type FinetuneMethod, finetuneMoeLm } from "../train/index.js";
import { positiveInt } from "./args.js";

export interface FinetuneCliOptions {
  model: string;
  data: string;
  method: FinetuneMethod;
  rank: number;
  alpha: number;
  dropout: number;
  target: string[];
  steps: number;
  lr?: number;
  batch: number;
  seqLen: number;
  seed: number;
  threads?: number;
  out: string;
  /** Continue an interrupted run from <out>/checkpoint. */
  resume?: boolean;
  /** Checkpoint every this many steps (default 50). */
  saveEvery?: number;
  /** Stop after this many steps (a run to resume later; tests). */
  stopAt?: number;
  quiet?: boolean;
}

/**
 * What trains the LoRA updates by default: attention and the dense and shared-expert FFNs (the
 * always-on linears). By PEFT's suffix rule a bare "gate_proj" also matches every routed
 * expert's ("…mlp.experts.<e>.gate_proj"): name it so to adapt the experts too.
 */
export const DEFAULT_LORA_TARGETS = [
  "q_proj",
  "k_proj",
  "v_proj",
  "o_proj",
  "mlp.gate_proj",
  "mlp.up_proj",
  "mlp.down_proj",
  "shared_experts.gate_proj",
  "shared_experts.up_proj",
  "shared_experts.down_proj",
];

const stream = (s: FinetuneStream) => [{ tokens: s.tokens, domain: -1, weight: 1, lossMask: s.lossMask }];

export async function finetuneFromCli(o: FinetuneCliOptions) {
  const files = await loadMoeLm(o.model);
  const data = readFinetuneData(o.data, files.tokenizer);
  const window = Math.min(o.seqLen, files.config.model.maxSeq - 1);
  for (const [part, s] of [
    ["training", data.train],
    ["held-out", data.valid],
  ] as const) {
    if (s.tokens.length < window + 2)
      throw new Error(
        `${o.data}: the ${part} part has ${s.tokens.length} tokens, fewer than one window of ${window + 1}: give more data or a smaller --seq-len`,
      );
  }
  const lora =
    o.method !== "full"
      ? LoraConfig.parse({ r: o.rank, alpha: o.alpha, dropout: o.dropout, targetModules: o.target })
      : undefined;
  const bar = new cliProgress.SingleBar(
    {
      format: `finetune ${o.method} |{bar}| {value}/{total} | loss {loss} | ETA {eta_formatted}`,
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: 5000,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  if (!o.quiet) {
    console.error(
      `${o.model}: ${data.records} ${data.format} records, ${data.train.tokens.length} training and ${data.valid.tokens.length} held-out tokens`,
    );
    bar.start(o.steps, 0, { loss: "-" });
  }
  const r = await finetuneMoeLm({
    files,
    train: stream(data.train),
    valid: stream(data.valid),
    maskedLoss: data.format !== "text",
    method: o.method,
    lora,
    steps: o.steps,
    lr: o.lr ?? (o.method === "full" ? 5e-4 : 6e-3),
    batch: o.batch,
    seqLen: window,
    seed: o.seed,
    threads: o.threads,
    onStep: (step, loss) => {
      if (!o.quiet) bar.update(step, { loss: loss.toFixed(3) });
    },
    // An interrupted run leaves <out>/checkpoint; the finished adapter or model replaces the folder.
    checkpoint: { dir: join(o.out, "checkpoint"), every: o.saveEvery, resume: o.resume },
    consumeBase: true, // (QLoRA) the float32 base is not needed again here
    stopAt: o.stopAt,
  });
  if (!o.quiet) bar.stop();
  if (o.stopAt !== undefined && o.stopAt < o.steps) return { ...r, data };
  if (lora) await saveLoraAdapter(o.out, { config: lora, adapter: r.store, baseModel: o.model });
  else await saveModelLike(o.out, { ...files, store: r.store }, o.model);
  return { ...r, data };
}

/** A model folder with `files`, and the chat template and sampling of the model at `like` (they travel with it). */
async function saveModelLike(out: string, files: MoeLmFiles, like: string): Promise<void> {
  await saveMoeLm(out, files);
  const extras = ["tokenizer_config.json", "generation_config.json"].filter((name) => existsSync(join(like, name)));
  if (extras.length > 0)
    await writeModelFolder(out, Object.fromEntries(extras.map((n) => [n, readFileSync(join(like, n), "utf8")])), {
      keep: "others",
    });
}

/** `aigc lora merge`: base + adapter -> a model folder that serves without the adapter. */
export async function mergeLoraFromCli(o: { model: string; adapter: string; out: string }) {
  const files = await loadMoeLm(o.model);
  const adapter = await loadLoraAdapter(o.adapter, files.store);
  await saveModelLike(o.out, { ...files, store: mergeLora(files.store, adapter.adapter, adapter.config) }, o.model);
  return adapter;
}

export function registerFinetuneCommand(program: Command): void {
  program
    .command("lora")
    .description("LoRA adapters (PEFT folders, from aigc finetune or PEFT)")
    .command("merge")
    .description("fold an adapter into its base model and write the merged model folder")
    .requiredOption("--model <dir>", "base model folder the adapter was trained on (e.g. assets/chat)")
    .requiredOption("--adapter <dir>", "adapter folder (adapter_config.json, adapter_model.safetensors)")
    .requiredOption("--out <dir>", "merged model folder to write")
    .action(async (o: { model: string; adapter: string; out: string }) => {
      const adapter = await mergeLoraFromCli(o);
      console.log(`${o.out}: ${o.model} with ${o.adapter} merged (${adapter.modules.length} modules, r ${adapter.config.r})`);
    });
  program
    .command("finetune")
    .description(
      "adapt a trained MoE LM to a JSONL (OpenAI fine-tuning format) or text file: LoRA or QLoRA (4-bit base) adapter, or full fine-tune",
    )
    .requiredOption("--model <dir>", "base model folder (e.g. assets/chat)")
    .requiredOption("--data <file>", ".jsonl (chat or completion records) or plain text; the last 10% is held out")
    .requiredOption("--out <dir>", "the adapter folder (lora, qlora) or model folder (full) to write")
    .addOption(new Option("--method <method>", "what trains").choices(FINETUNE_METHODS).default("lora"))
    .option("--rank <r>", "LoRA rank", positiveInt("--rank"), 8)
    .option("--alpha <a>", "LoRA scale α (the update is multiplied by α / r)", Number.parseFloat, 16)
    .option("--dropout <p>", "LoRA dropout", Number.parseFloat, 0)
    .option("--target <modules...>", "LoRA target modules (PEFT's rule: a name or a dotted suffix)", DEFAULT_LORA_TARGETS)
    .option("--steps <n>", "optimizer steps", positiveInt("--steps"), 200)
    .option("--lr <lr>", "peak learning rate (default 6e-3 for LoRA and QLoRA, 5e-4 full)", Number.parseFloat)
    .option("--batch <n>", "sequences per step", positiveInt("--batch"), 8)
    .option("--seq-len <n>", "tokens per sequence", positiveInt("--seq-len"), 128)
    .option("--seed <n>", "seed of the batches and LoRA's initial A", (v) => Number.parseInt(v, 10), 0)
    .option("--threads <n>", "ONNX Runtime threads", positiveInt("--threads"))
    .option("--save-every <n>", "checkpoint to <out>/checkpoint every n steps", positiveInt("--save-every"), 50)
    .option("--resume", "continue an interrupted run from <out>/checkpoint (same settings)")
    .action(async (o: FinetuneCliOptions) => {
      const r = await finetuneFromCli(o);
      const ppl = (x: number) => Math.exp(x).toFixed(2);
      console.log(
        `${o.out}: ${o.method}, ${r.trainableParams} of ${r.totalParams} parameters trained (${((100 * r.trainableParams) / r.totalParams).toFixed(2)}%) in ${r.seconds.toFixed(0)} s; held-out perplexity ${ppl(r.baseLoss)} -> ${ppl(r.loss)}; base ${r.bitsPerBaseParam.toFixed(2)} bits per parameter; peak memory ${(r.peakRssBytes / 2 ** 20).toFixed(0)} MiB`,
      );
    });
}
