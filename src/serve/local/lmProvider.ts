// The local engine as a provider (private zone): MoE LMs from model folders, run by ONNX
// Runtime, every request of a model going through that model's continuous batcher.
//
// Chat prompts: a chat model (its tokenizer has the role tokens, e.g. the shipped
// assets/chat) gets its chat template and answers until its end-of-turn token; a base model
// (assets/lm-tiny) gets a plain transcript ("User: …\nAssistant:") and stops before the
// next "\nUser:" turn. Where a request leaves temperature or top_p out, the model's
// generation_config.json decides (OpenAI's defaults of 1 where it has none). Every text
// reply is masked to valid UTF-8, so no reply holds a broken character (U+FFFD).
//
// What the OpenAI parameters become here:
// - `n`, prompt arrays: one batcher request per prompt and choice, all submitted at once (so
//   they batch); choice k of a prompt uses seed + k; choices are numbered prompt-major.
// - `response_format` json_object / json_schema: the reply is constrained by the JSON-schema
//   automaton (compact JSON) under a token budget, so it closes the value before max_tokens
//   (and the context) run out; only a budget too small for the shortest value ends unfinished,
//   with finish_reason "length". Stop sequences do not apply inside a constrained value.
// - `tools`: a call is written as `{"name":…,"arguments":…}`, the arguments constrained to the
//   tool's parameters schema (same automaton, same budget). "required" and a named function
//   force a call; "auto" lets the model's first bytes decide (a reply starting with "{" is a
//   call, see generate/constraints/toolCall.ts): this tiny base model seldom chooses one.
//   At most one call per reply. Earlier calls in the messages are shown to the model in
//   that same form, tool results as their own turns.
// - `logprobs`: of the distribution each token was drawn from: after logit bias, penalties,
//   the constraint mask, temperature and top-p (temperature 0 counts as 1: greedy takes the
//   argmax of that distribution). Tokens whose text a stop sequence cut are left out; so is eos.
// - `model` naming a LoRA adapter (PEFT folder, served unmerged on a model; see loadAdapter):
//   the request decodes with it through its base's batcher, mixed with the base's other
//   requests. Adapters load and unload at run time; one that fails to load at start is listed
//   and refused with why (model_unavailable), as a llama.cpp model that fails to load is.
// - Refusals are RequestRejectedError with OpenAI codes: context_length_exceeded,
//   empty_prompt, invalid_token_id, unsupported_schema, unsupported_parameter. A prompt (or
//   an embedding input) whose UTF-8 bytes can not fit the context even at the longest
//   token's bytes per token is refused before it is tokenised (a 900 KB prompt costs a byte
//   count, not ~100 ms of BPE); one that might fit is tokenised and counted.

import { createHash, randomUUID } from "node:crypto";
import { CHAT_ROLE_TOKENS, chatTemplatePrompt } from "../../data/index.js";
import {
  type BatcherLoad,
  type ByteAutomaton,
  budgetedMask,
  ContinuousBatcher,
  type ContinuousBatcherOptions,
  GenerateError,
  type GenerateOptions,
  type JsonSchema,
  JsonSchemaError,
  jsonSchemaAutomaton,
  StopMatcher,
  type StreamChunk,
  TokenMasker,
  type TokenVocabulary,
  ToolCallReplyParser,
  type ToolSpec,
  textOrToolCall,
  toolCallAutomaton,
  toolCallHeader,
  utf8TextAutomaton,
  vocabularyFromBpe,
} from "../../generate/index.js";
import {
  type BatchDecodeModel,
  type GenerationDefaults,
  type LoraAdapter,
  loadGenerationDefaults,
  loadLoraAdapter,
  loadMoeLm,
  loadMoeLmOnLlamaCpp,
  MoeLmModel,
} from "../../models/index.js";
import type { ParamStore } from "../../runtime/index.js";
import { HttpError } from "../errors.js";
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionChunkChoice,
  ChatCompletionChunkToolCall,
  ChatCompletionMessageToolCall,
  ChatCompletionRequest,
  ChatCompletionTokenLogprob,
  ChatMessage,
  Completion,
  CompletionChoice,
  CompletionLogprobs,
  CompletionRequest,
  CompletionUsage,
  CreateEmbeddingResponse,
  EmbeddingsRequest,
  FinishReason,
  TopLogprob,
} from "../openai/index.js";
import { messageText, ParameterError } from "../openai/index.js";
import {
  type Provider,
  type ProviderContext,
  ProviderError,
  type ProviderLoad,
  type ProviderPrice,
  RequestRejectedError,
} from "../providers/index.js";

export interface LocalModelSpec {
  /** The name clients use. */
  name: string;
  /** A model folder from `aigc train lm` / `aigc pack`. */
  dir: string;
  /** 8-bit weights: the int8 graphs (DynamicQuantizeMatMul; gathered int8 experts while decoding, QMoE for prompts), or Q8_0 on llama.cpp. */
  int8: boolean;
  /** The engine (default onnxruntime); llama-cpp runs a GGUF export (see models/moeLmLlamaCpp.ts). */
  runtime?: "onnxruntime" | "llama-cpp";
  /** llama-cpp: the GGUF export to load (default: exported at start). */
  gguf?: string;
  /** LoRA adapters served unmerged on this model (onnxruntime only): name → PEFT adapter folder. */
  adapters?: Readonly<Record<string, string>>;
}

/** A LoRA adapter served on a local model, as /v1/models and /health show it. */
export interface AdapterInfo {
  name: string;
  /** The model it is served on (`parent` in /v1/models). */
  base: string;
  /** Its folder, as given. */
  path: string;
}

/** What `loadAdapter` did. */
export interface AdapterLoaded extends AdapterInfo {
  /** It replaced an adapter of the same name (load_inplace). */
  replaced: boolean;
}

interface ServedAdapterEntry extends AdapterInfo {
  /** What the engine serves (kept to restore it if a replacement is refused). */
  adapter: LoraAdapter;
  /** A digest of its config and weights: its answers' cache entries are its own. */
  revision: string;
}

/** A refused adapter load; `reason` is what is wrong with the adapter, without the request's framing. */
class AdapterRefusedError extends ParameterError {
  constructor(
    name: string,
    readonly reason: string,
  ) {
    super("invalid_adapter", `The LoRA adapter '${name}' cannot be loaded: ${reason}`, "lora_path");
  }
}

