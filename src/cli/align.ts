// `aigc train align`, `aigc eval retrieval`, `aigc embed`, `aigc compare align`: the
// image–text aligner from the command line.

import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import cliProgress from "cli-progress";
import { type Command, Option } from "commander";
import { z } from "zod";
import { readMedicalImage, reportText, synthChestSet } from "../data/index.js";
import { type HuSlice, loadAligner } from "../models/index.js";
import {
  ALIGN_PRESET_NAMES,
  ALIGN_RECIPES,
  type AlignComparison,
  type AlignMetrics,
  type AlignPresetName,
  type AlignProgress,
  type AlignRecipe,
  alignPresets,
  casePair,
  compareAlignRecipes,
  DEFAULT_ALIGN_SEEDS,
  evaluateRetrieval,
  type RetrievalMetrics,
  type SlicePair,
  type TrainAlignOptions,
  trainAlign,
} from "../train/index.js";
import { integer, nonNegativeInt, positiveInt } from "./args.js";

/** The aligner the project ships (trained by assets/aligner/RECIPE.md). */
export const SHIPPED_ALIGNER_DIR = fileURLToPath(new URL("../../assets/aligner", import.meta.url));

const fmtEta = (s: number) =>
  Number.isFinite(s) ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s` : "-";

/** A progress bar on stderr for one training run: stage, step, loss, held-out R@1, ETA. */
function progressBar(label: string, quiet: boolean) {
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} {stage} |{bar}| {value}/{total} | loss {loss} | held-out i2t R@1 {r1} | {ms} ms/step | ETA {etaText}`,
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: 5000,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = 0;
  return {
    onStart: (info: { params: number; vocab: number; trainPairs: number; heldOut: number; maxLen: number }, steps: number) => {
      if (quiet) return;
      console.error(
        `${label}: ${(info.params / 1e6).toFixed(2)}M params, vocab ${info.vocab}, ${info.maxLen} tokens per report, ${info.trainPairs} training pairs, ${info.heldOut} held out`,
      );
      bar.start(steps, 0, { stage: "-", loss: "-", r1: "-", ms: "-", etaText: "-" });
      started = performance.now();
    },
    onProgress: (p: AlignProgress) => {
      if (quiet) return;
      const perStep = (performance.now() - started) / 1000 / p.step;
      const update: Record<string, string> = {
        stage: p.stage,
        loss: p.loss.toFixed(3),
        ms: p.msPerStep.toFixed(0),
        etaText: fmtEta(perStep * (p.steps - p.step)),
      };
      if (p.monitorR1 !== undefined) update.r1 = p.monitorR1.toFixed(3);
      bar.update(p.step, update);
    },
    stop: () => {
      if (!quiet) bar.stop();
    },
  };
}

export type TrainAlignCliOptions = Omit<TrainAlignOptions, "onStart" | "onProgress" | "data"> & { quiet?: boolean };

export async function trainAlignWithProgress(options: TrainAlignCliOptions): Promise<AlignMetrics> {
  const bar = progressBar(`aligner ${options.recipe}/${options.preset}`, options.quiet ?? false);
  const steps = options.steps ?? alignPresets[options.preset].steps;
  try {
    return (await trainAlign({ ...options, onStart: (info) => bar.onStart(info, steps), onProgress: bar.onProgress })).metrics;
  } finally {
    bar.stop();
  }
}

export function formatRetrieval(metrics: RetrievalMetrics): string {
  const row = (name: string, r: RetrievalMetrics["i2t"]) =>
    `${name}  R@1 ${r.r1.toFixed(3)}  R@5 ${r.r5.toFixed(3)}  R@10 ${r.r10.toFixed(3)}`;
  return `${row("image→text", metrics.i2t)}\n${row("text→image", metrics.t2i)}\n(${metrics.n} pairs; chance R@1 ${(1 / metrics.n).toFixed(4)})`;
}

export function formatAlignComparison(comparison: AlignComparison): string {
  const header = ["recipe     ", "i2t R@1", "i2t R@5", "i2t R@10", "t2i R@1", "t2i R@5", "t2i R@10", "pre+align", "wall  "];
  const line = (name: string, m: AlignMetrics) => {
    const r = m.heldOut;
    const cells = [name, r.i2t.r1, r.i2t.r5, r.i2t.r10, r.t2i.r1, r.t2i.r5, r.t2i.r10].map((v) =>
      typeof v === "number" ? v.toFixed(3) : v,
    );
    cells.push(`${m.compute.pretrainSteps}+${m.compute.alignSteps}`, `${m.wallSeconds.toFixed(0)} s`);
    return `| ${cells.map((cell, i) => cell.padEnd(header[i].length)).join(" | ")} |`;
  };
  const gain = (g: number | null) => (g === null ? "n/a (direct R@1 = 0)" : `${g >= 0 ? "+" : ""}${(g * 100).toFixed(1)}%`);
  const p = comparison.progressive;
  return [
    `held-out pairs ${p.heldOut.n} (seed ${p.heldOut.seed}); equal compute: ${p.compute.examplesPerTower} images and ${p.compute.examplesPerTower} reports through each tower (steps × batch ${p.compute.batch})`,
    `| ${header.join(" | ")} |`,
    `|${header.map((h) => "-".repeat(h.length + 2)).join("|")}|`,
    line("progressive", comparison.progressive),
    line("direct", comparison.direct),
    `relative R@1 gain of progressive over direct: image→text ${gain(comparison.relativeR1Gain.i2t)}, text→image ${gain(comparison.relativeR1Gain.t2i)} (the course claims +17.3%)`,
  ].join("\n");
}

