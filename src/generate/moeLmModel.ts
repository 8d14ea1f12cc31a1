// The MoE LM as a DecodeModel: one exported inference graph (fp32, or int8 through the
// quantize pass) with a KV cache per row. Rows of a session live in one batch; each row
// keeps its own positions and its own set of valid cache columns, so rows may be fed
// different numbers of tokens, or not at all, in any call (the mask hides the rest).
//
// Dims: B rows, T new tokens, S cached columns, L layers, H heads, D head size, V vocab.

import { Graph, quantizeInt8, type Tensor, toOnnx } from "../graph/index.js";
import { type MoeLmConfig, moeLayerIndices, moeLm, routerBiasName } from "../models/moeLm.js";
import type { MoeDispatch } from "../nn/index.js";
import type { ParamStore } from "../runtime/params.js";
import { type CompiledGraph, compile, type HostTensor } from "../runtime/session.js";
import type { BatchDecodeModel, BatchDecodeSession } from "./generate.js";

/** What the model needs from a tokenizer. */
export interface TextTokenizer {
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
}

export interface MoeLmModelOptions {
  int8?: boolean;
  threads?: number;
  eosId?: number;
  /** Domain hint for every token (-1: none; the model routes freely). */
  domain?: number;
  /**
   * Steps of sessions with at least this many rows run the "dense" expert dispatch (every
   * expert as two wide matmuls, masked by the routing weights) instead of ONNX Runtime's
   * sparse MoE op. Whether that pays depends on the model: `bench/moe-dispatch.ts` measures
   * both. Omitted: always sparse.
   */
  denseFromRows?: number;
  /**
   * INT8 models: calls with at most this many tokens (rows × new tokens) run the experts in the
   * quantize pass's "gather" form, larger ones as QMoE (see src/graph/quantize.ts;
   * bench/moe-dispatch.ts finds the crossover). Default 16: decoding steps of up to 16 rows.
   */
  int8GatherMaxTokens?: number;
  /**
   * Prefill prompts of different lengths packed end to end in one graph row (a block-diagonal
   * causal mask keeps them apart) instead of left-padded to the longest, where that is
   * estimated to cost fewer FLOPs (see `packedPrefillPays`). Default true.
   */
  packPrefill?: boolean;
}

/** Default of MoeLmModelOptions.int8GatherMaxTokens. */
export const INT8_GATHER_MAX_TOKENS = 16;

/**
 * The inference graph: ids, positions, mask, domain and the cache in; logits and cache out.
 * `lastOnly` (decoding) takes `logits_at` positions [L] and returns logits there only [B, L, V].
 */
export function moeLmInferenceGraph(cfg: MoeLmConfig, o: { lastOnly?: boolean; dispatch?: MoeDispatch } = {}) {
  const g = new Graph();
  const ids = g.input("ids", "int64", ["B", "T"]);
  const positions = g.input("positions", "int64", ["B", "T"]);
  const domain = g.input("domain", "int64", ["B", "T"]);
  const mask = g.input("mask", "float32", ["B", 1, "T", "(P+T)"]);
  const d = cfg.dim / cfg.heads;
  const cache = Array.from({ length: cfg.layers }, (_, i) => ({
    pastK: g.input(`past_key.${i}`, "float32", ["B", cfg.heads, "P", d]),
    pastV: g.input(`past_value.${i}`, "float32", ["B", cfg.heads, "P", d]),
    mask,
  }));
  const moeInputs = moeLayerIndices(cfg).map((layer) => ({
    bias: g.param(routerBiasName(layer), [cfg.moe.experts], { kind: "constant", value: 0 }, { trainable: false }),
  }));
  const logitsAt = o.lastOnly ? g.input("logits_at", "int64", ["L"]) : undefined;
  // Image prefix: S is the number of feature rows fed this call (0 on steps without a prefix).
  const image = cfg.image
    ? {
        features: g.input("image_features", "float32", ["B", "S", cfg.image.features]),
        slots: g.input("image_slots", "int64", ["B", "T"]),
      }
    : undefined;
  const out = moeLm(g, cfg, { ids, mode: "infer", positions, domain, cache, moeInputs, logitsAt, dispatch: o.dispatch, image });
  const outputs: Record<string, Tensor> = { logits: out.logits };
  out.present.forEach((p, i) => {
    outputs[`new_key.${i}`] = p.k;
    outputs[`new_value.${i}`] = p.v;
  });
  return { g, outputs };
}

