// Byte-level BPE (GPT-2 style) for the MoE language model: a trainer, an encoder/decoder, and
// the Hugging Face `tokenizer.json` format, read and written.
//
// Encoding a text:
//   1. added tokens   — special tokens ("<|bos|>", …, "<|image_17|>") are cut out first, longest
//                       match at the earliest position, each becoming one id;
//   2. pre-tokenizing — the rest is split by PRE_TOKENIZER_PATTERN (GPT-4 / Llama-3 style:
//                       contractions, letter runs incl. CJK with one leading non-letter, numbers
//                       in chunks of ≤ 3 digits, punctuation runs, whitespace runs);
//   3. bytes          — each piece is UTF-8 encoded; every byte is one base token, written in the
//                       vocabulary with GPT-2's printable bytes-to-unicode alphabet ("Ġ" = space);
//   4. merges         — the lowest-ranked adjacent pair is merged, the leftmost on ties, until no
//                       learned merge applies.
// Decoding concatenates the tokens' bytes and decodes UTF-8, so decode(encode(s)) === s for every
// well-formed string (a lone surrogate is encoded as U+FFFD's bytes, like TextEncoder does).
//
// Id layout of a trained tokenizer (with the defaults: 6 special tokens, 256 image tokens):
//   [0, S)                  special tokens, in the order given     (0 <|bos|> … 5 <|image|>)
//   [S, S + I)              reserved image tokens <|image_0|> …     (6 … 261)
//   [S + I, S + I + 256)    the 256 byte tokens, in byte order      (262 … 517)
//   [S + I + 256, V)        merged tokens, in the order learned     (518 …)
// Special and image tokens are `added_tokens` with `special: true` in tokenizer.json.
//
// The saved file is read by Hugging Face `tokenizers` (Rust/Python) and tokenizers.js. The
// pattern avoids what the engines disagree on: no `(?i:…)` (Oniguruma folds "ſ" to "s", JS does
// not), no possessive quantifiers (tokenizers.js treats them as greedy), and `\p{White_Space}`
// instead of `\s` (JS `\s` adds U+FEFF and lacks U+0085). So the same string is the JS RegExp here.

import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { issueLines, safeParseInput } from "../runtime/index.js";

/** The pre-tokenizer's split pattern, valid and identical in Oniguruma and JavaScript (`u` flag). */
export const PRE_TOKENIZER_PATTERN =
  "'(?:[sdmtSDMT]|[lL][lL]|[vV][eE]|[rR][eE])" +
  "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+" +
  "|\\p{N}{1,3}" +
  "| ?[^\\p{White_Space}\\p{L}\\p{N}]+[\\r\\n]*" +
  "|\\p{White_Space}*[\\r\\n]+" +
  "|\\p{White_Space}+(?!\\P{White_Space})" +
  "|\\p{White_Space}+";

const PRE_TOKENIZER_REGEX = new RegExp(PRE_TOKENIZER_PATTERN, "gu");

const utf8 = new TextEncoder();
// keeps a leading U+FEFF (a BOM is text here) and turns invalid bytes into U+FFFD, like `tokenizers`
const utf8Decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/** Beginning/end of sequence, padding, and the domain markers that open a text, code or image span. */
export const DEFAULT_SPECIAL_TOKENS: readonly string[] = ["<|bos|>", "<|eos|>", "<|pad|>", "<|text|>", "<|code|>", "<|image|>"];

/** How many `<|image_i|>` tokens are reserved by default, one per prefix image-feature position. */
export const DEFAULT_RESERVED_IMAGE_TOKENS = 256;

/** The name of the i-th reserved image token. */
export function imageToken(index: number): string {
  return `<|image_${index}|>`;
}

// ---------------------------------------------------------------------------------------------
// GPT-2's bytes-to-unicode: printable bytes stand for themselves, the other 68 (control
// characters, space, 0x7F–0xA0, 0xAD) are shifted to U+0100… so every token is printable.

const BYTE_TO_CHAR: readonly string[] = (() => {
  const printable = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const chars: string[] = [];
  let shifted = 0;
  for (let b = 0; b < 256; b++) chars.push(String.fromCharCode(printable(b) ? b : 256 + shifted++));
  return chars;
})();