// ---------------------------------------------------------------- reading pairs from a folder

/** The part of `aigc data synth-ct`'s per-case JSON this command reads. */
const CaseJson = z.object({
  report: z.object({ en: z.object({ findings: z.string(), impression: z.string() }) }),
});

/**
 * (slice, report) pairs from a folder of `<id>.json` (with report.en) next to `<id>.dcm`
 * (Hounsfield units via the DICOM rescale). Sorted by id.
 */
export async function readPairsFolder(dir: string): Promise<SlicePair[]> {
  if (!existsSync(dir)) throw new Error(`--data ${dir}: no such folder (write one with \`aigc data synth-ct --out ${dir}\`)`);
  const jsons = (await readdir(dir)).filter((f) => f.endsWith(".json")).sort();
  const pairs: SlicePair[] = [];
  for (const file of jsons) {
    const id = basename(file, ".json");
    const dcm = join(dir, `${id}.dcm`);
    if (!existsSync(dcm)) continue; // not a case (e.g. an index file)
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(join(dir, file), "utf8"));
    } catch (err) {
      throw new Error(`${join(dir, file)} is not valid JSON: ${(err as Error).message}`);
    }
    const parsed = CaseJson.safeParse(raw);
    if (!parsed.success) throw new Error(`${join(dir, file)}: expected report.en.findings and report.en.impression strings`);
    pairs.push({ slice: readHuSlice(dcm), text: reportText(parsed.data.report.en, "en") });
  }
  if (pairs.length === 0) throw new Error(`--data ${dir}: no <id>.json with a matching <id>.dcm found`);
  return pairs;
}

/** One slice in HU from a DICOM file (PNG/JPEG hold display values, not HU, so they are refused). */
export function readHuSlice(file: string): HuSlice {
  const image = readMedicalImage(file);
  if (image.format !== "dicom")
    throw new Error(`${file} is ${image.format}: the aligner needs Hounsfield units, give the case's DICOM (.dcm) file`);
  return { hu: image.plane(0), width: image.width, height: image.height };
}

// ---------------------------------------------------------------- commands

export interface EvalRetrievalOptions {
  model?: string;
  data?: string;
  seed?: number;
  n?: number;
  threads?: number;
}

export async function evalRetrieval(
  options: EvalRetrievalOptions,
): Promise<RetrievalMetrics & { model: string; source: string }> {
  const model = options.model ?? SHIPPED_ALIGNER_DIR;
  const aligner = await loadAligner(model, { threads: options.threads });
  let pairs: SlicePair[];
  let source: string;
  if (options.data) {
    pairs = await readPairsFolder(options.data);
    source = options.data;
  } else {
    const seed = options.seed ?? DEFAULT_ALIGN_SEEDS.evalSeed;
    const n = options.n ?? 500;
    pairs = synthChestSet(seed, n).map(casePair);
    source = `synthChestSet(seed ${seed}, n ${n})`;
  }
  return { ...(await evaluateRetrieval(aligner, pairs)), model, source };
}

export async function embedOne(options: { model: string; image?: string; text?: string; threads?: number }) {
  if ((options.image === undefined) === (options.text === undefined))
    throw new Error("give exactly one of --image FILE or --text STR");
  const aligner = await loadAligner(options.model, { threads: options.threads });
  const embedding = options.image
    ? await aligner.embedSlices([readHuSlice(options.image)])
    : await aligner.embedTexts([options.text!]);
  return {
    kind: options.image ? ("image" as const) : ("text" as const),
    dim: embedding.length,
    embedding: Array.from(embedding),
  };
}