export async function compileMoeLm(
  cfg: MoeLmConfig,
  store: ParamStore,
  o: { int8?: boolean; int8Moe?: "qmoe" | "gather"; threads?: number; lastOnly?: boolean; dispatch?: MoeDispatch } = {},
) {
  const { outputs } = moeLmInferenceGraph(cfg, { lastOnly: o.lastOnly, dispatch: o.dispatch });
  const paramValue = (name: string) => store.get(name).data;
  const final = o.int8 ? quantizeInt8(outputs, { paramValue, moe: o.int8Moe }).outputs : outputs;
  return compile(toOnnx({ outputs: final, paramValue, name: o.int8 ? "moe_lm_int8" : "moe_lm" }), { threads: o.threads });
}

const NEG = -1e9;

/** Cache capacity grows in steps of this many columns (every step is a new input shape). */
const CAPACITY_STEP = 32;
const roundUp = (n: number, step: number) => Math.ceil(n / step) * step;

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
interface CallLayout {
  n: number;
  t: number;
  first: number[];
  logitsAt: number[];
  logitsRow: number[];
}

/** Session rows `batch` as graph rows; fed rows `rows` left-padded to the longest of `lengths`. */
function paddedLayout(batch: readonly number[], rows: readonly number[], lengths: readonly number[]): CallLayout {
  const t = Math.max(...lengths);
  const graphRow = new Map(batch.map((r, b) => [r, b]));
  const logitsRow = rows.map((r) => graphRow.get(r)!);
  return { n: batch.length, t, first: logitsRow.map((b, i) => b * t + t - lengths[i]), logitsAt: [t - 1], logitsRow };
}

/** One graph row holding every fed row's tokens end to end; logits at each one's last token. */
function packedLayout(lengths: readonly number[]): CallLayout {
  const first: number[] = [];
  let t = 0;
  for (const length of lengths) {
    first.push(t);
    t += length;
  }
  return { n: 1, t, first, logitsAt: first.map((f, i) => f + lengths[i] - 1), logitsRow: lengths.map((_, i) => i) };
}

/**
 * One session's KV cache: per layer, keys and values [B, H, capacity, D], batch-major as
 * ONNX Runtime's attention reads its past, so the buffers are fed as they are (no copy, no
 * transpose). Columns 0..S-1 are in use; the rest is spare capacity that the mask hides, so
 * new positions are written in place and the buffers are reallocated once per CAPACITY_STEP
 * columns. Each row marks which used columns are its own (rows hold different lengths).
 */
class MoeLmSession implements BatchDecodeSession {
  private s = 0; // S: cache columns in use
  private capacity = 0;
  private readonly keys: Float32Array[];
  private readonly values: Float32Array[];
  private readonly valid: Uint8Array[] = []; // per row, per column < capacity
  private readonly nextPosition: number[];
  /** Per row, image features [S, F] for its first S positions (multimodal models), until fed. */
  private images: (Float32Array | undefined)[];

  constructor(
    /** The decoder graph for a call feeding `sequences` rows `tokens` tokens in all. */
    private readonly graphFor: (sequences: number, tokens: number) => Promise<CompiledGraph>,
    private readonly cfg: MoeLmConfig,
    private bRows: number,
    private readonly domain: number,
    private readonly packPrefill: boolean,
  ) {
    this.keys = Array.from({ length: cfg.layers }, () => new Float32Array(0));
    this.values = Array.from({ length: cfg.layers }, () => new Float32Array(0));
    this.nextPosition = new Array<number>(bRows).fill(0);
    for (let b = 0; b < bRows; b++) this.valid.push(new Uint8Array(0));
    this.images = new Array(bRows).fill(undefined);
  }