const CHAR_TO_BYTE = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

/** The printable character GPT-2's byte-level alphabet spells byte `b` with (0 ≤ b < 256). */
export const byteLevelChar = (b: number): string => BYTE_TO_CHAR[b];

/** The byte-level spelling of a string's UTF-8 bytes ("hi there" → "hiĠthere"). */
export function toByteLevel(text: string): string {
  let out = "";
  for (const b of utf8.encode(text)) out += BYTE_TO_CHAR[b];
  return out;
}

/** The pre-tokens of a text without added tokens: the matches of PRE_TOKENIZER_PATTERN, gaps kept. */
export function preTokenize(text: string): string[] {
  const pieces: string[] = [];
  let end = 0;
  for (const m of text.matchAll(PRE_TOKENIZER_REGEX)) {
    if (m.index > end) pieces.push(text.slice(end, m.index));
    if (m[0].length > 0) pieces.push(m[0]);
    end = m.index + m[0].length;
  }
  if (end < text.length) pieces.push(text.slice(end));
  return pieces;
}

// ---------------------------------------------------------------------------------------------
// Errors and the tokenizer.json format

/** A tokenizer.json that is not a byte-level BPE tokenizer this module can run exactly. */
export class TokenizerFormatError extends Error {
  override name = "TokenizerFormatError";
}

/** One entry of tokenizer.json's `added_tokens`. */
export interface HfAddedToken {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** The tokenizer.json this module writes (Hugging Face `tokenizers` format, version 1.0). */
export interface HfTokenizerJson {
  version: "1.0";
  truncation: null;
  padding: null;
  added_tokens: HfAddedToken[];
  normalizer: null;
  pre_tokenizer: {
    type: "Sequence";
    pretokenizers: [
      { type: "Split"; pattern: { Regex: string }; behavior: "Isolated"; invert: false },
      { type: "ByteLevel"; add_prefix_space: false; trim_offsets: true; use_regex: false },
    ];
  };
  post_processor: null;
  decoder: { type: "ByteLevel"; add_prefix_space: true; trim_offsets: true; use_regex: true };
  model: {
    type: "BPE";
    dropout: null;
    unk_token: null;
    continuing_subword_prefix: null;
    end_of_word_suffix: null;
    fuse_unk: false;
    byte_fallback: false;
    ignore_merges: false;
    vocab: Record<string, number>;
    merges: [string, string][];
  };
}

/** The matching tokenizer_config.json (what transformers and tokenizers.js read next to it). */
export interface HfTokenizerConfig {
  tokenizer_class: "PreTrainedTokenizerFast";
  clean_up_tokenization_spaces: false;
  bos_token?: string;
  eos_token?: string;
  pad_token?: string;
  additional_special_tokens: string[];
}

const addedTokenSchema = z.object({
  id: z.number().int().nonnegative(),
  content: z.string().min(1),
  special: z.boolean(),
  single_word: z.literal(false).optional(),
  lstrip: z.literal(false).optional(),
  rstrip: z.literal(false).optional(),
  normalized: z.literal(false).optional(),
});

const nothing = z.union([z.null(), z.undefined()]);

const tokenizerJsonSchema = z.object({
  version: z.string().optional(),
  added_tokens: z.array(addedTokenSchema),
  normalizer: nothing,
  pre_tokenizer: z.object({
    type: z.literal("Sequence"),
    pretokenizers: z.tuple([
      z.object({
        type: z.literal("Split"),
        pattern: z.object({ Regex: z.literal(PRE_TOKENIZER_PATTERN) }),
        behavior: z.literal("Isolated"),
        invert: z.literal(false),
      }),
      z.object({
        type: z.literal("ByteLevel"),
        add_prefix_space: z.literal(false),
        use_regex: z.literal(false),
      }),
    ]),
  }),
  post_processor: z.union([nothing, z.object({ type: z.literal("ByteLevel") })]),
  decoder: z.object({ type: z.literal("ByteLevel") }),
  model: z.object({
    type: z.literal("BPE"),
    dropout: nothing,
    unk_token: nothing,
    continuing_subword_prefix: z.union([nothing, z.literal("")]),
    end_of_word_suffix: z.union([nothing, z.literal("")]),
    byte_fallback: z.literal(false).optional(),
    ignore_merges: z.literal(false).optional(),
    // checked by hand: z.record would drop a token named "__proto__"
    vocab: z.custom<Record<string, unknown>>(
      (v) => typeof v === "object" && v !== null && !Array.isArray(v),
      "expected an object mapping each token to its id",
    ),
    merges: z.array(z.union([z.tuple([z.string(), z.string()]), z.string()])),
  }),
});

// ---------------------------------------------------------------------------------------------
// A binary min-heap of numbers, for the encoder's merge queue.

function heapPush(heap: number[], value: number): void {
  let i = heap.length;
  heap.push(value);
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent] <= value) break;
    heap[i] = heap[parent];
    i = parent;
  }
  heap[i] = value;
}

