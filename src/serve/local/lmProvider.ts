// The local engine as a provider (private zone): MoE LMs from model folders, run by ONNX
// Runtime, every request of a model going through that model's continuous batcher.
//
// The shipped model is a tiny base LM trained on fortunes, poetry and code: it continues
// text in that style; it was not instruction-tuned, so chat replies are corpus-styled text.
// Chat messages become a plain transcript ("User: …\nAssistant:") and generation stops
// before the next "\nUser:" turn.

import { randomUUID } from "node:crypto";
import { type BatcherLoad, ContinuousBatcher, type ContinuousBatcherOptions, GenerateError } from "../../generate/index.js";
import { loadMoeLm, MoeLmModel } from "../../models/index.js";
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  ChatMessage,
  Completion,
  CompletionRequest,
  CompletionUsage,
  CreateEmbeddingResponse,
  EmbeddingsRequest,
  FinishReason,
} from "../openai/index.js";
import { messageText } from "../openai/index.js";
import { type Provider, type ProviderContext, ProviderError, type ProviderLoad, type ProviderPrice } from "../providers/index.js";

export interface LocalModelSpec {
  /** The name clients use. */
  name: string;
  /** A model folder from `aigc train lm` / `aigc pack`. */
  dir: string;
  /** Run the int8 graphs (DynamicQuantizeMatMul; int8 experts gathered while decoding, QMoE for prompts). */
  int8: boolean;
}

interface LocalModel {
  spec: LocalModelSpec;
  model: MoeLmModel;
  /** The input embedding table [V, C] (for /v1/embeddings). */
  embedTable: { data: Float32Array; width: number };
  batcher: ContinuousBatcher;
  eosId: number | undefined;
  encode(text: string): number[];
}

/** The transcript a base LM continues for a chat: one "Role: text" line per message, then "Assistant:". */
export function chatPrompt(messages: readonly ChatMessage[]): string {
  const role = { system: "System", developer: "System", user: "User", assistant: "Assistant", tool: "Tool" } as const;
  return `${messages.map((m) => `${role[m.role]}: ${messageText(m.content).trim()}`).join("\n")}\nAssistant:`;
}

const chatStop = "\nUser:";
const defaultMaxTokens = 128;

const toFinish = (r: string | null): FinishReason | null => (r === null ? null : r === "length" ? "length" : "stop");
const stops = (s: string | string[] | undefined): string[] => (s === undefined ? [] : typeof s === "string" ? [s] : s);
const nowSeconds = () => Math.floor(Date.now() / 1000);

export class LocalLmProvider implements Provider {
  readonly zone = "private" as const;
  readonly models: readonly string[];

  private constructor(
    readonly name: string,
    readonly price: ProviderPrice,
    private readonly byName: Map<string, LocalModel>,
  ) {
    this.models = [...byName.keys()];
  }

  static async create(options: {
    name?: string;
    models: readonly LocalModelSpec[];
    price: ProviderPrice;
    batching: Partial<ContinuousBatcherOptions> & { denseFromRows?: number };
    threads?: number;
  }): Promise<LocalLmProvider> {
    const byName = new Map<string, LocalModel>();
    for (const spec of options.models) {
      const files = await loadMoeLm(spec.dir);
      const tokenizer = {
        encode: (s: string) => files.tokenizer.encode(s),
        decode: (ids: readonly number[]) => files.tokenizer.decode(ids),
      };
      const eosId = files.tokenizer.idOf("<|eos|>");
      const model = await MoeLmModel.create(files.config.model, files.store, tokenizer, {
        int8: spec.int8,
        threads: options.threads,
        eosId,
        denseFromRows: options.batching.denseFromRows,
      });
      const table = files.store.get("model.embed_tokens.weight");
      byName.set(spec.name, {
        spec,
        model,
        embedTable: { data: table.data, width: table.shape[1] },
        batcher: new ContinuousBatcher(model, { maxBatch: options.batching.maxBatch, maxWaitMs: options.batching.maxWaitMs }),
        eosId,
        encode: tokenizer.encode,
      });
    }
    return new LocalLmProvider(options.name ?? "local", options.price, byName);
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
  }

  /**
   * Stream one generation: token deltas, then the finish reason and usage. Refusals (prompt too
   * long, bad sampling values) are ProviderError 400, which the router never retries elsewhere.
   */
  private async *run(
    modelName: string,
    prompt: string,
    req: { max_tokens?: number; temperature?: number; top_p?: number; seed?: number; stop?: string | string[] },
    extraStops: string[],
    ctx: ProviderContext,
  ): AsyncGenerator<{ text: string; finish: FinishReason | null; usage?: CompletionUsage }> {
    const m = this.byName.get(modelName);
    if (!m) throw new ProviderError(this.name, 404, "http_error", false, `model '${modelName}' is not served by ${this.name}`);
    const ids = m.encode(prompt);
    const room = m.model.maxLength - ids.length;
    if (room < 1) {
      throw new ProviderError(
        this.name,
        400,
        "http_error",
        false,
        `This model's maximum context length is ${m.model.maxLength} tokens; the prompt has ${ids.length} tokens. Shorten the prompt.`,
      );
    }
    let stream: AsyncIterable<{ text: string; finishReason: string | null }>;
    try {
      stream = m.batcher.submit(ids, {
        maxTokens: Math.min(req.max_tokens ?? defaultMaxTokens, room),
        // OpenAI's default temperature is 1.
        temperature: req.temperature ?? 1,
        topP: req.top_p === undefined || req.top_p === 0 ? 1 : req.top_p,
        seed: req.seed,
        stop: [...stops(req.stop), ...extraStops],
      });
    } catch (e) {
      if (e instanceof GenerateError) throw new ProviderError(this.name, 400, "http_error", false, e.message);
      throw e;
    }
    let completion = 0;
    for await (const chunk of stream) {
      if (ctx.signal.aborted) throw new ProviderError(this.name, 499, "aborted", false, "the request was cancelled");
      completion++;
      const finish = toFinish(chunk.finishReason);
      yield {
        text: chunk.text,
        finish,
        usage:
          finish === null
            ? undefined
            : { prompt_tokens: ids.length, completion_tokens: completion, total_tokens: ids.length + completion },
      };
    }
  }

