// OpenAiCompatibleProvider against a real loopback HTTP upstream, and the SSE parser.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import type { ChatCompletionRequest } from "../../src/serve/openai/index.js";
import { LatencyWindow, OpenAiCompatibleProvider, ProviderError, parseSse, SseParser } from "../../src/serve/providers/index.js";
import { closedPortUrl, type FakeUpstream, fakeReplyWords, startFakeUpstream } from "../helpers/fakeUpstream.js";

const ctx = () => ({ signal: new AbortController().signal });

const chatReq = (content: string, model = "cloud-chat"): ChatCompletionRequest => ({
  model,
  messages: [{ role: "user", content }],
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function rejection(p: Promise<unknown>): Promise<ProviderError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ProviderError, `expected a ProviderError, got ${String(e)}`);
    return e;
  }
  assert.fail("expected the call to fail");
}

describe("OpenAiCompatibleProvider", () => {
  let up: FakeUpstream;
  let provider: OpenAiCompatibleProvider;

  before(async () => {
    up = await startFakeUpstream("cloud", { apiKey: "sk-test" });
    provider = new OpenAiCompatibleProvider(
      {
        name: "cloud",
        zone: "public",
        baseUrl: up.baseUrl,
        apiKeyEnv: "CLOUD_KEY",
        models: [{ name: "cloud-chat", upstream: "upstream-model-v3" }, "plain-model"],
        timeoutMs: 2000,
        maxConcurrency: 2,
      },
      { CLOUD_KEY: "sk-test" },
    );
  });
  after(() => up.close());

  test("whole chat: maps the model name both ways and sends the key from apiKeyEnv", async () => {
    const res = await provider.chat(chatReq("hello there"), ctx());
    const sent = up.requests.at(-1)!;
    assert.equal(sent.body.model, "upstream-model-v3");
    assert.equal(sent.body.stream, false);
    assert.equal(sent.authorization, "Bearer sk-test");
    assert.equal(res.model, "cloud-chat");
    assert.equal(res.object, "chat.completion");
    assert.equal(res.choices[0].message.content, fakeReplyWords("cloud", "hello there").join(" "));
    assert.deepEqual(provider.models, ["cloud-chat", "plain-model"]);
  });

  test("AIGC_PROVIDER_<NAME>_API_KEY wins over apiKeyEnv and apiKey", async () => {
    const p = new OpenAiCompatibleProvider(
      { name: "cloud", zone: "public", baseUrl: up.baseUrl, apiKey: "wrong", apiKeyEnv: "K", models: ["plain-model"] },
      { K: "also-wrong", AIGC_PROVIDER_CLOUD_API_KEY: "sk-test" },
    );
    const res = await p.chat(chatReq("x", "plain-model"), ctx());
    assert.equal(res.model, "plain-model");
    const bad = new OpenAiCompatibleProvider(
      { name: "cloud", zone: "public", baseUrl: up.baseUrl, apiKey: "wrong", models: ["m"] },
      {},
    );
    const e = await rejection(bad.chat(chatReq("x", "m"), ctx()));
    assert.equal(e.status, 401);
    assert.equal(e.retryable, false);
    assert.match(e.message, /Incorrect API key/);
  });

  test("streamed chat: chunks in order, keepalive comments skipped, usage chunk passed through", async () => {
    const chunks = await collect(
      provider.chatStream({ ...chatReq("stream me"), stream_options: { include_usage: true } }, ctx()),
    );
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    assert.equal(text, fakeReplyWords("cloud", "stream me").join(" "));
    assert.ok(chunks.every((c) => c.model === "cloud-chat" && c.object === "chat.completion.chunk"));
    assert.equal(chunks.at(-1)!.choices.length, 0);
    assert.equal(chunks.at(-1)!.usage?.completion_tokens, 4);
    assert.equal(up.requests.at(-1)!.body.stream, true);
  });

  test("stream written in 3-byte pieces over the socket parses the same", async () => {
    up.behaviour.pieceBytes = 3;
    try {
      const chunks = await collect(provider.chatStream(chatReq("片段 split"), ctx()));
      const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
      assert.equal(text, fakeReplyWords("cloud", "片段 split").join(" "));
    } finally {
      up.behaviour.pieceBytes = undefined;
    }
  });

  test("completions (whole and streamed) and embeddings", async () => {
    const whole = await provider.completion({ model: "cloud-chat", prompt: "once upon" }, ctx());
    assert.equal(whole.object, "text_completion");
    assert.equal(whole.choices[0].text, fakeReplyWords("cloud", "once upon").join(" "));
    const streamed = await collect(provider.completionStream({ model: "cloud-chat", prompt: "once upon" }, ctx()));
    assert.equal(streamed.map((c) => c.choices[0].text).join(""), whole.choices[0].text);
    const emb = await provider.embeddings({ model: "cloud-chat", input: ["ab", "abc"] }, ctx());
    assert.deepEqual(
      emb.data.map((d) => d.embedding),
      [
        [2, 0, 1],
        [3, 1, 1],
      ],
    );
    assert.equal(emb.model, "cloud-chat");
  });

  test("upstream 5xx and 429 are retryable (Retry-After read), 400 is a client error", async () => {
    up.behaviour.failNext = 1;
    up.behaviour.failStatus = 503;
    const e503 = await rejection(provider.chat(chatReq("x"), ctx()));
    assert.deepEqual([e503.status, e503.code, e503.retryable, e503.isClientError], [503, "http_error", true, false]);
    up.behaviour.failNext = 1;
    up.behaviour.failStatus = 429;
    up.behaviour.retryAfterSeconds = 2;
    const e429 = await rejection(provider.chat(chatReq("x"), ctx()));
    assert.deepEqual([e429.status, e429.retryable, e429.retryAfterMs], [429, true, 2000]);
    up.behaviour.retryAfterSeconds = undefined;
    up.behaviour.failNext = 1;
    up.behaviour.failStatus = 400;
    const e400 = await rejection(provider.chat(chatReq("x"), ctx()));
    assert.deepEqual([e400.status, e400.retryable, e400.isClientError], [400, false, true]);
    assert.match(e400.message, /cloud failing on purpose/);
  });

  test("a model the provider does not serve is refused before any request", async () => {
    const before = up.count();
    const e = await rejection(provider.chat(chatReq("x", "other"), ctx()));
    assert.equal(e.status, 404);
    assert.equal(up.count(), before);
  });

  test("timeouts and refused connections are retryable transport errors", async () => {
    const slow = new OpenAiCompatibleProvider({
      name: "slow",
      zone: "public",
      baseUrl: up.baseUrl,
      apiKey: "sk-test",
      models: ["m"],
      timeoutMs: 100,
    });
    up.behaviour.delayMs = 400;
    try {
      const t0 = performance.now();
      const e = await rejection(slow.chat(chatReq("x", "m"), ctx()));
      assert.deepEqual([e.status, e.code, e.retryable], [504, "timeout", true]);
      assert.ok(performance.now() - t0 < 350, "the timeout fires before the upstream answers");
    } finally {
      up.behaviour.delayMs = 0;
    }
    const refused = new OpenAiCompatibleProvider({ name: "gone", zone: "public", baseUrl: await closedPortUrl(), models: ["m"] });
    const e = await rejection(refused.chat(chatReq("x", "m"), ctx()));
    assert.deepEqual([e.status, e.code, e.retryable], [502, "connection_failed", true]);
    assert.match(e.message, /ECONNREFUSED/);
  });

  test("a stream idle past timeoutMs times out; a stream cut before its end is truncated", async () => {
    const slow = new OpenAiCompatibleProvider({
      name: "slow",
      zone: "public",
      baseUrl: up.baseUrl,
      apiKey: "sk-test",
      models: ["m"],
      timeoutMs: 150,
    });
    up.behaviour.chunkDelayMs = 400;
    try {
      const e = await rejection(collect(slow.chatStream(chatReq("x", "m"), ctx())));
      assert.equal(e.code, "timeout");
    } finally {
      up.behaviour.chunkDelayMs = 0;
    }
    up.behaviour.cutStreamAfter = 2;
    try {
      const got: string[] = [];
      const e = await rejection(
        (async () => {
          for await (const c of provider.chatStream(chatReq("x"), ctx())) got.push(c.choices[0]?.delta.content ?? "");
        })(),
      );
      assert.equal(e.code, "stream_truncated");
      assert.equal(got.length, 2);
    } finally {
      up.behaviour.cutStreamAfter = undefined;
    }
    assert.equal(provider.load().running, 0);
  });

  test("the caller's abort stops the request and is not retryable", async () => {
    up.behaviour.delayMs = 300;
    try {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 50);
      const e = await rejection(provider.chat(chatReq("x"), { signal: controller.signal }));
      assert.deepEqual([e.code, e.retryable], ["aborted", false]);
    } finally {
      up.behaviour.delayMs = 0;
    }
  });

  test("requests past maxConcurrency queue and show in load(); slots are released, also by an early break", async () => {
    up.behaviour.delayMs = 150;
    try {
      const calls = [1, 2, 3, 4].map((i) => provider.chat(chatReq(`q${i}`), ctx()));
      assert.deepEqual(provider.load().queued, 2);
      assert.deepEqual(provider.load().running, 2);
      await Promise.all(calls);
    } finally {
      up.behaviour.delayMs = 0;
    }
    assert.deepEqual({ ...provider.load(), p95LatencyMs: 0 }, { queued: 0, running: 0, p95LatencyMs: 0 });
    assert.ok(provider.load().p95LatencyMs >= 150, `p95 ${provider.load().p95LatencyMs}`);
    for await (const _ of provider.chatStream(chatReq("x"), ctx())) break;
    assert.equal(provider.load().running, 0);
  });
});

