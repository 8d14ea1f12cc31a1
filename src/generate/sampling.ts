// Token samplers over one row of next-token logits [V]. Every function here is pure: it
// returns a new array and never mutates its input. The order of the warpers follows
// Hugging Face transformers: repetition penalty → temperature → top-k → top-p → min-p →
// sample. A removed token gets the logit -Infinity, so any step (including a constraint's
// mask) can remove tokens and the later ones still see a valid distribution.
//
// Glossary: V = vocabulary size; "finite" logits are the ones not yet removed (-Infinity).
// A +Infinity logit is accepted and means "certain": softmax puts all mass on such tokens.

import type { Rng } from "../runtime/index.js";

/**
 * A constraint hook for constrained decoding (terminology trie, grammar, JSON schema): given a
 * row and the tokens generated for it so far, the tokens allowed next as a mask of length V
 * (non-zero = allowed), or null when every token is allowed.
 */
export type LogitsMask = (row: number, generated: number[]) => Uint8Array | null;

/** The sampling knobs; every field has a default in `samplingDefaults`. */
export interface SamplingParams {
  /** Softmax temperature; 0 means greedy (argmax). */
  temperature: number;
  /** Keep only the k most likely tokens; 0 turns the filter off. */
  topK: number;
  /** Nucleus sampling: keep the smallest set of most likely tokens whose probability is ≥ topP; 1 turns it off. */
  topP: number;
  /** Keep tokens whose probability is ≥ minP × the top token's probability; 0 turns it off. */
  minP: number;
  /** CTRL-style penalty (> 0) on tokens already in the history; 1 turns it off. */
  repetitionPenalty: number;
}

/** The defaults of every sampling knob (the one place they are written down). */
export const samplingDefaults: Readonly<SamplingParams> = Object.freeze({
  temperature: 1,
  topK: 0,
  topP: 1,
  minP: 0,
  repetitionPenalty: 1,
});

/** Logits that are NaN cannot be sampled from; say where the first one is. */
function assertNoNaN(logits: Float32Array, what: string): void {
  for (let i = 0; i < logits.length; i++) {
    if (Number.isNaN(logits[i])) throw new RangeError(`${what}: logits[${i}] is NaN (a model or mask produced an invalid value)`);
  }
}

/** Indices of the finite-or-+Infinity logits, most likely first; ties go to the lower index. */
function rankedIndices(logits: Float32Array): number[] {
  const idx: number[] = [];
  for (let i = 0; i < logits.length; i++) if (logits[i] !== Number.NEGATIVE_INFINITY) idx.push(i);
  return idx.sort((a, b) => logits[b] - logits[a] || a - b);
}

/**
 * Numerically stable softmax in float64: subtracts the max, gives -Infinity logits probability 0,
 * and splits the mass evenly over +Infinity logits if there are any. Throws when no token is left.
 */
export function softmax(logits: Float32Array): Float64Array {
  assertNoNaN(logits, "softmax");
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  if (max === Number.NEGATIVE_INFINITY) {
    throw new RangeError("softmax: every logit is -Infinity, so no token can be chosen (check the logits mask)");
  }
  const probs = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const p = max === Number.POSITIVE_INFINITY ? (logits[i] === max ? 1 : 0) : Math.exp(logits[i] - max);
    probs[i] = p;
    sum += p;
  }
  for (let i = 0; i < probs.length; i++) probs[i] /= sum;
  return probs;
}

/**
 * The most likely token (lowest index on ties). Throws on NaN logits or when every logit is -Infinity.
 */
export function greedy(logits: Float32Array): number {
  let best = -1;
  let bestValue = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i];
    if (x > bestValue) {
      best = i;
      bestValue = x;
    } else if (Number.isNaN(x)) {
      throw new RangeError(`greedy: logits[${i}] is NaN (a model or mask produced an invalid value)`);
    }
  }
  if (best < 0) throw new RangeError("greedy: every logit is -Infinity, so no token can be chosen (check the logits mask)");
  return best;
}

/**
 * CTRL / Hugging Face repetition penalty: every token that occurs in `history` (counted once,
 * however often it occurs) has a positive logit divided by `penalty` and a negative one
 * multiplied by it, so penalty > 1 makes repeats less likely. Ids outside [0, V) are ignored.
 */
