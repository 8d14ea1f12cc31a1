// PHI smuggling: PHI placed where a classifier might not read (a message's `name`, `user`,
// `stop`, tool calls and results, response_format schemas, a completion's `suffix`,
// `metadata`, token ids), hidden with Unicode tricks (fullwidth or Arabic-Indic digits,
// NBSP / narrow NBSP / ideographic spaces, zero-width characters, soft hyphens, Unicode
// dashes), encoded inside strings (base64, %-escapes, HTML entities, JSON \u escapes), split
// across two messages or across `name` and `content`, and Chinese identifiers (resident ID
// numbers with valid checksums, mobiles, landlines).
//
// Each variant is classified directly (classifyRequest must call it sensitive), and sent
// through the real HTTP app (createPlatform + buildApp + app.inject) configured with NO local
// model, the response cache on, and one `public` zone provider: a loopback stand-in
// (test/helpers/fakeUpstream.ts, a real fastify server that records every request it gets)
// for a public cloud API, which cannot run here and must never receive PHI anyway. A
// sensitive request must be refused (503 private_zone_unavailable) before it reaches that
// provider, and must not be cached; a clean control request does reach it and is cached, so
// the test can fail.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import { chineseIdCheckChar } from "../../src/secure/index.js";
import { buildApp } from "../../src/serve/app.js";
import { serverConfigSchema } from "../../src/serve/config.js";
import { HttpError } from "../../src/serve/errors.js";
import { chatCompletionRequestSchema, completionRequestSchema, embeddingsRequestSchema } from "../../src/serve/openai/index.js";
import { createPlatform, type Platform } from "../../src/serve/platform.js";
import { classifyRequest, maxClassifyDepth, readRequest } from "../../src/serve/router/index.js";
import { type FakeUpstream, startFakeUpstream } from "../helpers/fakeUpstream.js";

type Path = "/v1/chat/completions" | "/v1/completions" | "/v1/embeddings";

interface Variant {
  readonly name: string;
  readonly path: Path;
  readonly body: Record<string, unknown>;
  /** A piece of the body that carries the PHI (to tell whether it survived the schema or reached the upstream). */
  readonly marker: string;
}

const model = "public-chat";

/** ASCII letters and digits as their fullwidth forms (U+FF01 block). */
const fullwidth = (s: string): string => s.replace(/[0-9A-Za-z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));
const arabicIndic = (s: string): string => s.replace(/[0-9]/g, (d) => String.fromCharCode(0x0660 + Number(d)));
const withCheck = (first17: string): string => first17 + chineseIdCheckChar(first17);
const base64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");

/** 300 bytes that are no text (a stand-in for an image a client attaches as base64). */
function binaryBlob(): string {
  const bytes = Buffer.alloc(300);
  let x = 12345;
  for (let i = 0; i < bytes.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes.toString("base64");
}

const cnIdA = "11010519491231002X";
const cnIdB = withCheck("44030619850712345");
const cnIdC = withCheck("51010720000229001");

const chat = (messages: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  model,
  temperature: 0,
  max_tokens: 8,
  messages,
  ...extra,
});
const user = (content: unknown, extra: Record<string, unknown> = {}) => ({ role: "user", content, ...extra });
const completion = (extra: Record<string, unknown>): Record<string, unknown> => ({
  model,
  temperature: 0,
  max_tokens: 8,
  ...extra,
});
const embedding = (extra: Record<string, unknown>): Record<string, unknown> => ({ model, ...extra });
const v = (name: string, path: Path, body: Record<string, unknown>, marker: string): Variant => ({ name, path, body, marker });
const c = "/v1/chat/completions";