function heapPop(heap: number[]): number {
  const top = heap[0];
  const last = heap.pop()!;
  const n = heap.length;
  if (n > 0) {
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && heap[child + 1] < heap[child]) child++;
      if (heap[child] >= last) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = last;
  }
  return top;
}

// ---------------------------------------------------------------------------------------------
// The tokenizer

/** Options of `BpeTokenizer.encode`. */
export interface EncodeOptions {
  /** Recognise special-token text ("<|eos|>") as its single id; when false it is ordinary text. Default true. */
  allowSpecial?: boolean;
}

/** Options of `BpeTokenizer.decode`. */
export interface DecodeOptions {
  /** Leave special tokens (and image tokens) out of the text. Default false. */
  skipSpecial?: boolean;
}

/** What a tokenizer is made of; the id of a token is its index in `tokens`. */
export interface BpeParts {
  /** Every token: added tokens as their text, the others in byte-level spelling. */
  tokens: readonly string[];
  /** The added tokens: their ids and whether they are special (skipped by `skipSpecial`). */
  added: readonly { id: number; special: boolean }[];
  /** The merges in rank order, as pairs of token ids. */
  merges: readonly (readonly [number, number])[];
}

const ENCODE_CACHE_ENTRIES = 65_536;
const ENCODE_CACHE_MAX_PIECE = 256;

export class BpeTokenizer {
  private readonly tokens: readonly string[];
  private readonly ids: ReadonlyMap<string, number>;
  /** Added token text → id. */
  private readonly addedIds: ReadonlyMap<string, number>;
  /** Matches added tokens, longest first at the earliest position; null when there are none. */
  private readonly addedRegex: RegExp | null;
  private readonly special: Uint8Array;
  /** The bytes each ordinary token stands for (empty for added tokens). */
  private readonly tokenBytes: readonly Uint8Array[];
  private readonly byteIds: Int32Array;
  private readonly merges: readonly (readonly [number, number])[];
  /** (left * vocabSize + right) → merge rank; the merged id is `mergedIds[rank]`. */
  private readonly mergeRanks: Map<number, number>;
  private readonly mergedIds: Int32Array;
  private readonly cache = new Map<string, readonly number[]>();

  /** Ids of all added tokens (special tokens and reserved image tokens), ascending. */
  readonly specialIds: readonly number[];
  /** Ids of `<|image_0|>`, `<|image_1|>`, … in order: the positions of prefix image features. */
  readonly imageTokenIds: readonly number[];

