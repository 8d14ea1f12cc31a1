// HybridRouter with real OpenAI-compatible providers over loopback HTTP: a "private"
// upstream (an in-house vLLM stand-in) and a "public" one (a public cloud stand-in).

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import { HttpError } from "../../src/serve/errors.js";
import type { ChatCompletionRequest } from "../../src/serve/openai/index.js";
import { OpenAiCompatibleProvider } from "../../src/serve/providers/index.js";
import {
  CircuitBreaker,
  classifyRequest,
  formatRouteHeader,
  HybridRouter,
  JsonlAuditLog,
  MemoryAuditLog,
  type RouterConfigInput,
  routerConfigSchema,
} from "../../src/serve/router/index.js";
import { closedPortUrl, type FakeUpstream, startFakeUpstream } from "../helpers/fakeUpstream.js";

const phiText = "Patient John Smith, MRN 12345678, DOB 1980-02-03, reports chest pain.";
const plainText = "Write a haiku about autumn leaves";

const chatReq = (content: string): ChatCompletionRequest => ({ model: "chat", messages: [{ role: "user", content }] });

async function httpError(p: Promise<unknown>): Promise<HttpError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof HttpError, `expected an HttpError, got ${String(e)}`);
    return e;
  }
  assert.fail("expected the call to fail");
}

const sawText = (up: FakeUpstream, text: string): boolean => up.requests.some((r) => JSON.stringify(r.body).includes(text));