export function registerAlignCommands(groups: { train: Command; eval: Command; root: Command }): void {
  groups.train
    .command("align")
    .description("train the image–text aligner (ViT + text transformer, 512-d, InfoNCE) on synthetic chest CT and reports")
    .addOption(
      new Option("--recipe <name>", "progressive: unimodal pre-training then InfoNCE; direct: InfoNCE only")
        .choices(ALIGN_RECIPES)
        .default("progressive"),
    )
    .addOption(new Option("--preset <name>", "model and data size").choices(ALIGN_PRESET_NAMES).default("default"))
    .requiredOption("--out <dir>", "model folder (config.json, model.safetensors, tokenizer.json, metrics.json)")
    .option("--steps <n>", "total steps, both stages (default: the preset's)", positiveInt("--steps"))
    .option(
      "--pretrain-steps <n>",
      "progressive: stage-1 steps out of --steps (default: the preset's share)",
      nonNegativeInt("--pretrain-steps"),
    )
    .option("--train-pairs <n>", "synthetic training pairs (default: the preset's)", positiveInt("--train-pairs"))
    .option("--seed <n>", "seed for init and batch order", integer("--seed"), DEFAULT_ALIGN_SEEDS.seed)
    .option("--train-seed <n>", "synthetic training set seed", integer("--train-seed"), DEFAULT_ALIGN_SEEDS.trainSeed)
    .option("--eval-seed <n>", "held-out set seed", integer("--eval-seed"), DEFAULT_ALIGN_SEEDS.evalSeed)
    .option("--threads <n>", "ONNX Runtime threads", positiveInt("--threads"))
    .option("--json", "print the metrics as JSON")
    .action(
      async (o: {
        recipe: AlignRecipe;
        preset: AlignPresetName;
        out: string;
        steps?: number;
        pretrainSteps?: number;
        trainPairs?: number;
        seed: number;
        trainSeed: number;
        evalSeed: number;
        threads?: number;
        json?: boolean;
      }) => {
        const m = await trainAlignWithProgress({ ...o, quiet: o.json });
        if (o.json) console.log(JSON.stringify(m));
        else console.log(`${formatRetrieval(m.heldOut)}\ntrained in ${m.wallSeconds.toFixed(0)} s; model in ${o.out}`);
      },
    );

  groups.eval
    .command("retrieval")
    .description("image→text and text→image Recall@1/5/10 of an aligner on held-out (slice, report) pairs")
    .option("--model <dir>", "aligner folder (default: the shipped assets/aligner)")
    .option("--data <dir>", "folder from `aigc data synth-ct`: <id>.dcm + <id>.json with the report")
    .option("--seed <n>", "synthetic held-out seed (without --data)", integer("--seed"), DEFAULT_ALIGN_SEEDS.evalSeed)
    .option("--n <n>", "synthetic pairs (without --data)", positiveInt("--n"), 500)
    .option("--threads <n>", "ONNX Runtime threads", positiveInt("--threads"))
    .option("--json", "print JSON")
    .action(async (o: EvalRetrievalOptions & { json?: boolean }) => {
      const r = await evalRetrieval(o);
      console.log(o.json ? JSON.stringify(r) : `${r.model} on ${r.source}\n${formatRetrieval(r)}`);
    });

  groups.root
    .command("embed")
    .description("embed one CT slice (DICOM) or one text into the aligner's shared 512-d space")
    .option("--model <dir>", "aligner folder", SHIPPED_ALIGNER_DIR)
    .option("--image <file>", "a DICOM slice")
    .option("--text <str>", "a report or query text")
    .option("--threads <n>", "ONNX Runtime threads", positiveInt("--threads"))
    .option("--json", "print { kind, dim, embedding } as JSON")
    .action(async (o: { model: string; image?: string; text?: string; threads?: number; json?: boolean }) => {
      const r = await embedOne(o);
      console.log(o.json ? JSON.stringify(r) : r.embedding.map((v) => v.toFixed(6)).join(" "));
    });

  const compare =
    groups.root.commands.find((c) => c.name() === "compare") ??
    groups.root.command("compare").description("compare training recipes at equal compute");
  compare
    .command("align")
    .description("train the aligner with both recipes at equal compute (steps × batch) and compare held-out retrieval")
    .addOption(new Option("--preset <name>", "model and data size").choices(ALIGN_PRESET_NAMES).default("default"))
    .option("--steps <n>", "total steps per recipe (default: the preset's)", positiveInt("--steps"))
    .option("--out <dir>", "write both models under <dir>/progressive and <dir>/direct")
    .option("--seed <n>", "seed for init and batch order", integer("--seed"), DEFAULT_ALIGN_SEEDS.seed)
    .option("--threads <n>", "ONNX Runtime threads", positiveInt("--threads"))
    .option("--json", "end with one JSON line of both runs' metrics")
    .action(
      async (o: { preset: AlignPresetName; steps?: number; out?: string; seed: number; threads?: number; json?: boolean }) => {
        const c = await runAlignComparison(o);
        console.log(formatAlignComparison(c));
        if (o.json) console.log(JSON.stringify(c));
      },
    );
}

/** Both recipes with progress bars (the `compare align` command and bench/align.ts). */
export async function runAlignComparison(options: {
  preset: AlignPresetName;
  steps?: number;
  out?: string;
  seed?: number;
  threads?: number;
}): Promise<AlignComparison> {
  const steps = options.steps ?? alignPresets[options.preset].steps;
  let bar: ReturnType<typeof progressBar> | undefined;
  try {
    return await compareAlignRecipes({
      ...options,
      onRecipe: (recipe) => {
        bar?.stop();
        bar = progressBar(`aligner ${recipe}/${options.preset}`, false);
      },
      onStart: (info) => bar?.onStart(info, steps),
      onProgress: (p) => bar?.onProgress(p),
    });
  } finally {
    bar?.stop();
  }
}
