// Cheap guards before any costly step, on a server with every kind of route (OpenAI,
// medical, encrypted, avatar, ops) and auth on. A 20 MB body is refused with 413 before it is
// read, declared or chunked, while /health keeps answering (bench/body-guard.ts measures how
// fast); a text over a route's character limit is refused before the schema or the PII scan;
// a known path under a wrong method is a 405 with `Allow` (404 stays for unknown paths);
// empty and malformed medical and encrypted inputs are one-line 400s naming the field; a
// request Node's HTTP parser refuses still gets the JSON error shape.

import assert from "node:assert/strict";
import { request } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import { postBody } from "../../bench/fixtures/bodyPost.js";
import { avatarApp, medicalApp, ReportGenerator } from "../../src/apps/index.js";
import { SHIPPED_REPORT_MODEL_DIR } from "../../src/cli/report.js";
import { encodeCtDicom, synthChestSet } from "../../src/data/index.js";
import { HeServer, loadShippedModels } from "../../src/secure/index.js";
import {
  type AppPlugin,
  buildApp,
  createPlatform,
  defineRoute,
  hashApiKey,
  type Platform,
  registeredRoutes,
  serverConfigSchema,
} from "../../src/serve/index.js";
import { textCharsOver } from "../../src/serve/pipeline.js";
import { type FakeUpstream, startFakeUpstream } from "../helpers/fakeUpstream.js";

const key = "sk-aigc-guards-tenant-00000000000000";
const bearer = `Bearer ${key}`;
const MiB = 1024 * 1024;
const textLimit = 1000;

/**
 * Routes with a character limit, fixed and by the body's model, to prove the text step (the
 * OpenAI routes set one only for models the local engine alone serves; this server has none).
 */
const textLimitApp: AppPlugin = {
  pages: [],
  register: async (app) => {
    defineRoute(app, {
      method: "POST",
      url: "/v1/test/text",
      policy: { name: "test-text", access: "tenant", classify: "scan", maxTextChars: textLimit },
      handler: async () => ({ ok: true }),
    });
    defineRoute(app, {
      method: "POST",
      url: "/v1/test/text-by-model",
      policy: {
        name: "test-text-by-model",
        access: "tenant",
        classify: "scan",
        maxTextChars: (raw) => ((raw as { model?: unknown } | null)?.model === "small" ? 20 : undefined),
      },
      handler: async () => ({ ok: true }),
    });
  },
};

let upstream: FakeUpstream;
let platform: Platform;
let reports: ReportGenerator;
let he: HeServer;
let app: FastifyInstance;
let port: number;

before(async () => {
  upstream = await startFakeUpstream("cloud");
  const config = serverConfigSchema.parse({
    models: { default: "cloud-model", local: {} },
    providers: [{ name: "cloud", zone: "public", baseUrl: upstream.baseUrl, models: ["cloud-model"] }],
    tenants: { auth: true, tenants: [{ id: "acme", name: "ACME", keyHashes: [hashApiKey(key)] }] },
  });
  platform = await createPlatform(config);
  reports = await ReportGenerator.load(SHIPPED_REPORT_MODEL_DIR, { threads: 1 });
  he = await HeServer.create(loadShippedModels());
  const avatar = avatarApp({ encodeWav: () => new Uint8Array(44), visemeSegments: () => [], headGlb: () => new Uint8Array() });
  app = await buildApp({ platform, he, apps: [medicalApp(reports), avatar, textLimitApp] });
  await app.listen({ host: "127.0.0.1", port: 0 });
  port = (app.server.address() as AddressInfo).port;
});

after(async () => {
  await app?.close();
  he?.close();
  await reports?.close();
  await platform?.close();
  await upstream?.close();
});

interface ErrorAnswer {
  error: { message: string; type: string; code: string };
}
const errorOf = (body: string): ErrorAnswer["error"] => (JSON.parse(body) as ErrorAnswer).error;

/** One line naming a field, never zod's dump. */
function assertOneLine(message: string): void {
  assert.doesNotMatch(message, /\n|✖|→|Invalid input/, message);
}

