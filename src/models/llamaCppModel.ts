// A GGUF model run by llama.cpp (through node-llama-cpp, its prebuilt CPU binaries or a GPU
// build where one is present) as a BatchDecodeModel: the same decoding, sampling,
// constraints, streaming and continuous batching as the ONNX Runtime engine, only the
// forward pass differs. One llama.cpp sequence per row; rows fed in one call are evaluated
// in one llama.cpp batch (node-llama-cpp gathers concurrent evaluations).
//
// Logits are the log of llama.cpp's full next-token distribution (temperature 1, no
// filters): softmax is shift-invariant, so sampling over them is sampling over the logits.
//
// Exactness: F32 files run with an F32 KV cache and without flash attention (llama.cpp's
// CPU flash attention rounds through F16), so they decode as our engine does; quantized
// files use llama.cpp's defaults (F16 cache, flash attention where it pays).
//
// The file is validated by our own GGUF reader first: llama.cpp may abort the process on a
// corrupt file, and a server must refuse one model and go on serving the others.

import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel } from "node-llama-cpp";
import { GgufError, readGgufHeader } from "../runtime/index.js";
import type { BatchDecodeModel, BatchDecodeSession } from "./decodeModel.js";

export interface LlamaCppModelOptions {
  threads?: number;
  /** "auto": a GPU where llama.cpp finds one, else the CPU (default "cpu"). */
  gpu?: "cpu" | "auto";
  /** Rows a session may hold (llama.cpp sequences allocated per context). Default 8. */
  maxRows?: number;
  eosId?: number;
  /**
   * "distribution" (default): every feed returns the full next-token distribution (log
   * probabilities) for our sampler. "greedy": llama.cpp takes the argmax itself and only that
   * token comes back, as a row that is 0 there and -Infinity elsewhere: what llama.cpp's own
   * decoding costs (copying a whole distribution into JavaScript costs milliseconds a token).
   */
  next?: "distribution" | "greedy";
}

let llamaPromise: Promise<Llama> | undefined;

/**
 * The one llama.cpp binding of the process (prebuilt binaries only: no build, no download),
 * loaded by the first call: CPU-only, or with a GPU backend where one is found. Later calls
 * share it (a model asking for "cpu" then also loads with no layers on a GPU).
 */
async function llamaBinding(gpu: "cpu" | "auto"): Promise<Llama> {
  llamaPromise ??= import("node-llama-cpp").then(({ getLlama, LlamaLogLevel }) =>
    getLlama({ gpu: gpu === "cpu" ? false : "auto", build: "never", skipDownload: true, logLevel: LlamaLogLevel.error }),
  );
  return llamaPromise;
}

/** What our GGUF reader finds a file to be; throws GgufError with the fault. */
export function checkGgufForLlamaCpp(path: string): {
  architecture: string;
  contextLength: number;
  vocab: number;
  float32: boolean;
} {
  const file = readGgufHeader(path);
  const str = (key: string) => {
    const v = file.metadata.get(key);
    return v?.type === "string" ? v.value : undefined;
  };
  const num = (key: string) => {
    const v = file.metadata.get(key);
    return v && v.type !== "string" && v.type !== "array" && v.type !== "bool" ? v.value : undefined;
  };
  const architecture = str("general.architecture");
  if (!architecture) throw new GgufError(`${path}: no general.architecture in the metadata`);
  const contextLength = num(`${architecture}.context_length`);
  if (contextLength === undefined) throw new GgufError(`${path}: no ${architecture}.context_length in the metadata`);
  const tokens = file.metadata.get("tokenizer.ggml.tokens");
  if (tokens?.type !== "array") throw new GgufError(`${path}: no tokenizer.ggml.tokens in the metadata`);
  return {
    architecture,
    contextLength,
    vocab: tokens.value.length,
    float32: file.tensors.every((t) => t.type === "F32"),
  };
}

export class LlamaCppModel implements BatchDecodeModel {
  private constructor(
    private readonly model: LlamaModel,
    readonly path: string,
    readonly vocabSize: number,
    readonly maxLength: number,
    private readonly float32: boolean,
    private readonly options: LlamaCppModelOptions,
    readonly eosId: number | undefined,
  ) {}