export function applyRepetitionPenalty(logits: Float32Array, history: readonly number[], penalty: number): Float32Array {
  if (!(penalty > 0) || !Number.isFinite(penalty)) {
    throw new RangeError(`repetition penalty must be a finite number > 0, got ${penalty}`);
  }
  const out = Float32Array.from(logits);
  if (penalty === 1) return out;
  const seen = new Uint8Array(logits.length);
  for (const t of history) {
    if (!Number.isInteger(t) || t < 0 || t >= logits.length || seen[t]) continue;
    seen[t] = 1;
    out[t] = logits[t] < 0 ? logits[t] * penalty : logits[t] / penalty;
  }
  return out;
}

/** Logits divided by `temperature` (> 0; temperature 0 is greedy and handled by `sampleToken`). */
export function applyTemperature(logits: Float32Array, temperature: number): Float32Array {
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new RangeError(`temperature must be a finite number > 0 here (0 means greedy: use greedy()), got ${temperature}`);
  }
  const out = Float32Array.from(logits);
  if (temperature === 1) return out;
  for (let i = 0; i < out.length; i++) out[i] = logits[i] / temperature;
  return out;
}

/** Sets every token not allowed by `allowed` (non-zero = allowed, length V) to -Infinity. */
export function applyMask(logits: Float32Array, allowed: Uint8Array): Float32Array {
  if (allowed.length !== logits.length) {
    throw new RangeError(`logits mask has length ${allowed.length}, expected the vocabulary size ${logits.length}`);
  }
  const out = Float32Array.from(logits);
  for (let i = 0; i < out.length; i++) if (!allowed[i]) out[i] = Number.NEGATIVE_INFINITY;
  return out;
}

/**
 * Keeps the k highest logits and sets the others to -Infinity. Exactly min(k, #finite) tokens
 * stay: ties at the k-th place go to the lower index, so the result is deterministic. k = 0 (or
 * k ≥ V) keeps everything.
 */
export function topKFilter(logits: Float32Array, topK: number): Float32Array {
  if (!Number.isInteger(topK) || topK < 0) throw new RangeError(`topK must be an integer ≥ 0 (0 = off), got ${topK}`);
  if (topK === 0 || topK >= logits.length) return Float32Array.from(logits);
  assertNoNaN(logits, "topKFilter");
  const out = new Float32Array(logits.length).fill(Number.NEGATIVE_INFINITY);
  for (const i of rankedIndices(logits).slice(0, topK)) out[i] = logits[i];
  return out;
}

/**
 * Nucleus (top-p) filter: keeps the smallest set of most likely tokens whose total probability
 * is ≥ p (at least one token), the others get -Infinity. Tokens are ranked by probability, ties
 * by lower index, so equal-probability tokens at the boundary are cut deterministically.
 * p = 1 keeps everything.
 */
export function topPFilter(logits: Float32Array, topP: number): Float32Array {
  if (!(topP > 0 && topP <= 1)) throw new RangeError(`topP must be in (0, 1] (1 = off), got ${topP}`);
  if (topP === 1) return Float32Array.from(logits);
  const probs = softmax(logits);
  const out = new Float32Array(logits.length).fill(Number.NEGATIVE_INFINITY);
  let mass = 0;
  for (const i of rankedIndices(logits)) {
    out[i] = logits[i];
    mass += probs[i];
    if (mass >= topP) break;
  }
  return out;
}

/**
 * Min-p filter: keeps the tokens whose probability is ≥ minP × the most likely token's
 * probability (so always the top token); minP = 0 keeps everything.
 */
export function minPFilter(logits: Float32Array, minP: number): Float32Array {
  if (!(minP >= 0 && minP <= 1)) throw new RangeError(`minP must be in [0, 1] (0 = off), got ${minP}`);
  if (minP === 0) return Float32Array.from(logits);
  const probs = softmax(logits);
  let top = 0;
  for (let i = 0; i < probs.length; i++) if (probs[i] > top) top = probs[i];
  const threshold = minP * top;
  const out = Float32Array.from(logits);
  for (let i = 0; i < out.length; i++) if (probs[i] < threshold) out[i] = Number.NEGATIVE_INFINITY;
  return out;
}

