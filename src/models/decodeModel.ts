// What a decoder needs from a model: sessions that take tokens and return next-token
// logits, one row per sequence, each row with its own KV cache. The models implement these;
// src/generate decodes over them (sampling, constraints, batching, streaming).

/** What a model needs from a tokenizer. */
export interface TextTokenizer {
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
}

/** A model being decoded, one row per sequence. The model keeps a KV cache per row. */
export interface DecodeSession {
  readonly vocabSize: number;
  /** Longest sequence (prompt + generated) a row may hold. */
  readonly maxLength: number;
  /**
   * Append `tokens[i]` to row `rows[i]` (a prompt at first, then one token per step) and
   * return the next-token logits (length vocabSize) after the last appended token of each row.
   * Rows are independent; rows not listed are untouched.
   */
  feed(rows: number[], tokens: number[][]): Promise<Float32Array[]>;
  /**
   * Engines that return log-probabilities instead of raw logits (llama.cpp) cannot leave the
   * CTRL repetition penalty to the sampler: it is not shift-invariant. They apply it to their
   * raw logits over everything row `row` was fed (prompt and generated tokens, as the sampler
   * would), until the row is released; the decoder then samples with penalty 1.
   */
  setRepetitionPenalty?(row: number, penalty: number): void;
  /** Free resources. */
  close(): Promise<void>;
}

export interface DecodeModel {
  /** Open a session holding up to `rows` sequences. */
  open(rows: number): Promise<DecodeSession>;
  /** Token ids <-> text, for stop sequences and streaming text. */
  decode(ids: number[]): string;
  eosId?: number;
}

/**
 * A session whose rows can be recycled and resized: what continuous batching needs.
 * Requests join by taking an empty row, leave by `release`, and `repack` shrinks or grows
 * the batch and drops cache columns no live row uses.
 */
export interface BatchDecodeSession extends DecodeSession {
  /** Rows the session holds. */
  readonly rows: number;
  /** Cache columns held for all rows together; grows with every feed until `repack`. */
  readonly columns: number;
  /** Columns some row still uses: what `repack` keeps (the rest belonged to released rows). */
  readonly liveColumns: number;
  /** Forget row `row`'s sequence: it becomes empty (position 0, nothing cached). */
  release(row: number): void;
  /**
   * Keep rows `keep` (renumbered 0..keep.length-1, caches and positions intact) in a session
   * of `rows` rows (≥ keep.length); the other rows start empty.
   */
  repack(keep: readonly number[], rows: number): void;
  /**
   * Multimodal models: features for the first positions of row `row` (e.g. image slots),
   * set on an empty row before its prompt is fed.
   */
  setPrefix?(row: number, features: Float32Array): void;
  /**
   * Models serving LoRA adapters: the adapter row `row` decodes with (undefined: the base), set
   * on an empty row before its prompt; an unknown name throws. Rows with different adapters
   * share the batch.
   */
  setAdapter?(row: number, adapter: string | undefined): void;
}

export interface BatchDecodeModel extends DecodeModel {
  readonly vocabSize: number;
  readonly maxLength: number;
  open(rows: number): Promise<BatchDecodeSession>;
}