  setPrefix(row: number, features: Float32Array): void {
    const image = this.cfg.image;
    if (!image) throw new Error("setPrefix: this model has no image prefix (its config has no `image` section)");
    if (features.length !== image.slots * image.features) {
      throw new Error(`setPrefix: expected ${image.slots} x ${image.features} features, got ${features.length} values`);
    }
    if (this.nextPosition[row] !== 0)
      throw new Error(`setPrefix: row ${row} already holds tokens; set the prefix before its prompt`);
    this.images[row] = features;
  }

  get rows(): number {
    return this.bRows;
  }
  get columns(): number {
    return this.s;
  }
  get liveColumns(): number {
    let live = 0;
    for (let c = 0; c < this.s; c++) if (this.valid.some((v) => v[c])) live++;
    return live;
  }

  release(row: number): void {
    if (!Number.isInteger(row) || row < 0 || row >= this.bRows) throw new Error(`release: no row ${row}`);
    this.valid[row].fill(0);
    this.nextPosition[row] = 0;
    this.images[row] = undefined;
  }

  /**
   * Copy the cache into new buffers of `rows` rows and `capacity` columns: row `rowMap[i]` and
   * column `columnMap[j]` of the old buffers become row i and column j.
   */
  private relayout(rowMap: readonly number[], columnMap: readonly number[], rows: number, capacity: number): void {
    const { heads } = this.cfg;
    const d = this.cfg.dim / heads;
    const oldCapacity = this.capacity;
    // Runs of consecutive old columns [start, end) landing at new column `at`: one copy each.
    const runs: { start: number; end: number; at: number }[] = [];
    columnMap.forEach((c, j) => {
      const last = runs.at(-1);
      if (last && last.end === c) last.end++;
      else runs.push({ start: c, end: c + 1, at: j });
    });
    const move = (buffer: Float32Array): Float32Array => {
      const out = new Float32Array(rows * heads * capacity * d); // [B', H, capacity', D]
      rowMap.forEach((r, i) => {
        for (let h = 0; h < heads; h++) {
          const from = (r * heads + h) * oldCapacity;
          const to = (i * heads + h) * capacity;
          for (const { start, end, at } of runs) out.set(buffer.subarray((from + start) * d, (from + end) * d), (to + at) * d);
        }
      });
      return out;
    };
    for (let l = 0; l < this.cfg.layers; l++) {
      this.keys[l] = move(this.keys[l]);
      this.values[l] = move(this.values[l]);
    }
    this.capacity = capacity;
  }

  repack(keep: readonly number[], rows: number): void {
    if (rows < keep.length) throw new Error(`repack: ${keep.length} rows to keep do not fit in ${rows}`);
    for (const r of keep) if (!Number.isInteger(r) || r < 0 || r >= this.bRows) throw new Error(`repack: no row ${r}`);
    // Columns some kept row still uses, in order.
    const columns: number[] = [];
    for (let c = 0; c < this.s; c++) if (keep.some((r) => this.valid[r][c])) columns.push(c);
    const capacity = roundUp(columns.length, CAPACITY_STEP);
    this.relayout(keep, columns, rows, capacity);
    const valid = Array.from({ length: rows }, (_, i) => {
      const v = new Uint8Array(capacity);
      if (i < keep.length)
        columns.forEach((c, j) => {
          v[j] = this.valid[keep[i]][c];
        });
      return v;
    });
    const positions = Array.from({ length: rows }, (_, i) => (i < keep.length ? this.nextPosition[keep[i]] : 0));
    this.valid.length = 0;
    this.valid.push(...valid);
    this.nextPosition.length = 0;
    this.nextPosition.push(...positions);
    this.images = Array.from({ length: rows }, (_, i) => (i < keep.length ? this.images[keep[i]] : undefined));
    this.bRows = rows;
    this.s = columns.length;
  }

  get vocabSize(): number {
    return this.cfg.vocab;
  }
  get maxLength(): number {
    return this.cfg.maxSeq;
  }