  /** A tokenizer from its parts (see `trainBpe` and `fromHuggingFaceJson`); throws TokenizerFormatError if inconsistent. */
  constructor(parts: BpeParts) {
    const { tokens, added, merges } = parts;
    const V = tokens.length;
    const inRange = (id: number): boolean => Number.isInteger(id) && id >= 0 && id < V;
    for (const { id } of added) {
      if (!inRange(id)) throw new TokenizerFormatError(`added token id ${id} is outside the vocabulary [0, ${V})`);
    }
    merges.forEach(([a, b], rank) => {
      if (!inRange(a) || !inRange(b))
        throw new TokenizerFormatError(`merge ${rank} (${a}, ${b}) refers to ids outside [0, ${V})`);
    });
    this.tokens = tokens;
    this.ids = new Map(tokens.map((t, id) => [t, id]));
    if (this.ids.size !== V) throw new TokenizerFormatError("duplicate token strings in the vocabulary");
    this.special = new Uint8Array(V);
    const addedIds = new Map<string, number>();
    for (const { id, special } of added) {
      addedIds.set(tokens[id], id);
      if (special) this.special[id] = 1;
    }
    this.addedIds = addedIds;
    const byLength = [...addedIds.keys()].sort((a, b) => b.length - a.length || (a < b ? -1 : a > b ? 1 : 0));
    this.addedRegex = byLength.length > 0 ? new RegExp(byLength.map(escapeRegExp).join("|"), "gu") : null;
    this.specialIds = [...addedIds.values()].sort((a, b) => a - b);
    const images: number[] = [];
    for (let i = 0; addedIds.has(imageToken(i)); i++) images.push(addedIds.get(imageToken(i))!);
    this.imageTokenIds = images;

    const empty = new Uint8Array(0);
    this.tokenBytes = tokens.map((token, id) => {
      if (addedIds.get(token) === id) return empty;
      const bytes = new Uint8Array(token.length);
      for (let i = 0; i < token.length; i++) {
        const b = CHAR_TO_BYTE.get(token[i]);
        if (b === undefined) {
          throw new TokenizerFormatError(
            `token ${JSON.stringify(token)} (id ${id}) is not byte-level: ${JSON.stringify(token[i])} is not one of the 256 byte characters`,
          );
        }
        bytes[i] = b;
      }
      return bytes;
    });
    this.byteIds = new Int32Array(256);
    for (let b = 0; b < 256; b++) {
      const id = this.ids.get(BYTE_TO_CHAR[b]);
      if (id === undefined || addedIds.has(BYTE_TO_CHAR[b])) {
        throw new TokenizerFormatError(
          `the vocabulary lacks the byte token ${JSON.stringify(BYTE_TO_CHAR[b])} (byte 0x${hex(b)})`,
        );
      }
      this.byteIds[b] = id;
    }

    this.merges = merges;
    this.mergeRanks = new Map();
    this.mergedIds = new Int32Array(merges.length);
    merges.forEach(([a, b], rank) => {
      const key = a * V + b;
      const merged = this.ids.get(tokens[a] + tokens[b]);
      if (merged === undefined) {
        throw new TokenizerFormatError(
          `merge ${rank} (${JSON.stringify(tokens[a])} ${JSON.stringify(tokens[b])}) makes ${JSON.stringify(tokens[a] + tokens[b])}, which is not in the vocabulary`,
        );
      }
      // a pair listed twice takes its last rank, as in `tokenizers` and tokenizers.js
      this.mergeRanks.set(key, rank);
      this.mergedIds[rank] = merged;
    });
  }

  /** Number of token ids (added, byte and merged tokens): the LM's embedding rows. */
  get vocabSize(): number {
    return this.tokens.length;
  }

  /** The id of a token (added tokens as written, others in byte-level spelling, "Ġthe"). */
  idOf(token: string): number | undefined {
    return this.ids.get(token);
  }

  /** The token of an id (added tokens as written, others in byte-level spelling). */
  tokenOf(id: number): string | undefined {
    return this.tokens[id];
  }