describe("HybridRouter", () => {
  let privateUp: FakeUpstream;
  let publicUp: FakeUpstream;

  before(async () => {
    privateUp = await startFakeUpstream("private-vllm");
    publicUp = await startFakeUpstream("public-cloud");
  });
  after(async () => {
    await privateUp.close();
    await publicUp.close();
  });
  afterEach(() => {
    for (const up of [privateUp, publicUp]) {
      Object.assign(up.behaviour, { failNext: 0, failStatus: 500, delayMs: 0, chunkDelayMs: 0, cutStreamAfter: undefined });
      up.requests.length = 0;
    }
  });

  function makeRouter(config: RouterConfigInput = {}, privateOpts: { maxConcurrency?: number; timeoutMs?: number } = {}) {
    const audit = new MemoryAuditLog();
    const privateProvider = new OpenAiCompatibleProvider({
      name: "private-vllm",
      zone: "private",
      baseUrl: privateUp.baseUrl,
      models: ["chat"],
      maxConcurrency: privateOpts.maxConcurrency ?? 4,
      timeoutMs: privateOpts.timeoutMs ?? 2000,
    });
    const publicProvider = new OpenAiCompatibleProvider({
      name: "public-cloud",
      zone: "public",
      baseUrl: publicUp.baseUrl,
      models: ["chat"],
    });
    const router = new HybridRouter({
      providers: [publicProvider, privateProvider],
      config: { retries: { backoffMs: 5, maxBackoffMs: 20 }, ...config },
      audit,
    });
    return { router, audit, privateProvider, publicProvider };
  }

  test("non-sensitive traffic goes private first; the decision is audited and formatted", async () => {
    const { router, audit } = makeRouter();
    const { result, decision } = await router.chat(chatReq(plainText), {
      sensitive: false,
      requestId: "r1",
      endpoint: "/v1/chat/completions",
    });
    assert.match(result.choices[0].message.content ?? "", /private-vllm/);
    assert.deepEqual(
      [decision.provider, decision.zone, decision.reason, decision.attempts.length],
      ["private-vllm", "private", "primary", 1],
    );
    assert.equal(audit.entries.length, 1);
    assert.equal(audit.entries[0], decision);
    assert.equal(formatRouteHeader(decision), "provider=private-vllm; zone=private; reason=primary; attempts=1; sensitive=false");
    assert.equal(publicUp.count(), 0);
  });

  test("overflow: past the private queue depth, non-sensitive requests go public; sensitive ones still wait in private", async () => {
    const { router, privateProvider } = makeRouter({ overflow: { queueDepth: 2, p95LatencyMs: 60_000 } }, { maxConcurrency: 1 });
    privateUp.behaviour.delayMs = 100;
    // Routing is decided synchronously at call time: 1 runs, 2 queue, the rest see queued = 2.
    const plain = [1, 2, 3, 4, 5].map((i) => router.chat(chatReq(`${plainText} ${i}`), { sensitive: false }));
    assert.equal(privateProvider.load().queued, 2);
    const phi = [1, 2, 3].map((i) => router.chat(chatReq(`${phiText} ${i}`), { sensitive: true, reason: "pii:name" }));
    const results = await Promise.all([...plain, ...phi]);
    const where = results.map((r) => `${r.decision.provider}/${r.decision.reason}`);
    assert.deepEqual(where, [
      "private-vllm/primary",
      "private-vllm/primary",
      "private-vllm/primary",
      "public-cloud/overflow",
      "public-cloud/overflow",
      "private-vllm/sensitive",
      "private-vllm/sensitive",
      "private-vllm/sensitive",
    ]);
    assert.equal(publicUp.count(), 2);
    assert.equal(sawText(publicUp, "John Smith"), false);
  });

  test("overflow on p95 latency: once the private p95 crosses the threshold, the next non-sensitive request goes public", async () => {
    const { router } = makeRouter({ overflow: { queueDepth: 100, p95LatencyMs: 80 } });
    privateUp.behaviour.delayMs = 120;
    const first = await router.chat(chatReq(plainText), { sensitive: false });
    assert.equal(first.decision.reason, "primary");
    const second = await router.chat(chatReq(plainText), { sensitive: false });
    assert.deepEqual([second.decision.provider, second.decision.reason], ["public-cloud", "overflow"]);
    const sensitive = await router.chat(chatReq(phiText), { sensitive: true });
    assert.equal(sensitive.decision.provider, "private-vllm");
  });

  test("PHI never reaches the public provider: private flooded, then failing, then down", async () => {
    const { router, audit } = makeRouter(
      {
        overflow: { queueDepth: 1, p95LatencyMs: 60_000 },
        retries: { maxRetries: 1, backoffMs: 5, maxBackoffMs: 10 },
        breaker: { consecutiveFailures: 3 },
      },
      { maxConcurrency: 1 },
    );
    privateUp.behaviour.delayMs = 30;
    const flooded = await Promise.all(
      [1, 2, 3, 4].map(() => router.chat(chatReq(phiText), { sensitive: true, reason: "pii:name" })),
    );
    assert.ok(flooded.every((r) => r.decision.provider === "private-vllm" && r.decision.reason === "sensitive"));

    privateUp.behaviour.failNext = 1000;
    const failing = await httpError(router.chat(chatReq(phiText), { sensitive: true, reason: "pii:name" }));
    assert.equal(failing.status, 503);
    assert.equal(failing.code, "private_zone_unavailable");
    assert.match(failing.message, /never sent to the public zone/);
    // Enough failures open the private circuit; still no public.
    await httpError(router.chat(chatReq(phiText), { sensitive: true }));
    const open = await httpError(router.chat(chatReq(phiText), { sensitive: true }));
    assert.equal(open.status, 503);
    assert.match(open.message, /circuit open/);
    const streamed = await httpError(router.chatStream(chatReq(phiText), { sensitive: true }));
    assert.equal(streamed.status, 503);

    assert.equal(publicUp.count(), 0);
    assert.equal(sawText(publicUp, "John Smith"), false);
    for (const d of audit.entries.filter((e) => e.kind === "route" && e.sensitive)) {
      assert.ok(d.kind === "route");
      assert.ok(
        d.attempts.every((a) => a.zone === "private"),
        "a sensitive decision tried a public provider",
      );
    }
    // The same failing private zone lets non-sensitive traffic fall back to public.
    const plain = await router.chat(chatReq(plainText), { sensitive: false });
    assert.deepEqual([plain.decision.provider, plain.decision.reason], ["public-cloud", "fallback"]);
  });

  test("retry on 5xx succeeds on the same provider; exhausted retries fall back", async () => {
    const { router } = makeRouter({ retries: { maxRetries: 2, backoffMs: 5, maxBackoffMs: 20 } });
    privateUp.behaviour.failNext = 2;
    const retried = await router.chat(chatReq(plainText), { sensitive: false });
    assert.deepEqual(
      retried.decision.attempts.map((a) => [a.provider, a.outcome, a.status]),
      [
        ["private-vllm", "error", 500],
        ["private-vllm", "error", 500],
        ["private-vllm", "ok", undefined],
      ],
    );
    assert.equal(retried.decision.reason, "primary");
    assert.equal(publicUp.count(), 0);

    privateUp.behaviour.failNext = 3;
    privateUp.behaviour.failStatus = 502;
    const fellBack = await router.chat(chatReq(plainText), { sensitive: false });
    assert.deepEqual(
      [fellBack.decision.provider, fellBack.decision.reason, fellBack.decision.attempts.length],
      ["public-cloud", "fallback", 4],
    );
    assert.equal(privateUp.count(), 6);
    assert.match(formatRouteHeader(fellBack.decision), /failed=private-vllm:502,private-vllm:502,private-vllm:502$/);
  });

  test("a timeout falls back; a 400 is not retried nor held against the provider, and another provider may take the request", async () => {
    const { router } = makeRouter({ retries: { maxRetries: 2, backoffMs: 5, maxBackoffMs: 10 } }, { timeoutMs: 80 });
    privateUp.behaviour.delayMs = 300;
    const slow = await router.chat(chatReq(plainText), { sensitive: false });
    assert.deepEqual([slow.decision.provider, slow.decision.attempts[0].error], ["public-cloud", "timeout"]);
    privateUp.behaviour.delayMs = 0;
    privateUp.requests.length = 0;

    // E.g. the small local model's context is too short, the public one's is not.
    privateUp.behaviour.failNext = 1;
    privateUp.behaviour.failStatus = 400;
    const larger = await router.chat(chatReq(plainText), { sensitive: false });
    assert.deepEqual([larger.decision.provider, larger.decision.reason], ["public-cloud", "fallback"]);
    assert.equal(privateUp.count(), 1, "no retry of a 400");

    // Refused everywhere: the client gets the 400, not a 503.
    privateUp.behaviour.failNext = 1;
    publicUp.behaviour.failNext = 1;
    publicUp.behaviour.failStatus = 422;
    const bad = await httpError(router.chat(chatReq(plainText), { sensitive: false }));
    assert.deepEqual([bad.status, bad.code], [422, "upstream_rejected_request"]);
    assert.equal(router.circuits()["private-vllm"], "closed");

    // Sensitive: a 400 from the private zone is final, never retried in public.
    privateUp.behaviour.failNext = 1;
    const before = publicUp.count();
    const phi = await httpError(router.chat(chatReq(phiText), { sensitive: true }));
    assert.equal(phi.status, 400);
    assert.equal(publicUp.count(), before);
  });

  test("an unreachable provider (connection refused) is skipped for the next one", async () => {
    const down = new OpenAiCompatibleProvider({
      name: "down",
      zone: "private",
      baseUrl: await closedPortUrl(),
      models: ["chat"],
    });
    const up = new OpenAiCompatibleProvider({
      name: "private-vllm",
      zone: "private",
      baseUrl: privateUp.baseUrl,
      models: ["chat"],
    });
    const router = new HybridRouter({
      providers: [down, up],
      config: { retries: { maxRetries: 1, backoffMs: 5, maxBackoffMs: 10 } },
    });
    const { decision } = await router.chat(chatReq(phiText), { sensitive: true });
    assert.deepEqual(
      decision.attempts.map((a) => `${a.provider}:${a.outcome}:${a.error ?? ""}`),
      ["down:error:connection_failed", "down:error:connection_failed", "private-vllm:ok:"],
    );
    assert.equal(decision.reason, "sensitive");
    assert.match(formatRouteHeader(decision), /; failed=down:connection_failed,down:connection_failed$/);
  });

  test("a client that goes away stops retries and fallback", async () => {
    const { router } = makeRouter({ retries: { maxRetries: 3, backoffMs: 200, maxBackoffMs: 400 } });
    privateUp.behaviour.failNext = 1000;
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const e = await httpError(router.chat(chatReq(plainText), { sensitive: false, signal: controller.signal }));
    assert.equal(e.status, 499);
    assert.equal(privateUp.count(), 1);
    assert.equal(publicUp.count(), 0);
  });

  test("circuit breaker: opens after N failures, rejects fast, half-opens after the cool-down, closes on a good probe", async () => {
    const { router } = makeRouter({
      retries: { maxRetries: 0, backoffMs: 5, maxBackoffMs: 10 },
      breaker: { consecutiveFailures: 3, coolDownMs: 150 },
    });
    privateUp.behaviour.failNext = 1000;
    for (let i = 0; i < 3; i++) await httpError(router.chat(chatReq(phiText), { sensitive: true }));
    assert.equal(router.circuits()["private-vllm"], "open");
    assert.equal(privateUp.count(), 3);

    const t0 = performance.now();
    const rejected = await httpError(router.chat(chatReq(phiText), { sensitive: true }));
    assert.ok(performance.now() - t0 < 50, "an open circuit answers at once");
    assert.equal(rejected.status, 503);
    assert.equal(privateUp.count(), 3, "an open circuit sends nothing upstream");

    await new Promise((r) => setTimeout(r, 170));
    assert.equal(router.circuits()["private-vllm"], "half-open");
    // A failing probe opens it again.
    await httpError(router.chat(chatReq(phiText), { sensitive: true }));
    assert.equal(privateUp.count(), 4);
    assert.equal(router.circuits()["private-vllm"], "open");

    await new Promise((r) => setTimeout(r, 170));
    privateUp.behaviour.failNext = 0;
    privateUp.behaviour.delayMs = 50;
    // Half-open lets one probe through; a second request at the same time is rejected.
    const [probe, second] = await Promise.allSettled([
      router.chat(chatReq(phiText), { sensitive: true }),
      router.chat(chatReq(phiText), { sensitive: true }),
    ]);
    assert.equal(probe.status, "fulfilled");
    assert.equal(second.status, "rejected");
    assert.equal(router.circuits()["private-vllm"], "closed");
    const ok = await router.chat(chatReq(phiText), { sensitive: true });
    assert.equal(ok.decision.provider, "private-vllm");
  });

  test("streaming commits to the provider that sent the first chunk and never switches mid-stream", async () => {
    const { router } = makeRouter({ retries: { maxRetries: 0, backoffMs: 5, maxBackoffMs: 10 } });
    privateUp.behaviour.failNext = 1;
    const fellBack = await router.chatStream(chatReq(plainText), { sensitive: false });
    assert.deepEqual(
      [fellBack.decision.provider, fellBack.decision.reason, fellBack.decision.stream],
      ["public-cloud", "fallback", true],
    );
    let text = "";
    for await (const c of fellBack.stream) text += c.choices[0]?.delta.content ?? "";
    assert.match(text, /^reply from public-cloud/);

    privateUp.behaviour.cutStreamAfter = 2;
    const committed = await router.chatStream(chatReq(plainText), { sensitive: false });
    assert.equal(committed.decision.provider, "private-vllm");
    const before = publicUp.count();
    const chunks: string[] = [];
    const midStream = await httpError(
      (async () => {
        for await (const c of committed.stream) chunks.push(c.choices[0]?.delta.content ?? "");
      })(),
    );
    assert.equal(midStream.status, 502);
    assert.equal(chunks.length, 2);
    assert.equal(publicUp.count(), before, "no switch to another provider mid-stream");
  });

  test("completions and embeddings route too; unknown models are a 404; sensitive with only public models is a 503", async () => {
    const { router } = makeRouter();
    const c = await router.completion({ model: "chat", prompt: "once" }, { sensitive: false });
    assert.equal(c.decision.provider, "private-vllm");
    const chunks = await router.completionStream({ model: "chat", prompt: "once" }, { sensitive: false });
    let text = "";
    for await (const x of chunks.stream) text += x.choices[0].text;
    assert.equal(text, c.result.choices[0].text);
    const e = await router.embeddings({ model: "chat", input: "hello" }, { sensitive: false });
    assert.deepEqual(e.result.data[0].embedding, [5, 0, 1]);
    const missing = await httpError(router.chat({ ...chatReq("x"), model: "nope" }, { sensitive: false }));
    assert.equal(missing.status, 404);
    assert.match(missing.message, /available models: chat/);

    const publicOnly = new HybridRouter({
      providers: [
        new OpenAiCompatibleProvider({ name: "public-cloud", zone: "public", baseUrl: publicUp.baseUrl, models: ["big"] }),
      ],
    });
    const refused = await httpError(publicOnly.chat({ ...chatReq(phiText), model: "big" }, { sensitive: true }));
    assert.equal(refused.status, 503);
    assert.equal(publicUp.count(), 0);
    assert.deepEqual(
      router.listModels(1).data.map((m) => [m.id, m.owned_by]),
      [["chat", "aigc-studio"]],
    );
  });

  test("JsonlAuditLog writes one JSON line per decision and never the prompt", async () => {
    const dir = mkdtempSync(join(tmpdir(), "aigc-audit-"));
    const path = join(dir, "sub", "route.jsonl");
    const audit = new JsonlAuditLog(path);
    const router = new HybridRouter({
      providers: [
        new OpenAiCompatibleProvider({ name: "private-vllm", zone: "private", baseUrl: privateUp.baseUrl, models: ["chat"] }),
      ],
      audit,
    });
    const cls = classifyRequest(chatReq(phiText), { endpoint: "/v1/chat/completions" });
    await router.chat(chatReq(phiText), { sensitive: cls.sensitive, reason: cls.reason, requestId: "req-1" });
    await router.chat(chatReq(plainText), { sensitive: false, requestId: "req-2" });
    await httpError(router.chat({ ...chatReq(plainText), model: "nope" }, { sensitive: false }));
    await audit.close();
    const text = readFileSync(path, "utf8");
    const lines = text
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { requestId: string; sensitiveReason?: string });
    assert.deepEqual(
      lines.map((l) => [l.requestId, l.sensitiveReason]),
      [
        ["req-1", "pii:name,dateOfBirth,medicalRecordNumber"],
        ["req-2", undefined],
      ],
    );
    for (const secret of ["John Smith", "12345678", "1980-02-03", "haiku"]) assert.equal(text.includes(secret), false, secret);
  });
});

