// `aigc train report`, `aigc eval report`, `aigc report`: the medical report generator from
// the command line.

import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import cliProgress from "cli-progress";
import { type Command, Option } from "commander";
import {
  contextFromJson,
  type EvalRecords,
  evaluateReports,
  fitImageGate,
  gateNotes,
  type ReportEval,
  ReportGenerator,
  readSlice,
} from "../apps/index.js";
import { MedicalFileError, type SynthCase, synthChestSet } from "../data/index.js";
import { type ReportLanguage, reportLanguages } from "../models/index.js";
import { type ReportPresetName, reportPresets, trainReport } from "../train/index.js";
import { nonNegativeInt, positiveInt } from "./args.js";
import type { SynthCtIndex } from "./data.js";

/** The report model the project ships (see its RECIPE.md). */
export const SHIPPED_REPORT_MODEL_DIR = fileURLToPath(new URL("../../assets/report-model", import.meta.url));
/** Held-out cases come from a seed never used in training. */
export const REPORT_EVAL_SEED = 31;
/** Shown with every report. */
/** Cases the gate is fitted on (the report model's training seed) and calibrated on (a seed nothing else uses). */
export const GATE_SEEDS = { fit: 11, fitCases: 1500, calibration: 51, calibrationCases: 400 } as const;

/** Fits and writes `dir`/gate.json, with a progress bar. */
async function fitGate(dir: string, o: { threads?: number }): Promise<void> {
  const generator = await ReportGenerator.load(dir, { threads: o.threads });
  const bar = new cliProgress.SingleBar(
    { format: "report gate |{bar}| {value}/{total} slices | ETA {eta_formatted}", stream: process.stderr, noTTYOutput: true },
    cliProgress.Presets.shades_classic,
  );
  try {
    const fitCases = synthChestSet(GATE_SEEDS.fit, GATE_SEEDS.fitCases);
    const calibrationCases = synthChestSet(GATE_SEEDS.calibration, GATE_SEEDS.calibrationCases);
    bar.start(fitCases.length + calibrationCases.length, 0);
    const gate = await fitImageGate(generator, { fitCases, calibrationCases, onProgress: (done) => bar.update(done) });
    bar.stop();
    await gate.save(dir);
    const f = gate.file;
    console.log(
      `gate in ${join(dir, "gate.json")}: HU-profile threshold ${f.hu.threshold.toFixed(2)}, feature threshold ${f.features.threshold.toFixed(2)}, confidence temperature ${f.labelTemperature}`,
    );
  } finally {
    bar.stop();
    await generator.close();
  }
}

export const syntheticDisclaimer =
  "This report was written by a model trained only on synthetic CT images and records; it is not a medical opinion.";

/** Cases of a folder written by `aigc data synth-ct`: pixels from its DICOM files, truth and EHR from its JSON. */
async function casesFromDir(dir: string, n: number): Promise<SynthCase[]> {
  const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8")) as SynthCtIndex;
  return index.cases.slice(0, n).map((entry) => {
    const record = JSON.parse(readFileSync(join(dir, entry.json), "utf8")) as Omit<SynthCase, "hu">;
    const { slice } = readSlice(join(dir, entry.dicom));
    return { ...record, hu: Int16Array.from(slice.hu), width: slice.width, height: slice.height };
  });
}