/**
 * Draws one token from softmax(logits / temperature) with one uniform draw of `rng`. The
 * same numbers as applyTemperature, softmax and a cumulative scan one after another (the
 * scaled logits are rounded to float32 as applyTemperature stores them), in three passes.
 */
export function sampleFromLogits(logits: Float32Array, rng: Rng, temperature = 1): number {
  const v = logits.length;
  const scaled = temperature === 1 ? logits : new Float32Array(v); // rounded to float32 as applyTemperature stores them
  let max = Number.NEGATIVE_INFINITY;
  if (temperature !== 1) for (let i = 0; i < v; i++) scaled[i] = logits[i] / temperature;
  for (let i = 0; i < v; i++) {
    const x = scaled[i];
    if (x > max) max = x;
    else if (Number.isNaN(x)) throw new RangeError(`softmax: logits[${i}] is NaN (a model or mask produced an invalid value)`);
  }
  if (max === Number.NEGATIVE_INFINITY) {
    throw new RangeError("softmax: every logit is -Infinity, so no token can be chosen (check the logits mask)");
  }
  const weights = new Float64Array(v);
  let sum = 0;
  const infinite = max === Number.POSITIVE_INFINITY; // all the mass on the +Infinity logits
  for (let i = 0; i < v; i++) {
    const w = infinite ? (scaled[i] === max ? 1 : 0) : Math.exp(scaled[i] - max);
    weights[i] = w;
    sum += w;
  }
  const u = rng.next();
  let cumulative = 0;
  let last = -1;
  for (let i = 0; i < v; i++) {
    const p = weights[i] / sum;
    if (p === 0) continue;
    cumulative += p;
    last = i;
    if (u < cumulative) return i;
  }
  return last; // u within rounding of 1: the last token with any mass
}

/**
 * One next token from `logits` [V]: repetition penalty over `history` (prompt and generated
 * tokens, as in transformers) → temperature → top-k → top-p → min-p → a draw from `rng`.
 * Temperature 0 is greedy after the repetition penalty and draws nothing from `rng`.
 * Apply a constraint mask first with `applyMask`.
 */
export function sampleToken(
  logits: Float32Array,
  params: Partial<SamplingParams>,
  rng: Rng,
  history: readonly number[] = [],
): number {
  const { temperature, topK, topP, minP, repetitionPenalty } = { ...samplingDefaults, ...params };
  if (!(temperature >= 0) || !Number.isFinite(temperature)) {
    throw new RangeError(`temperature must be a finite number ≥ 0, got ${temperature}`);
  }
  // Each step returns a new array, so a step that is off (its neutral value) is skipped rather
  // than run as a copy; any other value goes through the step, which validates it.
  let x = repetitionPenalty === 1 ? logits : applyRepetitionPenalty(logits, history, repetitionPenalty);
  if (temperature === 0) return greedy(x);
  if (topK === 0 && topP === 1 && minP === 0) return sampleFromLogits(x, rng, temperature); // temperature folded in
  if (temperature !== 1) x = applyTemperature(x, temperature);
  if (topK !== 0) x = topKFilter(x, topK);
  if (topP !== 1) x = topPFilter(x, topP);
  if (minP !== 0) x = minPFilter(x, minP);
  return sampleFromLogits(x, rng);
}

/**
 * The logits `sampleToken` draws from, as one array: repetition penalty → temperature →
 * top-k → top-p → min-p (apply a constraint mask first, as for `sampleToken`). Their softmax
 * is the distribution a token is sampled from. Temperature 0 (greedy) is taken as 1 here:
 * greedy decoding picks the argmax of that distribution, whose probabilities say more than
 * the point mass greedy really "samples" from.
 */
export function sampledLogits(
  logits: Float32Array,
  params: Partial<SamplingParams>,
  history: readonly number[] = [],
): Float32Array {
  const { temperature, topK, topP, minP, repetitionPenalty } = { ...samplingDefaults, ...params };
  let x = repetitionPenalty === 1 ? logits : applyRepetitionPenalty(logits, history, repetitionPenalty);
  if (temperature !== 0 && temperature !== 1) x = applyTemperature(x, temperature);
  if (topK !== 0) x = topKFilter(x, topK);
  if (topP !== 1) x = topPFilter(x, topP);
  if (minP !== 0) x = minPFilter(x, minP);
  return x;
}
