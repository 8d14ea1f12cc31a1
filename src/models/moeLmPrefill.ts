// Where the MoE LM's graph calls put the tokens they feed: left-padded rows, or prompts
// packed end to end in one row where the FLOP estimate says that pays.

import type { MoeLmConfig } from "./moeLm.js";

/** Longest packed prefill: its mask is tokens² floats. */
const PACK_MAX_TOKENS = 2048;

/**
 * Whether prefilling prompts of these lengths packed in one row (at most maxSeq tokens) costs
 * fewer FLOPs than left-padded rows: packing drops the padding's tokens but attends over all
 * prompts' tokens at once.
 * Per token, the weight matmuls cost 2 x (the weights a token uses; the logits are computed at
 * the last positions only, so not the head); per query-key pair, attention costs 4 x dim per layer.
 */
export function packedPrefillPays(cfg: MoeLmConfig, lengths: readonly number[]): boolean {
  if (lengths.length < 2) return false;
  const total = lengths.reduce((a, b) => a + b, 0);
  // ONNX Runtime's RotaryEmbedding refuses a row longer than its cos/sin tables (maxSeq).
  if (total > Math.min(cfg.maxSeq, PACK_MAX_TOKENS)) return false;
  const longest = Math.max(...lengths);
  const { dim, moe } = cfg;
  const moeLayers = cfg.layers - cfg.denseLayers;
  const expertWeights = 3 * dim * moe.expertHidden;
  const weightsPerToken =
    cfg.layers * 4 * dim * dim +
    cfg.denseLayers * 3 * dim * cfg.denseHidden +
    moeLayers * (dim * moe.experts + (moe.topK + moe.sharedExperts) * expertWeights);
  const perToken = 2 * weightsPerToken;
  const perPair = 4 * dim * cfg.layers;
  const packed = total * perToken + total * total * perPair;
  const padded = lengths.length * (longest * perToken + longest * longest * perPair);
  return packed < padded;
}

/**
 * Where one graph call puts the tokens it feeds: `n` graph rows of `t` positions; fed row i's
 * tokens start at flat position first[i] (graph row * t + position); logits are computed at
 * positions `logitsAt` of every graph row, and fed row i's are number logitsRow[i] among them.
 */
export interface CallLayout {
  n: number;
  t: number;
  first: number[];
  logitsAt: number[];
  logitsRow: number[];
}

/** Session rows `batch` as graph rows; fed rows `rows` left-padded to the longest of `lengths`. */
export function paddedLayout(batch: readonly number[], rows: readonly number[], lengths: readonly number[]): CallLayout {
  const t = Math.max(...lengths);
  const graphRow = new Map(batch.map((r, b) => [r, b]));
  const logitsRow = rows.map((r) => graphRow.get(r)!);
  return { n: batch.length, t, first: logitsRow.map((b, i) => b * t + t - lengths[i]), logitsAt: [t - 1], logitsRow };
}

/** One graph row holding every fed row's tokens end to end; logits at each one's last token. */
export function packedLayout(lengths: readonly number[]): CallLayout {
  const first: number[] = [];
  let t = 0;
  for (const length of lengths) {
    first.push(t);
    t += length;
  }
  return { n: 1, t, first, logitsAt: first.map((f, i) => f + lengths[i] - 1), logitsRow: lengths.map((_, i) => i) };
}
