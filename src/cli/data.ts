// `aigc data synth-ct`: writes a synthetic chest CT set (DICOM + PNG + JSON per case and an
// index.json listing them) for training the image–text aligner and the report generator.

import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import cliProgress from "cli-progress";
import { type Command, InvalidArgumentError } from "commander";
import { type FindingType, synthChestCases, synthDefaults, type WrittenCase, writeSynthCase } from "../data/index.js";

export interface SynthCtOptions {
  n: number;
  seed: number;
  out: string;
  size: number;
}

export interface SynthCtIndexEntry extends WrittenCase {
  index: number;
  sliceLevel: string;
  findings: FindingType[];
}

export interface SynthCtIndex {
  generator: "synthChestCase";
  seed: number;
  n: number;
  size: number;
  cases: SynthCtIndexEntry[];
}

export const synthCtIndexFile = "index.json";

const integerIn =
  (flag: string, min: number, max: number) =>
  (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${flag} must be an integer from ${min} to ${max}, got "${value}"`);
    }
    return n;
  };

/** Writes `n` cases and index.json into `out`; `onCase` is told after each case. */
export function writeSynthCtSet(options: SynthCtOptions, onCase?: (done: number) => void): SynthCtIndex {
  let isFile = false;
  try {
    isFile = !statSync(options.out).isDirectory();
  } catch {
    // does not exist yet: created below
  }
  if (isFile) throw new Error(`--out ${options.out} is a file; expected a folder (it is created when missing)`);
  mkdirSync(options.out, { recursive: true });
  const cases: SynthCtIndexEntry[] = [];
  for (const c of synthChestCases(options.seed, options.n, { size: options.size })) {
    const written = writeSynthCase(options.out, c);
    cases.push({ ...written, index: c.index, sliceLevel: c.sliceLevel, findings: c.findings.map((f) => f.type) });
    onCase?.(cases.length);
  }
  const index: SynthCtIndex = { generator: "synthChestCase", seed: options.seed, n: options.n, size: options.size, cases };
  writeFileSync(join(options.out, synthCtIndexFile), `${JSON.stringify(index, null, 2)}\n`);
  return index;
}

export function registerDataCommands(program: Command): void {
  const data = program.command("data").description("datasets: synthetic medical data");
  data
    .command("synth-ct")
    .description(
      "write synthetic chest CT slices (<id>.dcm, <id>.png, <id>.json with findings, EHR and en/zh reports, <id>.fhir.json: the EHR as a FHIR R4 Bundle) and index.json",
    )
    .requiredOption("--n <n>", "number of cases (all English reports distinct)", integerIn("--n", 1, 1_000_000))
    .requiredOption(
      "--seed <s>",
      "seed: the same seed gives byte-identical files",
      integerIn("--seed", 0, Number.MAX_SAFE_INTEGER),
    )
    .requiredOption("--out <dir>", "output folder (created when missing)")
    .option("--size <px>", "image width and height in pixels", integerIn("--size", 64, 1024), synthDefaults.size)
    .action((o: SynthCtOptions) => {
      const bar = new cliProgress.SingleBar(
        {
          format: "synth-ct |{bar}| {value}/{total} cases | ETA {eta_formatted}",
          hideCursor: true,
          noTTYOutput: true,
          notTTYSchedule: 5000,
          stream: process.stderr,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(o.n, 0);
      try {
        writeSynthCtSet(o, (done) => bar.update(done));
      } finally {
        bar.stop();
      }
      console.error(`wrote ${o.n} cases and ${synthCtIndexFile} to ${o.out}`);
    });
}
