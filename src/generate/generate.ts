// Batched autoregressive decoding over a `DecodeModel`. One session holds every prompt as a
// row: the prompts are prefilled in one `feed`, then each step feeds every still-active row
// its last token in one `feed` (that single call per step is what makes batching pay off).
// Each row samples from its own Rng stream, so a row's output depends only on its prompt,
// the options and its seed, never on which rows are batched with it.
//
// Per row and step: logits [V] → logit bias, frequency and presence penalties (OpenAI's, over
// the generated tokens) → logits mask (constraints) → sampleToken (repetition penalty over
// prompt + generated, temperature, top-k, top-p, min-p) → token → eos check → decode the
// generated tokens → stop strings and streaming holdback (StopMatcher). With `logprobs` on,
// each token also carries its log probability under the distribution it was drawn from.
//
// A row ends with finishReason "eos" (the eos token was sampled; it is the last of `tokens`
// and not part of `text`), "stop" (a stop string appeared; `text` ends before it, `tokens`
// keeps every sampled token) or "length" (maxTokens, or the model's maxLength, reached).

import { z } from "zod";
import type { BatchDecodeModel, BatchDecodeSession, DecodeModel, DecodeSession } from "../models/index.js";
import { issueLines, Rng, safeParseInput } from "../runtime/index.js";
import { IncrementalDetokenizer } from "./detokenize.js";
import { logprobsOf, type SampledLogprobs } from "./logprobs.js";
import { applyMask, type LogitsMask, type SamplingParams, sampledLogits, sampleToken, samplingDefaults } from "./sampling.js";
import { StopMatcher, trailingReplacementCount } from "./stops.js";

export type { BatchDecodeModel, BatchDecodeSession, DecodeModel, DecodeSession };

/** Why a row stopped generating. */
export type FinishReason = "stop" | "length" | "eos";

/** One row's output. */
export interface GenerateResult {
  /** Every sampled token, in order (the eos token included when finishReason is "eos"). */
  tokens: number[];
  /** The generated text: without the eos token, and cut before the stop string. */
  text: string;
  finishReason: FinishReason;
}

/** One streamed token. */
export interface StreamChunk {
  token: number;
  /** Text that became printable with this token (may be empty: held back or a partial character). */
  text: string;
  /** null until the last chunk. */
  finishReason: FinishReason | null;
  /** With the `logprobs` option. */
  logprobs?: TokenLogprobs;
}

/**
 * A token's log probability and the top alternatives, and where its text starts in the
 * generated text (UTF-16 units, as OpenAI's text_offset; a token that completes a character
 * starts where the character does).
 */
export interface TokenLogprobs extends SampledLogprobs {
  textOffset: number;
}

/** A problem with the inputs of `generate` / `generateStream` or with what the model returned. */
export class GenerateError extends Error {
  override name = "GenerateError";
}

/** The defaults of every option (sampling defaults included); the one place they are written down. */
export const generateDefaults = Object.freeze({
  ...samplingDefaults,
  maxTokens: 128,
  stop: [] as readonly string[],
  ignoreEos: false,
  frequencyPenalty: 0,
  presencePenalty: 0,
});

const seedNumber = z.number().int();

/** Options of `generate` and `generateStream`, validated at the call. */
export const GenerateOptions = z
  .object({
    /** Most tokens to generate per row (also limited by the model's maxLength). */
    maxTokens: z.number().int().min(1).default(generateDefaults.maxTokens),
    /** Softmax temperature; 0 means greedy decoding. */
    temperature: z.number().min(0).default(generateDefaults.temperature),
    /** Keep the k most likely tokens; 0 = off. */
    topK: z.number().int().min(0).default(generateDefaults.topK),
    /** Nucleus sampling mass in (0, 1]; 1 = off. */
    topP: z.number().gt(0).max(1).default(generateDefaults.topP),
    /** Min-p in [0, 1]; 0 = off. */
    minP: z.number().min(0).max(1).default(generateDefaults.minP),
    /** Repetition penalty (> 0) over prompt and generated tokens; 1 = off. */
    repetitionPenalty: z.number().gt(0).default(generateDefaults.repetitionPenalty),
    /** Stop strings: generation of a row ends when one appears; it is never part of the text. */
    stop: z.array(z.string().min(1, "stop strings must be non-empty")).default([...generateDefaults.stop]),
    /**
     * Seed of the samplers. A number gives row r the stream (seed, r); an array gives row r the
     * stream (seed[r], 0), so a request run with seed s alone and batched as seed[r] = s agree.
     * Omitted: a random seed.
     */
    seed: z.union([seedNumber, z.array(seedNumber)]).optional(),
    /** The end-of-sequence token; defaults to the model's `eosId` (none: only stop/length end a row). */
    eosId: z.number().int().min(0).optional(),
    /** Keep generating after the eos token (it is then an ordinary token). */
    ignoreEos: z.boolean().default(generateDefaults.ignoreEos),
    /** Added to the logits of the given token ids before sampling (OpenAI's logit_bias; -100 all but bans a token). */
    logitBias: z.record(z.string().regex(/^\d+$/, "logitBias keys must be token ids"), z.number()).optional(),
    /** Subtracted from a token's logit once per time it was generated so far (OpenAI's frequency_penalty). */
    frequencyPenalty: z.number().default(generateDefaults.frequencyPenalty),
    /** Subtracted from a token's logit once it was generated (OpenAI's presence_penalty). */
    presencePenalty: z.number().default(generateDefaults.presencePenalty),
    /** Report each token's log probability and this many most likely alternatives (0–20); omitted: off. */
    logprobs: z.number().int().min(0).max(20).optional(),
    /** Constraint hook: the tokens allowed next for a row, or null for all. */
    logitsMask: z
      .custom<LogitsMask>((v) => typeof v === "function", {
        message: "logitsMask must be a function (row, generated) => Uint8Array | null",
      })
      .optional(),
  })
  .strict();
