// Fine-tuning the shipped chat model on two domains it was not trained on, by method: held-out
// perplexity of the base (the anchor, measured in the same run), full fine-tuning and LoRA,
// with trainable parameters, peak training memory and wall time. Each run is its own process,
// so its peak memory is its own.
// Domains: upstream changelogs and NEWS files from /usr/share/doc (software release notes) and
// the license texts of /usr/share/common-licenses (legal prose); see src/data/finetuneCorpora.ts.
// Usage: node --import tsx bench/finetune.ts [--model assets/chat] [--steps 200] [--methods full,lora] [--domains changelogs,licenses]
// Targets (#23): LoRA recovers >= 90% of full fine-tuning's perplexity gain with <= 1% of the parameters trainable.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_LORA_TARGETS } from "../src/cli/finetune.js";
import { debianChangelogs, licenseTexts, textFinetuneData } from "../src/data/index.js";
import { loadMoeLm } from "../src/models/index.js";
import { finetuneMoeLm } from "../src/train/index.js";

const { values } = parseArgs({
  options: {
    model: { type: "string", default: "assets/chat" },
    steps: { type: "string", default: "200" },
    methods: { type: "string", default: "full,lora" },
    domains: { type: "string", default: "changelogs,licenses" },
    threads: { type: "string", default: "2" },
    one: { type: "string" }, // child: run one (domain file, method) and print its JSON
    method: { type: "string" },
    "lora-lr": { type: "string", default: "6e-3" },
    rank: { type: "string", default: "8" },
    targets: { type: "string" },
    "full-lr": { type: "string", default: "5e-4" },
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
  peakRssBytes: number;
  seconds: number;
}

if (values.one) {
  const files = await loadMoeLm(values.model as string);
  const data = textFinetuneData(
    await import("node:fs").then((fs) => fs.readFileSync(values.one as string, "utf8")),
    files.tokenizer,
  );
  const method = values.method as "full" | "lora";
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
    lr: Number(method === "lora" ? values["lora-lr"] : values["full-lr"]),
    batch: 8,
    seqLen: 128,
    seed: 1,
    threads,
  });
  const run: Run = { method, ...r };
  console.log(JSON.stringify({ ...run, store: undefined, merged: undefined }));
} else {
  const corpora = { changelogs: debianChangelogs, licenses: licenseTexts };
  const dir = mkdtempSync(join(tmpdir(), "finetune-bench-"));
  const table: Record<string, unknown>[] = [];
  try {
    for (const domain of (values.domains as string).split(",") as (keyof typeof corpora)[]) {
      const corpus = corpora[domain]();
      const path = join(dir, `${domain}.txt`);
      writeFileSync(path, corpus.text);
      console.error(`${domain}: ${corpus.text.length} characters from ${corpus.sources.length} files`);
      const runs: Run[] = [];
      for (const method of (values.methods as string).split(",")) {
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
            String(steps),
            "--threads",
            String(threads),
          ],
          { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 24 },
        );
        const run = JSON.parse(out.trim().split("\n").pop() as string) as Run;
        runs.push(run);
        console.error(
          `  ${method.padEnd(5)} perplexity ${Math.exp(run.baseLoss).toFixed(2)} -> ${Math.exp(run.loss).toFixed(2)}, ${run.trainableParams} trainable (${((100 * run.trainableParams) / run.totalParams).toFixed(2)}%), peak ${(run.peakRssBytes / 2 ** 20).toFixed(0)} MiB, ${run.seconds.toFixed(0)} s`,
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
          peakMiB: r.peakRssBytes / 2 ** 20,
          seconds: r.seconds,
        };
        if (full && r !== full) {
          // Share of full fine-tuning's gain: in perplexity (the target's terms) and in loss (nats/token).
          row.gainRecovered = (base - ppl) / (base - Math.exp(full.loss));
          row.lossGainRecovered = (r.baseLoss - r.loss) / (full.baseLoss - full.loss);
          row.peakVsFull = r.peakRssBytes / full.peakRssBytes;
        }
        table.push(row);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const f = (x: unknown, d = 2) => (typeof x === "number" ? x.toFixed(d) : "-");
  console.log("domain      method  perplexity (base)  trainable  peak MiB  seconds  gain recovered (ppl / loss)");
  for (const r of table) {
    console.log(
      `${String(r.domain).padEnd(11)} ${String(r.method).padEnd(7)} ${f(r.perplexity).padStart(8)} (${f(r.basePerplexity)})  ${f(r.trainablePercent)}%  ${f(r.peakMiB, 0).padStart(8)}  ${f(r.seconds, 0).padStart(7)}  ${r.gainRecovered === undefined ? "-" : `${f((r.gainRecovered as number) * 100, 1)}% / ${f((r.lossGainRecovered as number) * 100, 1)}%`}`,
    );
  }
  console.log(JSON.stringify({ steps, rows: table }));
}