describe("LatencyWindow", () => {
  test("p95 is the nearest-rank percentile of the last `capacity` samples", () => {
    const w = new LatencyWindow(100);
    assert.equal(w.p95(), 0);
    for (let i = 1; i <= 100; i++) w.add(i);
    assert.equal(w.p95(), 95);
    for (let i = 0; i < 100; i++) w.add(1000);
    assert.equal(w.p95(), 1000);
  });
});

interface EventSpec {
  event?: string;
  dataLines: string[];
}

const lineText = fc.string({ unit: fc.constantFrom("a", "b", " ", ":", "{", "}", '"', "é", "片", "😀", "\t"), maxLength: 12 });
const eventSpec: fc.Arbitrary<EventSpec> = fc.record(
  { event: fc.constantFrom("message", "update"), dataLines: fc.array(lineText, { minLength: 1, maxLength: 3 }) },
  { requiredKeys: ["dataLines"] },
);

function serialise(events: EventSpec[], eol: string, comments: boolean): string {
  return events
    .map((e) => {
      const lines = [
        ...(comments ? [": keepalive"] : []),
        ...(e.event ? [`event: ${e.event}`] : []),
        ...e.dataLines.map((d) => `data: ${d}`),
      ];
      return `${lines.join(eol)}${eol}${eol}`;
    })
    .join("");
}