/** What callers pass (every field optional). */
export type GenerateOptions = z.input<typeof GenerateOptions>;
/** Options after validation, defaults filled in. */
export type ResolvedGenerateOptions = z.output<typeof GenerateOptions>;

function parseOptions(options: unknown): ResolvedGenerateOptions {
  const input = options ?? {};
  const parsed = safeParseInput(GenerateOptions, input);
  if (!parsed.success)
    throw new GenerateError(`invalid generate options: ${issueLines(parsed.error, input, { root: "the options" })}`);
  return parsed.data;
}

/** Checks that need no session: a non-empty list of non-empty prompts of token ids, and seeds per row. */
function checkPrompts(prompts: readonly (readonly number[])[], opts: ResolvedGenerateOptions): void {
  if (!Array.isArray(prompts) || prompts.length === 0)
    throw new GenerateError("prompts must be a non-empty array of token-id arrays");
  prompts.forEach((prompt, r) => {
    if (!Array.isArray(prompt)) throw new GenerateError(`prompt ${r} must be an array of token ids`);
    if (prompt.length === 0)
      throw new GenerateError(`prompt ${r} is empty; a prompt needs at least one token (e.g. a BOS token)`);
    const bad = prompt.findIndex((t) => !Number.isInteger(t) || t < 0);
    if (bad >= 0) throw new GenerateError(`prompt ${r}[${bad}] = ${prompt[bad]} is not a token id (an integer ≥ 0)`);
  });
  if (Array.isArray(opts.seed) && opts.seed.length !== prompts.length) {
    throw new GenerateError(
      `seed has ${opts.seed.length} entries but there are ${prompts.length} prompts; give one seed per prompt`,
    );
  }
}

/** Checks against the session's vocabulary and maxLength. */
export function checkPromptsFit(
  prompts: readonly (readonly number[])[],
  session: Pick<DecodeSession, "vocabSize" | "maxLength">,
): void {
  const { vocabSize, maxLength } = session;
  prompts.forEach((prompt, r) => {
    const bad = prompt.findIndex((t) => t >= vocabSize);
    if (bad >= 0) throw new GenerateError(`prompt ${r}[${bad}] = ${prompt[bad]} is outside the vocabulary [0, ${vocabSize})`);
    if (prompt.length > maxLength) {
      throw new GenerateError(
        `prompt ${r} has ${prompt.length} tokens, ${prompt.length - maxLength} more than the model's maxLength ${maxLength} ` +
          `(prompt + generated); shorten it by at least ${prompt.length - maxLength + 1} tokens to leave room to generate`,
      );
    }
    if (prompt.length === maxLength) {
      throw new GenerateError(
        `prompt ${r} has ${prompt.length} tokens, which fills the model's maxLength ${maxLength} and leaves no room to generate; ` +
          "shorten it by at least 1 token",
      );
    }
  });
}

/** The sampler stream of row r. */
export function rowRng(seed: number | number[], row: number): Rng {
  return Array.isArray(seed) ? Rng.forName(seed[row], "row 0") : Rng.forName(seed, `row ${row}`);
}

/** One sampled token of one row. */
export interface RowStep {
  token: number;
  /** Text that became printable with this token. */
  delta: string;
  finishReason: FinishReason | null;
  logprobs?: TokenLogprobs;
}

interface RowEvent extends RowStep {
  row: number;
}