const variants: readonly Variant[] = [
  // Fields beside the message text: names, user, stop, tool calls and results, response schemas, metadata.
  v("message name", c, chat([user("Summarise my chart.", { name: "Michael Johnson" })]), "Michael Johnson"),
  v("user field", c, chat([user("Hello there")], { user: "jane.doe@example.com" }), "jane.doe@example.com"),
  v("stop sequences", c, chat([user("Count to ten")], { stop: ["SSN 536-22-8491"] }), "SSN 536-22-8491"),
  v(
    "tool_call_id",
    c,
    chat([user("Look it up"), { role: "tool", tool_call_id: "call_536-22-8491", content: "done" }]),
    "call_536-22-8491",
  ),
  v(
    "tool result content",
    c,
    chat([user("Look it up"), { role: "tool", tool_call_id: "call_1", content: '{"phone":"(415) 555-2671"}' }]),
    "(415) 555-2671",
  ),
  v(
    "tool result JSON with \\u escapes",
    c,
    chat([user("Look it up"), { role: "tool", tool_call_id: "call_1", content: '{"ssn":"\\u0035\\u0033\\u0036-22-8491"}' }]),
    "\\u0035\\u0033\\u0036-22-8491",
  ),
  v(
    "assistant tool_call arguments",
    c,
    chat([
      user("Find the patient"),
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "call_1", type: "function", function: { name: "lookup", arguments: '{"email":"zelda.quarry@example.org"}' } },
        ],
      },
    ]),
    "zelda.quarry@example.org",
  ),
  v(
    "response_format json_schema description",
    c,
    chat([user("Fill the form")], {
      response_format: {
        type: "json_schema",
        json_schema: { name: "summary", description: "Summary for MRN: 12345678", schema: { type: "object" } },
      },
    }),
    "MRN: 12345678",
  ),
  v(
    "response_format schema property description",
    c,
    chat([user("Fill the form")], {
      response_format: {
        type: "json_schema",
        json_schema: {
          name: "summary",
          schema: { type: "object", properties: { owner: { type: "string", description: "always wang.fang@hospital.cn" } } },
        },
      },
    }),
    "wang.fang@hospital.cn",
  ),
  v("metadata value", c, chat([user("Hello there")], { metadata: { ssn: "536228491" } }), "536228491"),
  v("metadata key", c, chat([user("Hello there")], { metadata: { "jane.doe@example.com": "owner" } }), "jane.doe@example.com"),
  v(
    "text content parts split an SSN",
    c,
    chat([
      user([
        { type: "text", text: "536-22" },
        { type: "text", text: "-8491" },
      ]),
    ]),
    "-8491",
  ),
  // Split across messages and fields.
  v("SSN split across two messages", c, chat([user("My SSN is 536-22-"), user("8491, thanks")]), "8491, thanks"),
  v("label and name in two messages", c, chat([user("Patient:"), user("Zelda Quarry")]), "Zelda Quarry"),
  v("label in name, value in content", c, chat([{ role: "user", name: "Patient", content: ": Zelda Quarry" }]), ": Zelda Quarry"),
  v("developer message DOB", c, chat([{ role: "developer", content: "DOB: 03/07/1979" }, user("hi")]), "DOB: 03/07/1979"),
  // Unicode tricks.
  v("fullwidth SSN", c, chat([user(`SSN ${fullwidth("536-22-8491")}`)]), fullwidth("536-22-8491")),
  v("Arabic-Indic SSN", c, chat([user(`SSN ${arabicIndic("536-22-8491")}`)]), arabicIndic("536-22-8491")),
  v("zero-width split SSN", c, chat([user("ref 536\u200B-22\u200C-84\u200D91")]), "536\u200B-22\u200C-84\u200D91"),
  v("zero-width split email", c, chat([user("write to jane\u200B.doe@exa\u2060mple.com")]), "jane\u200B.doe@exa\u2060mple.com"),
  v(
    "soft hyphen and BOM in email",
    c,
    chat([user("write to jane.doe@exam\u00ADple.\uFEFFcom")]),
    "jane.doe@exam\u00ADple.\uFEFFcom",
  ),
  v("NBSP-separated SSN after a label", c, chat([user("SSN\u00A0536\u00A022\u00A08491")]), "536\u00A022\u00A08491"),
  v("narrow NBSP in a phone", c, chat([user("ring (415)\u202F555-2671")]), "(415)\u202F555-2671"),
  v("Unicode hyphens in an SSN", c, chat([user("SSN 536\u201022\u20118491")]), "536\u201022\u20118491"),
  v("fullwidth card number", c, chat([user(`card ${fullwidth("4111 1111 1111 1111")}`)]), fullwidth("4111 1111 1111 1111")),
  v("tab after a name label", c, chat([user("Patient:\tZelda Quarry")]), "Patient:\tZelda Quarry"),
  // Chinese identifiers.
  v("Chinese resident ID", c, chat([user(`身份证号${cnIdA}，请核对`)]), cnIdA),
  v("Chinese resident ID without a label", c, chat([user(`请核对 ${cnIdB} 的信息`)]), cnIdB),
  v("Chinese resident ID in fullwidth digits", c, chat([user(`身份证 ${fullwidth(cnIdC)}`)]), fullwidth(cnIdC)),
  v("Chinese resident ID grouped 6-8-4", c, chat([user("证件 110105 19491231 002X")]), "110105 19491231 002X"),
  v("Chinese mobile", c, chat([user("请联系 13812345678 预约")]), "13812345678"),
  v("Chinese mobile +86 with dashes", c, chat([user("call +86-139-1234-5678")]), "+86-139-1234-5678"),
  v("Chinese mobile 86 prefix", c, chat([user("号码 8613712345678")]), "8613712345678"),
  v("Chinese mobile with ideographic spaces", c, chat([user("手机 138\u30001234\u30005678")]), "138\u30001234\u30005678"),
  v("Chinese landline", c, chat([user("座机 010-62345678")]), "010-62345678"),
  v("Chinese name after a label", c, chat([user("患者姓名：王小明，复诊")]), "王小明"),
  // Encoded inside strings.
  v("base64 of PHI", c, chat([user(`Decode this: ${base64("Patient: Zelda Quarry, SSN 536-22-8491")}`)]), "UGF0aWVudDog"),
  v("binary base64 data URL", c, chat([user(`data:image/png;base64,${binaryBlob()}`)]), binaryBlob().slice(0, 40)),
  v("%-escaped SSN", c, chat([user("SSN%20536%2D22%2D8491")]), "SSN%20536%2D22%2D8491"),
  v("HTML entities in an SSN", c, chat([user("SSN &#53;&#51;&#54;-22-8491")]), "&#53;&#51;&#54;-22-8491"),
  // Completions.
  v(
    "completion suffix",
    "/v1/completions",
    completion({ prompt: "Write a story", suffix: "Contact jane.doe@example.com" }),
    "Contact jane.doe@example.com",
  ),
  v("completion prompt array", "/v1/completions", completion({ prompt: ["fine", "SSN 536-22-8491"] }), "SSN 536-22-8491"),
  v(
    "completion stop",
    "/v1/completions",
    completion({ prompt: "Write a story", stop: "zelda.quarry@example.org" }),
    "zelda.quarry@example.org",
  ),
  v("completion user", "/v1/completions", completion({ prompt: "Write a story", user: "536-22-8491" }), "536-22-8491"),
  v("completion token-id prompt", "/v1/completions", completion({ prompt: [15496, 11, 616, 1438] }), "[15496,11,616,1438]"),
  // Embeddings.
  v("embedding token ids", "/v1/embeddings", embedding({ input: [15496, 11, 616, 1438] }), "[15496,11,616,1438]"),
  v(
    "embedding token-id arrays",
    "/v1/embeddings",
    embedding({
      input: [
        [15496, 11],
        [616, 1438],
      ],
    }),
    "[[15496,11],[616,1438]]",
  ),
  v(
    "embedding second input",
    "/v1/embeddings",
    embedding({ input: ["fine", "card 4111 1111 1111 1111"] }),
    "4111 1111 1111 1111",
  ),
  v("embedding user", "/v1/embeddings", embedding({ input: "hello", user: "jane.doe@example.com" }), "jane.doe@example.com"),
  v(
    "embedding fullwidth mobile",
    "/v1/embeddings",
    embedding({ input: `tel ${fullwidth("13812345678")}` }),
    fullwidth("13812345678"),
  ),
];