describe("SSE parser", () => {
  test("any split of the byte stream, any line ending, yields the same events", () => {
    fc.assert(
      fc.property(
        fc.array(eventSpec, { minLength: 1, maxLength: 6 }),
        fc.constantFrom("\n", "\r\n", "\r"),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 12 }),
        (events, eol, comments, cuts) => {
          const bytes = new TextEncoder().encode(serialise(events, eol, comments));
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
          const parser = new SseParser();
          const got = [];
          let at = 0;
          for (const p of [...points, bytes.length]) {
            got.push(...parser.push(bytes.subarray(at, p)));
            at = p;
          }
          got.push(...parser.end());
          assert.deepEqual(
            got.map((e) => ({ event: e.event, data: e.data })),
            events.map((e) => ({ event: e.event ?? "message", data: e.dataLines.join("\n") })),
          );
        },
      ),
      { numRuns: 400 },
    );
  });

  test("field rules: one leading space stripped, no-colon lines, unterminated final event dropped", async () => {
    async function* source() {
      yield new TextEncoder().encode("data:x\ndata:  two spaces\nid: 7\n\nevent\ndata\n\ndata: never finished");
    }
    const events = [];
    for await (const e of parseSse(source())) events.push(e);
    assert.deepEqual(events, [
      { event: "message", data: "x\n two spaces", id: "7" },
      { event: "message", data: "", id: "7" },
    ]);
  });
});