/**
 * One sequence being decoded: its sampler stream, history, stop matcher and token limit.
 * `sampleNext` turns the logits after the sequence's last token into its next token and text.
 * `generate` runs one per prompt; the continuous batcher runs one per request.
 */
export class RowDecoder {
  /** Prompt + generated tokens (the repetition penalty looks at both). */
  private readonly history: number[];
  readonly generated: number[] = [];
  /** Most tokens this row may generate: min(maxTokens, maxLength - prompt length). */
  readonly limit: number;
  private readonly matcher: StopMatcher;
  private readonly params: SamplingParams;
  private readonly eosId: number | undefined;
  /** The decoded generated text after the last step (eos excluded). */
  private text = "";
  private readonly detokenizer: IncrementalDetokenizer;
  /** How often each token was generated (for the frequency and presence penalties). */
  private readonly counts = new Map<number, number>();
  private readonly bias: readonly (readonly [number, number])[];

  constructor(
    model: DecodeModel,
    prompt: readonly number[],
    private readonly opts: ResolvedGenerateOptions,
    private readonly rng: Rng,
    maxLength: number,
    /** The row number passed to `opts.logitsMask`. */
    private readonly row = 0,
  ) {
    this.history = [...prompt];
    this.limit = Math.min(opts.maxTokens, maxLength - prompt.length);
    this.matcher = new StopMatcher(opts.stop);
    this.params = {
      temperature: opts.temperature,
      topK: opts.topK,
      topP: opts.topP,
      minP: opts.minP,
      repetitionPenalty: opts.repetitionPenalty,
    };
    this.eosId = opts.eosId ?? model.eosId;
    this.detokenizer = new IncrementalDetokenizer((ids) => model.decode(ids));
    this.bias = Object.entries(opts.logitBias ?? {}).map(([id, b]) => [Number(id), b] as const);
  }

  /** The logits after logit bias and the frequency / presence penalties (the input when none apply). */
  private adjusted(logits: Float32Array): Float32Array {
    const { frequencyPenalty, presencePenalty } = this.opts;
    const penalise = (frequencyPenalty !== 0 || presencePenalty !== 0) && this.counts.size > 0;
    if (this.bias.length === 0 && !penalise) return logits;
    const out = Float32Array.from(logits);
    for (const [id, b] of this.bias) {
      if (id >= out.length) throw new RangeError(`logitBias names token ${id}, outside the vocabulary [0, ${out.length})`);
      out[id] += b;
    }
    if (penalise) for (const [id, n] of this.counts) out[id] -= n * frequencyPenalty + presencePenalty;
    return out;
  }

