// A small OpenAI-compatible HTTP server on loopback, standing in for a remote provider
// (DeepSeek, vLLM, Ollama) in provider and router tests. Why a stand-in: those tests are
// about our side of the wire — timeouts, SSE parsing, retries, fallback, breakers, zone
// rules — and need an upstream that can be told to fail, stall or cut a stream on cue,
// which a real model server cannot do deterministically (and none can be downloaded here).
// It is a real server over real sockets, so fetch, abort and SSE framing are exercised for
// real. The full-stack test against a second AIGC Studio instance lives with the routes.
//
// Answers are derived from the request (the reply echoes the last user text's length and
// the upstream's name), so a test can tell which upstream answered.

import type { AddressInfo } from "node:net";
import Fastify, { type FastifyInstance, type FastifyReply } from "fastify";

export interface RecordedRequest {
  readonly path: string;
  readonly body: Record<string, unknown>;
  readonly authorization: string | undefined;
}

export interface FakeUpstreamBehaviour {
  /** Fail the next N requests with `failStatus` (then behave). */
  failNext: number;
  failStatus: number;
  /** Send `Retry-After` (seconds) with failures. */
  retryAfterSeconds?: number;
  /** Wait this long before answering successfully (headers included); failures answer at once. */
  delayMs: number;
  /** Streams: wait between two events. */
  chunkDelayMs: number;
  /** Streams: end the response after this many events, without a finish_reason or [DONE]. */
  cutStreamAfter?: number;
  /** Streams: write the SSE bytes in pieces of this many bytes (each flushed separately). */
  pieceBytes?: number;
  /** Require this bearer key (401 otherwise). */
  apiKey?: string;
}

export interface FakeUpstream {
  readonly name: string;
  readonly baseUrl: string;
  readonly requests: RecordedRequest[];
  readonly behaviour: FakeUpstreamBehaviour;
  /** Requests that reached a route (any outcome). */
  count(path?: string): number;
  close(): Promise<void>;
}

type Message = { role: string; content: unknown };

const lastUserText = (messages: Message[]): string => {
  const last = [...messages].reverse().find((m) => m.role === "user");
  if (!last) return "";
  return typeof last.content === "string" ? last.content : JSON.stringify(last.content);
};

/** Deterministic reply words, so streams have several chunks. */
export const fakeReplyWords = (upstream: string, input: string): string[] => ["reply", "from", upstream, `len=${input.length}`];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function writeSse(reply: FastifyReply, events: string[], b: FakeUpstreamBehaviour): Promise<void> {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  const frames = events.map((e) => `data: ${e}\n\n`);
  frames.splice(1, 0, ": keepalive\n\n");
  const cut = b.cutStreamAfter;
  const toSend = cut === undefined ? [...frames, "data: [DONE]\n\n"] : frames.slice(0, cut + 1);
  for (const frame of toSend) {
    if (b.chunkDelayMs > 0) await sleep(b.chunkDelayMs);
    const bytes = Buffer.from(frame, "utf8");
    const step = b.pieceBytes ?? bytes.length;
    for (let i = 0; i < bytes.length; i += step) {
      res.write(bytes.subarray(i, i + step));
      if (b.pieceBytes !== undefined) await sleep(1);
    }
  }
  res.end();
}

