// Summaries through a real OpenAI-compatible server: `aigc serve` on the embedded defaults (the
// shipped chat model, ONNX Runtime, no mock) on loopback, summarising real release notes from
// /usr/share/doc (inline changelog entries where none are installed). Whatever the model
// writes, what comes back must be faithful and shorter than its item; the small model mostly
// fails the check, so these tests are about the check and the fallback, not its prose.
//
// The misbehaving backends are small HTTP servers on loopback standing in for remote
// providers: one for a remote model that hallucinates (it always answers with a version the
// item does not have), one that answers 500, one that never answers in time. A real model
// cannot be made to fail on cue; these fail the same way every run, over real sockets.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { checkFaithful } from "../../src/apps/news/faithfulness.js";
import { parseDebianChangelog, readReleaseNotes } from "../../src/apps/news/releaseNotes.js";
import {
  type ChatBackend,
  cleanTitle,
  extractiveSummary,
  type ItemSummary,
  openAiChatBackend,
  splitSentences,
  summarizeItem,
} from "../../src/apps/news/summarize.js";
import type { NewsItem, SummaryLength } from "../../src/apps/news/types.js";
import { type DefaultServer, listenOnDefaults } from "../helpers/defaultServer.js";
import { type FakeUpstream, startFakeUpstream } from "../helpers/fakeUpstream.js";

const INLINE_CHANGELOG = `openssl (3.0.19-1~deb12u2) bookworm-security; urgency=medium

  * CVE-2026-28387 ("Potential use-after-free in DANE client code")
  * CVE-2026-28389 ("Possible NULL dereference when processing CMS
    KeyAgreeRecipientInfo")
  * CVE-2026-31789 ("Heap buffer overflow in hexadecimal conversion")

 -- Sebastian Andrzej Siewior <sebastian@breakpoint.cc>  Fri, 03 Apr 2026 14:29:32 +0200

openssl (3.0.18-1~deb12u2) bookworm-security; urgency=medium

  * CVE-2025-15467 (Stack buffer overflow in CMS AuthEnvelopedData parsing)
  * CVE-2025-69419 (Out of bounds write in PKCS12_get_friendlyname() UTF-8
    conversion)

 -- Sebastian Andrzej Siewior <sebastian@breakpoint.cc>  Sun, 22 Feb 2026 18:36:50 +0100

curl (7.88.1-10+deb12u11) bookworm; urgency=medium

  * Team upload.
  * Import patch for CVE-2025-0167.
   - When asked to use a \`.netrc\` file for credentials **and** to follow HTTP
     redirects, curl could leak the password used for the first host to the
     followed-to host under certain circumstances. This flaw only manifests
     itself if the netrc file has a \`default\` entry that omits both login
     and password. A rare circumstance.

 -- Samuel Henrique <samueloph@debian.org>  Sat, 08 Feb 2025 10:00:00 +0000

tzdata (2025b-0+deb12u1) bookworm; urgency=medium

  * New upstream version 2025b:
    - New America/Coyhaique zone for Aysén Region in Chile, which moves
      from -04/-03 to -03. It will not change its clocks on 2025-04-05.
    - Improve historical data for Iran
  * Add America/Coyhaique to debconf templates

 -- Aurelien Jarno <aurel32@debian.org>  Wed, 26 Mar 2025 21:52:28 +0100
`;

const OPENSSL = parseDebianChangelog(INLINE_CHANGELOG, { source: "inline/changelog" }).items[0];

/** About ten real entries with something to summarise, spread over the installed packages. */
function releaseNoteItems(): NewsItem[] {
  const installed = existsSync("/usr/share/doc") ? readReleaseNotes("/usr/share/doc", { maxItemsPerFile: 1 }) : [];
  const long = installed.filter((item) => item.text.length >= 120);
  if (long.length < 10) return parseDebianChangelog(INLINE_CHANGELOG, { source: "inline/changelog" }).items;
  const step = Math.floor(long.length / 10);
  return Array.from({ length: 10 }, (_, i) => long[i * step]);
}

const sourceOf = (item: NewsItem) => `${item.title}\n${item.text}`;