  static async load(path: string, options: LlamaCppModelOptions = {}): Promise<LlamaCppModel> {
    const info = checkGgufForLlamaCpp(path);
    const llama = await llamaBinding(options.gpu ?? "cpu");
    const model = await llama.loadModel({ modelPath: path, gpuLayers: options.gpu === "auto" ? "auto" : 0 });
    return new LlamaCppModel(model, path, info.vocab, info.contextLength, info.float32, options, options.eosId);
  }

  /** The GPU llama.cpp runs on, or false for the CPU. */
  get gpu(): string | false {
    return this.model.llama.gpu;
  }

  async open(rows: number): Promise<BatchDecodeSession> {
    if (!Number.isInteger(rows) || rows < 1) throw new Error(`open: rows must be a positive integer, got ${rows}`);
    const capacity = Math.max(rows, this.options.maxRows ?? 8);
    const context = await this.model.createContext({
      contextSize: this.maxLength,
      sequences: capacity,
      threads: this.options.threads,
      batchSize: this.maxLength,
      flashAttention: !this.float32,
      ...(this.float32 ? { experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32" } : {}),
    });
    return new LlamaCppSession(context, rows, capacity, this.vocabSize, this.maxLength, this.options.next ?? "distribution");
  }

  /** Mean next-token cross-entropy (nats) of whole sequences, as MoeLmModel.crossEntropy. */
  async crossEntropy(sequences: number[][]): Promise<number> {
    const session = await this.open(1);
    let nll = 0;
    let count = 0;
    try {
      for (const seq of sequences) {
        session.release(0);
        const probabilities = await (session as LlamaCppSession).distributions(seq);
        for (let i = 0; i + 1 < seq.length; i++) {
          nll -= Math.log(probabilities[i].get(seq[i + 1] as never) ?? 0);
          count++;
        }
      }
    } finally {
      await session.close();
    }
    return nll / count;
  }

  decode(ids: number[]): string {
    return this.model.detokenize(ids as unknown as Parameters<LlamaModel["detokenize"]>[0], true);
  }

  /** Free the model's memory. */
  async dispose(): Promise<void> {
    await this.model.dispose();
  }
}

/** node-llama-cpp's sampling options that leave llama.cpp's next-token distribution as the model gives it. */
const UNFILTERED = { temperature: 1, topK: 0, topP: 1, minP: 0 } as const;

class LlamaCppSession implements BatchDecodeSession {
  /** Row r's llama.cpp sequence. */
  private sequences: LlamaContextSequence[];
  /** Tokens each row holds. */
  private lengths: number[];
  /** Per row: the CTRL repetition penalty llama.cpp applies (1: none) and the tokens it looks at. */
  private penalties: number[];
  private fed: number[][];
  /** A row's history being cleared (release and repack are synchronous; llama.cpp's erase is not). */
  private clearing: (Promise<void> | undefined)[];

  constructor(
    private readonly context: LlamaContext,
    public rows: number,
    private readonly capacity: number,
    readonly vocabSize: number,
    readonly maxLength: number,
    private readonly next: "distribution" | "greedy",
  ) {
    this.sequences = Array.from({ length: capacity }, () => context.getSequence());
    this.lengths = new Array(capacity).fill(0);
    this.clearing = new Array(capacity).fill(undefined);
    this.penalties = new Array(capacity).fill(1);
    this.fed = Array.from({ length: capacity }, () => []);
  }

  setRepetitionPenalty(row: number, penalty: number): void {
    this.penalties[row] = penalty;
  }

  private clear(row: number): void {
    const sequence = this.sequences[row];
    this.clearing[row] = (this.clearing[row] ?? Promise.resolve()).then(() => sequence.clearHistory());
  }

  get columns(): number {
    return Math.max(0, ...this.lengths.slice(0, this.rows));
  }
  get liveColumns(): number {
    return this.columns;
  }

  async feed(rows: number[], tokens: number[][]): Promise<Float32Array[]> {
    rows.forEach((row, i) => {
      if (row < 0 || row >= this.rows) throw new Error(`feed: row ${row} is outside the session's ${this.rows} rows`);
      if (tokens[i].length === 0) throw new Error(`feed: row ${row} got no tokens`);
      if (this.lengths[row] + tokens[i].length > this.maxLength)
        throw new Error(
          `feed: row ${row} would hold ${this.lengths[row] + tokens[i].length} tokens, the context holds ${this.maxLength}`,
        );
    });
    return Promise.all(
      rows.map(async (row, i) => {
        await this.clearing[row];
        this.clearing[row] = undefined;
        const fed = this.fed[row];
        fed.push(...tokens[i]);
        const penalty = this.penalties[row];
        const next = {
          probabilities: this.next === "distribution",
          token: this.next === "greedy",
          options: {
            ...UNFILTERED,
            ...(penalty !== 1 ? { repeatPenalty: { punishTokens: () => fed, maxPunishTokens: this.maxLength, penalty } } : {}),
          },
        };
        const input = tokens[i].map((t, j) => (j === tokens[i].length - 1 ? ([t, { generateNext: next }] as const) : t));
        const out = await this.sequences[row].controlledEvaluate(
          input as Parameters<LlamaContextSequence["controlledEvaluate"]>[0],
        );
        this.lengths[row] += tokens[i].length;
        const result = out[tokens[i].length - 1]?.next;
        if (this.next === "greedy") {
          if (typeof result?.token !== "number") throw new Error("llama.cpp returned no next token");
          const logits = new Float32Array(this.vocabSize).fill(Number.NEGATIVE_INFINITY);
          logits[result.token] = 0;
          return logits;
        }
        const probabilities = result?.probabilities;
        if (!probabilities) throw new Error("llama.cpp returned no next-token distribution");
        const logits = new Float32Array(this.vocabSize).fill(Number.NEGATIVE_INFINITY);
        for (const [token, p] of probabilities) if (token < this.vocabSize) logits[token] = Math.log(p);
        return logits;
      }),
    );
  }

  /** Row 0's next-token distribution after every token of `tokens` (for scoring). */
  async distributions(tokens: number[]): Promise<ReadonlyMap<unknown, number>[]> {
    const next = { probabilities: true, options: UNFILTERED };
    const input = tokens.map((t) => [t, { generateNext: next }] as const);
    const out = await this.sequences[0].controlledEvaluate(
      input as unknown as Parameters<LlamaContextSequence["controlledEvaluate"]>[0],
    );
    this.lengths[0] += tokens.length;
    return out.map((o, i) => {
      if (!o?.next.probabilities) throw new Error(`llama.cpp returned no distribution at position ${i}`);
      return o.next.probabilities as ReadonlyMap<unknown, number>;
    });
  }

  release(row: number): void {
    if (this.lengths[row] > 0) this.clear(row);
    this.lengths[row] = 0;
    this.penalties[row] = 1;
    this.fed[row] = [];
  }

  repack(keep: readonly number[], rows: number): void {
    if (rows < keep.length) throw new Error(`repack: ${rows} rows cannot keep ${keep.length}`);
    if (rows > this.capacity) throw new Error(`repack: ${rows} rows exceed the ${this.capacity} this llama.cpp context holds`);
    const kept = new Set(keep);
    const order = [...keep, ...this.sequences.keys()].filter((r, i, all) => all.indexOf(r) === i);
    for (const r of order) if (!kept.has(r) && this.lengths[r] > 0) this.clear(r);
    this.sequences = order.map((r) => this.sequences[r]);
    this.clearing = order.map((r) => this.clearing[r]);
    this.lengths = order.map((r) => (kept.has(r) ? this.lengths[r] : 0));
    this.penalties = order.map((r) => (kept.has(r) ? this.penalties[r] : 1));
    this.fed = order.map((r) => (kept.has(r) ? this.fed[r] : []));
    this.rows = rows;
  }

  async close(): Promise<void> {
    await this.context.dispose();
  }
}
