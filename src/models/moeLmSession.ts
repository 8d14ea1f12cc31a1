// The MoE LM's decoding session: a KV cache per row. Rows of a session live in one batch;
// each row keeps its own positions and its own set of valid cache columns, so rows may be fed
// different numbers of tokens, or not at all, in any call (the mask hides the rest). Each
// call runs the runtime's compiled graph directly.
//
// Dims: B rows, T new tokens, S cached columns, L layers, H heads, D head size, V vocab.

import { LORA_SELECT } from "../nn/index.js";
import type { CompiledGraph, HostTensor } from "../runtime/index.js";
import type { BatchDecodeSession } from "./decodeModel.js";
import type { MoeLmConfig } from "./moeLm.js";
import type { LoraBanks, ServedAdapter } from "./moeLmAdapters.js";
import { type CallLayout, packedLayout, packedPrefillPays, paddedLayout } from "./moeLmPrefill.js";

/** Additive mask value of a column a query must not see. */
export const MASKED = -1e9;

/** Cache capacity grows in steps of this many columns (every step is a new input shape). */
const CAPACITY_STEP = 32;
const roundUp = (n: number, step: number) => Math.ceil(n / step) * step;

/**
 * One session's KV cache: per layer, keys and values [B, H, capacity, D], batch-major as
 * ONNX Runtime's attention reads its past, so the buffers are fed as they are (no copy, no
 * transpose). Columns 0..S-1 are in use; the rest is spare capacity that the mask hides, so
 * new positions are written in place and the buffers are reallocated once per CAPACITY_STEP
 * columns. Each row marks which used columns are its own (rows hold different lengths).
 */
export class MoeLmSession implements BatchDecodeSession {
  private s = 0; // S: cache columns in use
  private capacity = 0;
  private readonly keys: Float32Array[];
  private readonly values: Float32Array[];
  private readonly valid: Uint8Array[] = []; // per row, per column < capacity
  private readonly nextPosition: number[];
  /** Per row, image features [S, F] for its first S positions (multimodal models), until fed. */
  private images: (Float32Array | undefined)[];
  /** Per row, the LoRA adapter it decodes with (undefined: the base). */
  private adapters: (ServedAdapter | undefined)[];

  constructor(
    /**
     * The compiled decoding graph for a call feeding `sequences` rows `tokens` tokens in all,
     * with LoRA banks on `bankModules` when the call's rows use adapters.
     */
    private readonly decodingGraph: (
      sequences: number,
      tokens: number,
      bankModules?: readonly string[],
    ) => Promise<CompiledGraph>,
    private readonly cfg: MoeLmConfig,
    private bRows: number,
    private readonly domain: number,
    private readonly packPrefill: boolean,
    /** The model's served adapters: by name, and their banks per set. */
    private readonly lora?: { adapter: (name: string) => ServedAdapter; banks: LoraBanks },
  ) {
    this.keys = Array.from({ length: cfg.layers }, () => new Float32Array(0));
    this.values = Array.from({ length: cfg.layers }, () => new Float32Array(0));
    this.nextPosition = new Array<number>(bRows).fill(0);
    for (let b = 0; b < bRows; b++) this.valid.push(new Uint8Array(0));
    this.images = new Array(bRows).fill(undefined);
    this.adapters = new Array(bRows).fill(undefined);
  }

  setAdapter(row: number, name: string | undefined): void {
    if (!Number.isInteger(row) || row < 0 || row >= this.bRows) throw new Error(`setAdapter: no row ${row}`);
    if (this.nextPosition[row] !== 0) throw new Error(`setAdapter: row ${row} already holds tokens; set its adapter first`);
    if (name !== undefined && !this.lora) throw new Error(`this model serves no LoRA adapters (asked for '${name}')`);
    this.adapters[row] = name === undefined ? undefined : this.lora!.adapter(name);
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
    this.adapters[row] = undefined;
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
    this.adapters = Array.from({ length: rows }, (_, i) => (i < keep.length ? this.adapters[keep[i]] : undefined));
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
      const out = await this.runDecodingGraph(
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
  private async runDecodingGraph(
    batch: readonly number[],
    rows: number[],
    tokens: number[][],
    withPast: boolean,
  ): Promise<Float32Array[]> {
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
    const mask = new Float32Array(n * t * total).fill(MASKED);
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
    const bankModules = this.adapterFeeds(feeds, layout, rows, tokens);
    const empty = new Float32Array(0);
    for (let i = 0; i < cfg.layers; i++) {
      feeds[`past_key.${i}`] = { dtype: "float32", shape: [n, heads, width, d], data: withPast ? this.keys[i] : empty };
      feeds[`past_value.${i}`] = { dtype: "float32", shape: [n, heads, width, d], data: withPast ? this.values[i] : empty };
    }
    const out = await (await this.decodingGraph(packed ? rows.length : n, n * t, bankModules)).run(feeds);
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
   * LoRA banks for one feed, when some fed row has an adapter: the banks of the fed rows'
   * adapters and `lora_select` [n, t, R], ones over each token's adapter columns (padding and
   * base rows select nothing). Returns the banked modules (the graph to run), or undefined.
   */
  private adapterFeeds(feeds: Record<string, HostTensor>, layout: CallLayout, rows: number[], tokens: number[][]) {
    const used = [...new Set(rows.map((r) => this.adapters[r]).filter((a) => a !== undefined))];
    if (used.length === 0 || !this.lora) return undefined;
    used.sort((a, b) => a.id - b.id); // one bank per set, whatever the row order
    const bank = this.lora.banks.bank(used);
    const { n, t, first } = layout;
    const select = new Float32Array(n * t * bank.width);
    rows.forEach((r, i) => {
      const adapter = this.adapters[r];
      if (!adapter) return;
      const from = bank.start.get(adapter.id)!;
      for (let at = first[i]; at < first[i] + tokens[i].length; at++) {
        select.fill(1, at * bank.width + from, at * bank.width + from + adapter.rank);
      }
    });
    Object.assign(feeds, bank.feeds);
    feeds[LORA_SELECT] = { dtype: "float32", shape: [n, t, bank.width], data: select };
    return bank.modules;
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