describe("size: a 20 MB body is refused before it is read", () => {
  const chat = "/v1/chat/completions";
  const head = '{"model":"cloud-model","messages":[{"role":"user","content":"';

  test("with a Content-Length: 413 naming the limit, without a key 401; neither reads the body", async () => {
    const withKey = await postBody({ port, path: chat, bytes: 20 * MiB, authorization: bearer, head });
    assert.equal(withKey.status, 413, withKey.body);
    const e = errorOf(withKey.body);
    assert.equal(e.code, "body_too_large");
    assert.equal(e.message, "request body is 20 MiB; POST /v1/chat/completions accepts at most 1 MiB (1048576 bytes)");
    // The answer came while the client was still writing: the server did not wait for the body.
    assert.ok(withKey.sentAtAnswer < 20 * MiB, `${withKey.sentAtAnswer} bytes written before the answer`);
    const withoutKey = await postBody({ port, path: chat, bytes: 20 * MiB, head });
    assert.equal(withoutKey.status, 401, withoutKey.body);
    console.log(`20 MB with Content-Length: 413 in ${withKey.ms.toFixed(1)} ms, 401 in ${withoutKey.ms.toFixed(1)} ms`);
  });

  test("chunked, without a Content-Length: cut off at the limit (413), not buffered whole", async () => {
    for (const [path, limit] of [
      [chat, MiB],
      ["/v1/medical/reports", Math.ceil(16 * MiB * 1.4)],
      ["/v1/secure/infer", 32 * MiB],
    ] as const) {
      const total = 96 * MiB;
      const r = await postBody({ port, path, bytes: total, chunked: true, authorization: bearer, head: "{" });
      assert.equal(r.status, 413, `${path}: ${r.body}`);
      assert.match(errorOf(r.body).message, /read up to the limit, then refused/);
      // Socket buffers let the client run some MB ahead of what the server read; not 96.
      assert.ok(r.sentAtAnswer < limit + 24 * MiB, `${path}: ${r.sentAtAnswer} bytes written before the answer`);
      console.log(
        `${path}: chunked, 413 in ${r.ms.toFixed(1)} ms, after the client wrote ${(r.sentAtAnswer / MiB).toFixed(1)} of 96 MiB`,
      );
    }
  });

  test("a declared oversize is refused on every method and route kind, multipart too", async () => {
    const multipart = await postBody({
      port,
      path: "/v1/medical/reports",
      bytes: 64 * MiB,
      authorization: bearer,
      contentType: "multipart/form-data; boundary=x",
    });
    assert.equal(multipart.status, 413, multipart.body);
    assert.match(errorOf(multipart.body).message, /accepts at most 22\.4 MiB/);
    const get = await postBody({ port, method: "GET", path: "/health", bytes: 20 * MiB });
    assert.equal(get.status, 413, get.body);
  });

  test("Expect: 100-continue: a refused client is never told to send its body; an admitted one is", async () => {
    const expecting = (path: string, bytes: number, authorization?: string) =>
      new Promise<{ status: number; continued: boolean }>((resolve, reject) => {
        let continued = false;
        const req = request({
          host: "127.0.0.1",
          port,
          method: "POST",
          path,
          headers: {
            "content-type": "application/json",
            "content-length": bytes,
            expect: "100-continue",
            ...(authorization ? { authorization } : {}),
          },
        });
        req.on("continue", () => {
          continued = true;
          req.end("x".repeat(bytes));
        });
        req.on("response", (res) => {
          res.resume();
          res.on("end", () => resolve({ status: res.statusCode ?? 0, continued }));
        });
        req.on("error", reject);
        req.flushHeaders();
      });
    assert.deepEqual(await expecting(chat, 20 * MiB, bearer), { status: 413, continued: false });
    assert.deepEqual(await expecting(chat, 20 * MiB), { status: 401, continued: false });
    assert.deepEqual(await expecting("/v1/nothing", 20 * MiB), { status: 404, continued: false });
    assert.deepEqual(await expecting("/v1/test/text", 10, bearer), { status: 400, continued: true });
  });

  test("/health keeps answering while 20 MB bodies are refused", async () => {
    let sending = true;
    const flood = (async () => {
      const answers: number[] = [];
      for (let i = 0; i < 4; i++) {
        const chunked = i % 2 === 1;
        answers.push((await postBody({ port, path: chat, bytes: 20 * MiB, chunked, authorization: bearer, head })).status);
      }
      sending = false;
      return answers;
    })();
    let probes = 0;
    while (sending) {
      const r = await fetch(`http://127.0.0.1:${port}/health`);
      assert.equal(r.status, 200);
      await r.arrayBuffer();
      probes++;
    }
    assert.deepEqual(await flood, [413, 413, 413, 413]);
    assert.ok(probes > 0);
  });

  test("the server answers normal requests after the refusals", async () => {
    const r = await fetch(`http://127.0.0.1:${port}/v1/models`, { headers: { authorization: bearer } });
    assert.equal(r.status, 200);
    assert.deepEqual(
      ((await r.json()) as { data: { id: string }[] }).data.map((m) => m.id),
      ["cloud-model"],
    );
  });
});

