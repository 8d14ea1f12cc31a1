// Cross-modal retrieval metrics: for n matched (image, text) pairs, how often the true
// partner ranks in the top k among all n candidates, image→text and text→image.

import type { Aligner, HuSlice } from "../models/index.js";

export interface RecallAtK {
  r1: number;
  r5: number;
  r10: number;
}

export interface RetrievalMetrics {
  /** Query an image, rank the n texts. */
  i2t: RecallAtK;
  /** Query a text, rank the n images. */
  t2i: RecallAtK;
  /** Pairs (candidates per query). */
  n: number;
}

/**
 * Recall@{1,5,10} from a similarity matrix `sim` [n, n] (row-major; sim[i*n + j] is image i
 * against text j; the true pairs are on the diagonal). A query's rank is 1 + the number of
 * other candidates scoring at least as high as its true partner, so ties count against it
 * and only the true pair counts as a hit.
 */
export function retrievalMetrics(sim: ArrayLike<number>, n: number): RetrievalMetrics {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`retrievalMetrics: n must be a positive integer, got ${n}`);
  if (sim.length !== n * n)
    throw new RangeError(`retrievalMetrics: ${sim.length} similarities for ${n} pairs, expected ${n * n}`);
  const i2tRanks: number[] = [];
  const t2iRanks: number[] = [];
  for (let q = 0; q < n; q++) {
    const truth = sim[q * n + q];
    let rowAhead = 0;
    let colAhead = 0;
    for (let c = 0; c < n; c++) {
      if (c === q) continue;
      if (!(sim[q * n + c] < truth)) rowAhead++; // NaN counts against, too
      if (!(sim[c * n + q] < truth)) colAhead++;
    }
    i2tRanks.push(rowAhead + 1);
    t2iRanks.push(colAhead + 1);
  }
  const recall = (ranks: number[]): RecallAtK => {
    const at = (k: number) => ranks.filter((r) => r <= k).length / n;
    return { r1: at(1), r5: at(5), r10: at(10) };
  };
  return { i2t: recall(i2tRanks), t2i: recall(t2iRanks), n };
}

/** sim [n, n] = a [n, e] · bᵀ (cosine similarity for unit rows), in float64. */
export function similarityMatrix(a: ArrayLike<number>, b: ArrayLike<number>, n: number, e: number): Float64Array {
  if (a.length !== n * e || b.length !== n * e)
    throw new RangeError(`similarityMatrix: expected two [${n}, ${e}] matrices, got ${a.length} and ${b.length} values`);
  const sim = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let k = 0; k < e; k++) dot += a[i * e + k] * b[j * e + k];
      sim[i * n + j] = dot;
    }
  }
  return sim;
}

export interface PairEmbeddings {
  /** [n, E] unit rows */
  images: Float32Array;
  /** [n, E] unit rows */
  texts: Float32Array;
  n: number;
  dim: number;
}

/** A CT slice and its report. */
export interface SlicePair {
  slice: HuSlice;
  text: string;
}

/** Embed n (slice, report) pairs with a trained aligner. */
export async function embedPairs(aligner: Aligner, pairs: readonly SlicePair[]): Promise<PairEmbeddings> {
  const images = await aligner.embedSlices(pairs.map((p) => p.slice));
  const texts = await aligner.embedTexts(pairs.map((p) => p.text));
  return { images, texts, n: pairs.length, dim: aligner.model.embedDim };
}

/** Retrieval metrics of an aligner on matched pairs. */
export async function evaluateRetrieval(aligner: Aligner, pairs: readonly SlicePair[]): Promise<RetrievalMetrics> {
  const { images, texts, n, dim } = await embedPairs(aligner, pairs);
  return retrievalMetrics(similarityMatrix(images, texts, n, dim), n);
}
