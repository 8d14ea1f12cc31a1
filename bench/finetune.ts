// Fine-tuning the shipped chat model on two domains it was not trained on, by method: held-out
// perplexity of the base (the anchor, measured in the same run), full fine-tuning, LoRA and
// QLoRA, with trainable parameters, bits per base parameter, peak training memory and wall time. Each run is its own process,
// so its peak memory is its own.
// Domains: upstream changelogs and NEWS files from /usr/share/doc (software release notes) and
// the license texts of /usr/share/common-licenses (legal prose); see src/data/finetuneCorpora.ts.
// Peak memory at a size where the weights, not the activations, dominate (as in QLoRA's
// setting): `--memory-preset base` adds a few steps of each method on the untrained `base`
// preset (178M parameters, 712 MB float32), each in its own process, no held-out scoring.
// Usage: node --import tsx bench/finetune.ts [--model assets/chat] [--steps 200] [--methods full,lora,qlora] [--domains changelogs,licenses]
//        [--memory-preset base] [--memory-steps 3]
// Targets (#23): LoRA recovers >= 90% of full fine-tuning's perplexity gain with <= 1% of the parameters trainable;
// QLoRA within 2% of LoRA's perplexity at <= 4.6 bits per base parameter and <= 0.5x full fine-tuning's peak memory.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_LORA_TARGETS } from "../src/cli/finetune.js";
import { trainedOrSeededLm } from "../src/cli/lm.js";
import { debianChangelogs, licenseTexts, textFinetuneData } from "../src/data/index.js";
import { loadMoeLm } from "../src/models/index.js";
import { finetuneMoeLm } from "../src/train/index.js";

const { values } = parseArgs({
  options: {
    model: { type: "string", default: "assets/chat" },
    steps: { type: "string", default: "200" },
    methods: { type: "string", default: "full,lora,qlora" },
    domains: { type: "string", default: "changelogs,licenses" },
    threads: { type: "string", default: "2" },
    one: { type: "string" }, // child: run one (domain file, method) and print its JSON
    method: { type: "string" },
    "lora-lr": { type: "string", default: "6e-3" },
    rank: { type: "string", default: "8" },
    targets: { type: "string" },
    "full-lr": { type: "string", default: "5e-4" },
    "memory-preset": { type: "string" },
    "memory-steps": { type: "string", default: "3" },
    preset: { type: "string" }, // child: an untrained preset instead of --model, memory only
  },
});
const steps = Number(values.steps);
const threads = Number(values.threads);

interface Run {
  method: string;
  baseLoss: number;
  loss: number;
  trainableParams: number;
  totalParams: number;
  bitsPerBaseParam: number;
  peakRssBytes: number;
  seconds: number;
}