export async function startFakeUpstream(name: string, initial: Partial<FakeUpstreamBehaviour> = {}): Promise<FakeUpstream> {
  const behaviour: FakeUpstreamBehaviour = { failNext: 0, failStatus: 500, delayMs: 0, chunkDelayMs: 0, ...initial };
  const requests: RecordedRequest[] = [];
  const app: FastifyInstance = Fastify({ logger: false, forceCloseConnections: true });

  /** Common gate: record, authenticate, delay, fail on cue. Returns false when it already replied. */
  const gate = async (path: string, body: Record<string, unknown>, authorization: string | undefined, reply: FastifyReply) => {
    requests.push({ path, body, authorization });
    if (behaviour.apiKey !== undefined && authorization !== `Bearer ${behaviour.apiKey}`) {
      await reply
        .status(401)
        .send({ error: { message: "Incorrect API key provided", type: "invalid_request_error", code: "invalid_api_key" } });
      return false;
    }
    // Failures are decided on arrival, so requests still sleeping from an earlier test step cannot consume them.
    if (behaviour.failNext > 0) {
      behaviour.failNext--;
      if (behaviour.retryAfterSeconds !== undefined) reply.header("retry-after", String(behaviour.retryAfterSeconds));
      await reply
        .status(behaviour.failStatus)
        .send({ error: { message: `${name} failing on purpose`, type: "server_error", code: null } });
      return false;
    }
    if (behaviour.delayMs > 0) await sleep(behaviour.delayMs);
    return true;
  };

  app.post("/v1/chat/completions", async (req, reply) => {
    const body = req.body as Record<string, unknown>;
    if (!(await gate("/v1/chat/completions", body, req.headers.authorization, reply))) return reply;
    const input = lastUserText((body.messages as Message[]) ?? []);
    const words = fakeReplyWords(name, input);
    const base = { id: `chatcmpl-${name}-${requests.length}`, created: 1_700_000_000, model: String(body.model) };
    const usage = { prompt_tokens: input.length, completion_tokens: words.length, total_tokens: input.length + words.length };
    if (body.stream !== true) {
      return {
        ...base,
        object: "chat.completion",
        system_fingerprint: `fp_${name}`,
        choices: [
          {
            index: 0,
            message: { role: "assistant", content: words.join(" "), refusal: null },
            logprobs: null,
            finish_reason: "stop",
          },
        ],
        usage,
      };
    }
    const events = words.map((w, i) =>
      JSON.stringify({
        ...base,
        object: "chat.completion.chunk",
        choices: [
          {
            index: 0,
            delta: i === 0 ? { role: "assistant", content: w } : { content: ` ${w}` },
            logprobs: null,
            finish_reason: null,
          },
        ],
      }),
    );
    events.push(
      JSON.stringify({
        ...base,
        object: "chat.completion.chunk",
        choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: "stop" }],
      }),
    );
    const includeUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    if (includeUsage) events.push(JSON.stringify({ ...base, object: "chat.completion.chunk", choices: [], usage }));
    await writeSse(reply, events, behaviour);
    return reply;
  });

  app.post("/v1/completions", async (req, reply) => {
    const body = req.body as Record<string, unknown>;
    if (!(await gate("/v1/completions", body, req.headers.authorization, reply))) return reply;
    const input = String(body.prompt);
    const words = fakeReplyWords(name, input);
    const base = {
      id: `cmpl-${name}-${requests.length}`,
      object: "text_completion",
      created: 1_700_000_000,
      model: String(body.model),
    };
    if (body.stream !== true) {
      return {
        ...base,
        choices: [{ text: words.join(" "), index: 0, logprobs: null, finish_reason: "stop" }],
        usage: { prompt_tokens: input.length, completion_tokens: words.length, total_tokens: input.length + words.length },
      };
    }
    const events = words.map((w, i) =>
      JSON.stringify({
        ...base,
        choices: [
          { text: i === 0 ? w : ` ${w}`, index: 0, logprobs: null, finish_reason: i === words.length - 1 ? "stop" : null },
        ],
      }),
    );
    await writeSse(reply, events, behaviour);
    return reply;
  });

  app.post("/v1/embeddings", async (req, reply) => {
    const body = req.body as Record<string, unknown>;
    if (!(await gate("/v1/embeddings", body, req.headers.authorization, reply))) return reply;
    const inputs = Array.isArray(body.input) ? body.input : [body.input];
    return {
      object: "list",
      model: String(body.model),
      data: inputs.map((x, index) => ({ object: "embedding", index, embedding: [String(x).length, index, 1] })),
      usage: { prompt_tokens: inputs.length, total_tokens: inputs.length },
    };
  });

  await app.listen({ host: "127.0.0.1", port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return {
    name,
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    behaviour,
    count: (path) => (path === undefined ? requests.length : requests.filter((r) => r.path === path).length),
    close: () => app.close(),
  };
}

/** A loopback URL nothing listens on (connection refused). */
export async function closedPortUrl(): Promise<string> {
  const app = Fastify();
  await app.listen({ host: "127.0.0.1", port: 0 });
  const { port } = app.server.address() as AddressInfo;
  await app.close();
  return `http://127.0.0.1:${port}/v1`;
}
