// One synthetic case from (seed, index, options), and sets of cases with distinct reports.

import { z } from "zod";
import { hash32, issueLines, Rng, safeParseInput } from "../../runtime/index.js";
import { drawAnatomy } from "./anatomy.js";
import { synthEhr } from "./ehr.js";
import { drawFindings } from "./findings.js";
import { planCase } from "./plan.js";
import { reportText, writeReports } from "./report.js";
import { streams } from "./streams.js";
import type { SynthCase, SynthOptions } from "./types.js";
import { drawVessels } from "./vessels.js";

export const synthDefaults = { size: 128, normalFraction: 0.1 } as const;

const optionsSchema = z.object({
  size: z.number().int().min(64).max(1024).default(synthDefaults.size),
  normalFraction: z.number().min(0).max(1).default(synthDefaults.normalFraction),
});

const seedSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const indexSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, what: string, expected: string): T {
  const parsed = safeParseInput(schema, value);
  if (!parsed.success) throw new RangeError(`${what}: ${issueLines(parsed.error, value, { root: "" })} (expected ${expected})`);
  return parsed.data;
}

function resolveOptions(opts: SynthOptions | undefined): Required<SynthOptions> {
  return parseOrThrow(optionsSchema, opts ?? {}, "synth options", "{ size?: integer 64–1024, normalFraction?: 0–1 }");
}

export const caseId = (seed: number, index: number): string => `s${seed}-${String(index).padStart(6, "0")}`;

/** A scan date YYYYMMDD between 2015 and 2024, derived from the seed and index (never the clock). */
function studyDate(seed: number, index: number): string {
  const day = hash32(seed, index, 0xda7e) % 3650;
  const date = new Date(Date.UTC(2015, 0, 1) + day * 86_400_000);
  return date.toISOString().slice(0, 10).replaceAll("-", "");
}

/** Quantum noise, then rounding to integer HU within the scanner's range. */
function finalise(hu: Float32Array, rng: Rng): Int16Array {
  const sigma = rng.uniform(8, 14);
  const out = new Int16Array(hu.length);
  for (let p = 0; p < hu.length; p++) {
    out[p] = Math.max(-1024, Math.min(3071, Math.round(hu[p] + sigma * rng.pairedNormal())));
  }
  return out;
}

/** One case: a pure function of (seed, index, opts). */
export function synthChestCase(seed: number, index: number, opts?: SynthOptions): SynthCase {
  parseOrThrow(seedSchema, seed, "seed", "a non-negative integer");
  parseOrThrow(indexSchema, index, "index", "a non-negative integer");
  const { size, normalFraction } = resolveOptions(opts);
  const plan = planCase(Rng.fromParts(seed, index, streams.plan), normalFraction);
  const { canvas, anatomy } = drawAnatomy(
    Rng.fromParts(seed, index, streams.anatomy),
    size,
    plan.level,
    plan.cardiothoracicRatio,
  );
  const lesionRng = Rng.fromParts(seed, index, streams.lesions);
  const findings = drawFindings(lesionRng, canvas, anatomy, plan.findings, () => drawVessels(lesionRng, canvas, anatomy));
  const hu = finalise(canvas.hu, Rng.fromParts(seed, index, streams.noise));
  const id = caseId(seed, index);
  const cardiothoracicRatio = anatomy.heart === undefined ? undefined : plan.cardiothoracicRatio;
  return {
    id,
    seed,
    index,
    width: size,
    height: size,
    pixelSpacingMm: canvas.spacing,
    hu,
    sliceLevel: plan.level,
    findings,
    ...(cardiothoracicRatio === undefined ? {} : { cardiothoracicRatio }),
    studyDate: studyDate(seed, index),
    ehr: synthEhr(Rng.fromParts(seed, index, streams.ehr), id, hash32(seed, index, streams.ehr) % 1_000_000_000, findings),
    report: writeReports(Rng.fromParts(seed, index, streams.wording), plan.level, findings, cardiothoracicRatio),
  };
}

/**
 * What the image shows that a report states: slice level, cardiothoracic ratio and the
 * findings with all their attributes. Two cases with the same signature differ in their
 * reports only by wording, which no image can tell apart.
 */
export function findingSignature(synthCase: SynthCase): string {
  const findings = synthCase.findings.map(({ region: _region, ...rest }) =>
    Object.entries(rest).sort(([a], [b]) => a.localeCompare(b)),
  );
  return JSON.stringify([synthCase.sliceLevel, synthCase.cardiothoracicRatio ?? null, findings]);
}

export interface SynthSetOptions extends SynthOptions {
  /**
   * "report" (default): no two cases share an English report. "findings": no two cases
   * share a `findingSignature` either, so every report in the set is told apart by the
   * image alone (fewer normal cases survive: they differ only by level and ratio).
   */
  unique?: "report" | "findings";
}

/**
 * `n` cases from indices 0, 1, 2, …, skipping any whose English report (or, with
 * `unique: "findings"`, finding signature) repeats an earlier one. Lazy, for writing large sets.
 */
export function* synthChestCases(seed: number, n: number, opts?: SynthSetOptions): Generator<SynthCase> {
  parseOrThrow(z.number().int().min(0).max(10_000_000), n, "n", "an integer 0–10000000");
  const unique = opts?.unique ?? "report";
  if (unique !== "report" && unique !== "findings")
    throw new RangeError(`unique must be "report" or "findings", got ${JSON.stringify(unique)}`);
  const caseOptions: SynthOptions = {
    ...(opts?.size === undefined ? {} : { size: opts.size }),
    ...(opts?.normalFraction === undefined ? {} : { normalFraction: opts.normalFraction }),
  };
  const seen = new Set<string>();
  let made = 0;
  const maxIndex = 20 * n + 100;
  for (let index = 0; made < n; index++) {
    if (index > maxIndex) {
      throw new Error(`only ${made} distinct cases in ${maxIndex} for seed ${seed} (unique: ${unique}); ask for fewer than ${n}`);
    }
    const c = synthChestCase(seed, index, caseOptions);
    const key = unique === "findings" ? findingSignature(c) : reportText(c.report.en, "en");
    if (seen.has(key)) continue;
    seen.add(key);
    made++;
    yield c;
  }
}

/** `n` cases with pairwise distinct English reports (see `synthChestCases`). */
export function synthChestSet(seed: number, n: number, opts?: SynthSetOptions): SynthCase[] {
  return Array.from(synthChestCases(seed, n, opts));
}