export function registerReportCommands(groups: { train: Command; eval: Command; root: Command }): void {
  groups.train
    .command("report")
    .description("train the CT + EHR → report model (vision tower from the aligner, image-prefixed MoE LM) on synthetic cases")
    .addOption(new Option("--preset <name>", "size").choices(Object.keys(reportPresets)).default("default"))
    .option("--out <dir>", "model folder", "runs/report-model")
    .option("--aligner <dir>", "aligner whose image encoder starts the vision tower", "assets/aligner")
    .option("--steps <n>", "optimizer steps (default: the preset's)", positiveInt("--steps"))
    .option(
      "--vision-steps <n>",
      "stage 1 (finding-label pre-training of the vision tower) steps, 0 to skip it (default: the preset's)",
      nonNegativeInt("--vision-steps"),
    )
    .option("--vision-cases <n>", "stage 1 synthetic cases (default: the preset's)", positiveInt("--vision-cases"))
    .option(
      "--vision-checkpoint <dir>",
      "keep stage 1's result here: read when it matches (same aligner, steps, cases, seed), written when not",
    )
    .option("--threads <n>", "ONNX Runtime threads", positiveInt("--threads"))
    .action(
      async (o: {
        preset: ReportPresetName;
        out: string;
        aligner: string;
        steps?: number;
        visionSteps?: number;
        visionCases?: number;
        visionCheckpoint?: string;
        threads?: number;
      }) => {
        const bar = new cliProgress.SingleBar(
          {
            format: "report model ({stage}) |{bar}| {value}/{total} | loss {loss} | {ms} ms/step | ETA {eta_formatted}",
            stream: process.stderr,
            noTTYOutput: true,
            notTTYSchedule: 5000,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(o.steps ?? reportPresets[o.preset].steps, 0, { stage: "-", loss: "-", ms: "-" });
        try {
          const r = await trainReport({
            ...o,
            onProgress: (p) => {
              if (p.step === 1) bar.setTotal(p.steps);
              bar.update(p.step, { stage: p.stage, loss: p.loss.toFixed(3), ms: p.msPerStep.toFixed(0) });
            },
          });
          bar.stop();
          console.log(
            `final report-token loss ${r.loss.toFixed(3)} on ${r.examples} sequences, vocab ${r.vocab}; model in ${o.out}`,
          );
          await fitGate(o.out, { threads: o.threads });
        } finally {
          bar.stop();
        }
      },
    );

  groups.train
    .command("report-gate")
    .description(
      "fit a report model's gate (is this a chest CT slice the model can read?) and its finding-confidence temperature",
    )
    .option("--model <dir>", "report model folder", "runs/report-model")
    .option("--threads <n>", "ONNX Runtime threads", positiveInt("--threads"))
    .action((o: { model: string; threads?: number }) => fitGate(o.model, o));

  groups.eval
    .command("report")
    .description(
      "finding F1, term validity, BLEU-4, ROUGE-L and latency on held-out synthetic cases: fp32 and int8, with and without constraints",
    )
    .option("--model <dir>", "report model folder (default: the shipped one)")
    .option("--data <dir>", "cases written by `aigc data synth-ct` (default: regenerate held-out cases)")
    .option("--n <n>", "cases", positiveInt("--n"), 300)
    .addOption(new Option("--lang <lang>", "report language").choices([...reportLanguages]).default("en"))
    .option("--threads <n>", "ONNX Runtime threads", positiveInt("--threads"))
    .option("--only <variant>", "one variant only: fp32-constrained, fp32-unconstrained, int8-constrained, int8-unconstrained")
    .addOption(
      new Option("--records <which>", "the record each image is reported with: its own, another case's, or none")
        .choices(["own", "shuffled", "none"])
        .default("own"),
    )
    .option("--json", "print JSON")
    .action(
      async (o: {
        model?: string;
        data?: string;
        n: number;
        lang: ReportLanguage;
        threads?: number;
        only?: string;
        records: EvalRecords;
        json?: boolean;
      }) => {
        const cases = o.data ? await casesFromDir(o.data, o.n) : synthChestSet(REPORT_EVAL_SEED, o.n);
        const table: Partial<Record<"fp32" | "int8", Partial<Record<"constrained" | "unconstrained", ReportEval>>>> = {};
        for (const precision of ["fp32", "int8"] as const) {
          for (const constrained of [true, false]) {
            const name = `${precision}-${constrained ? "constrained" : "unconstrained"}`;
            if (o.only && o.only !== name) continue;
            const generator = await ReportGenerator.load(o.model ?? SHIPPED_REPORT_MODEL_DIR, {
              int8: precision === "int8",
              threads: o.threads,
            });
            try {
              const r = await evaluateReports(generator, cases, {
                lang: o.lang,
                constrained,
                records: o.records,
                onCase: (done) => {
                  if (!o.json && done % 50 === 0) console.error(`${name}: ${done}/${cases.length}`);
                },
              });
              const { texts: _, ...scores } = r;
              const row = table[precision] ?? {};
              row[constrained ? "constrained" : "unconstrained"] = scores;
              table[precision] = row;
              if (!o.json) {
                console.log(
                  `${name.padEnd(20)} F1 ${scores.findingF1.toFixed(3)} (P ${scores.findingPrecision.toFixed(3)} R ${scores.findingRecall.toFixed(3)})  ` +
                    `terms ${(scores.termValidity * 100).toFixed(1)}%  BLEU-4 ${scores.bleu4.toFixed(3)}  ROUGE-L ${scores.rougeL.toFixed(3)}  ` +
                    `latency p50 ${scores.latencyMs.p50.toFixed(0)} ms p95 ${scores.latencyMs.p95.toFixed(0)} ms  n ${scores.n}`,
                );
              }
            } finally {
              await generator.close();
            }
          }
        }
        if (o.json) console.log(JSON.stringify(table));
      },
    );

  groups.root
    .command("report")
    .description("write a report for a CT image (DICOM, NIfTI, PNG) and an EHR (FHIR R4 JSON or AIGC Studio JSON)")
    .requiredOption("--image <file>", "CT slice: DICOM (.dcm), NIfTI (.nii/.nii.gz: middle slice) or PNG/JPEG (lung window)")
    .requiredOption("--ehr <file>", "FHIR R4 JSON (Bundle or resources) or an AIGC Studio case/EHR JSON")
    .addOption(new Option("--lang <lang>", "report language").choices([...reportLanguages]).default("en"))
    .option("--model <dir>", "report model folder (default: the shipped one)")
    .option("--no-constraints", "decode without the terminology and section constraints")
    .option("--int8", "run the int8 model", false)
    .option("--stream", "print the report as it is written", false)
    .option(
      "--allow-out-of-distribution",
      "report on an image that is not like a chest CT slice, flagged as outside what the model was trained on",
      false,
    )
    .option("--json", "print { report, findings, notes, outOfDistribution, disclaimer, ms } as JSON", false)
    .action(
      async (o: {
        image: string;
        ehr: string;
        lang: ReportLanguage;
        model?: string;
        constraints: boolean;
        int8: boolean;
        stream: boolean;
        allowOutOfDistribution: boolean;
        json: boolean;
      }) => {
        let input: ReturnType<typeof readSlice>;
        let context: ReturnType<typeof contextFromJson>;
        try {
          input = readSlice(o.image);
          let json: unknown;
          try {
            json = JSON.parse(readFileSync(o.ehr, "utf8"));
          } catch (e) {
            throw new MedicalFileError(o.ehr, (e as NodeJS.ErrnoException).code ? "io" : "invalid", (e as Error).message);
          }
          context = contextFromJson(json, o.ehr);
        } catch (e) {
          if (e instanceof MedicalFileError) {
            console.error(`aigc report: ${e.message}`);
            process.exitCode = 2;
            return;
          }
          throw e;
        }
        const generator = await ReportGenerator.load(o.model ?? SHIPPED_REPORT_MODEL_DIR, { int8: o.int8 });
        try {
          const t0 = performance.now();
          const { reading, verdict } = await generator.assess(input.slice, input);
          if (!verdict.accepted && !o.allowOutOfDistribution) {
            console.error(
              `aigc report: ${o.image}: this model reads axial chest CT slices only, and this image is not like one:\n` +
                `${verdict.reasons.map((r) => `  - ${r}\n`).join("")}` +
                "(--allow-out-of-distribution writes a report flagged as outside what the model was trained on)",
            );
            process.exitCode = 2;
            return;
          }
          let text = "";
          for await (const chunk of await generator.stream(
            { slice: input.slice, context: context.context, lang: o.lang },
            { constrained: o.constraints },
            reading,
          )) {
            text += chunk.text;
            if (o.stream && !o.json) process.stdout.write(chunk.text);
          }
          const ms = performance.now() - t0;
          const findings = generator.findings(text, o.lang, reading, verdict);
          const notes = [...input.notes, ...context.notes, ...gateNotes(generator, verdict)];
          if (o.json) {
            console.log(
              JSON.stringify({
                report: text,
                findings,
                notes,
                outOfDistribution: !verdict.accepted,
                disclaimer: syntheticDisclaimer,
                ms,
              }),
            );
          } else {
            if (!o.stream) process.stdout.write(text);
            const confidences = findings
              .filter((f) => f.confidence !== undefined)
              .map((f) => `  ${f.type}${f.side ? ` ${f.side}` : ""}${f.lobe ? ` ${f.lobe}` : ""}: ${f.confidence}\n`)
              .join("");
            process.stdout.write(
              `\n\n${confidences ? `Confidence of each finding (from the image):\n${confidences}` : ""}` +
                `${notes.map((n) => `Note: ${n}\n`).join("")}${syntheticDisclaimer}\n`,
            );
          }
        } finally {
          await generator.close();
        }
      },
    );
}
