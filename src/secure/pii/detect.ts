// The detector's entry points: fold the text (so lookalike characters cannot hide PHI),
// run every scanner on the folded text, keep the best non-overlapping findings, map them
// back to the input, and redact them with typed placeholders.

import { issueLines } from "../../runtime/index.js";
import { scanners } from "./detectors.js";
import { type FoldedText, foldText } from "./fold.js";
import {
  type PiiFinding,
  type PiiKind,
  type PiiOptions,
  type PiiResult,
  type PiiSensitivity,
  piiKinds,
  piiOptionsSchema,
  piiPlaceholders,
} from "./types.js";

const defaultMinConfidence = 0.5;

interface ResolvedOptions {
  readonly kinds: ReadonlySet<PiiKind>;
  readonly minConfidence: number;
  readonly today: Date;
}

function resolveOptions(opts: PiiOptions | undefined): ResolvedOptions {
  const parsed = piiOptionsSchema.safeParse(opts ?? {});
  if (!parsed.success) {
    throw new TypeError(
      `invalid PII detector options: ${issueLines(parsed.error, opts ?? {}, { root: "options" })}; expected { kinds?: (${piiKinds.join(" | ")})[], minConfidence?: number in [0, 1], today?: Date }`,
    );
  }
  return {
    kinds: new Set(parsed.data.kinds ?? piiKinds),
    minConfidence: parsed.data.minConfidence ?? defaultMinConfidence,
    today: parsed.data.today ?? new Date(),
  };
}

/**
 * Keep the best findings that do not overlap: higher confidence first, then the longer
 * span, then the earlier one. Uses an occupancy map, so it is linear in the covered text.
 */
function resolveOverlaps(length: number, all: PiiFinding[]): PiiFinding[] {
  const ranked = [...all].sort((a, b) => b.confidence - a.confidence || b.end - b.start - (a.end - a.start) || a.start - b.start);
  const taken = new Uint8Array(length);
  const kept: PiiFinding[] = [];
  for (const f of ranked) {
    let free = true;
    for (let i = f.start; i < f.end && free; i++) free = taken[i] === 0;
    if (!free) continue;
    taken.fill(1, f.start, f.end);
    kept.push(f);
  }
  return kept.sort((a, b) => a.start - b.start);
}

/**
 * Findings on the folded text, as spans of the original. Two folded spans can only share an
 * original character when one character folded to several (¼ → 1⁄4); the later one is dropped
 * so findings stay non-overlapping.
 */
function unfold(text: string, folded: FoldedText, findings: readonly PiiFinding[]): PiiFinding[] {
  const { from, to } = folded;
  if (!from || !to) return [...findings];
  const out: PiiFinding[] = [];
  let lastEnd = 0;
  for (const f of findings) {
    const start = from[f.start];
    const end = to[f.end - 1];
    if (start < lastEnd) continue;
    out.push({ ...f, start, end, text: text.slice(start, end) });
    lastEnd = end;
  }
  return out;
}

/**
 * Find sensitive spans (names, national IDs, phones, emails, dates of birth, medical
 * record numbers, payment cards, IPv4 addresses) in English and Chinese text, also when
 * written with fullwidth or other-script digits, odd spaces or dashes, or zero-width
 * characters inside (see fold.ts). Findings are sorted by `start`, never overlap, and
 * `text.slice(start, end) === finding.text` (the original characters, unfolded).
 * Throws only on invalid options; any string input is accepted.
 */
export function detectSensitive(text: string, opts?: PiiOptions): PiiResult {
  const o = resolveOptions(opts);
  if (typeof text !== "string") throw new TypeError(`detectSensitive expects a string, got ${typeof text}`);
  const folded = foldText(text);
  const ctx = { text: folded.text, today: o.today };
  const all: PiiFinding[] = [];
  for (const scan of scanners) {
    for (const f of scan(ctx)) {
      if (f.end > f.start && f.confidence >= o.minConfidence && o.kinds.has(f.kind)) all.push(f);
    }
  }
  const findings = unfold(text, folded, resolveOverlaps(folded.text.length, all));
  return { sensitive: findings.length > 0, findings };
}

function redactOnce(text: string, o: PiiOptions | undefined): string {
  const { findings } = detectSensitive(text, o);
  if (findings.length === 0) return text;
  let out = "";
  let at = 0;
  for (const f of findings) {
    out += text.slice(at, f.start) + piiPlaceholders[f.kind];
    at = f.end;
  }
  return out + text.slice(at);
}

/**
 * Replace every finding with its typed placeholder (`[NAME]`, `[ID]`, `[PHONE]`, `[EMAIL]`,
 * `[DOB]`, `[MRN]`, `[CARD]`, `[IP]`). Idempotent: redacting again changes nothing
 * (placeholders are never detected; if a replacement exposes a new match, redaction is
 * repeated until nothing changes, at most 4 rounds).
 */
export function redact(text: string, opts?: PiiOptions): string {
  let current = text;
  for (let round = 0; round < 4; round++) {
    const next = redactOnce(current, opts);
    if (next === current) return next;
    current = next;
  }
  return current;
}

/** Sensitivity summary for routing: any finding, which kinds, how many, the best confidence. */
export function sensitivity(text: string, opts?: PiiOptions): PiiSensitivity {
  const { findings } = detectSensitive(text, opts);
  const seen = new Set(findings.map((f) => f.kind));
  return {
    sensitive: findings.length > 0,
    kinds: piiKinds.filter((k) => seen.has(k)),
    count: findings.length,
    maxConfidence: findings.reduce((m, f) => Math.max(m, f.confidence), 0),
  };
}

/** True when the text contains at least one sensitive span. */
export function isSensitive(text: string, opts?: PiiOptions): boolean {
  return detectSensitive(text, opts).sensitive;
}