  async feed(rows: number[], tokens: number[][]): Promise<Float32Array[]> {
    if (rows.length !== tokens.length) throw new Error("feed: rows and tokens differ in length");
    const { cfg } = this;
    const bRows = this.bRows;
    if (new Set(rows).size !== rows.length) throw new Error("feed: a row is listed twice");
    rows.forEach((r, i) => {
      if (!Number.isInteger(r) || r < 0 || r >= bRows) throw new Error(`feed: row ${r} is outside the session's ${bRows} rows`);
      if (tokens[i].length === 0) throw new Error(`feed: no tokens for row ${r}`);
      if (this.nextPosition[r] + tokens[i].length > cfg.maxSeq) {
        throw new Error(
          `row ${r} would hold ${this.nextPosition[r] + tokens[i].length} tokens; the model's context is ${cfg.maxSeq}`,
        );
      }
      for (const id of tokens[i])
        if (!Number.isInteger(id) || id < 0 || id >= cfg.vocab)
          throw new Error(`token id ${id} is outside the vocabulary (${cfg.vocab})`);
    });
    // Rows without a cache (new prompts) run as a batch of their own with an empty past (packed
    // in one graph row where that pays), so a prompt joining running rows costs its own tokens,
    // not its length times every row; the other rows then step together over the whole cache.
    const logits = new Array<Float32Array>(rows.length);
    const fresh = rows.map((_, i) => i).filter((i) => this.nextPosition[rows[i]] === 0);
    const others = rows.map((_, i) => i).filter((i) => this.nextPosition[rows[i]] !== 0);
    const all = Array.from({ length: bRows }, (_, b) => b);
    for (const [part, batch, withPast] of [
      [fresh, fresh.map((i) => rows[i]), false],
      [others, all, true],
    ] as const) {
      if (part.length === 0) continue;
      const out = await this.step(
        batch,
        part.map((i) => rows[i]),
        part.map((i) => tokens[i]),
        withPast,
      );
      part.forEach((i, k) => {
        logits[i] = out[k];
      });
    }
    return logits;
  }