  /** Sample the next token from `logits`, then update eos / stop / length state. */
  sampleNext(logits: Float32Array): RowStep {
    const { opts } = this;
    let token: number;
    let logprobs: TokenLogprobs | undefined;
    try {
      const allowed = opts.logitsMask?.(this.row, [...this.generated]) ?? null;
      const biased = this.adjusted(logits);
      const masked = allowed ? applyMask(biased, allowed) : biased;
      token = sampleToken(masked, this.params, this.rng, this.history);
      if (opts.logprobs !== undefined) {
        const textOffset = this.text.length - trailingReplacementCount(this.text);
        logprobs = { ...logprobsOf(sampledLogits(masked, this.params, this.history), token, opts.logprobs), textOffset };
      }
    } catch (e) {
      throw new GenerateError(`row ${this.row}, token ${this.generated.length}: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.generated.push(token);
    this.history.push(token);
    this.counts.set(token, (this.counts.get(token) ?? 0) + 1);
    const step = (delta: string, finishReason: FinishReason | null): RowStep =>
      logprobs === undefined ? { token, delta, finishReason } : { token, delta, finishReason, logprobs };
    if (this.eosId !== undefined && !opts.ignoreEos && token === this.eosId) {
      return step(this.matcher.finish(this.text), "eos");
    }
    this.text = this.detokenizer.push(token);
    const { delta, stopped } = this.matcher.update(this.text);
    if (stopped) return step(delta, "stop");
    // Out of tokens inside a character: its first bytes are dropped from the text, not shown as U+FFFD.
    if (this.generated.length >= this.limit) {
      const whole = this.text.slice(0, this.text.length - trailingReplacementCount(this.text));
      return step(delta + this.matcher.finish(whole), "length");
    }
    return step(delta, null);
  }
}

/**
 * The options row `row` samples with: an engine that applies the repetition penalty itself
 * (DecodeSession.setRepetitionPenalty) is given it, and the row samples with penalty 1.
 */
export function penaltyToEngine(session: DecodeSession, row: number, opts: ResolvedGenerateOptions): ResolvedGenerateOptions {
  if (!session.setRepetitionPenalty || opts.repetitionPenalty === 1) return opts;
  session.setRepetitionPenalty(row, opts.repetitionPenalty);
  return { ...opts, repetitionPenalty: 1 };
}

/** Parse `options` (defaults filled in) and check the prompts' shapes; throws GenerateError. */
export function resolveGenerateOptions(
  prompts: readonly (readonly number[])[],
  options: GenerateOptions | undefined,
): ResolvedGenerateOptions {
  const opts = parseOptions(options);
  checkPrompts(prompts, opts);
  return opts;
}

/** What `session.feed(rows, …)` returned, checked: one vocab-sized logits array per row. */
export function checkedLogits(session: DecodeSession, rows: readonly number[], logits: Float32Array[]): Float32Array[] {
  if (logits.length !== rows.length) {
    throw new GenerateError(`model returned ${logits.length} logits arrays for ${rows.length} rows; expected one per row`);
  }
  logits.forEach((l, i) => {
    if (l.length !== session.vocabSize) {
      throw new GenerateError(`model returned ${l.length} logits for row ${rows[i]}; expected vocabSize ${session.vocabSize}`);
    }
  });
  return logits;
}

/** A random sampler seed, for requests that give none. */
export const randomSeed = (): number => Math.floor(Math.random() * 2 ** 32);

/**
 * The decoding loop: yields one event per sampled token of every row, in row order within a
 * step. The session is closed however the loop ends (done, error, or the consumer stopping).
 */
async function* decodeBatch(
  model: DecodeModel,
  prompts: readonly (readonly number[])[],
  opts: ResolvedGenerateOptions,
): AsyncGenerator<RowEvent, void, undefined> {
  const seed = opts.seed ?? randomSeed();
  const session = await model.open(prompts.length);
  try {
    checkPromptsFit(prompts, session);
    const rows = prompts.map(
      (prompt, r) => new RowDecoder(model, prompt, penaltyToEngine(session, r, opts), rowRng(seed, r), session.maxLength, r),
    );
    let active = prompts.map((_, r) => r);
    // Prefill: every prompt in one call.
    let logits = checkedLogits(
      session,
      active,
      await session.feed(
        active,
        prompts.map((p) => [...p]),
      ),
    );
    for (;;) {
      const stillActive: number[] = [];
      for (let i = 0; i < active.length; i++) {
        const row = active[i];
        const event = rows[row].sampleNext(logits[i]);
        if (event.finishReason === null) stillActive.push(row);
        yield { row, ...event };
      }
      active = stillActive;
      if (active.length === 0) return;
      // One step: the last sampled token of every active row, in one call.
      logits = checkedLogits(
        session,
        active,
        await session.feed(
          active,
          active.map((r) => [rows[r].generated.at(-1)!]),
        ),
      );
    }
  } finally {
    await session.close();
  }
}

/**
 * Generates a continuation of every prompt (token ids) as one batch: one session with one row
 * per prompt. Returns one result per prompt, in order. Rejects with GenerateError on bad
 * options, empty prompts, prompts that do not fit the model, or invalid model output.
 */
export async function generate(
  model: DecodeModel,
  prompts: readonly (readonly number[])[],
  options: GenerateOptions = {},
): Promise<GenerateResult[]> {
  const opts = resolveGenerateOptions(prompts, options);
  const results: GenerateResult[] = prompts.map(() => ({ tokens: [], text: "", finishReason: "length" }));
  for await (const event of decodeBatch(model, prompts, opts)) {
    const result = results[event.row];
    result.tokens.push(event.token);
    result.text += event.delta;
    if (event.finishReason !== null) result.finishReason = event.finishReason;
  }
  return results;
}

/**
 * Streams the continuation of one prompt token by token. Each chunk's `text` is the newly
 * printable text: stop strings (and text that may still become one) and incomplete UTF-8
 * characters are held back, so the chunks' texts concatenate to `generate`'s `text`.
 * Option and prompt-shape errors throw here; errors that need the model (prompt too long)
 * reject the first `next()`. Breaking out of the loop closes the model session.
 */
export function generateStream(
  model: DecodeModel,
  prompt: readonly number[],
  options: GenerateOptions = {},
): AsyncGenerator<StreamChunk, void, undefined> {
  const opts = resolveGenerateOptions([prompt], options);
  return (async function* () {
    for await (const event of decodeBatch(model, [prompt], opts)) {
      const { token, delta: text, finishReason, logprobs } = event;
      yield logprobs === undefined ? { token, text, finishReason } : { token, text, finishReason, logprobs };
    }
  })();
}
