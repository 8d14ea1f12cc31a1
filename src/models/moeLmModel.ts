// The MoE LM as a BatchDecodeModel: the compiled decoder graphs (fp32 or int8; sparse,
// dense or gathered expert dispatch, picked per call), sessions with a KV cache per row
// (./moeLmSession.ts), and whole-sequence scoring.

import type { CompiledGraph, HostTensor, ParamStore } from "../runtime/index.js";
import type { BatchDecodeModel, BatchDecodeSession, TextTokenizer } from "./decodeModel.js";
import type { LoraAdapter } from "./loraAdapter.js";
import type { MoeLmConfig } from "./moeLm.js";
import { LoraBanks, type ServedAdapter, serveAdapter } from "./moeLmAdapters.js";
import { compileMoeLm } from "./moeLmInference.js";
import { MASKED, MoeLmSession } from "./moeLmSession.js";

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

export class MoeLmModel implements BatchDecodeModel {
  /** Whole-sequence scoring (logits at every position), compiled on first use. */
  private scorer?: Promise<CompiledGraph>;
  /** INT8: the scorer with gathered int8 experts (see int8GatherMaxTokens). */
  private gatherScorer?: Promise<CompiledGraph>;
  /** The decoder with dense expert dispatch, compiled on first use (see denseFromRows). */
  private denseDecoder?: Promise<CompiledGraph>;
  /** INT8: the decoder with gathered int8 experts, compiled on first use (see int8GatherMaxTokens). */
  private gatherDecoder?: Promise<CompiledGraph>;
  /** Decoders with LoRA banks, by variant and banked modules (see decodingGraph). */
  private readonly bankDecoders = new Map<string, Promise<CompiledGraph>>();
  /** LoRA adapters served unmerged, by name (see loadAdapter). */
  private readonly adapters = new Map<string, ServedAdapter>();
  private readonly banks = new LoraBanks();

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
    options: MoeLmModelOptions = {},
  ): Promise<MoeLmModel> {
    const session = await compileMoeLm(cfg, store, { ...options, lastOnly: true });
    return new MoeLmModel(cfg, session, store, options, tokenizer, options.eosId, options.domain ?? -1);
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
      (sequences, tokens, bankModules) => this.decodingGraph(sequences, tokens, bankModules),
      this.cfg,
      rows,
      this.domain,
      this.options.packPrefill ?? true,
      { adapter: (name) => this.adapter(name), banks: this.banks },
    );
  }

  /**
   * Serve `adapter` (checked against this base by loadLoraAdapter) unmerged under `name`:
   * rows whose session sets it (setAdapter) decode with it, mixed with other adapters and the
   * base in the same batch.
   */
  loadAdapter(name: string, adapter: LoraAdapter): void {
    if (this.adapters.has(name)) throw new Error(`an adapter named '${name}' is already loaded; unload it first`);
    this.adapters.set(name, serveAdapter(name, adapter));
  }

  /** Stop serving adapter `name` (rows already decoding with it finish); false if none. */
  unloadAdapter(name: string): boolean {
    return this.adapters.delete(name);
  }

  get adapterNames(): string[] {
    return [...this.adapters.keys()];
  }

  private adapter(name: string): ServedAdapter {
    const a = this.adapters.get(name);
    if (!a) throw new Error(`no LoRA adapter named '${name}' is loaded (loaded: ${this.adapterNames.join(", ") || "none"})`);
    return a;
  }

  decode(ids: number[]): string {
    return this.tokenizer.decode(ids);
  }

  /**
   * The compiled decoding graph for a call feeding `sequences` rows `tokens` tokens in all: dense
   * dispatch from `denseFromRows` rows, gathered int8 experts for short INT8 calls, else the default.
   */
  private decodingGraph(sequences: number, tokens: number, bankModules?: readonly string[]): Promise<CompiledGraph> {
    const { denseFromRows } = this.options;
    if (bankModules) {
      const dispatch = denseFromRows !== undefined && sequences >= denseFromRows ? "dense" : undefined;
      const int8Moe = !dispatch && this.usesGather(tokens) ? "gather" : undefined;
      const key = `${dispatch ?? int8Moe ?? "default"}:${bankModules.join(",")}`;
      let graph = this.bankDecoders.get(key);
      if (!graph) {
        graph = compileMoeLm(this.cfg, this.store, { ...this.options, lastOnly: true, dispatch, int8Moe, bankModules });
        this.bankDecoders.set(key, graph);
      }
      return graph;
    }
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
    const mask = new Float32Array(b * t * t).fill(MASKED);
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
    return (await (await this.scoringGraph(b * t)).run(feeds)).logits.data as Float32Array;
  }

  /** The compiled full-sequence scoring graph for a call over `tokens` tokens in all. */
  private scoringGraph(tokens: number): Promise<CompiledGraph> {
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