  /**
   * One graph call over session rows `batch` (all rows with the cache as past, or rows without
   * a cache and `withPast` false), feeding `tokens[i]` to `rows[i]` (rows ⊆ batch). Their new
   * positions go to the next free columns, aligned to end together (the longest fills them).
   * Rows without a cache may run packed in one graph row (see `packedPrefillPays`); the cache
   * they leave is the same either way.
   */
  private async step(batch: readonly number[], rows: number[], tokens: number[][], withPast: boolean): Promise<Float32Array[]> {
    const { cfg } = this;
    const { heads } = cfg;
    const d = cfg.dim / heads;
    const lengths = tokens.map((x) => x.length);
    const longest = Math.max(...lengths);
    const packed =
      !withPast && this.packPrefill && rows.every((r) => this.images[r] === undefined) && packedPrefillPays(cfg, lengths);
    const layout = packed ? packedLayout(lengths) : paddedLayout(batch, rows, lengths);
    const { n, t, first } = layout;
    const width = withPast ? this.capacity : 0; // past columns fed
    const ids = new BigInt64Array(n * t);
    const positions = new BigInt64Array(n * t);
    const domain = new BigInt64Array(n * t).fill(BigInt(this.domain));
    const total = width + t; // attention columns: the past, then the new tokens
    const mask = new Float32Array(n * t * total).fill(NEG);
    if (withPast) {
      // Each graph row (= session row) attends to its own cached columns.
      for (let b = 0; b < n; b++) {
        const valid = this.valid[batch[b]];
        const row = mask.subarray(b * t * total, b * t * total + total);
        for (let c = 0; c < this.s; c++) if (valid[c]) row[c] = 0;
        for (let q = 1; q < t; q++) mask.copyWithin((b * t + q) * total, b * t * total, b * t * total + width);
      }
    }
    rows.forEach((r, i) => {
      const from = first[i] % t; // the row's first new position within its graph row
      tokens[i].forEach((id, j) => {
        const at = first[i] + j;
        ids[at] = BigInt(id);
        positions[at] = BigInt(this.nextPosition[r] + j);
        mask.fill(0, at * total + width + from, at * total + width + from + j + 1); // causal, own tokens only
      });
    });
    const feeds: Record<string, HostTensor> = {
      ids: { dtype: "int64", shape: [n, t], data: ids },
      positions: { dtype: "int64", shape: [n, t], data: positions },
      domain: { dtype: "int64", shape: [n, t], data: domain },
      mask: { dtype: "float32", shape: [n, 1, t, total], data: mask },
      logits_at: { dtype: "int64", shape: [layout.logitsAt.length], data: BigInt64Array.from(layout.logitsAt, BigInt) },
    };
    if (cfg.image) Object.assign(feeds, this.imageFeeds(layout, rows, tokens, positions, domain));
    const empty = new Float32Array(0);
    for (let i = 0; i < cfg.layers; i++) {
      feeds[`past_key.${i}`] = { dtype: "float32", shape: [n, heads, width, d], data: withPast ? this.keys[i] : empty };
      feeds[`past_value.${i}`] = { dtype: "float32", shape: [n, heads, width, d], data: withPast ? this.values[i] : empty };
    }
    const out = await (await this.graphFor(packed ? rows.length : n, n * t)).run(feeds);
    const s = this.s;
    this.reserve(s + longest);
    // Row rows[i]'s new position j goes to column s + longest - length + j; the graph put it
    // at new_key / new_value [n, t, H, D] flat position first[i] + j.
    const cap = this.capacity;
    const write = (buffer: Float32Array, computed: Float32Array) => {
      rows.forEach((r, i) => {
        const column = s + longest - lengths[i];
        for (let j = 0; j < lengths[i]; j++) {
          for (let h = 0; h < heads; h++) {
            const from = ((first[i] + j) * heads + h) * d;
            const to = ((r * heads + h) * cap + column + j) * d;
            for (let k = 0; k < d; k++) buffer[to + k] = computed[from + k]; // d floats: cheaper than a subarray per copy
          }
        }
      });
    };
    for (let i = 0; i < cfg.layers; i++) {
      write(this.keys[i], out[`new_key.${i}`].data as Float32Array);
      write(this.values[i], out[`new_value.${i}`].data as Float32Array);
    }
    rows.forEach((r, i) => {
      this.valid[r].fill(1, s + longest - lengths[i], s + longest);
      this.nextPosition[r] += lengths[i];
    });
    this.s = s + longest;
    const result = out.logits.data as Float32Array; // [n, L, V]
    const v = cfg.vocab;
    return layout.logitsRow.map((k) => result.subarray(k * v, (k + 1) * v));
  }

  /** Grow every buffer to hold at least `columns` columns (in steps of CAPACITY_STEP). */
  private reserve(columns: number): void {
    if (columns <= this.capacity) return;
    const grown = roundUp(columns, CAPACITY_STEP);
    const all = Array.from({ length: this.bRows }, (_, b) => b);
    const used = Array.from({ length: this.s }, (_, c) => c);
    this.relayout(all, used, this.bRows, grown);
    for (let b = 0; b < this.bRows; b++) {
      const v = new Uint8Array(grown);
      v.set(this.valid[b].subarray(0, this.s));
      this.valid[b] = v;
    }
  }