describe("text: characters over a route's limit are refused before the schema and the PII scan", () => {
  const post = (payload: unknown) =>
    app.inject({
      method: "POST",
      url: "/v1/test/text",
      headers: { authorization: bearer, "content-type": "application/json" },
      payload: JSON.stringify(payload),
    });

  test("413 text_too_long over the limit, strings and keys counted; at the limit it passes", async () => {
    const over = await post({ a: "x".repeat(textLimit) });
    assert.equal(over.statusCode, 413, over.body);
    assert.equal(errorOf(over.body).code, "text_too_long");
    assert.match(errorOf(over.body).message, /more than 1,000 characters of text; POST \/v1\/test\/text accepts at most that/);
    const spread = await post(Array.from({ length: 200 }, () => ({ ab: "xyz" })));
    assert.equal(spread.statusCode, 200, "200 × 5 characters = 1000, at the limit");
    const spreadOver = await post(Array.from({ length: 201 }, () => ({ ab: "xyz" })));
    assert.equal(spreadOver.statusCode, 413);
  });

  test("a limit by the body: over it 413, a body it gives no limit only the byte limit", async () => {
    const by = (payload: unknown) =>
      app.inject({
        method: "POST",
        url: "/v1/test/text-by-model",
        headers: { authorization: bearer, "content-type": "application/json" },
        payload: JSON.stringify(payload),
      });
    const over = await by({ model: "small", text: "x".repeat(20) });
    assert.equal(over.statusCode, 413, over.body);
    assert.match(errorOf(over.body).message, /more than 20 characters of text; POST \/v1\/test\/text-by-model/);
    assert.equal((await by({ model: "small", t: "x".repeat(9) })).statusCode, 200, "5 + 5 + 1 + 9 = 20, at the limit");
    assert.equal((await by({ model: "large", text: "x".repeat(50_000) })).statusCode, 200);
    assert.equal((await by([1, 2])).statusCode, 200);
  });

  test("the OpenAI routes leave a remote model's prompt to its provider (its context is not known here)", async () => {
    const r = await app.inject({
      method: "POST",
      url: "/v1/chat/completions",
      headers: { authorization: bearer, "content-type": "application/json" },
      payload: JSON.stringify({ model: "cloud-model", messages: [{ role: "user", content: "word ".repeat(40_000) }] }),
    });
    assert.equal(r.statusCode, 200, r.body);
  });

  test("property: textCharsOver agrees with counting every string and key of the value", () => {
    const count = (v: unknown): number =>
      typeof v === "string"
        ? v.length
        : Array.isArray(v)
          ? v.reduce((n: number, x) => n + count(x), 0)
          : typeof v === "object" && v !== null
            ? Object.entries(v).reduce((n, [k, x]) => n + k.length + count(x), 0)
            : 0;
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat(200), (value, max) => {
        assert.equal(textCharsOver(value, max), count(value) > max);
      }),
      { numRuns: 500, seed: 11 },
    );
  });

  test("a body nested 100 000 deep is counted without overflowing the stack", () => {
    let deep: unknown = "x";
    for (let i = 0; i < 100_000; i++) deep = [deep];
    assert.equal(textCharsOver(deep, 0), true);
    assert.equal(textCharsOver(deep, 1), false);
  });
});