  async *chatStream(req: ChatCompletionRequest, ctx: ProviderContext): AsyncIterable<ChatCompletionChunk> {
    const base = {
      id: `chatcmpl-${randomUUID()}`,
      object: "chat.completion.chunk" as const,
      created: nowSeconds(),
      model: req.model,
    };
    const maxTokens = req.max_completion_tokens ?? req.max_tokens;
    const includeUsage = req.stream_options?.include_usage === true;
    let first = true;
    for await (const step of this.run(req.model, chatPrompt(req.messages), { ...req, max_tokens: maxTokens }, [chatStop], ctx)) {
      if (first) {
        yield { ...base, choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }], usage: null };
        first = false;
      }
      if (step.text !== "" || step.finish !== null) {
        const delta = step.text === "" ? {} : { content: step.text };
        yield { ...base, choices: [{ index: 0, delta, finish_reason: step.finish }], usage: null };
      }
      if (step.usage && includeUsage) yield { ...base, choices: [], usage: step.usage };
    }
  }

  async chat(req: ChatCompletionRequest, ctx: ProviderContext): Promise<ChatCompletion> {
    let content = "";
    let finish: FinishReason = "stop";
    let usage: CompletionUsage | undefined;
    const maxTokens = req.max_completion_tokens ?? req.max_tokens;
    for await (const step of this.run(req.model, chatPrompt(req.messages), { ...req, max_tokens: maxTokens }, [chatStop], ctx)) {
      content += step.text;
      if (step.finish) finish = step.finish;
      usage = step.usage ?? usage;
    }
    return {
      id: `chatcmpl-${randomUUID()}`,
      object: "chat.completion",
      created: nowSeconds(),
      model: req.model,
      choices: [{ index: 0, message: { role: "assistant", content, refusal: null }, logprobs: null, finish_reason: finish }],
      usage,
    };
  }

  private onePrompt(req: CompletionRequest): string {
    if (typeof req.prompt === "string") return req.prompt;
    if (req.prompt.length === 1) return req.prompt[0];
    throw new ProviderError(
      this.name,
      400,
      "http_error",
      false,
      "send one prompt per request: 'prompt' arrays of several prompts are not supported",
    );
  }

  async *completionStream(req: CompletionRequest, ctx: ProviderContext): AsyncIterable<Completion> {
    const base = { id: `cmpl-${randomUUID()}`, object: "text_completion" as const, created: nowSeconds(), model: req.model };
    const prompt = this.onePrompt(req);
    const includeUsage = req.stream_options?.include_usage === true;
    if (req.echo) yield { ...base, choices: [{ text: prompt, index: 0, logprobs: null, finish_reason: null }], usage: null };
    for await (const step of this.run(req.model, prompt, req, [], ctx)) {
      if (step.text !== "" || step.finish !== null) {
        yield { ...base, choices: [{ text: step.text, index: 0, logprobs: null, finish_reason: step.finish }], usage: null };
      }
      if (step.usage && includeUsage) yield { ...base, choices: [], usage: step.usage };
    }
  }

  /**
   * Text embeddings: the mean of the LM's input token embeddings, L2-normalised (a bag of
   * learned subword vectors; cheap and deterministic). `dimensions` keeps the first d
   * components and renormalises, as OpenAI's shortened embeddings do.
   */
  async embeddings(req: EmbeddingsRequest, _ctx: ProviderContext): Promise<CreateEmbeddingResponse> {
    const m = this.byName.get(req.model);
    if (!m) throw new ProviderError(this.name, 404, "http_error", false, `model '${req.model}' is not served by ${this.name}`);
    const { data, width } = m.embedTable;
    const dims = req.dimensions ?? width;
    if (dims > width) {
      throw new ProviderError(
        this.name,
        400,
        "http_error",
        false,
        `'dimensions' must be at most ${width} for ${req.model}, got ${dims}`,
      );
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
      const ids = typeof input === "string" ? m.encode(input) : input;
      const bad = ids.find((id) => id >= vocab);
      if (bad !== undefined)
        throw new ProviderError(this.name, 400, "http_error", false, `token id ${bad} is outside the vocabulary (${vocab})`);
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

  async completion(req: CompletionRequest, ctx: ProviderContext): Promise<Completion> {
    const prompt = this.onePrompt(req);
    let text = req.echo ? prompt : "";
    let finish: FinishReason = "stop";
    let usage: CompletionUsage | undefined;
    for await (const step of this.run(req.model, prompt, req, [], ctx)) {
      text += step.text;
      if (step.finish) finish = step.finish;
      usage = step.usage ?? usage;
    }
    return {
      id: `cmpl-${randomUUID()}`,
      object: "text_completion",
      created: nowSeconds(),
      model: req.model,
      choices: [{ text, index: 0, logprobs: null, finish_reason: finish }],
      usage,
    };
  }
}