  /**
   * image_features / image_slots for one feed: a row whose prefix is set gets slot j at its
   * position j < S (and the image expert group as its domain there). Calls without prefix
   * positions feed S = 0 rows, so decode steps pay nothing for the image. Features are per
   * graph row, so a packed call never holds a row with a prefix (see `step`).
   */
  private imageFeeds(layout: CallLayout, rows: number[], tokens: number[][], positions: BigInt64Array, domain: BigInt64Array) {
    const image = this.cfg.image!;
    const { n, t, first } = layout;
    // Indices into rows of the rows whose prefix slots are in this feed.
    const withPrefix = rows.flatMap((r, i) => (this.images[r] !== undefined && this.nextPosition[r] < image.slots ? [i] : []));
    const s = withPrefix.length > 0 ? image.slots : 0;
    const slots = new BigInt64Array(n * t).fill(BigInt(s));
    const features = new Float32Array(n * s * image.features);
    const imageGroup = this.cfg.moe.groups.findIndex((g) => g.name === "image");
    for (const i of withPrefix) {
      const r = rows[i];
      features.set(this.images[r]!, Math.floor(first[i] / t) * s * image.features);
      for (let at = first[i]; at < first[i] + tokens[i].length; at++) {
        const p = Number(positions[at]);
        if (p < image.slots) {
          slots[at] = BigInt(p);
          if (imageGroup >= 0) domain[at] = BigInt(imageGroup);
        }
      }
      this.images[r] = undefined; // fed: the cache holds it now
    }
    return {
      image_features: { dtype: "float32" as const, shape: [n, s, image.features], data: features },
      image_slots: { dtype: "int64" as const, shape: [n, t], data: slots },
    };
  }

  async close(): Promise<void> {
    this.keys.fill(new Float32Array(0));
    this.values.fill(new Float32Array(0));
    this.capacity = 0;
    this.s = 0;
  }
}

export class MoeLmModel implements BatchDecodeModel {
  /** Whole-sequence scoring (logits at every position), compiled on first use. */
  private scorer?: Promise<CompiledGraph>;
  /** INT8: the scorer with gathered int8 experts (see int8GatherMaxTokens). */
  private gatherScorer?: Promise<CompiledGraph>;
  /** The decoder with dense expert dispatch, compiled on first use (see denseFromRows). */
  private denseDecoder?: Promise<CompiledGraph>;
  /** INT8: the decoder with gathered int8 experts, compiled on first use (see int8GatherMaxTokens). */
  private gatherDecoder?: Promise<CompiledGraph>;

  private constructor(
    readonly cfg: MoeLmConfig,
    /** The decoder: logits at the last position only. */
    readonly session: CompiledGraph,
    private readonly store: ParamStore,
    private readonly options: MoeLmModelOptions,
    readonly tokenizer: TextTokenizer,
    readonly eosId: number | undefined,
    private readonly domain: number,
  ) {}

  static async create(
    cfg: MoeLmConfig,
    store: ParamStore,
    tokenizer: TextTokenizer,
    o: MoeLmModelOptions = {},
  ): Promise<MoeLmModel> {
    const session = await compileMoeLm(cfg, store, { ...o, lastOnly: true });
    return new MoeLmModel(cfg, session, store, o, tokenizer, o.eosId, o.domain ?? -1);
  }

  get vocabSize(): number {
    return this.cfg.vocab;
  }
  get maxLength(): number {
    return this.cfg.maxSeq;
  }

  async open(rows: number): Promise<BatchDecodeSession> {
    if (!Number.isInteger(rows) || rows < 1) throw new Error(`open: rows must be a positive integer, got ${rows}`);
    return new MoeLmSession(
      (sequences, tokens) => this.decoderFor(sequences, tokens),
      this.cfg,
      rows,
      this.domain,
      this.options.packPrefill ?? true,
    );
  }

  decode(ids: number[]): string {
    return this.tokenizer.decode(ids);
  }

  /** The decoder for a call feeding `sequences` rows `tokens` tokens in all. */
  private decoderFor(sequences: number, tokens: number): Promise<CompiledGraph> {
    const { denseFromRows } = this.options;
    if (denseFromRows !== undefined && sequences >= denseFromRows) {
      this.denseDecoder ??= compileMoeLm(this.cfg, this.store, { ...this.options, lastOnly: true, dispatch: "dense" });
      return this.denseDecoder;
    }
    if (this.usesGather(tokens)) {
      this.gatherDecoder ??= compileMoeLm(this.cfg, this.store, { ...this.options, lastOnly: true, int8Moe: "gather" });
      return this.gatherDecoder;
    }
    return Promise.resolve(this.session);
  }