describe("405: a known path under another method", () => {
  const methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"] as const;
  const pathOf = (url: string) => url.replace(/:[A-Za-z]+/g, "x");

  test("every registered path answers 405 with Allow for the methods it lacks, in the error shape", async () => {
    const byUrl = new Map<string, Set<string>>();
    for (const r of registeredRoutes(app)) byUrl.set(r.url, (byUrl.get(r.url) ?? new Set()).add(r.method));
    for (const kind of ["/v1/chat/completions", "/v1/medical/reports", "/v1/secure/infer", "/metrics", "/v1/avatar/speak"])
      assert.ok(byUrl.has(kind), `${kind} is registered`);
    let checked = 0;
    for (const [url, registered] of byUrl) {
      const allow = [...registered].sort().join(", ");
      for (const method of methods.filter((m) => !registered.has(m))) {
        const r = await app.inject({ method, url: pathOf(url), headers: { authorization: bearer } });
        assert.equal(r.statusCode, 405, `${method} ${url}: ${r.statusCode} ${r.body.slice(0, 200)}`);
        assert.equal(r.headers.allow, allow, `${method} ${url}`);
        if (method !== "HEAD") {
          assert.equal(errorOf(r.body).code, "method_not_allowed");
          assert.equal(
            errorOf(r.body).message,
            `${method} is not allowed on ${pathOf(url)}; use ${[...registered].sort().join(" or ")}`,
          );
        }
        checked++;
      }
    }
    assert.ok(checked > 50, `${checked} wrong-method requests`);
  });

  test("GET /v1/chat/completions is a 405 allowing POST; a query string does not change it", async () => {
    const r = await app.inject({ method: "GET", url: "/v1/chat/completions?x=1" });
    assert.equal(r.statusCode, 405);
    assert.equal(r.headers.allow, "POST");
  });

  test("unknown paths stay 404, trailing slash and extra segments included", async () => {
    for (const url of ["/v1/nothing", "/v1/chat/completions/extra", "/health/", "/v1/medical/samples/x", "/v1"]) {
      const r = await app.inject({ method: "GET", url });
      assert.equal(r.statusCode, 404, `${url}: ${r.statusCode}`);
      assert.equal(errorOf(r.body).code, "route_not_found");
      assert.equal(r.headers.allow, undefined);
    }
  });

  test("a 20 MB body under a wrong method or to an unknown path is answered before it is read", async () => {
    const wrong = await postBody({ port, method: "PUT", path: "/v1/chat/completions", bytes: 20 * MiB, authorization: bearer });
    assert.equal(wrong.status, 405, wrong.body);
    assert.equal(wrong.headers.allow, "POST");
    assert.ok(wrong.sentAtAnswer < 20 * MiB);
    const unknown = await postBody({ port, path: "/v1/nothing", bytes: 20 * MiB, chunked: true });
    assert.equal(unknown.status, 404, unknown.body);
    assert.ok(unknown.sentAtAnswer < 20 * MiB);
  });
});