describe("CircuitBreaker", () => {
  const config = routerConfigSchema.parse({
    breaker: { consecutiveFailures: 100, failureRate: 0.5, window: 10, minCalls: 6, coolDownMs: 1000 },
  }).breaker;

  test("opens on the failure rate over the window once minCalls are in", () => {
    let now = 0;
    const b = new CircuitBreaker(config, () => now);
    for (const ok of [true, false, true, false, true]) ok ? b.success() : b.failure();
    assert.equal(b.state, "closed", "5 calls < minCalls");
    b.failure();
    assert.equal(b.state, "open", "3 of 6 failed = 50%");
    assert.equal(b.tryAcquire(), false);
    now = 999;
    assert.equal(b.state, "open");
    now = 1000;
    assert.equal(b.tryAcquire(), true);
    assert.equal(b.tryAcquire(), false, "one probe at a time");
    b.cancel();
    assert.equal(b.tryAcquire(), true, "a cancelled probe frees its slot");
    b.success();
    assert.equal(b.state, "closed");
  });
});

describe("classifyRequest", () => {
  test("medical endpoints are sensitive by definition; PII anywhere in the text is sensitive; plain text is not", () => {
    assert.deepEqual(classifyRequest(chatReq(plainText), { endpoint: "/v1/medical/report?x=1" }), {
      sensitive: true,
      reason: "endpoint:/v1/medical",
    });
    assert.equal(classifyRequest(chatReq(plainText), { endpoint: "/v1/medicalx" }).sensitive, false);
    assert.deepEqual(classifyRequest(chatReq(plainText), { endpoint: "/v1/chat/completions" }), {
      sensitive: false,
      reason: "none",
    });
    const multi: ChatCompletionRequest = {
      model: "chat",
      messages: [
        { role: "system", content: "You are helpful." },
        {
          role: "user",
          content: [
            { type: "text", text: "Email the summary to " },
            { type: "text", text: "jane.doe@example.com" },
          ],
        },
      ],
    };
    assert.deepEqual(classifyRequest(multi, { endpoint: "/v1/chat/completions" }), { sensitive: true, reason: "pii:email" });
    assert.equal(
      classifyRequest({ model: "m", prompt: ["fine", "患者张伟，电话13812345678"] }, { endpoint: "/v1/completions" }).sensitive,
      true,
    );
    // Token ids cannot be read for PHI, so they stay in the private zone.
    assert.deepEqual(classifyRequest({ model: "m", input: [[1, 2, 3]] }, { endpoint: "/v1/embeddings" }), {
      sensitive: true,
      reason: "unreadable:token-ids",
    });
    assert.equal(classifyRequest({ model: "m", input: "call 13812345678" }, { endpoint: "/v1/embeddings" }).sensitive, true);
  });
});