  /** Mean next-token cross-entropy (nats) of whole sequences [B][T], no cache, no drops. */
  async crossEntropy(sequences: number[][]): Promise<number> {
    let nll = 0;
    let count = 0;
    const t = sequences[0].length;
    if (sequences.some((x) => x.length !== t)) throw new Error("crossEntropy: sequences must have equal length");
    const logits = await this.allLogits(sequences);
    const v = this.cfg.vocab;
    sequences.forEach((seq, b) => {
      for (let i = 0; i + 1 < t; i++) {
        const row = logits.subarray((b * t + i) * v, (b * t + i + 1) * v);
        let max = Number.NEGATIVE_INFINITY;
        for (const x of row) max = Math.max(max, x);
        let z = 0;
        for (const x of row) z += Math.exp(x - max);
        nll += max + Math.log(z) - row[seq[i + 1]];
        count++;
      }
    });
    return nll / count;
  }

  /**
   * Logits [B, T, V] for whole sequences (fresh cache). Multimodal models take each row's
   * image features [S * F] (its first S positions are the image slots), or undefined for none.
   */
  async allLogits(sequences: number[][], images?: readonly (Float32Array | undefined)[]): Promise<Float32Array> {
    const b = sequences.length;
    const t = sequences[0].length;
    const { cfg } = this;
    const d = cfg.dim / cfg.heads;
    const mask = new Float32Array(b * t * t).fill(NEG);
    for (let r = 0; r < b; r++) for (let q = 0; q < t; q++) for (let c = 0; c <= q; c++) mask[(r * t + q) * t + c] = 0;
    const feeds: Record<string, HostTensor> = {
      ids: { dtype: "int64", shape: [b, t], data: BigInt64Array.from(sequences.flat(), BigInt) },
      positions: { dtype: "int64", shape: [b, t], data: BigInt64Array.from({ length: b * t }, (_, i) => BigInt(i % t)) },
      domain: { dtype: "int64", shape: [b, t], data: new BigInt64Array(b * t).fill(BigInt(this.domain)) },
      mask: { dtype: "float32", shape: [b, 1, t, t], data: mask },
    };
    if (cfg.image) {
      const { slots: sCount, features: f } = cfg.image;
      const slots = new BigInt64Array(b * t).fill(BigInt(sCount));
      const features = new Float32Array(b * sCount * f);
      const imageGroup = cfg.moe.groups.findIndex((g) => g.name === "image");
      const domain = feeds.domain.data as BigInt64Array;
      images?.forEach((img, r) => {
        if (!img) return;
        features.set(img, r * sCount * f);
        for (let j = 0; j < Math.min(t, sCount); j++) {
          slots[r * t + j] = BigInt(j);
          if (imageGroup >= 0) domain[r * t + j] = BigInt(imageGroup);
        }
      });
      feeds.image_features = { dtype: "float32", shape: [b, sCount, f], data: features };
      feeds.image_slots = { dtype: "int64", shape: [b, t], data: slots };
    } else if (images?.some((x) => x !== undefined)) {
      throw new Error("allLogits: images given but this model has no image prefix");
    }
    for (let i = 0; i < cfg.layers; i++) {
      feeds[`past_key.${i}`] = { dtype: "float32", shape: [b, cfg.heads, 0, d], data: new Float32Array(0) };
      feeds[`past_value.${i}`] = { dtype: "float32", shape: [b, cfg.heads, 0, d], data: new Float32Array(0) };
    }
    return (await (await this.scorerFor(b * t)).run(feeds)).logits.data as Float32Array;
  }

  private scorerFor(tokens: number): Promise<CompiledGraph> {
    if (this.usesGather(tokens)) {
      this.gatherScorer ??= compileMoeLm(this.cfg, this.store, { ...this.options, int8Moe: "gather" });
      return this.gatherScorer;
    }
    this.scorer ??= compileMoeLm(this.cfg, this.store, this.options);
    return this.scorer;
  }

  /** Whether an INT8 call over this many tokens runs the gathered int8 experts (else QMoE). */
  private usesGather(tokens: number): boolean {
    return this.options.int8 === true && tokens <= (this.options.int8GatherMaxTokens ?? INT8_GATHER_MAX_TOKENS);
  }
}