describe("empty and malformed input: one-line 400s naming the field", () => {
  const c = synthChestSet(5, 1)[0];
  const image = Buffer.from(encodeCtDicom(c)).toString("base64");

  async function medical(payload: string | undefined, contentType?: string) {
    return app.inject({
      method: "POST",
      url: "/v1/medical/reports",
      headers: { authorization: bearer, ...(contentType ? { "content-type": contentType } : {}) },
      ...(payload === undefined ? {} : { payload }),
    });
  }

  test("medical JSON: no body, an empty body, {}, empty strings and arrays, a wrong type", async () => {
    const cases: [string, string | undefined, string | undefined, RegExp][] = [
      ["no body", undefined, undefined, /^the request body: required \(a JSON object \{ image, ehr, … \}, or a multipart upload/],
      ["empty JSON body", "", "application/json", /^the request body is empty: expected a JSON object$/],
      ["invalid JSON", '{"image":', "application/json", /^the request body is not valid JSON$/],
      ["{}", "{}", "application/json", /^image: required \(a base64 DICOM, NIfTI, PNG or JPEG file\); ehr: required \(a FHIR R4/],
      [
        "empty image",
        JSON.stringify({ image: "", ehr: {} }),
        "application/json",
        /^image: expected a base64 DICOM, NIfTI, PNG or JPEG file, got ""$/,
      ],
      [
        "image a number",
        JSON.stringify({ image: 5, ehr: {} }),
        "application/json",
        /^image: expected a base64 .* file, got a number$/,
      ],
      [
        "not base64",
        JSON.stringify({ image: "AAAA!AAA", ehr: {} }),
        "application/json",
        /^image: expected base64, got the character "!" at position 4$/,
      ],
      [
        "ehr an empty array",
        JSON.stringify({ image, ehr: [] }),
        "application/json",
        /^ehr: expected a FHIR R4 .*\(a JSON object\), got an array of 0 items$/,
      ],
      [
        "ehr empty",
        JSON.stringify({ image, ehr: {} }),
        "application/json",
        /^ehr: invalid: not a FHIR R4 resource .*: age: required \(a number\)/,
      ],
      [
        "lang",
        JSON.stringify({ image, ehr: {}, lang: "fr" }),
        "application/json",
        /^lang: expected one of "en", "zh", got "fr"$/,
      ],
    ];
    for (const [label, payload, type, message] of cases) {
      const r = await medical(payload, type);
      assert.equal(r.statusCode, 400, `${label}: ${r.body}`);
      const e = errorOf(r.body);
      assertOneLine(e.message);
      assert.match(e.message, message, label);
    }
  });

  test("medical multipart: no parts, an empty image file, an empty ehr file, bad fields", async () => {
    const boundary = "guards-boundary";
    const form = (parts: [name: string, value: string, file?: boolean][]) =>
      `${parts
        .map(
          ([name, value, file]) =>
            `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${file ? `; filename="${name}.bin"` : ""}\r\n\r\n${value}\r\n`,
        )
        .join("")}--${boundary}--\r\n`;
    const type = `multipart/form-data; boundary=${boundary}`;
    const cases: [string, string, RegExp][] = [
      ["no parts", `--${boundary}--\r\n`, /^image: required \(a DICOM, NIfTI, PNG or JPEG file/],
      [
        "empty image file",
        form([
          ["image", "", true],
          ["ehr", "{}", true],
        ]),
        /^image: the uploaded file is empty$/,
      ],
      [
        "empty ehr file",
        form([
          ["image", "xyz", true],
          ["ehr", " ", true],
        ]),
        /^ehr: the uploaded file is empty$/,
      ],
      [
        "ehr not JSON",
        form([
          ["image", "xyz", true],
          ["ehr", "{", true],
        ]),
        /^ehr: not valid JSON \(/,
      ],
      [
        "bad boolean",
        form([
          ["image", "xyz", true],
          ["stream", "yes"],
        ]),
        /^stream: expected "true" or "false", got "yes"$/,
      ],
      [
        "bad lang",
        form([
          ["image", "xyz", true],
          ["lang", "fr"],
        ]),
        /^lang: expected one of "en", "zh", got "fr"$/,
      ],
    ];
    for (const [label, payload, message] of cases) {
      const r = await medical(payload, type);
      assert.equal(r.statusCode, 400, `${label}: ${r.body}`);
      assertOneLine(errorOf(r.body).message);
      assert.match(errorOf(r.body).message, message, label);
    }
  });

  test("encrypted inference: no body, {}, empty arrays and strings", async () => {
    const post = (payload?: string) =>
      app.inject({
        method: "POST",
        url: "/v1/secure/infer",
        headers: { authorization: bearer, ...(payload === undefined ? {} : { "content-type": "application/json" }) },
        ...(payload === undefined ? {} : { payload }),
      });
    const cases: [string, string | undefined, RegExp][] = [
      ["no body", undefined, /^the request body: required \(a JSON object \{ model, ciphertexts, galoisKeys or keyId, … \}/],
      ["empty body", "", /^the request body is empty: expected a JSON object$/],
      ["{}", "{}", /^model: required \(a string\); ciphertexts: required \(an array of base64 ciphertexts\)/],
      [
        "no ciphertexts",
        JSON.stringify({ model: "ehr-mlp", keyId: "0".repeat(64), ciphertexts: [] }),
        /^ciphertexts: expected at least one ciphertext, got an array of 0 items$/,
      ],
      [
        "an empty ciphertext",
        JSON.stringify({ model: "ehr-mlp", keyId: "0".repeat(64), ciphertexts: [""] }),
        /^ciphertexts\[0\]: expected a base64 string, got ""$/,
      ],
      [
        "ciphertexts a string",
        JSON.stringify({ model: "ehr-mlp", keyId: "0".repeat(64), ciphertexts: "abc" }),
        /^ciphertexts: expected an array of base64 ciphertexts, got a string$/,
      ],
    ];
    for (const [label, payload, message] of cases) {
      const r = await post(payload);
      assert.equal(r.statusCode, 400, `${label}: ${r.body}`);
      assertOneLine(errorOf(r.body).message);
      assert.match(errorOf(r.body).message, message, label);
    }
  });
});

test("a hostile shape zod 4.6 throws on (an object with a `length` key) is a 400 on every route kind, not a 500", async () => {
  const hostile = { length: [{ toString: 1, valueOf: 1 }] };
  const cases: [string, Record<string, unknown>][] = [
    ["/v1/chat/completions", { model: "cloud-model", messages: hostile }],
    ["/v1/avatar/speak", { text: hostile }],
    ["/v1/medical/reports", { image: hostile, ehr: {} }],
    ["/v1/secure/infer", { model: "ehr-mlp", keyId: "0".repeat(64), ciphertexts: hostile }],
  ];
  for (const [url, payload] of cases) {
    const r = await app.inject({
      method: "POST",
      url,
      headers: { authorization: bearer, "content-type": "application/json" },
      payload: JSON.stringify(payload),
    });
    assert.equal(r.statusCode, 400, `${url}: ${r.body}`);
    assertOneLine(errorOf(r.body).message);
  }
});

test("a request Node's HTTP parser refuses gets the JSON error shape, and the server keeps serving", async () => {
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let data = "";
    socket.on("data", (d) => {
      data += d.toString();
    });
    socket.on("close", () => resolve(data));
    socket.on("error", reject);
    socket.write("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n");
  });
  assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
  const body = JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)) as ErrorAnswer;
  assert.equal(body.error.code, "malformed_request");
  const health = await fetch(`http://127.0.0.1:${port}/health`);
  assert.equal(health.status, 200);
});