const schemaOf = {
  "/v1/chat/completions": chatCompletionRequestSchema,
  "/v1/completions": completionRequestSchema,
  "/v1/embeddings": embeddingsRequestSchema,
};

/** The marker as it appears inside JSON text. */
const inJson = (marker: string): string => JSON.stringify(marker).slice(1, -1);

/**
 * Whether the route's schema keeps the variant's PHI ("kept"), drops the field holding it
 * ("dropped": what is forwarded cannot carry it), or refuses the body ("rejected", a 400).
 */
function schemaFate(variant: Variant): "kept" | "dropped" | "rejected" {
  const parsed = schemaOf[variant.path].safeParse(variant.body);
  if (!parsed.success) return "rejected";
  return JSON.stringify(parsed.data).includes(inJson(variant.marker)) ? "kept" : "dropped";
}

const cleanChat = chat([user("Write a haiku about autumn leaves")]);

describe("classifyRequest reads every string of any request", () => {
  test(`every smuggling variant (${variants.length}) is sensitive, and the reason names kinds only`, () => {
    assert.ok(variants.length >= 30);
    const missed: string[] = [];
    for (const variant of variants) {
      const cls = classifyRequest(variant.body, { endpoint: variant.path });
      if (!cls.sensitive) missed.push(variant.name);
      assert.match(cls.reason, /^(none|(pii:[A-Za-z,]+)?(; )?(unreadable:[a-z,-]+)?)$/, variant.name);
      assert.ok(!cls.reason.includes(variant.marker), `${variant.name}: the reason holds the text found`);
    }
    assert.deepEqual(missed, []);
  });

  test("the reasons: PII kinds, unreadable token ids and binary blobs", () => {
    const reason = (name: string) => {
      const variant = variants.find((x) => x.name === name)!;
      return classifyRequest(variant.body, { endpoint: variant.path }).reason;
    };
    assert.equal(reason("embedding token ids"), "unreadable:token-ids");
    assert.equal(reason("completion token-id prompt"), "unreadable:token-ids");
    assert.equal(reason("binary base64 data URL"), "unreadable:binary");
    assert.equal(reason("Chinese resident ID"), "pii:nationalId");
    assert.equal(reason("Chinese mobile"), "pii:phone");
    assert.equal(reason("zero-width split email"), "pii:email");
  });

  test("ordinary requests with every field filled are not sensitive (the classifier is not just saying yes)", () => {
    const busy = chat(
      [
        { role: "system", content: "You are terse.", name: "system_prompt" },
        user([{ type: "text", text: "What is the weather in Paris tomorrow?" }], { name: "alice_1" }),
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: "call_abc123", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }],
        },
        { role: "tool", tool_call_id: "call_abc123", content: '{"temp_c": 21, "sky": "clear"}' },
      ],
      {
        user: "end-user-42",
        stop: ["\n\n", "END"],
        seed: 42,
        tools: [
          {
            type: "function",
            function: {
              name: "Get_Weather",
              description: "Weather for a city",
              parameters: {
                type: "object",
                properties: { city: { type: "string", description: "City name" } },
                required: ["city"],
              },
            },
          },
        ],
        response_format: {
          type: "json_schema",
          json_schema: { name: "Person", strict: true, schema: { type: "object", title: "Forecast" } },
        },
        metadata: { team: "weather", build: "2024.3.1" },
      },
    );
    assert.deepEqual(classifyRequest(busy, { endpoint: "/v1/chat/completions" }), { sensitive: false, reason: "none" });
    assert.deepEqual(
      classifyRequest(completion({ prompt: "The sea", suffix: " and the sky.", echo: true }), { endpoint: "/v1/completions" }),
      {
        sensitive: false,
        reason: "none",
      },
    );
    assert.deepEqual(
      classifyRequest(embedding({ input: ["a cat sat", "a dog ran"], dimensions: 16 }), { endpoint: "/v1/embeddings" }),
      {
        sensitive: false,
        reason: "none",
      },
    );
    assert.equal(classifyRequest(cleanChat, { endpoint: "/v1/chat/completions" }).sensitive, false);
  });

  test("any body shape: app bodies label values by their keys; binary buffers are unreadable", () => {
    assert.equal(classifyRequest({ patient: { ssn: "536228491" } }, { endpoint: "/v1/avatar/speak" }).reason, "pii:nationalId");
    assert.equal(classifyRequest({ form: { phone: 5551234567 } }, { endpoint: "/v1/apps/x" }).reason, "pii:phone");
    assert.equal(
      classifyRequest({ audio: Buffer.from([1, 2, 3]) }, { endpoint: "/v1/avatar/speak" }).reason,
      "unreadable:binary",
    );
    assert.equal(classifyRequest("just a string, DOB: 1980-02-03", { endpoint: "/x" }).reason, "pii:dateOfBirth");
    assert.deepEqual(classifyRequest({ text: "Say hello", voice: "alto", speed: 1.2 }, { endpoint: "/v1/avatar/speak" }), {
      sensitive: false,
      reason: "none",
    });
    const texts = readRequest({ metadata: { "jane.doe@example.com": "x" } }).texts;
    assert.ok(texts.includes("jane.doe@example.com"), "a data key is read");
  });

  test("sensitive endpoints: configured prefixes, matched on the canonical path", () => {
    const opts = (endpoint: string) => ({ endpoint, sensitiveEndpoints: ["/v1/medical", "/v1/avatar/"] });
    assert.equal(classifyRequest(cleanChat, opts("/v1/avatar/speak")).reason, "endpoint:/v1/avatar/");
    for (const path of ["/V1/Medical/report", "/v1//medical", "/v1/./medical/x", "/v1/%6Dedical/x", "/v1/x/../medical?y=1"]) {
      assert.equal(classifyRequest(cleanChat, opts(path)).sensitive, true, path);
    }
    assert.equal(classifyRequest(cleanChat, opts("/v1/medicalx")).sensitive, false);
    assert.equal(classifyRequest(cleanChat, { endpoint: "/v1/medical/report" }).sensitive, true, "default list");
  });

  test("nesting: up to the limit is read; deeper is a typed 400, never a stack overflow; deep JSON inside a string is unreadable", () => {
    const nest = (levels: number, leaf: unknown): unknown => {
      let value = leaf;
      for (let i = 0; i < levels; i++) value = i % 2 === 0 ? [value] : { x: value };
      return value;
    };
    // The body is level 1, so it can hold maxClassifyDepth - 1 more levels.
    assert.equal(
      classifyRequest({ deep: nest(maxClassifyDepth - 2, "SSN 536-22-8491") }, { endpoint: "/x" }).reason,
      "pii:nationalId",
    );
    for (const levels of [maxClassifyDepth, 1000, 200_000]) {
      assert.throws(
        () => classifyRequest({ deep: nest(levels, "x") }, { endpoint: "/x" }),
        (e: unknown) =>
          e instanceof HttpError && e.status === 400 && e.code === "too_deeply_nested" && /deeper than 64/.test(e.message),
      );
    }
    const deepString = `${"[".repeat(200_000)}${"]".repeat(200_000)}`;
    assert.equal(classifyRequest(chat([user(deepString)]), { endpoint: c }).reason, "unreadable:too-deeply-nested");
  });

  // --- properties --------------------------------------------------------------------

  const digits = (n: number) => fc.string({ unit: fc.constantFrom(..."0123456789"), minLength: n, maxLength: n });
  const ssn = fc
    .record({
      a: fc.integer({ min: 1, max: 899 }).filter((a) => a !== 666),
      g: fc.integer({ min: 1, max: 99 }),
      s: fc.integer({ min: 1, max: 9999 }),
    })
    .map(({ a, g, s }) => `${String(a).padStart(3, "0")}-${String(g).padStart(2, "0")}-${String(s).padStart(4, "0")}`)
    .filter((s) => s !== "078-05-1120" && s !== "219-09-9999");
  const mobile = fc.tuple(fc.constantFrom(..."3456789"), digits(9)).map(([second, rest]) => `1${second}${rest}`);
  const chineseId = fc
    .record({
      province: fc.constantFrom("11", "31", "44", "51", "65"),
      area: digits(4),
      birth: fc.date({ min: new Date(Date.UTC(1920, 0, 1)), max: new Date(Date.UTC(2010, 11, 31)), noInvalidDate: true }),
      seq: digits(3),
    })
    .map(({ province, area, birth, seq }) =>
      withCheck(`${province}${area}${birth.toISOString().slice(0, 10).replaceAll("-", "")}${seq}`),
    );
  const email = fc
    .tuple(fc.stringMatching(/^[a-z][a-z0-9]{1,10}$/), fc.stringMatching(/^[a-z]{2,10}$/), fc.constantFrom("com", "org", "cn"))
    .map(([local, domain, tld]) => `${local}@${domain}.${tld}`);
  const phi = fc.oneof(ssn, mobile, chineseId, email);
  const invisibles = ["\u200B", "\u200C", "\u200D", "\u2060", "\uFEFF", "\u00AD"];

  /** Zero-width characters inserted, and digits swapped for fullwidth ones, at random places. */
  const disguised = phi.chain((value) =>
    fc.array(fc.tuple(fc.nat(), fc.constantFrom(...invisibles), fc.boolean()), { maxLength: 6 }).map((edits) => {
      const chars = [...value];
      for (const [at, invisible, swapDigit] of edits) {
        const i = at % chars.length;
        if (swapDigit && /[0-9]/.test(chars[i])) chars[i] = fullwidth(chars[i]);
        else chars.splice(i, 0, invisible);
      }
      return chars.join("");
    }),
  );

  /** Where in a request the PHI goes. */
  const placements: ReadonlyArray<(text: string) => Record<string, unknown>> = [
    (t) => chat([user(`see ${t} please`)]),
    (t) => chat([user("hello", { name: t })]),
    (t) => chat([user("hello")], { user: t }),
    (t) => chat([user("hello")], { stop: [t] }),
    (t) => chat([user("hi"), { role: "tool", tool_call_id: "call_1", content: t }]),
    (t) => chat([user("hi")], { metadata: { note: t } }),
    (t) => completion({ prompt: "story", suffix: t }),
    (t) => embedding({ input: ["fine", t] }),
  ];

  test("property: zero-width characters and fullwidth digits anywhere in PHI, in any field, never make it non-sensitive", () => {
    fc.assert(
      fc.property(disguised, fc.nat({ max: placements.length - 1 }), (text, where) => {
        const cls = classifyRequest(placements[where](text), { endpoint: "/v1/chat/completions" });
        assert.equal(cls.sensitive, true, `${JSON.stringify(text)} in placement ${where}`);
      }),
      { numRuns: 400 },
    );
  });

  test("property: any nesting either classifies or throws the typed 400, never anything else", () => {
    const shape = fc.array(fc.boolean(), { maxLength: 300 });
    fc.assert(
      fc.property(shape, (arrays) => {
        let value: unknown = "leaf";
        for (const isArray of arrays) value = isArray ? [value] : { k: value };
        try {
          classifyRequest({ body: value }, { endpoint: "/x" });
          assert.ok(arrays.length + 1 <= maxClassifyDepth);
        } catch (e) {
          assert.ok(e instanceof HttpError && e.status === 400 && e.code === "too_deeply_nested", String(e));
          assert.ok(arrays.length + 1 > maxClassifyDepth);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe("PHI smuggling through the HTTP app to a public-zone stand-in", () => {
  let upstream: FakeUpstream;
  let platform: Platform;
  let app: FastifyInstance;

  before(async () => {
    upstream = await startFakeUpstream("public-cloud");
    const config = serverConfigSchema.parse({
      models: { default: model, local: {} },
      providers: [{ name: "public-cloud", zone: "public", baseUrl: upstream.baseUrl, models: [model], timeoutMs: 5_000 }],
      router: { retries: { maxRetries: 0 } },
      cache: { enabled: true },
    });
    platform = await createPlatform(config, { threads: 1 });
    app = await buildApp({ platform });
  });
  after(async () => {
    await app?.close();
    await platform?.close();
    await upstream?.close();
  });

  const sendText = (path: string, payload: string) =>
    app.inject({ method: "POST", url: path, headers: { "content-type": "application/json" }, payload });
  const send = (path: string, body: unknown) => sendText(path, JSON.stringify(body));
  const upstreamSaw = (marker: string) => upstream.requests.some((r) => JSON.stringify(r.body).includes(inJson(marker)));

  test("a clean control request reaches the public provider and is cached (so the checks below can fail)", async () => {
    const first = await send(c, cleanChat);
    assert.equal(first.statusCode, 200, first.body);
    assert.equal(first.headers["x-aigc-cache"], "miss");
    assert.equal(upstream.count(), 1);
    const second = await send(c, cleanChat);
    assert.equal(second.headers["x-aigc-cache"], "hit");
    assert.equal(upstream.count(), 1);
    const emb = await send("/v1/embeddings", embedding({ input: "a cat sat" }));
    assert.equal(emb.statusCode, 200, emb.body);
    assert.equal(upstream.count(), 2);
  });

  test("no smuggling variant whose PHI survives the schema reaches the public provider or the cache", async (t) => {
    const checked = variants.filter((x) => schemaFate(x) !== "dropped");
    const rejected = checked.filter((x) => schemaFate(x) === "rejected").map((x) => x.name);
    t.diagnostic(
      `${checked.length} of ${variants.length} variants keep their PHI through the route schema (refused by it: ${rejected.join(", ") || "none"})`,
    );
    assert.ok(checked.length >= 30, `${checked.length} variants keep their PHI through the route schemas`);
    const statsBefore = JSON.stringify(platform.cache.stats());
    const countBefore = upstream.count();
    const reached: string[] = [];
    const cached: string[] = [];
    for (const variant of checked) {
      const before = upstream.count();
      const res = await send(variant.path, variant.body);
      if (upstream.count() !== before || upstreamSaw(variant.marker)) reached.push(`${variant.name} (${res.statusCode})`);
      const cacheHeader = res.headers["x-aigc-cache"];
      if (cacheHeader === "miss" || cacheHeader === "hit") cached.push(variant.name);
      if (schemaFate(variant) === "rejected") assert.equal(res.statusCode, 400, `${variant.name}: ${res.body}`);
      else {
        assert.equal(res.statusCode, 503, `${variant.name}: ${res.body}`);
        assert.equal(res.json().error.code, "private_zone_unavailable", variant.name);
      }
    }
    assert.deepEqual(reached, [], "variants that reached the public provider");
    assert.deepEqual(cached, [], "variants answered through the cache");
    assert.equal(upstream.count(), countBefore);
    assert.equal(JSON.stringify(platform.cache.stats()), statsBefore, "cache stats unchanged");
  });

  test("PHI in a field the schema drops (metadata, assistant tool_calls) never reaches the public provider", async (t) => {
    const dropped = variants.filter((x) => schemaFate(x) === "dropped");
    t.diagnostic(
      `dropped by the route schema, so forwarded without their PHI: ${dropped.map((x) => x.name).join(", ") || "none"}`,
    );
    for (const variant of dropped) {
      await send(variant.path, variant.body);
      assert.ok(!upstreamSaw(variant.marker), `${variant.name}: its PHI reached the public provider`);
    }
  });

  test("a 200k-deep JSON array is a typed 400 (or dropped by the schema), never a 500", async () => {
    // Written as text: JSON.stringify itself overflows on such a value.
    const deep = `${"[".repeat(200_000)}${"]".repeat(200_000)}`;
    const withDeep = (body: unknown) => JSON.stringify(body).replace('"<deep>"', deep);
    const inSchema = chat([user("hello")], {
      response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "object", deep: "<deep>" } } },
    });
    const countBefore = upstream.count();
    const res = await sendText(c, withDeep(inSchema));
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().error.code, "too_deeply_nested");
    assert.match(res.json().error.message, /nested deeper than 64 levels/);
    assert.equal(upstream.count(), countBefore);
    const unknownField = await sendText(c, withDeep({ ...cleanChat, extra: "<deep>" }));
    assert.ok(
      unknownField.statusCode === 400 || unknownField.statusCode === 200,
      `${unknownField.statusCode}: ${unknownField.body}`,
    );
  });
});
