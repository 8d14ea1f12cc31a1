// `aigc finetune`: adapt a trained MoE LM to new text, fully or with LoRA, from a JSONL file
// in OpenAI's fine-tuning format (chat or completion records: the loss counts the answers
// only) or from plain text. Writes a PEFT adapter folder (LoRA) or a model folder (full),
// and reports held-out perplexity before and after.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import cliProgress from "cli-progress";
import type { Command } from "commander";
import { Option } from "commander";
import { type FinetuneStream, readFinetuneData } from "../data/index.js";
import { loadMoeLm, saveLoraAdapter, saveMoeLm } from "../models/index.js";
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
  quiet?: boolean;
}

/** What trains the LoRA updates by default: every linear (attention, dense and shared-expert FFNs). */
export const DEFAULT_LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

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
    o.method === "lora"
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
    lr: o.lr ?? (o.method === "lora" ? 6e-3 : 5e-4),
    batch: o.batch,
    seqLen: window,
    seed: o.seed,
    threads: o.threads,
    onStep: (step, loss) => {
      if (!o.quiet) bar.update(step, { loss: loss.toFixed(3) });
    },
  });
  if (!o.quiet) bar.stop();
  if (lora) {
    await saveLoraAdapter(o.out, { config: lora, adapter: r.store, baseModel: o.model });
  } else {
    await saveMoeLm(o.out, { ...files, store: r.store });
    // A chat model's template and sampling travel with it.
    const extras = ["tokenizer_config.json", "generation_config.json"].filter((name) => existsSync(join(o.model, name)));
    if (extras.length > 0)
      await writeModelFolder(o.out, Object.fromEntries(extras.map((n) => [n, readFileSync(join(o.model, n), "utf8")])), {
        keep: "others",
      });
  }
  return { ...r, data };
}

export function registerFinetuneCommand(program: Command): void {
  program
    .command("finetune")
    .description("adapt a trained MoE LM to a JSONL (OpenAI fine-tuning format) or text file: LoRA adapter or full fine-tune")
    .requiredOption("--model <dir>", "base model folder (e.g. assets/chat)")
    .requiredOption("--data <file>", ".jsonl (chat or completion records) or plain text; the last 10% is held out")
    .requiredOption("--out <dir>", "the adapter folder (lora) or model folder (full) to write")
    .addOption(new Option("--method <method>", "what trains").choices(FINETUNE_METHODS).default("lora"))
    .option("--rank <r>", "LoRA rank", positiveInt("--rank"), 8)
    .option("--alpha <a>", "LoRA scale α (the update is multiplied by α / r)", Number.parseFloat, 16)
    .option("--dropout <p>", "LoRA dropout", Number.parseFloat, 0)
    .option("--target <modules...>", "LoRA target modules (PEFT's rule: a name or a dotted suffix)", DEFAULT_LORA_TARGETS)
    .option("--steps <n>", "optimizer steps", positiveInt("--steps"), 200)
    .option("--lr <lr>", "peak learning rate (default 6e-3 for LoRA, 5e-4 full)", Number.parseFloat)
    .option("--batch <n>", "sequences per step", positiveInt("--batch"), 8)
    .option("--seq-len <n>", "tokens per sequence", positiveInt("--seq-len"), 128)
    .option("--seed <n>", "seed of the batches and LoRA's initial A", (v) => Number.parseInt(v, 10), 0)
    .option("--threads <n>", "ONNX Runtime threads", positiveInt("--threads"))
    .action(async (o: FinetuneCliOptions) => {
      const r = await finetuneFromCli(o);
      const ppl = (x: number) => Math.exp(x).toFixed(2);
      console.log(
        `${o.out}: ${o.method}, ${r.trainableParams} of ${r.totalParams} parameters trained (${((100 * r.trainableParams) / r.totalParams).toFixed(2)}%) in ${r.seconds.toFixed(0)} s; held-out perplexity ${ppl(r.baseLoss)} -> ${ppl(r.loss)}; peak memory ${(r.peakRssBytes / 2 ** 20).toFixed(0)} MiB`,
      );
    });
}