/** A digest of what an adapter computes: its config and every tensor (name, shape, values). */
function adapterRevision(adapter: LoraAdapter): string {
  const h = createHash("sha256").update(JSON.stringify(adapter.config));
  for (const [name, t] of [...adapter.adapter.values].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    h.update(`${name}[${t.shape.join(",")}]`);
    h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return h.digest("hex").slice(0, 16);
}

interface LocalModel {
  spec: LocalModelSpec;
  model: BatchDecodeModel;
  /** The base weights adapters are checked against; undefined on llama.cpp (which serves none). */
  store: ParamStore | undefined;
  /** Frees the engine's memory (llama.cpp models). */
  dispose?: () => Promise<void>;
  /** The input embedding table [V, C] (for /v1/embeddings). */
  embedTable: { data: Float32Array; width: number };
  batcher: ContinuousBatcher;
  eosId: number | undefined;
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  vocabulary: TokenVocabulary;
  /** The most UTF-8 bytes one token stands for (see longestTokenBytes). */
  longestTokenBytes: number;
  /** A token as OpenAI's logprobs show it. */
  tokenLogprobText(id: number): Omit<TopLogprob, "logprob">;
  /** Compiled constraints by what they constrain to, shared by requests (and so their mask memos). */
  maskers: Map<string, TokenMasker<unknown>>;
  /** Valid UTF-8: the constraint of every reply that has no other. */
  textMasker: TokenMasker<number>;
  /** The chat prompt, and what ends a text reply besides eos. */
  chat: { prompt: (messages: readonly ChatMessage[]) => string; stops: string[] };
  defaults: GenerationDefaults;
}

/**
 * The most UTF-8 bytes one token of a vocabulary stands for: an ordinary token its bytes, an
 * added token ("<|eos|>", "<|image_17|>") the text it is cut out of. A text of B bytes
 * encodes to at least B / this many tokens, so one of more than maxLength × this bytes can
 * not fit the context, whatever it encodes to.
 */
export function longestTokenBytes(vocabulary: TokenVocabulary, tokenText: (id: number) => string | undefined): number {
  let longest = 1;
  for (let id = 0; id < vocabulary.size; id++) {
    const bytes = vocabulary.bytes(id);
    const n = bytes === null ? Buffer.byteLength(tokenText(id) ?? "", "utf8") : bytes.length;
    if (n > longest) longest = n;
  }
  return longest;
}

/** The transcript a base LM continues for a chat: one "Role: text" line per message, then "Assistant:". */
export function chatPrompt(messages: readonly ChatMessage[]): string {
  const role = { system: "System", developer: "System", user: "User", assistant: "Assistant", tool: "Tool" } as const;
  return `${messages.map((m) => `${role[m.role]}: ${messageText(m.content).trim()}`).join("\n")}\nAssistant:`;
}

/** The prompt of a chat model: its template, developer messages as system turns. */
export function chatModelPrompt(messages: readonly ChatMessage[]): string {
  return chatTemplatePrompt(
    messages.map((m) => ({ role: m.role === "developer" ? "system" : m.role, content: messageText(m.content) })),
  );
}

const chatStop = "\nUser:";
const defaultMaxTokens = 128;
/**
 * Compiled constraints kept per model (a JSON schema or tool set each; oldest dropped first),
 * and the states each memoises: a state takes 3 bytes per token (mask and costs), so at most
 * 16 × 512 × 3 × 2048 B ≈ 50 MB for the shipped vocabulary.
 */
const maskerEntries = 16;
const maskerMemoEntries = 512;

const stops = (s: string | string[] | undefined): string[] => (s === undefined ? [] : typeof s === "string" ? [s] : s);
const nowSeconds = () => Math.floor(Date.now() / 1000);
const usageOf = (promptTokens: number, completionTokens: number): CompletionUsage => ({
  prompt_tokens: promptTokens,
  completion_tokens: completionTokens,
  total_tokens: promptTokens + completionTokens,
});
const utf8Fatal = new TextDecoder("utf-8", { fatal: true });
const hex = (b: number) => `\\x${b.toString(16).padStart(2, "0")}`;
/** OpenAI-style id of a tool call. */
const toolCallId = () => `call_${randomUUID().replaceAll("-", "").slice(0, 24)}`;

/** The arguments of a tool without `parameters`: none. */
const noParameters: JsonSchema = { type: "object", properties: {} };
/** `response_format: json_object`: any JSON object. */
const anyObject: JsonSchema = { type: "object", additionalProperties: true };

/**
 * Messages as the chat template gets them: an assistant turn that called tools shows the calls
 * in the form the model writes them (after any text), so the transcript says what was called.
 */
function promptMessages(messages: readonly ChatMessage[]): ChatMessage[] {
  return messages.map((m) => {
    if (m.role !== "assistant" || !m.tool_calls?.length) return m;
    const calls = m.tool_calls.map((c) => `${toolCallHeader(c.function.name)}${c.function.arguments}}`).join("");
    const text = messageText(m.content).trim();
    return { ...m, content: text === "" ? calls : `${text} ${calls}` };
  });
}

/** What a chat reply is constrained to. */
type ReplyMode =
  | { kind: "text" }
  | { kind: "json"; masker: TokenMasker<unknown> }
  | { kind: "call" | "auto"; masker: TokenMasker<unknown>; names: string[] };

/** One generation to run: a prompt's ids and its options, under a constraint or none. */
interface Job {
  ids: number[];
  options: GenerateOptions;
  masker?: TokenMasker<unknown>;
}

/** Several streams read as one, in arrival order; `drop` stops reading one (cancelling its request). */
class Interleaved<T> implements AsyncIterable<{ index: number; value: T }> {
  private readonly iterators: AsyncIterator<T>[];
  private readonly pending = new Map<number, Promise<{ index: number; result: IteratorResult<T> }>>();

  constructor(streams: readonly AsyncIterable<T>[]) {
    this.iterators = streams.map((s) => s[Symbol.asyncIterator]());
    for (let i = 0; i < this.iterators.length; i++) this.arm(i);
  }

  private arm(index: number): void {
    const next = this.iterators[index].next().then((result) => ({ index, result }));
    next.catch(() => {}); // raced below; never an unhandled rejection once dropped
    this.pending.set(index, next);
  }

  drop(index: number): void {
    if (this.pending.delete(index)) void this.iterators[index].return?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<{ index: number; value: T }> {
    try {
      while (this.pending.size > 0) {
        const { index, result } = await Promise.race(this.pending.values());
        if (!this.pending.has(index)) continue;
        if (result.done) {
          this.pending.delete(index);
          continue;
        }
        this.arm(index);
        yield { index, value: result.value };
      }
    } finally {
      for (const index of [...this.pending.keys()]) this.drop(index);
    }
  }
}

/**
 * Log-probability entries of generated tokens, released as the text they start in is: a
 * token whose text is still held back (it may begin a stop sequence) waits, and is dropped
 * if a stop sequence cuts it off.
 */
class HeldLogprobs<E> {
  private held: { offset: number; entry: E }[] = [];

  hold(offset: number, entry: E): void {
    this.held.push({ offset, entry });
  }

  /** The entries whose text starts before `emitted` characters of the reply. */
  release(emitted: number): E[] {
    const out = this.held.filter((h) => h.offset < emitted).map((h) => h.entry);
    this.held = this.held.filter((h) => h.offset >= emitted);
    return out;
  }

  /** The reply ended: everything (`keep`), or nothing (cut by a stop sequence, or not content). */
  end(keep: boolean): E[] {
    const out = keep ? this.held.map((h) => h.entry) : [];
    this.held = [];
    return out;
  }
}

/**
 * One chat choice being written: turns the generation's chunks into OpenAI chunk choices
 * (streamed) and the whole choice (accumulated from the same steps, so both agree).
 */
class ChatChoiceWriter {
  content = "";
  toolCall: ChatCompletionMessageToolCall | undefined;
  readonly entries: ChatCompletionTokenLogprob[] = [];
  finish: FinishReason | null = null;
  private roleSent = false;
  private readonly parser: ToolCallReplyParser | undefined;
  /** "auto": stop sequences are matched here, on the text branch only. */
  private readonly matcher: StopMatcher | undefined;
  private rawText = "";
  private readonly held = new HeldLogprobs<ChatCompletionTokenLogprob>();

  constructor(
    readonly index: number,
    mode: ReplyMode,
    private readonly logprobs: boolean,
    replyStops: string[],
    private readonly tokenEntry: (chunk: StreamChunk) => ChatCompletionTokenLogprob,
  ) {
    if (mode.kind === "call" || mode.kind === "auto") this.parser = new ToolCallReplyParser(mode.names, mode.kind);
    if (mode.kind === "auto") this.matcher = new StopMatcher(replyStops);
  }

  /** The chunk choices of one generated token; `stop`: the reply ended here (a stop sequence in "auto"). */
  step(chunk: StreamChunk): { choices: ChatCompletionChunkChoice[]; stop: boolean } {
    const ended = chunk.finishReason !== null;
    if (this.logprobs && chunk.logprobs && chunk.finishReason !== "eos")
      this.held.hold(chunk.logprobs.textOffset, this.tokenEntry(chunk));
    let text = "";
    const calls: ChatCompletionChunkToolCall[] = [];
    let stopped = chunk.finishReason === "stop";
    if (this.parser === undefined) {
      text = chunk.text;
    } else {
      const events = this.parser.push(chunk.text);
      if (ended) events.push(...this.parser.finish(chunk.finishReason === "eos"));
      for (const e of events) {
        if (e.kind === "call") {
          this.toolCall = { id: toolCallId(), type: "function", function: { name: e.name, arguments: "" } };
          calls.push({ index: 0, id: this.toolCall.id, type: "function", function: { name: e.name, arguments: "" } });
        } else if (e.kind === "arguments" && this.toolCall) {
          this.toolCall.function.arguments += e.text;
          calls.push({ index: 0, function: { arguments: e.text } });
        } else if (e.kind === "text" && this.matcher && !stopped) {
          this.rawText += e.text;
          const update = this.matcher.update(this.rawText);
          text += update.delta;
          stopped = update.stopped;
        }
      }
      if (ended && this.matcher && !this.matcher.done) text += this.matcher.finish(this.rawText);
    }
    this.content += text;
    const isCall = this.parser?.isCall === true;
    let entries = isCall ? this.held.end(false) : this.held.release(this.content.length);
    if (stopped || ended) {
      entries = [...entries, ...this.held.end(!stopped && !isCall)];
      this.finish = stopped ? "stop" : chunk.finishReason === "length" ? "length" : isCall ? "tool_calls" : "stop";
    }
    this.entries.push(...entries);

    const out: ChatCompletionChunkChoice[] = [];
    const { index } = this;
    const decided = this.parser === undefined || isCall || this.content !== "" || this.finish !== null;
    if (!this.roleSent && decided && !isCall) {
      out.push({ index, delta: { role: "assistant", content: "" }, finish_reason: null });
      this.roleSent = true;
    }
    if (isCall && calls.length > 0) {
      const [first, ...rest] = calls;
      if (!this.roleSent) {
        out.push({ index, delta: { role: "assistant", content: null, tool_calls: [first] }, finish_reason: null });
        this.roleSent = true;
      } else rest.unshift(first);
      for (const c of rest) out.push({ index, delta: { tool_calls: [c] }, finish_reason: null });
    }
    if (text !== "" || entries.length > 0 || this.finish !== null) {
      const choice: ChatCompletionChunkChoice = {
        index,
        delta: text === "" ? {} : { content: text },
        finish_reason: this.finish,
      };
      if (this.logprobs && entries.length > 0) choice.logprobs = { content: entries, refusal: null };
      if (!this.roleSent) {
        // A call cut off before its name: the reply has neither text nor a call.
        choice.delta = { role: "assistant", content: null };
        this.roleSent = true;
      }
      out.push(choice);
    }
    return { choices: out, stop: stopped };
  }

  whole(): ChatCompletion["choices"][number] {
    const isCall = this.parser?.isCall === true;
    const message = isCall
      ? { role: "assistant" as const, content: null, refusal: null, ...(this.toolCall ? { tool_calls: [this.toolCall] } : {}) }
      : { role: "assistant" as const, content: this.content, refusal: null };
    return {
      index: this.index,
      message,
      logprobs: this.logprobs ? { content: isCall ? [] : this.entries, refusal: null } : null,
      finish_reason: this.finish ?? "stop",
    };
  }
}

/** One text completion choice being written (streamed and whole agree, as for chat). */
class CompletionChoiceWriter {
  text = "";
  finish: FinishReason | null = null;
  /** The log probabilities of the choice's tokens (eos and tokens a stop sequence cut excluded), collected whenever computed. */
  readonly logprobs: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  private readonly held = new HeldLogprobs<{ token: string; logprob: number; top: Record<string, number>; offset: number }>();

  constructor(
    readonly index: number,
    /** Whether the client asked for logprobs (best_of computes them for ranking either way). */
    private readonly show: boolean,
    private readonly echo: string,
    private readonly tokenText: (id: number) => string,
  ) {
    this.text = echo;
  }

  /** The mean log probability of the choice's tokens (what best_of ranks by). */
  get score(): number {
    const lps = this.logprobs.token_logprobs;
    return lps.length === 0 ? Number.NEGATIVE_INFINITY : lps.reduce((s, x) => s + x, 0) / lps.length;
  }

  /** The choice for one generated token, or null when it adds nothing to stream. */
  step(chunk: StreamChunk): CompletionChoice | null {
    if (chunk.logprobs && chunk.finishReason !== "eos") {
      const top = Object.fromEntries(chunk.logprobs.top.map((t) => [this.tokenText(t.id), t.logprob]));
      const { textOffset } = chunk.logprobs;
      this.held.hold(textOffset, {
        token: this.tokenText(chunk.token),
        logprob: chunk.logprobs.logprob,
        top,
        offset: textOffset,
      });
    }
    this.text += chunk.text;
    let entries = this.held.release(this.text.length - this.echo.length);
    if (chunk.finishReason !== null) {
      entries = [...entries, ...this.held.end(chunk.finishReason !== "stop")];
      this.finish = chunk.finishReason === "length" ? "length" : "stop";
    }
    const part: CompletionLogprobs = {
      tokens: entries.map((e) => e.token),
      token_logprobs: entries.map((e) => e.logprob),
      top_logprobs: entries.map((e) => e.top),
      text_offset: entries.map((e) => e.offset),
    };
    this.logprobs.tokens.push(...part.tokens);
    this.logprobs.token_logprobs.push(...part.token_logprobs);
    this.logprobs.top_logprobs.push(...part.top_logprobs);
    this.logprobs.text_offset.push(...part.text_offset);
    if (chunk.text === "" && (entries.length === 0 || !this.show) && this.finish === null) return null;
    return { text: chunk.text, index: this.index, logprobs: this.show ? part : null, finish_reason: this.finish };
  }

  whole(): CompletionChoice {
    return {
      text: this.text,
      index: this.index,
      logprobs: this.show ? this.logprobs : null,
      finish_reason: this.finish ?? "stop",
    };
  }
}

export class LocalLmProvider implements Provider {
  readonly zone = "private" as const;
  /** LoRA adapters being served, by name (a request's `model` may name one). */
  private readonly adapters = new Map<string, ServedAdapterEntry>();
  /** Adapters that failed to load at start, by name, with why: listed, and refused with that reason. */
  private readonly failedAdapters = new Map<string, AdapterInfo & { reason: string }>();
  /** Names being loaded now (a second load of one waits for the first's answer). */
  private readonly loadingAdapters = new Set<string>();

  private constructor(
    readonly name: string,
    readonly price: ProviderPrice,
    private readonly byName: Map<string, LocalModel>,
    /** Models that failed to load, by name, with why: listed, and refused with that reason. */
    readonly failed: ReadonlyMap<string, string>,
  ) {}

  /** Every name a request may use here: the models, the adapters, and those that failed to load (refused with why). */
  get models(): readonly string[] {
    return [...this.byName.keys(), ...this.failed.keys(), ...this.adapters.keys(), ...this.failedAdapters.keys()];
  }

  /** The model an adapter is served on (`parent` in /v1/models); undefined for a model. */
  parentOf(model: string): string | undefined {
    return (this.adapters.get(model) ?? this.failedAdapters.get(model))?.base;
  }

  /** The models loaded here (the bases adapters may load on, on onnxruntime). */
  baseModels(): string[] {
    return [...this.byName.keys()];
  }

  /** The adapters served, in load order. */
  adapterList(): AdapterInfo[] {
    return [...this.adapters.values()].map(({ name, base, path }) => ({ name, base, path }));
  }

  /** Adapters that failed to load at start, by name, with why. */
  adapterFailures(): Record<string, AdapterInfo & { reason: string }> {
    return Object.fromEntries(this.failedAdapters);
  }

  /**
   * What distinguishes the answers of `model` from those of an earlier model of the same name
   * (for cache keys): an adapter's digest, undefined for a model.
   */
  modelRevision(model: string): string | undefined {
    return this.adapters.get(model)?.revision;
  }

  static async create(options: {
    name?: string;
    models: readonly LocalModelSpec[];
    price: ProviderPrice;
    batching: Partial<ContinuousBatcherOptions> & { denseFromRows?: number };
    threads?: number;
    /**
     * A model that fails to load is left out (and refused with the reason) instead of failing
     * the whole provider: for llama.cpp files, which a user may bring from elsewhere.
     */
    onLoadError?: (model: string, error: Error) => void;
    /** An adapter of `spec.adapters` failed to load (it is listed, and refused with the reason). */
    onAdapterError?: (adapter: string, model: string, error: Error) => void;
  }): Promise<LocalLmProvider> {
    const byName = new Map<string, LocalModel>();
    const failed = new Map<string, string>();
    const names = new Set(options.models.map((m) => m.name));
    for (const spec of options.models) {
      const adapterNames = Object.keys(spec.adapters ?? {});
      if (spec.runtime === "llama-cpp" && adapterNames.length > 0)
        throw new Error(
          `model '${spec.name}' runs on llama-cpp, which serves no LoRA adapters (${adapterNames.join(", ")}): serve it with runtime onnxruntime`,
        );
      for (const a of adapterNames) {
        if (names.has(a))
          throw new Error(`adapter '${a}' of model '${spec.name}': the name is already a model's or another adapter's`);
        names.add(a);
      }
    }
    for (const spec of options.models) {
      const files = await loadMoeLm(spec.dir);
      const tokenizer = {
        encode: (s: string) => files.tokenizer.encode(s),
        decode: (ids: readonly number[]) => files.tokenizer.decode(ids),
      };
      const eosId = files.tokenizer.idOf("<|eos|>");
      let model: BatchDecodeModel;
      let dispose: (() => Promise<void>) | undefined;
      if (spec.runtime === "llama-cpp") {
        try {
          const loaded = await loadMoeLmOnLlamaCpp(spec.dir, files, {
            gguf: spec.gguf,
            type: spec.int8 ? "q8_0" : "f32",
            threads: options.threads,
            gpu: "auto",
            maxRows: options.batching.maxBatch,
            eosId,
          });
          model = loaded.model;
          dispose = loaded.dispose;
        } catch (e) {
          if (!options.onLoadError) throw e;
          const error = e instanceof Error ? e : new Error(String(e));
          failed.set(spec.name, error.message);
          options.onLoadError(spec.name, error);
          continue;
        }
      } else {
        model = await MoeLmModel.create(files.config.model, files.store, tokenizer, {
          int8: spec.int8,
          threads: options.threads,
          eosId,
          denseFromRows: options.batching.denseFromRows,
        });
      }
      const table = files.store.get("model.embed_tokens.weight");
      const vocabulary = vocabularyFromBpe(files.tokenizer);
      const longest = longestTokenBytes(vocabulary, (id) => files.tokenizer.tokenOf(id));
      const tokenTexts = new Map<number, Omit<TopLogprob, "logprob">>();
      const chatModel = files.tokenizer.idOf(CHAT_ROLE_TOKENS[2]) !== undefined;
      byName.set(spec.name, {
        spec,
        model,
        store: spec.runtime === "llama-cpp" ? undefined : files.store,
        dispose,
        embedTable: { data: table.data, width: table.shape[1] },
        batcher: new ContinuousBatcher(model, { maxBatch: options.batching.maxBatch, maxWaitMs: options.batching.maxWaitMs }),
        eosId,
        encode: tokenizer.encode,
        decode: tokenizer.decode,
        vocabulary,
        longestTokenBytes: longest,
        tokenLogprobText(id) {
          let known = tokenTexts.get(id);
          if (known === undefined) {
            const bytes = vocabulary.bytes(id);
            if (bytes === null) {
              // A special token (eos, …): its name, as OpenAI shows "<|endoftext|>".
              const name = files.tokenizer.tokenOf(id) ?? `<|${id}|>`;
              known = { token: name, bytes: [...new TextEncoder().encode(name)] };
            } else {
              let token: string;
              try {
                token = utf8Fatal.decode(bytes);
              } catch {
                token = `bytes:${[...bytes].map(hex).join("")}`; // part of a character
              }
              known = { token, bytes: [...bytes] };
            }
            tokenTexts.set(id, known);
          }
          return known;
        },
        maskers: new Map(),
        textMasker: new TokenMasker(utf8TextAutomaton, vocabulary),
        chat: chatModel ? { prompt: chatModelPrompt, stops: [] } : { prompt: chatPrompt, stops: [chatStop] },
        defaults: loadGenerationDefaults(spec.dir),
      });
    }
    const provider = new LocalLmProvider(options.name ?? "local", options.price, byName, failed);
    // An adapter that fails to load (a corrupt or mismatched file) is listed and refused with
    // the reason, as a model that fails to load is; the base and the other adapters serve.
    for (const spec of options.models) {
      if (!byName.has(spec.name)) continue;
      for (const [name, path] of Object.entries(spec.adapters ?? {})) {
        try {
          await provider.loadAdapter({ name, path, base: spec.name });
        } catch (e) {
          const reason = e instanceof AdapterRefusedError ? e.reason : e instanceof Error ? e.message : String(e);
          provider.failedAdapters.set(name, { name, base: spec.name, path, reason });
          options.onAdapterError?.(name, spec.name, new Error(reason));
        }
      }
    }
    return provider;
  }

  /**
   * Serve the PEFT adapter folder `path` under `name` on the local model `base`, without a
   * restart (vLLM's /v1/load_lora_adapter). `replace`: a loaded adapter of that name is
   * replaced (requests already decoding with it finish with it). Refusals are HttpErrors: 400
   * (name taken, files corrupt or not for this base, an adapter the engine cannot serve
   * unmerged, a llama.cpp base), 404 (no such base), 409 (that name is being loaded now).
   */
  async loadAdapter(request: { name: string; path: string; base: string; replace?: boolean }): Promise<AdapterLoaded> {
    const { name, path, base } = request;
    const m = this.byName.get(base);
    if (!m) {
      if (this.failed.has(base))
        throw new ParameterError(
          "model_unavailable",
          `model '${base}' could not be loaded at start: ${this.failed.get(base)}`,
          "base_model",
        );
      throw new HttpError(
        404,
        "model_not_found",
        `The model '${base}' is not served here: LoRA adapters load on ${[...this.byName.keys()].join(", ") || "no model"}.`,
      );
    }
    if (!(m.model instanceof MoeLmModel) || !m.store)
      throw new ParameterError(
        "unsupported_model",
        `model '${base}' runs on ${m.spec.runtime ?? "onnxruntime"}, which serves no LoRA adapters: load adapters on an onnxruntime model`,
        "base_model",
      );
    if (this.byName.has(name) || this.failed.has(name))
      throw new ParameterError(
        "model_exists",
        `'${name}' is the name of a model served here: give the adapter another name.`,
        "lora_name",
      );
    if (this.loadingAdapters.has(name))
      throw new HttpError(
        409,
        "adapter_loading",
        `The LoRA adapter '${name}' is being loaded now; retry once that load has answered.`,
      );
    const old = this.adapters.get(name);
    if (old && !request.replace)
      throw new ParameterError(
        "adapter_exists",
        `The LoRA adapter '${name}' is already loaded (from ${old.path}, on ${old.base}): unload it first, or send load_inplace: true to replace it.`,
        "lora_name",
      );
    this.loadingAdapters.add(name);
    let adapter: LoraAdapter;
    try {
      adapter = await loadLoraAdapter(path, m.store);
    } catch (e) {
      throw new AdapterRefusedError(name, e instanceof Error ? e.message : String(e));
    } finally {
      this.loadingAdapters.delete(name);
    }
    // From here on synchronous: no request sees the name half-loaded.
    const current = this.adapters.get(name);
    const previous = current ? this.byName.get(current.base)?.model : undefined;
    if (current && previous instanceof MoeLmModel) previous.unloadAdapter(name);
    try {
      m.model.loadAdapter(name, adapter);
    } catch (e) {
      if (current && previous instanceof MoeLmModel) previous.loadAdapter(name, current.adapter);
      throw new AdapterRefusedError(name, e instanceof Error ? e.message : String(e));
    }
    this.failedAdapters.delete(name);
    this.adapters.set(name, { name, base, path, adapter, revision: adapterRevision(adapter) });
    return { name, base, path, replaced: current !== undefined };
  }

  /**
   * Stop serving adapter `name` (vLLM's /v1/unload_lora_adapter); requests already decoding
   * with it finish. An adapter that failed to load at start is taken off the list. 404 for a
   * name that is no adapter, 400 for a model's name.
   */
  unloadAdapter(name: string): AdapterInfo {
    const entry = this.adapters.get(name);
    if (entry) {
      const m = this.byName.get(entry.base)?.model;
      if (m instanceof MoeLmModel) m.unloadAdapter(name);
      this.adapters.delete(name);
      return { name, base: entry.base, path: entry.path };
    }
    const failure = this.failedAdapters.get(name);
    if (failure) {
      this.failedAdapters.delete(name);
      return { name, base: failure.base, path: failure.path };
    }
    if (this.byName.has(name) || this.failed.has(name))
      throw new ParameterError("not_an_adapter", `'${name}' is a model, not a LoRA adapter: only adapters unload.`, "lora_name");
    throw new HttpError(
      404,
      "adapter_not_found",
      `The LoRA adapter '${name}' is not loaded (loaded: ${[...this.adapters.keys()].join(", ") || "none"}).`,
    );
  }

  load(): ProviderLoad {
    let queued = 0;
    let running = 0;
    let p95LatencyMs = 0;
    for (const m of this.byName.values()) {
      const l = m.batcher.load();
      queued += l.queued;
      running += l.running;
      p95LatencyMs = Math.max(p95LatencyMs, l.p95LatencyMs);
    }
    return { queued, running, p95LatencyMs };
  }

  /** Per-model batcher statistics (for /metrics). */
  batcherLoads(): Record<string, BatcherLoad> {
    return Object.fromEntries([...this.byName].map(([name, m]) => [name, m.batcher.load()]));
  }

  async close(): Promise<void> {
    await Promise.all([...this.byName.values()].map((m) => m.batcher.close()));
    await Promise.all([...this.byName.values()].map((m) => m.dispose?.()));
  }

  /** The model a request names, and the adapter it decodes with (when it names one). */
  private modelOf(name: string): { m: LocalModel; adapter: string | undefined } {
    const served = this.adapters.get(name);
    if (served) return { m: this.byName.get(served.base)!, adapter: name };
    const failedAdapter = this.failedAdapters.get(name);
    if (failedAdapter !== undefined)
      throw this.reject(
        "model_unavailable",
        "model",
        `LoRA adapter '${name}' (on ${failedAdapter.base}) could not be loaded at start: ${failedAdapter.reason}`,
      );
    const m = this.byName.get(name);
    const failure = this.failed.get(name);
    if (failure !== undefined)
      // A refusal, not a provider failure: the other models keep their circuit closed.
      throw this.reject("model_unavailable", "model", `model '${name}' could not be loaded at start: ${failure}`);
    if (!m) throw new ProviderError(this.name, 404, "http_error", false, `model '${name}' is not served by ${this.name}`);
    return { m, adapter: undefined };
  }

  private reject(code: string, param: string | null, message: string): RequestRejectedError {
    return new RequestRejectedError(this.name, code, param, message);
  }

  /**
   * The most UTF-8 bytes of prompt (or of one embedding input) `model` can read: its context
   * × its longest token's bytes; undefined for a model not served here. A bound, not a count:
   * a text under it may still be over the context once tokenised.
   */
  maxPromptBytes(model: string): number | undefined {
    const m = this.byName.get(this.adapters.get(model)?.base ?? model);
    return m === undefined ? undefined : m.model.maxLength * m.longestTokenBytes;
  }

  /** Refuses a text that can not fit the context, before it is tokenised (see longestTokenBytes). */
  private refuseUnfittable(m: LocalModel, text: string, param: string, what: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit (4 per surrogate pair): only a long text needs counting.
    const most = m.model.maxLength * m.longestTokenBytes;
    if (text.length <= most / 3) return;
    const bytes = Buffer.byteLength(text, "utf8");
    if (bytes > most)
      throw this.reject(
        "context_length_exceeded",
        param,
        `This model's maximum context length is ${m.model.maxLength} tokens; the ${what} is ${bytes} bytes, more than ${m.model.maxLength} tokens of at most ${m.longestTokenBytes} bytes each hold. Shorten the ${what}.`,
      );
  }

  /** The constraint for `key`, compiled once per model (JsonSchemaError → 400 naming `param`). */
  private maskerFor(m: LocalModel, key: unknown, param: string, build: () => ByteAutomaton<unknown>): TokenMasker<unknown> {
    const k = JSON.stringify(key);
    let masker = m.maskers.get(k);
    if (masker === undefined) {
      try {
        masker = new TokenMasker(build(), m.vocabulary, { memoEntries: maskerMemoEntries });
      } catch (e) {
        if (e instanceof JsonSchemaError) throw this.reject("unsupported_schema", param, `${param}: ${e.message}`);
        throw e;
      }
      if (m.maskers.size >= maskerEntries) m.maskers.delete(m.maskers.keys().next().value as string);
      m.maskers.set(k, masker);
    }
    return masker;
  }

  /** Sampling options shared by every job of a request (logit_bias checked against the vocabulary). */
  private sampling(
    m: LocalModel,
    req: ChatCompletionRequest | CompletionRequest,
    maxTokens: number | undefined,
    logprobs: number | undefined,
  ): GenerateOptions {
    const bias = req.logit_bias ?? {};
    const outside = Object.keys(bias).find((id) => Number(id) >= m.model.vocabSize);
    if (outside !== undefined) {
      throw this.reject(
        "invalid_token_id",
        "logit_bias",
        `logit_bias names token ${outside}; the vocabulary has ${m.model.vocabSize} tokens`,
      );
    }
    return {
      maxTokens: maxTokens ?? defaultMaxTokens,
      // Left out: the model's own defaults (OpenAI's are 1, which is what a model without any gets).
      temperature: req.temperature ?? m.defaults.temperature,
      topP: req.top_p === undefined ? m.defaults.topP : req.top_p === 0 ? 1 : req.top_p,
      repetitionPenalty: m.defaults.repetitionPenalty,
      frequencyPenalty: req.frequency_penalty ?? 0,
      presencePenalty: req.presence_penalty ?? 0,
      ...(Object.keys(bias).length > 0 ? { logitBias: bias } : {}),
      ...(logprobs === undefined ? {} : { logprobs }),
    };
  }

  /**
   * Submit every job at once (they batch). Refusals (prompt empty or too long, bad sampling
   * values) are RequestRejectedError, which the router never retries elsewhere.
   */
  private submit(
    m: LocalModel,
    adapter: string | undefined,
    jobs: readonly Job[],
    promptParam: string,
  ): AsyncIterable<StreamChunk>[] {
    for (const job of jobs) {
      if (job.ids.length === 0)
        throw this.reject("empty_prompt", promptParam, "The prompt is empty: give at least one token of text.");
      const room = m.model.maxLength - job.ids.length;
      if (room < 1) {
        throw this.reject(
          "context_length_exceeded",
          promptParam,
          `This model's maximum context length is ${m.model.maxLength} tokens; the prompt has ${job.ids.length} tokens. Shorten the prompt.`,
        );
      }
    }
    const streams: AsyncIterable<StreamChunk>[] = [];
    try {
      for (const job of jobs) {
        const limit = Math.min(job.options.maxTokens ?? defaultMaxTokens, m.model.maxLength - job.ids.length);
        const logitsMask = budgetedMask(job.masker ?? m.textMasker, limit);
        const options = { ...job.options, maxTokens: limit, logitsMask };
        streams.push(
          adapter === undefined
            ? m.batcher.submit(job.ids, options)
            : this.adapterStream(adapter, m.batcher.submit(job.ids, options, { adapter })),
        );
      }
    } catch (e) {
      for (const s of streams) void s[Symbol.asyncIterator]().return?.();
      if (e instanceof GenerateError) throw this.reject("invalid_request", null, e.message);
      throw e;
    }
    return streams;
  }

  /**
   * A generation with an adapter: one still queued when its adapter was unloaded (the batcher
   * fails it when it would join the batch) is refused as the client's to retry, not a provider
   * fault. A plain iterator, not a generator, so `return` reaches the batcher at once (a
   * generator would hold it until the pending token arrives).
   */
  private adapterStream(adapter: string, stream: AsyncIterable<StreamChunk>): AsyncIterable<StreamChunk> {
    const refuse = (e: unknown): never => {
      if (e instanceof GenerateError && !this.adapters.has(adapter))
        throw this.reject("model_not_found", "model", `The LoRA adapter '${adapter}' was unloaded before this request started.`);
      throw e;
    };
    return {
      [Symbol.asyncIterator]: (): AsyncIterator<StreamChunk> => {
        const inner = stream[Symbol.asyncIterator]();
        return {
          next: () => inner.next().catch(refuse),
          return: (value?: unknown) => inner.return?.(value) ?? Promise.resolve({ done: true as const, value: undefined }),
        };
      },
    };
  }

  /** What the chat reply is constrained to, from tools, tool_choice and response_format. */
  private replyMode(m: LocalModel, req: ChatCompletionRequest): ReplyMode {
    const tools = req.tools ?? [];
    const choice = req.tool_choice ?? (tools.length > 0 ? "auto" : "none");
    let callMode: "call" | "auto" | undefined;
    let eligible = tools;
    if (choice === "auto" || choice === "required") callMode = choice === "auto" ? "auto" : "call";
    else if (choice !== "none" && choice.type === "function") {
      callMode = "call";
      eligible = tools.filter((t) => t.function.name === choice.function.name);
    } else if (choice !== "none") {
      const allowed = new Set(choice.allowed_tools.tools.map((t) => t.function.name));
      callMode = choice.allowed_tools.mode === "auto" ? "auto" : "call";
      eligible = tools.filter((t) => allowed.has(t.function.name));
    }
    const format = req.response_format?.type ?? "text";
    if (callMode !== undefined && eligible.length > 0) {
      if (callMode === "auto" && format !== "text") {
        throw this.reject(
          "unsupported_parameter",
          "response_format",
          "response_format json together with tool_choice 'auto' is not supported by this server: set tool_choice to 'none' or 'required'.",
        );
      }
      const specs: ToolSpec[] = eligible.map((t) => ({
        name: t.function.name,
        parameters: (t.function.parameters ?? noParameters) as JsonSchema,
      }));
      // Check each tool's schema alone first, so a refusal names the tool.
      specs.forEach((spec) => {
        const i = tools.findIndex((t) => t.function.name === spec.name);
        this.maskerFor(m, ["json", spec.parameters], `tools[${i}].function.parameters`, () =>
          jsonSchemaAutomaton(spec.parameters),
        );
      });
      const masker = this.maskerFor(m, [callMode, specs], "tools", () =>
        callMode === "auto" ? textOrToolCall(specs) : toolCallAutomaton(specs),
      );
      return { kind: callMode, masker, names: specs.map((s) => s.name) };
    }
    const rf = req.response_format;
    if (rf?.type === "json_object")
      return {
        kind: "json",
        masker: this.maskerFor(m, ["json", anyObject], "response_format", () => jsonSchemaAutomaton(anyObject)),
      };
    if (rf?.type === "json_schema") {
      const schema = (rf.json_schema.schema ?? {}) as JsonSchema;
      return {
        kind: "json",
        masker: this.maskerFor(m, ["json", schema], "response_format.json_schema.schema", () => jsonSchemaAutomaton(schema)),
      };
    }
    return { kind: "text" };
  }

  /** The chat's generations and their writers, ready to run. */
  private startChat(req: ChatCompletionRequest) {
    const { m, adapter } = this.modelOf(req.model);
    const mode = this.replyMode(m, req);
    const logprobs = req.logprobs === true;
    const options = this.sampling(
      m,
      req,
      req.max_completion_tokens ?? req.max_tokens,
      logprobs ? (req.top_logprobs ?? 0) : undefined,
    );
    const prompt = m.chat.prompt(promptMessages(req.messages));
    this.refuseUnfittable(m, prompt, "messages", "prompt");
    const ids = m.encode(prompt);
    const n = req.n ?? 1;
    const userStops = stops(req.stop);
    // Plain text stops in the decoder; "auto" matches stops itself, on text only; never inside JSON.
    const decoderStops = mode.kind === "text" ? [...userStops, ...m.chat.stops] : [];
    const jobs: Job[] = Array.from({ length: n }, (_, k) => ({
      ids,
      options: { ...options, stop: decoderStops, ...(req.seed === undefined ? {} : { seed: req.seed + k }) },
      masker: mode.kind === "text" ? undefined : mode.masker,
    }));
    const tokenEntry = (chunk: StreamChunk): ChatCompletionTokenLogprob => ({
      ...m.tokenLogprobText(chunk.token),
      logprob: chunk.logprobs!.logprob,
      top_logprobs: chunk.logprobs!.top.map((t) => ({ ...m.tokenLogprobText(t.id), logprob: t.logprob })),
    });
    const writers = jobs.map((_, k) => new ChatChoiceWriter(k, mode, logprobs, [...userStops, ...m.chat.stops], tokenEntry));
    const streams = this.submit(m, adapter, jobs, "messages");
    return { streams, writers, promptTokens: ids.length };
  }

  private throwIfAborted(ctx: ProviderContext): void {
    if (ctx.signal.aborted) throw new ProviderError(this.name, 499, "aborted", false, "the request was cancelled");
  }

  async *chatStream(req: ChatCompletionRequest, ctx: ProviderContext): AsyncIterable<ChatCompletionChunk> {
    const base = {
      id: `chatcmpl-${randomUUID()}`,
      object: "chat.completion.chunk" as const,
      created: nowSeconds(),
      model: req.model,
    };
    const includeUsage = req.stream_options?.include_usage === true;
    const { streams, writers, promptTokens } = this.startChat(req);
    const all = new Interleaved(streams);
    let completion = 0;
    for await (const { index, value } of all) {
      this.throwIfAborted(ctx);
      completion++;
      const { choices, stop } = writers[index].step(value);
      if (stop) all.drop(index);
      for (const choice of choices) yield { ...base, choices: [choice], usage: null };
    }
    if (includeUsage) {
      yield {
        ...base,
        choices: [],
        usage: usageOf(promptTokens, completion),
      };
    }
  }

  async chat(req: ChatCompletionRequest, ctx: ProviderContext): Promise<ChatCompletion> {
    const { streams, writers, promptTokens } = this.startChat(req);
    const all = new Interleaved(streams);
    let completion = 0;
    for await (const { index, value } of all) {
      this.throwIfAborted(ctx);
      completion++;
      if (writers[index].step(value).stop) all.drop(index);
    }
    return {
      id: `chatcmpl-${randomUUID()}`,
      object: "chat.completion",
      created: nowSeconds(),
      model: req.model,
      choices: writers.map((w) => w.whole()),
      usage: usageOf(promptTokens, completion),
    };
  }

  /** The prompts of a completion request as token ids (a string, strings, token ids, or lists of them). */
  private completionPrompts(m: LocalModel, prompt: CompletionRequest["prompt"]): number[][] {
    const list: (string | number[])[] =
      typeof prompt === "string"
        ? [prompt]
        : typeof prompt[0] === "number"
          ? [prompt as number[]]
          : (prompt as (string | number[])[]);
    return list.map((p, i) => {
      const param = list.length === 1 ? "prompt" : `prompt[${i}]`;
      if (typeof p === "string") this.refuseUnfittable(m, p, param, "prompt");
      const ids = typeof p === "string" ? m.encode(p) : p;
      const bad = ids.find((id) => id >= m.model.vocabSize);
      if (bad !== undefined) {
        throw this.reject("invalid_token_id", param, `token id ${bad} is outside the vocabulary (${m.model.vocabSize})`);
      }
      return ids;
    });
  }

  /** The completion's generations (best_of per prompt) and their writers. */
  private startCompletion(req: CompletionRequest) {
    const { m, adapter } = this.modelOf(req.model);
    const prompts = this.completionPrompts(m, req.prompt);
    const perPrompt = Math.max(req.n ?? 1, req.best_of ?? 1);
    // best_of ranks candidates by their tokens' mean log probability: it needs them.
    const logprobs = req.logprobs ?? (perPrompt > (req.n ?? 1) ? 0 : undefined);
    const options = { ...this.sampling(m, req, req.max_tokens, logprobs), stop: stops(req.stop) };
    const jobs: Job[] = prompts.flatMap((ids) =>
      Array.from({ length: perPrompt }, (_, k) => ({
        ids,
        options: req.seed === undefined ? options : { ...options, seed: req.seed + k },
      })),
    );
    const tokenText = (id: number) => m.tokenLogprobText(id).token;
    const writers = jobs.map(
      (job, j) => new CompletionChoiceWriter(j, req.logprobs !== undefined, req.echo ? m.decode(job.ids) : "", tokenText),
    );
    const streams = this.submit(m, adapter, jobs, "prompt");
    return { streams, writers, prompts, perPrompt, promptTokens: prompts.reduce((sum, ids) => sum + ids.length, 0) };
  }

  async *completionStream(req: CompletionRequest, ctx: ProviderContext): AsyncIterable<Completion> {
    const base = { id: `cmpl-${randomUUID()}`, object: "text_completion" as const, created: nowSeconds(), model: req.model };
    const includeUsage = req.stream_options?.include_usage === true;
    // Streaming has no best_of (the schema refuses it), so writer j is choice j.
    const { streams, writers, promptTokens } = this.startCompletion(req);
    if (req.echo) {
      for (const w of writers)
        yield { ...base, choices: [{ text: w.text, index: w.index, logprobs: null, finish_reason: null }], usage: null };
    }
    let completion = 0;
    for await (const { index, value } of new Interleaved(streams)) {
      this.throwIfAborted(ctx);
      completion++;
      const choice = writers[index].step(value);
      if (choice) yield { ...base, choices: [choice], usage: null };
    }
    if (includeUsage) {
      yield {
        ...base,
        choices: [],
        usage: usageOf(promptTokens, completion),
      };
    }
  }

  async completion(req: CompletionRequest, ctx: ProviderContext): Promise<Completion> {
    const { streams, writers, prompts, perPrompt, promptTokens } = this.startCompletion(req);
    let completion = 0;
    for await (const { index, value } of new Interleaved(streams)) {
      this.throwIfAborted(ctx);
      completion++;
      writers[index].step(value);
    }
    const n = req.n ?? 1;
    // Per prompt: the n best of its candidates (all of them when best_of is n), numbered prompt-major.
    const choices = prompts.flatMap((_, p) => {
      const candidates = writers.slice(p * perPrompt, (p + 1) * perPrompt);
      const chosen = perPrompt > n ? [...candidates].sort((a, b) => b.score - a.score).slice(0, n) : candidates;
      return chosen.map((w, k) => ({ ...w.whole(), index: p * n + k }));
    });
    return {
      id: `cmpl-${randomUUID()}`,
      object: "text_completion",
      created: nowSeconds(),
      model: req.model,
      choices,
      usage: usageOf(promptTokens, completion),
    };
  }

  /**
   * Text embeddings: the mean of the LM's input token embeddings, L2-normalised (a bag of
   * learned subword vectors; cheap and deterministic). `dimensions` keeps the first d
   * components and renormalises, as OpenAI's shortened embeddings do.
   */
  async embeddings(req: EmbeddingsRequest, _ctx: ProviderContext): Promise<CreateEmbeddingResponse> {
    // An adapter's embeddings are its base's: unmerged adapters never update the embedding table.
    const { m } = this.modelOf(req.model);
    const { data, width } = m.embedTable;
    const dims = req.dimensions ?? width;
    if (dims > width) {
      throw this.reject("invalid_value", "dimensions", `'dimensions' must be at most ${width} for ${req.model}, got ${dims}`);
    }
    const inputs: (string | number[])[] =
      typeof req.input === "string"
        ? [req.input]
        : typeof req.input[0] === "number"
          ? [req.input as number[]]
          : (req.input as (string | number[])[]);
    let promptTokens = 0;
    const vocab = m.model.vocabSize;
    const out = inputs.map((input, index) => {
      const at = inputs.length > 1 ? `[${index}] ` : "";
      if (typeof input === "string") this.refuseUnfittable(m, input, "input", inputs.length > 1 ? `input[${index}]` : "input");
      const ids = typeof input === "string" ? m.encode(input) : input;
      const bad = ids.find((id) => id >= vocab);
      if (bad !== undefined)
        throw this.reject("invalid_token_id", "input", `token id ${bad} is outside the vocabulary (${vocab})`);
      // The schema refuses empty inputs; a text of only characters the tokenizer drops would still have none.
      if (ids.length === 0) throw this.reject("empty_input", "input", `'input' ${at}has no tokens`);
      // As OpenAI's: each input at most the model's context (the embedding is positionless, the limit is the API's).
      if (ids.length > m.model.maxLength)
        throw this.reject(
          "context_length_exceeded",
          "input",
          `This model's maximum context length is ${m.model.maxLength} tokens; 'input' ${at}has ${ids.length} tokens. Shorten it.`,
        );
      promptTokens += ids.length;
      const v = new Float32Array(dims);
      for (const id of ids) for (let j = 0; j < dims; j++) v[j] += data[id * width + j];
      let norm = 0;
      for (const x of v) norm += x * x;
      norm = Math.sqrt(norm) || 1;
      for (let j = 0; j < dims; j++) v[j] /= norm;
      const embedding = req.encoding_format === "base64" ? Buffer.from(v.buffer).toString("base64") : Array.from(v);
      return { object: "embedding" as const, index, embedding };
    });
    return { object: "list", data: out, model: req.model, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } };
  }
}