if (values.one) {
  let files = await loadMoeLm(values.model as string);
  if (values.preset) {
    // The preset's untrained weights, the model's tokenizer (its ids fit the preset's vocabulary).
    const { cfg, store } = await trainedOrSeededLm(undefined, values.preset);
    files = { ...files, config: { ...files.config, model: cfg }, store };
  }
  const data = textFinetuneData(readFileSync(values.one as string, "utf8"), files.tokenizer);
  const method = values.method as "full" | "lora" | "qlora";
  const r = await finetuneMoeLm({
    files,
    train: [{ tokens: data.train.tokens, domain: -1, weight: 1 }],
    valid: [{ tokens: data.valid.tokens, domain: -1, weight: 1 }],
    method,
    lora: {
      r: Number(values.rank),
      alpha: 2 * Number(values.rank),
      dropout: 0,
      targetModules: values.targets ? values.targets.split(",") : DEFAULT_LORA_TARGETS,
    },
    steps,
    lr: Number(method === "full" ? values["full-lr"] : values["lora-lr"]),
    batch: 8,
    seqLen: 128,
    seed: 1,
    threads,
    evalWindows: values.preset ? 0 : undefined,
    consumeBase: true, // QLoRA keeps no float32 copy of the base, as a 4-bit load would not
  });
  const run: Run = { method, ...r };
  console.log(JSON.stringify({ ...run, store: undefined, merged: undefined }));
} else {
  /** One (data, method) run in its own process, so its peak memory is its own. */
  const child = (path: string, method: string, childSteps: number, extra: string[] = []): Run => {
    const out = execFileSync(
      process.execPath,
      [
        "--import",
        "tsx",
        process.argv[1],
        "--one",
        path,
        "--method",
        method,
        "--model",
        values.model as string,
        "--steps",
        String(childSteps),
        "--threads",
        String(threads),
        "--lora-lr",
        values["lora-lr"] as string,
        ...extra,
      ],
      { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 24 },
    );
    return JSON.parse(out.trim().split("\n").pop() as string) as Run;
  };
  const memoryRows: Record<string, unknown>[] = [];
  const corpora = { changelogs: debianChangelogs, licenses: licenseTexts };
  const dir = mkdtempSync(join(tmpdir(), "finetune-bench-"));
  const table: Record<string, unknown>[] = [];
  try {
    for (const domain of (values.domains as string).split(",").filter(Boolean) as (keyof typeof corpora)[]) {
      const corpus = corpora[domain]();
      const path = join(dir, `${domain}.txt`);
      writeFileSync(path, corpus.text);
      console.error(`${domain}: ${corpus.text.length} characters from ${corpus.sources.length} files`);
      const runs: Run[] = [];
      for (const method of (values.methods as string).split(",")) {
        const run = child(path, method, steps);
        runs.push(run);
        console.error(
          `  ${method.padEnd(5)} perplexity ${Math.exp(run.baseLoss).toFixed(2)} -> ${Math.exp(run.loss).toFixed(2)}, ${run.trainableParams} trainable (${((100 * run.trainableParams) / run.totalParams).toFixed(2)}%), ${run.bitsPerBaseParam.toFixed(2)} bits/base param, peak ${(run.peakRssBytes / 2 ** 20).toFixed(0)} MiB, ${run.seconds.toFixed(0)} s`,
        );
      }
      const full = runs.find((r) => r.method === "full");
      const base = Math.exp(runs[0].baseLoss);
      for (const r of runs) {
        const ppl = Math.exp(r.loss);
        const row: Record<string, unknown> = {
          domain,
          method: r.method,
          basePerplexity: base,
          perplexity: ppl,
          trainablePercent: (100 * r.trainableParams) / r.totalParams,
          bitsPerBaseParam: r.bitsPerBaseParam,
          peakMiB: r.peakRssBytes / 2 ** 20,
          seconds: r.seconds,
        };
        if (full && r !== full) {
          // Share of full fine-tuning's gain: in perplexity (the target's terms) and in loss (nats/token).
          row.gainRecovered = (base - ppl) / (base - Math.exp(full.loss));
          row.lossGainRecovered = (r.baseLoss - r.loss) / (full.baseLoss - full.loss);
          row.peakVsFull = r.peakRssBytes / full.peakRssBytes;
        }
        const lora = runs.find((x) => x.method === "lora");
        if (lora && r.method === "qlora") row.perplexityVsLora = ppl / Math.exp(lora.loss);
        table.push(row);
      }
    }
    const preset = values["memory-preset"];
    if (preset) {
      const path = join(dir, "memory.txt");
      writeFileSync(path, licenseTexts().text);
      const memorySteps = Number(values["memory-steps"]);
      const runs = (values.methods as string).split(",").map((m) => child(path, m, memorySteps, ["--preset", preset]));
      const full = runs.find((r) => r.method === "full");
      for (const r of runs) {
        memoryRows.push({
          preset,
          method: r.method,
          params: r.totalParams,
          trainablePercent: (100 * r.trainableParams) / r.totalParams,
          bitsPerBaseParam: r.bitsPerBaseParam,
          peakMiB: r.peakRssBytes / 2 ** 20,
          peakVsFull: full ? r.peakRssBytes / full.peakRssBytes : undefined,
          secondsPerStep: r.seconds / memorySteps,
        });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const f = (x: unknown, d = 2) => (typeof x === "number" ? x.toFixed(d) : "-");
  console.log(
    "domain      method  perplexity (base)  trainable  bits/base  peak MiB (vs full)  seconds  gain recovered (ppl / loss)  vs LoRA",
  );
  for (const r of table) {
    console.log(
      `${String(r.domain).padEnd(11)} ${String(r.method).padEnd(7)} ${f(r.perplexity).padStart(8)} (${f(r.basePerplexity)})  ${f(r.trainablePercent)}%  ${f(r.bitsPerBaseParam).padStart(9)}  ${f(r.peakMiB, 0).padStart(8)} (${f(r.peakVsFull)})  ${f(r.seconds, 0).padStart(7)}  ${r.gainRecovered === undefined ? "-" : `${f((r.gainRecovered as number) * 100, 1)}% / ${f((r.lossGainRecovered as number) * 100, 1)}%`}  ${r.perplexityVsLora === undefined ? "-" : `${f(((r.perplexityVsLora as number) - 1) * 100, 2)}%`}`,
    );
  }
  for (const r of memoryRows) {
    console.log(
      `memory, ${r.preset} preset (${((r.params as number) / 1e6).toFixed(1)}M params, untrained, ${values["memory-steps"]} steps): ${String(r.method).padEnd(5)} ${f(r.bitsPerBaseParam)} bits/base param, peak ${f(r.peakMiB, 0)} MiB (${f(r.peakVsFull)} of full), ${f(r.secondsPerStep, 1)} s/step`,
    );
  }
  console.log(JSON.stringify({ steps, rows: table, memory: memoryRows }));
}