/** What every summary must be, whichever way it was made. */
function assertSound(result: ItemSummary, item: NewsItem, maxAttempts: number): void {
  const what = `${item.title}: ${JSON.stringify(result)}`;
  assert.ok(checkFaithful(result.headline, sourceOf(item)).ok, `headline faithful — ${what}`);
  assert.ok(checkFaithful(result.summary, sourceOf(item)).ok, `summary faithful — ${what}`);
  assert.ok(result.summary.length > 0 && result.summary.length < item.text.length, `shorter than the item — ${what}`);
  assert.ok(result.attempts <= maxAttempts, `attempts ${result.attempts} ≤ ${maxAttempts}`);
  assert.ok(!result.summary.includes("\uFFFD") && !result.headline.includes("\uFFFD"));
  for (const r of result.rejected) assert.ok(r.reasons.length > 0, `a rejection says why — ${what}`);
}

interface ScriptedServer {
  baseUrl: string;
  bodies: Record<string, unknown>[];
  close(): Promise<void>;
}

/** A minimal OpenAI-compatible chat server that answers every request with `answer(body)`. */
async function startScriptedServer(answer: (body: Record<string, unknown>) => string): Promise<ScriptedServer> {
  const bodies: Record<string, unknown>[] = [];
  const server: Server = createServer((req, res) => {
    let raw = "";
    req.on("data", (chunk) => {
      raw += chunk;
    });
    req.on("end", () => {
      const body = JSON.parse(raw) as Record<string, unknown>;
      bodies.push(body);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          id: `chatcmpl-${bodies.length}`,
          object: "chat.completion",
          created: 1_700_000_000,
          model: body.model,
          choices: [{ index: 0, message: { role: "assistant", content: answer(body) }, finish_reason: "stop" }],
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    bodies,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("the shipped chat model on a real server", () => {
  let server: DefaultServer;
  let backend: ChatBackend;
  before(async () => {
    server = await listenOnDefaults();
    backend = openAiChatBackend({ baseUrl: server.baseUrl, model: "aigc-chat" });
  });
  after(async () => {
    await server?.close();
  });

  test("ten real release notes: each summary faithful, shorter than its item, within the attempts", async () => {
    const items = releaseNoteItems();
    assert.ok(items.length >= 4, `${items.length} items`);
    const lengths: SummaryLength[] = ["short", "medium", "long"];
    const results = await Promise.all(
      items.map((item, i) => summarizeItem(item, { backend, length: lengths[i % 3], lang: "en", maxAttempts: 3 })),
    );
    for (const [i, result] of results.entries()) {
      const item = items[i];
      assertSound(result, item, 3);
      assert.ok(result.attempts >= 1, "the model was asked");
      assert.deepEqual(result.errors, [], "the server answered every request");
      assert.equal(splitSentences(result.summary).length <= [1, 2, 3][i % 3], true, result.summary);
      if (result.method === "model") assert.equal(result.lang, "en");
      else assert.equal(result.rejected.length, result.attempts, "every model answer was turned down, with its reasons");
    }
  });

  test("the model's answers go through the whole pipeline (seeded, so a second run asks the same)", async () => {
    const a = await summarizeItem(OPENSSL, { backend, length: "short", lang: "en", maxAttempts: 2 });
    const b = await summarizeItem(OPENSSL, { backend, length: "short", lang: "en", maxAttempts: 2 });
    assertSound(a, OPENSSL, 2);
    assert.deepEqual(
      a.rejected.map((r) => r.text),
      b.rejected.map((r) => r.text),
    );
  });
});

describe("backends that misbehave", () => {
  let hallucinating: ScriptedServer;
  let failing: FakeUpstream;
  let stalling: FakeUpstream;
  before(async () => {
    // Stands in for a remote model that hallucinates: a fluent, on-topic answer with a version
    // (3.0.20) the item does not have, every time.
    hallucinating = await startScriptedServer(
      () =>
        "Headline: OpenSSL fixes a use-after-free in DANE\nSummary: OpenSSL 3.0.20 fixes CVE-2026-28387, a use-after-free in DANE client code.",
    );
    failing = await startFakeUpstream("failing", { failNext: 1_000, failStatus: 500 });
    stalling = await startFakeUpstream("stalling", { delayMs: 3_000 });
  });
  after(async () => {
    await Promise.all([hallucinating?.close(), failing?.close(), stalling?.close()]);
  });

  test("a model that always invents a version is rejected every time; the fallback is extractive", async () => {
    const backend = openAiChatBackend({ baseUrl: hallucinating.baseUrl, model: "remote-model", apiKey: "sk-test" });
    const result = await summarizeItem(OPENSSL, { backend, length: "short", lang: "en" });
    assertSound(result, OPENSSL, 3);
    assert.equal(result.method, "extractive");
    assert.equal(result.attempts, 3);
    assert.equal(result.rejected.length, 3);
    for (const r of result.rejected) {
      assert.deepEqual(
        r.unsupported.map((f) => [f.kind, f.text]),
        [["version", "3.0.20"]],
      );
      // The invented version is the only thing wrong with it.
      assert.deepEqual(r.reasons, ['not in the item: version "3.0.20"']);
    }
    // Each attempt was a fresh draw: another seed, a higher temperature.
    const seeds = hallucinating.bodies.map((b) => b.seed);
    const temperatures = hallucinating.bodies.map((b) => b.temperature as number);
    assert.equal(new Set(seeds).size, 3);
    assert.ok(temperatures[0] < temperatures[1] && temperatures[1] < temperatures[2], temperatures.join(", "));
    // OpenAI's request shape.
    const body = hallucinating.bodies[0];
    assert.equal(body.model, "remote-model");
    assert.equal(body.stream, false);
    assert.equal(typeof body.max_tokens, "number");
    assert.match((body.messages as { content: string }[])[0].content, /Text: CVE-2026-28387/);
    assert.equal(result.headline, "openssl 3.0.19-1~deb12u2");
    assert.match(result.summary, /^CVE-2026-28387/);
  });

  test("HTTP 500: extractive at once, the error noted, no throw", async () => {
    const backend = openAiChatBackend({ baseUrl: failing.baseUrl, model: "m" });
    const result = await summarizeItem(OPENSSL, { backend, length: "medium", lang: "en" });
    assertSound(result, OPENSSL, 3);
    assert.equal(result.method, "extractive");
    assert.equal(result.attempts, 1);
    assert.equal(result.errors.length, 1);
    assert.match(result.errors[0], /HTTP 500: failing failing on purpose/);
  });

  test("a backend that does not answer in time: extractive, the timeout noted", async () => {
    const backend = openAiChatBackend({ baseUrl: stalling.baseUrl, model: "m", timeoutMs: 200 });
    const started = Date.now();
    const result = await summarizeItem(OPENSSL, { backend, length: "long", lang: "en" });
    assert.ok(Date.now() - started < 2_000, "did not wait for the stalled answer");
    assertSound(result, OPENSSL, 3);
    assert.equal(result.method, "extractive");
    assert.match(result.errors[0], /no answer within 200 ms/);
  });

  test("nothing listening, or a backend that throws: extractive, never a throw", async () => {
    const closed = await startScriptedServer(() => "");
    await closed.close();
    for (const backend of [
      openAiChatBackend({ baseUrl: closed.baseUrl, model: "m" }),
      (async () => {
        throw new Error("provider exploded");
      }) satisfies ChatBackend,
    ]) {
      const result = await summarizeItem(OPENSSL, { backend, length: "short", lang: "en" });
      assert.equal(result.method, "extractive");
      assert.equal(result.errors.length, 1);
    }
  });

  test("another language: the model is asked for it; the extractive fallback says it is the item's", async () => {
    const obedient = await startScriptedServer(
      () => "Headline: OpenSSL 3.0.19 修复 DANE 漏洞\nSummary: OpenSSL 3.0.19 修复了 CVE-2026-28387 等三个漏洞。",
    );
    try {
      const backend = openAiChatBackend({ baseUrl: obedient.baseUrl, model: "m" });
      const written = await summarizeItem(OPENSSL, { backend, length: "short", lang: "zh" });
      assert.equal(written.method, "model");
      assert.equal(written.lang, "zh");
      assert.match((obedient.bodies[0].messages as { content: string }[])[0].content, /in Chinese/);
      const fallback = await summarizeItem(OPENSSL, { length: "short", lang: "zh" });
      assert.equal(fallback.method, "extractive");
      assert.equal(fallback.attempts, 0);
      assert.equal(fallback.lang, "en");
    } finally {
      await obedient.close();
    }
  });
});

describe("the checks and the fallback on their own", () => {
  const reply =
    (text: string): ChatBackend =>
    async () =>
      text;

  test("a faithful, on-topic answer in the right shape is kept", async () => {
    const result = await summarizeItem(OPENSSL, {
      backend: reply(
        "**Headline:** OpenSSL 3.0.19 fixes CVEs in DANE and CMS code\n**Summary:** OpenSSL fixes CVE-2026-28387 in DANE client code.",
      ),
      length: "short",
      lang: "en",
    });
    assert.equal(result.method, "model", JSON.stringify(result.rejected));
    assert.equal(result.attempts, 1);
    assert.equal(result.headline, "OpenSSL 3.0.19 fixes CVEs in DANE and CMS code");
    assert.equal(result.summary, "OpenSSL fixes CVE-2026-28387 in DANE client code.");
    assert.equal(result.headlineFrom, "model");
    // A count the item does not state is a number it does not hold (it lists three CVEs): the
    // headline is replaced by the item's title, the summary is still the model's.
    const counted = await summarizeItem(OPENSSL, {
      backend: reply("Headline: OpenSSL 3.0.19 fixes three CVEs\nSummary: OpenSSL fixes CVE-2026-28387 in DANE client code."),
      length: "short",
      lang: "en",
      maxAttempts: 1,
    });
    assert.equal(counted.method, "model");
    assert.equal(counted.headlineFrom, "title");
    assert.equal(counted.headline, cleanTitle(OPENSSL.title));
    assert.equal(counted.summary, "OpenSSL fixes CVE-2026-28387 in DANE client code.");
    assert.doesNotMatch(`${counted.headline} ${counted.summary}`, /three/);
    // In the summary, the same count rejects the answer.
    const inSummary = await summarizeItem(OPENSSL, {
      backend: reply("Headline: OpenSSL 3.0.19 fixes CVEs\nSummary: OpenSSL fixes three CVEs in DANE client code."),
      length: "short",
      lang: "en",
      maxAttempts: 1,
    });
    assert.equal(inSummary.method, "extractive");
    assert.match(inSummary.rejected[0].reasons.join("; "), /not in the item: number "three"/);
  });

  test("a headline that is broken or names what the item does not is replaced by the item's title", async () => {
    for (const headline of ["OpenSSL <|eos|>", "OpenSSL 9.9.9 released", "OpenSSL \uFFFD fixes", ""]) {
      const result = await summarizeItem(OPENSSL, {
        backend: reply(`Headline: ${headline}\nSummary: OpenSSL fixes DANE code.`),
        length: "short",
        lang: "en",
        maxAttempts: 1,
      });
      assert.equal(result.method, "model", headline);
      assert.equal(result.headlineFrom, "title", headline);
      assert.equal(result.headline, cleanTitle(OPENSSL.title), headline);
    }
  });

  test("each rule has its reason", async () => {
    const cases: [string, RegExp][] = [
      ["Headline: OpenSSL\nSummary: OpenSSL fixes DANE. OpenSSL fixes CMS.", /2 sentences, at most 1/],
      ["Headline: OpenSSL\nSummary: OpenSSL fixes DANE\uFFFD code.", /U\+FFFD/],
      ["Headline: OpenSSL\nSummary: ", /the summary is empty/],
      ["Headline: OpenSSL\nSummary: It is what it is, and that is all.", /says nothing specific/],
      ["Headline: OpenSSL\nSummary: This is a great and important update for everyone.", /off topic: 0 of its 4/],
      ["Headline: OpenSSL\nSummary: Gnomes paint turnips blue.", /off topic/],
      [`Headline: OpenSSL\nSummary: ${OPENSSL.text} ${OPENSSL.text}`, /not shorter than the item's text/],
      ["Headline: OpenSSL\nSummary: OpenSSL fixes DANE code <|eos|>", /chat-template token/],
      ["Headline: OpenSSL\nSummary: OpenSSL 电脑很多这种情况下，每少只看到。", /not written in English/],
    ];
    for (const [answer, reason] of cases) {
      const result = await summarizeItem(OPENSSL, { backend: reply(answer), length: "short", lang: "en", maxAttempts: 1 });
      assert.equal(result.method, "extractive", answer);
      assert.match(result.rejected[0].reasons.join("; "), reason, answer);
    }
    const repeated = await summarizeItem(OPENSSL, {
      backend: reply("Headline: OpenSSL\nSummary: OpenSSL fixes DANE. OpenSSL fixes DANE."),
      length: "medium",
      lang: "en",
      maxAttempts: 1,
    });
    assert.match(repeated.rejected[0].reasons.join("; "), /repeated sentence/);
  });

  test("a prompt over the model's context: the next attempt carries half as much of the text", async () => {
    const promptLengths: number[] = [];
    const backend: ChatBackend = async ({ messages }) => {
      promptLengths.push(messages[0].content.length);
      if (promptLengths.length === 1)
        throw new Error("HTTP 400: This model's maximum context length is 512 tokens; the prompt has 567 tokens.");
      return "Headline: OpenSSL fixes DANE\nSummary: OpenSSL fixes CVE-2026-28387 in DANE client code.";
    };
    const long = { ...OPENSSL, text: `${OPENSSL.text} ${"More was fixed in the DANE client code. ".repeat(40)}` };
    const result = await summarizeItem(long, { backend, length: "short", lang: "en" });
    assert.equal(result.method, "model");
    assert.equal(result.attempts, 2);
    assert.equal(result.errors.length, 1);
    assert.ok(promptLengths[1] < promptLengths[0] - 300, promptLengths.join(" > "));
  });

  test("no backend: extractive, no attempt; lead sentences within the length, shorter than the text", async () => {
    for (const length of ["short", "medium", "long"] as const) {
      const result = await summarizeItem(OPENSSL, { length, lang: "en" });
      assert.equal(result.method, "extractive");
      assert.equal(result.attempts, 0);
      assertSound(result, OPENSSL, 0);
      assert.ok(splitSentences(result.summary).length <= { short: 1, medium: 2, long: 3 }[length]);
    }
  });

  test("the fallback of a one-sentence item is still shorter than it; of a one-word item it is the item", () => {
    const item = { ...OPENSSL, text: "Import 3.0.19." };
    assert.equal(extractiveSummary(item, "short").summary, "Import 3.0.19");
    const long = { ...OPENSSL, text: `Fix (a long aside) ${"word ".repeat(100)}end.` };
    const cut = extractiveSummary(long, "short").summary;
    assert.ok(cut.length <= 240 && cut.endsWith("…") && !cut.includes("aside"), cut);
    assert.equal(extractiveSummary({ ...OPENSSL, text: "Rebuild" }, "short").summary, "Rebuild");
  });

  test("the fallback of installed release notes: every one passes its own check and is shorter than its item", async () => {
    const items = existsSync("/usr/share/doc") ? readReleaseNotes("/usr/share/doc", { maxFiles: 150 }) : [OPENSSL];
    let shorter = 0;
    for (const [i, item] of items.entries()) {
      const result = await summarizeItem(item, { length: (["short", "medium", "long"] as const)[i % 3], lang: "en" });
      if (result.summary.length < item.text.length) shorter++;
    }
    // Only a one-word text has no shorter summary.
    assert.ok(shorter >= items.length - items.filter((i) => !i.text.trim().includes(" ")).length, `${shorter}/${items.length}`);
  });

  test("sentences: split after . ! ? but not after e.g. or an initial; CJK too", () => {
    assert.deepEqual(splitSentences("Fix 1.2.3. See e.g. the docs (J. Smith). Done!  Next?\nyes 好。好"), [
      "Fix 1.2.3.",
      "See e.g. the docs (J. Smith).",
      "Done!",
      "Next?",
      "yes 好。",
      "好",
    ]);
  });
});