  /** Whether an id is an added special token (including the image tokens). */
  isSpecial(id: number): boolean {
    return this.special[id] === 1;
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const out: number[] = [];
    const addedRegex = options.allowSpecial === false ? null : this.addedRegex;
    if (addedRegex === null) {
      this.encodeOrdinary(text, out);
      return out;
    }
    let end = 0;
    for (const m of text.matchAll(addedRegex)) {
      if (m.index > end) this.encodeOrdinary(text.slice(end, m.index), out);
      out.push(this.addedIds.get(m[0])!);
      end = m.index + m[0].length;
    }
    if (end < text.length) this.encodeOrdinary(text.slice(end), out);
    return out;
  }

  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const V = this.tokens.length;
    let text = "";
    let bytes: number[] = [];
    const flush = (): void => {
      if (bytes.length > 0) text += utf8Decoder.decode(Uint8Array.from(bytes));
      bytes = [];
    };
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= V) {
        throw new RangeError(`decode: token id ${id} at position ${i} is out of range; expected an integer in [0, ${V})`);
      }
      const tokenBytes = this.tokenBytes[id];
      if (tokenBytes.length > 0) {
        for (const b of tokenBytes) bytes.push(b);
      } else if (!(options.skipSpecial && this.special[id] === 1)) {
        // an added token: decoded on its own, like the ByteLevel decoder of `tokenizers`
        flush();
        text += this.tokens[id];
      }
    }
    flush();
    return text;
  }

  /** The tokenizer.json object (Hugging Face `tokenizers` format). */
  toHuggingFaceJson(): HfTokenizerJson {
    return {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: this.specialIds.map((id) => ({
        id,
        content: this.tokens[id],
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: this.special[id] === 1,
      })),
      normalizer: null,
      pre_tokenizer: {
        type: "Sequence",
        pretokenizers: [
          { type: "Split", pattern: { Regex: PRE_TOKENIZER_PATTERN }, behavior: "Isolated", invert: false },
          { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
        ],
      },
      post_processor: null,
      decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: "BPE",
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
        // Object.fromEntries defines own properties, so a token "__proto__" stays a key
        vocab: Object.fromEntries(this.tokens.map((t, id) => [t, id])),
        merges: this.merges.map(([a, b]) => [this.tokens[a], this.tokens[b]]),
      },
    };
  }

  /** The tokenizer_config.json that goes next to tokenizer.json (no clean-up of spaces on decode). */
  toHuggingFaceConfig(): HfTokenizerConfig {
    const config: HfTokenizerConfig = {
      tokenizer_class: "PreTrainedTokenizerFast",
      clean_up_tokenization_spaces: false,
      additional_special_tokens: [],
    };
    for (const id of this.specialIds) {
      const token = this.tokens[id];
      if (token === "<|bos|>") config.bos_token = token;
      else if (token === "<|eos|>") config.eos_token = token;
      else if (token === "<|pad|>") config.pad_token = token;
      else if (this.special[id] === 1) config.additional_special_tokens.push(token);
    }
    return config;
  }

  /** Writes tokenizer.json atomically (a temporary file renamed over `path`). */
  save(path: string): void {
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
    try {
      writeFileSync(tmp, `${JSON.stringify(this.toHuggingFaceJson(), null, 2)}\n`);
      renameSync(tmp, path);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
  }

  /** Reads a tokenizer.json written by `save` (or any file of the same shape). */
  static load(path: string): BpeTokenizer {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      throw new TokenizerFormatError(`cannot read tokenizer file ${path}: ${(err as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new TokenizerFormatError(`${path} is not valid JSON: ${(err as Error).message}`);
    }
    return BpeTokenizer.fromHuggingFaceJson(json, path);
  }

  /**
   * A tokenizer from a parsed tokenizer.json. Throws TokenizerFormatError unless it is a
   * byte-level BPE with this module's pre-tokenizer, a dense vocabulary holding all 256 byte
   * tokens, merges of known tokens into known tokens, and added tokens that match the vocabulary.
   */
  static fromHuggingFaceJson(json: unknown, source = "tokenizer.json"): BpeTokenizer {
    const fail = (what: string): never => {
      throw new TokenizerFormatError(`${source}: ${what}`);
    };
    const parsed = safeParseInput(tokenizerJsonSchema, json);
    if (!parsed.success) {
      const issues = issueLines(parsed.error, json, { root: "the file" });
      return fail(
        `not a byte-level BPE tokenizer.json of this project (${issues}); expected model.type "BPE", ` +
          `normalizer null, and pre_tokenizer Sequence[Split(PRE_TOKENIZER_PATTERN, "Isolated"), ByteLevel(use_regex false)]`,
      );
    }
    const { model, added_tokens } = parsed.data;

    const entries = Object.entries(model.vocab);
    const tokens: string[] = new Array(entries.length);
    for (const [token, id] of entries) {
      if (typeof id !== "number" || !Number.isInteger(id) || id < 0) {
        return fail(`model.vocab: the id of ${JSON.stringify(token)} is ${JSON.stringify(id)}; expected a non-negative integer`);
      }
      if (id >= entries.length)
        fail(`model.vocab: id ${id} of ${JSON.stringify(token)} is not below the vocabulary size ${entries.length}`);
      if (tokens[id] !== undefined)
        fail(`model.vocab: id ${id} is used by both ${JSON.stringify(tokens[id])} and ${JSON.stringify(token)}`);
      tokens[id] = token;
    }
    if (entries.length === 0) fail("model.vocab is empty; expected the 256 byte tokens and more");

    const added: { id: number; special: boolean }[] = [];
    for (const token of added_tokens) {
      if (tokens[token.id] !== token.content) {
        fail(
          `added token ${JSON.stringify(token.content)} has id ${token.id}, but model.vocab gives that id to ${JSON.stringify(tokens[token.id])}`,
        );
      }
      added.push({ id: token.id, special: token.special });
    }

    const ids = new Map(tokens.map((t, id) => [t, id]));
    const idOf = (token: string, rank: number): number => {
      const id = ids.get(token);
      if (id === undefined) return fail(`model.merges[${rank}] refers to ${JSON.stringify(token)}, which is not in model.vocab`);
      return id;
    };
    const merges = model.merges.map((merge, rank): [number, number] => {
      const pair: readonly string[] = typeof merge === "string" ? merge.split(" ") : merge;
      if (pair.length !== 2) fail(`model.merges[${rank}] is ${JSON.stringify(merge)}; expected "left right" with one space`);
      return [idOf(pair[0], rank), idOf(pair[1], rank)];
    });
    try {
      return new BpeTokenizer({ tokens, added, merges });
    } catch (err) {
      if (err instanceof TokenizerFormatError) return fail(err.message);
      throw err;
    }
  }

  private encodeOrdinary(text: string, out: number[]): void {
    for (const piece of preTokenize(text)) {
      const cached = this.cache.get(piece);
      if (cached !== undefined) {
        for (const id of cached) out.push(id);
        continue;
      }
      const ids = this.mergeBytes(utf8.encode(piece));
      if (piece.length <= ENCODE_CACHE_MAX_PIECE) {
        if (this.cache.size >= ENCODE_CACHE_ENTRIES) this.cache.clear();
        this.cache.set(piece, ids);
      }
      for (const id of ids) out.push(id);
    }
  }

  /** BPE over one piece: merge the lowest-ranked pair (leftmost on ties) until none applies. */
  private mergeBytes(bytes: Uint8Array): number[] {
    const n = bytes.length;
    const V = this.tokens.length;
    const sym = new Int32Array(n);
    for (let i = 0; i < n; i++) sym[i] = this.byteIds[bytes[i]];
    if (n < 2 || this.merges.length === 0) return Array.from(sym);
    // a linked list over positions; a merge keeps the left position and unlinks the right one
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1;
      prev[i] = i - 1;
    }
    // queue entries: rank * n + position, so lower rank first, then leftmost
    const queue: number[] = [];
    const rankAt = (i: number): number | undefined => this.mergeRanks.get(sym[i] * V + sym[next[i]]);
    for (let i = 0; i + 1 < n; i++) {
      const rank = rankAt(i);
      if (rank !== undefined) heapPush(queue, rank * n + i);
    }
    while (queue.length > 0) {
      const entry = heapPop(queue);
      const i = entry % n;
      const rank = (entry - i) / n;
      if (sym[i] < 0 || next[i] >= n || rankAt(i) !== rank) continue; // stale
      const j = next[i];
      sym[i] = this.mergedIds[rank];
      sym[j] = -1;
      next[i] = next[j];
      if (next[i] < n) prev[next[i]] = i;
      if (prev[i] >= 0) {
        const left = rankAt(prev[i]);
        if (left !== undefined) heapPush(queue, left * n + prev[i]);
      }
      if (next[i] < n) {
        const right = rankAt(i);
        if (right !== undefined) heapPush(queue, right * n + i);
      }
    }
    const ids: number[] = [];
    for (let i = 0; i < n; i = next[i]) ids.push(sym[i]);
    return ids;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

function hex(b: number): string {
  return b.toString(16).toUpperCase().padStart(2, "0");
}

// ---------------------------------------------------------------------------------------------
// The trainer

/** Options of `trainBpe`. */
export interface TrainBpeOptions {
  /** Total number of ids: special + image + 256 byte tokens + merged tokens. */
  vocabSize: number;
  /** Pairs seen fewer times are never merged (training may stop short of vocabSize). Default 2. */
  minFrequency?: number;
  /** Special tokens, ids 0, 1, …, in this order. Default DEFAULT_SPECIAL_TOKENS. */
  specialTokens?: readonly string[];
  /** How many `<|image_i|>` tokens to reserve after the special tokens. Default 256. */
  reservedImageTokens?: number;
}

const trainOptionsSchema = z.object({
  vocabSize: z.number().int().positive(),
  minFrequency: z.number().int().positive().default(2),
  specialTokens: z.array(z.string().min(1)).default([...DEFAULT_SPECIAL_TOKENS]),
  reservedImageTokens: z.number().int().nonnegative().default(DEFAULT_RESERVED_IMAGE_TOKENS),
});

/**
 * A max-heap of (count, pair) with lazy deletion: an entry is live while its count is the pair's
 * current count. Ties go to the smaller pair key (left id, then right id), so training is deterministic.
 */
class PairQueue {
  private readonly counts: number[] = [];
  private readonly keys: number[] = [];

  get size(): number {
    return this.counts.length;
  }

  private before(i: number, j: number): boolean {
    const ci = this.counts[i];
    const cj = this.counts[j];
    return ci > cj || (ci === cj && this.keys[i] < this.keys[j]);
  }

  private swap(i: number, j: number): void {
    const c = this.counts[i];
    this.counts[i] = this.counts[j];
    this.counts[j] = c;
    const k = this.keys[i];
    this.keys[i] = this.keys[j];
    this.keys[j] = k;
  }

  push(count: number, key: number): void {
    let i = this.counts.length;
    this.counts.push(count);
    this.keys.push(key);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** Removes the top entry and returns it as [count, key]. */
  pop(): [number, number] {
    const top: [number, number] = [this.counts[0], this.keys[0]];
    const last = this.counts.length - 1;
    this.swap(0, last);
    this.counts.pop();
    this.keys.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < last && this.before(l, best)) best = l;
      if (r < last && this.before(r, best)) best = r;
      if (best === i) break;
      this.swap(i, best);
      i = best;
    }
    return top;
  }
}

/**
 * Learns a byte-level BPE vocabulary from `texts`. Special-token text inside the texts is left
 * out of training. Each step merges the most frequent adjacent pair over the unique pre-tokens
 * (weighted by their counts); only the words holding that pair are revisited, and pair counts are
 * updated by the difference, so a step costs what the merge touches, not the corpus.
 */
export function trainBpe(texts: readonly string[], options: TrainBpeOptions): BpeTokenizer {
  const parsed = safeParseInput(trainOptionsSchema, options);
  if (!parsed.success)
    throw new RangeError(`trainBpe: invalid options: ${issueLines(parsed.error, options, { root: "the options" })}`);
  const { vocabSize, minFrequency, specialTokens, reservedImageTokens } = parsed.data;
  const addedTokens = [...specialTokens, ...Array.from({ length: reservedImageTokens }, (_, i) => imageToken(i))];
  const seen = new Set<string>();
  for (const token of addedTokens) {
    if (seen.has(token))
      throw new RangeError(
        `trainBpe: added token ${JSON.stringify(token)} appears twice (special tokens and <|image_i|> must be distinct)`,
      );
    if (token.length === 1 && CHAR_TO_BYTE.has(token)) {
      throw new RangeError(
        `trainBpe: special token ${JSON.stringify(token)} is also a byte token; pick a longer marker like "<|name|>"`,
      );
    }
    seen.add(token);
  }
  const base = addedTokens.length + 256;
  if (vocabSize < base) {
    throw new RangeError(
      `trainBpe: vocabSize ${vocabSize} is below ${base} = ${specialTokens.length} special + ${reservedImageTokens} image + 256 byte tokens`,
    );
  }

  const tokens: string[] = [...addedTokens, ...BYTE_TO_CHAR];
  const ids = new Map(tokens.map((t, id) => [t, id]));
  const byteBase = addedTokens.length;

  // unique pre-tokens with counts, in first-seen order; special-token text is cut out first
  const addedRegex = new RegExp(
    [...addedTokens]
      .sort((a, b) => b.length - a.length)
      .map(escapeRegExp)
      .join("|"),
    "gu",
  );
  const wordCounts = new Map<string, number>();
  const countPieces = (text: string): void => {
    for (const piece of preTokenize(text)) wordCounts.set(piece, (wordCounts.get(piece) ?? 0) + 1);
  };
  for (const text of texts) {
    if (addedTokens.length === 0) {
      countPieces(text);
      continue;
    }
    let end = 0;
    for (const m of text.matchAll(addedRegex)) {
      countPieces(text.slice(end, m.index));
      end = m.index + m[0].length;
    }
    countPieces(text.slice(end));
  }

  const words: Int32Array[] = [];
  const counts: number[] = [];
  for (const [piece, count] of wordCounts) {
    const bytes = utf8.encode(piece);
    if (bytes.length < 2) continue;
    words.push(Int32Array.from(bytes, (b) => byteBase + b));
    counts.push(count);
  }

  // pair key = left * stride + right; every id stays below vocabSize
  const stride = vocabSize;
  const pairCounts = new Map<number, number>();
  const wordsWith = new Map<number, number[]>();
  const noteWord = (key: number, w: number): void => {
    const list = wordsWith.get(key);
    if (list === undefined) wordsWith.set(key, [w]);
    else if (list[list.length - 1] !== w) list.push(w);
  };
  words.forEach((word, w) => {
    for (let i = 0; i + 1 < word.length; i++) {
      const key = word[i] * stride + word[i + 1];
      pairCounts.set(key, (pairCounts.get(key) ?? 0) + counts[w]);
      noteWord(key, w);
    }
  });
  const queue = new PairQueue();
  for (const [key, count] of pairCounts) queue.push(count, key);

  const merges: [number, number][] = [];
  const learned = new Set<number>();
  const visited = new Int32Array(words.length).fill(-1);
  for (let step = 0; tokens.length < vocabSize && queue.size > 0; step++) {
    const [count, key] = queue.pop();
    if (pairCounts.get(key) !== count) continue; // stale entry
    if (count < minFrequency) break;
    const a = Math.floor(key / stride);
    const b = key - a * stride;
    const mergedToken = tokens[a] + tokens[b];
    let merged = ids.get(mergedToken);
    if (merged !== undefined && merged < byteBase) {
      // would spell an added token's text: never learn it
      pairCounts.delete(key);
      wordsWith.delete(key);
      continue;
    }
    if (merged === undefined) {
      merged = tokens.length;
      tokens.push(mergedToken);
      ids.set(mergedToken, merged);
    }
    // a pair can come back when another merge re-creates one of its tokens: apply it again, list it once
    if (!learned.has(key)) {
      learned.add(key);
      merges.push([a, b]);
    }

    // rewrite every word holding (a, b); count the pair differences of the step
    const delta = new Map<number, number>();
    const change = (k: number, d: number): void => {
      delta.set(k, (delta.get(k) ?? 0) + d);
    };
    for (const w of wordsWith.get(key) ?? []) {
      if (visited[w] === step) continue;
      visited[w] = step;
      const word = words[w];
      const out: number[] = [];
      for (let i = 0; i < word.length; i++) {
        if (i + 1 < word.length && word[i] === a && word[i + 1] === b) {
          out.push(merged);
          i++;
        } else {
          out.push(word[i]);
        }
      }
      if (out.length === word.length) continue; // the pair has left this word
      const f = counts[w];
      for (let i = 0; i + 1 < word.length; i++) change(word[i] * stride + word[i + 1], -f);
      for (let i = 0; i + 1 < out.length; i++) {
        const k = out[i] * stride + out[i + 1];
        change(k, f);
        if (out[i] === merged || out[i + 1] === merged) noteWord(k, w);
      }
      words[w] = Int32Array.from(out);
    }
    wordsWith.delete(key);
    for (const [k, d] of delta) {
      if (d === 0) continue;
      const c = (pairCounts.get(k) ?? 0) + d;
      if (c > 0) {
        pairCounts.set(k, c);
        queue.push(c, k);
      } else {
        pairCounts.delete(k);
      }
    }
  }

  return new BpeTokenizer({
    tokens,
    added: addedTokens.map((_, id) => ({ id, special: true })),
    merges,
  });
}
