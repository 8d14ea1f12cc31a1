// Request-body schemas and parseBody: OpenAI-style messages, tolerance of what real clients
// send, and (property-based) nothing but HttpError 400 on arbitrary JSON.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import type OpenAI from "openai";
import type { z } from "zod";
import { HttpError } from "../../src/serve/errors.js";
import {
  type ChatCompletion,
  type ChatCompletionChunk,
  type Completion,
  type CreateEmbeddingResponse,
  chatCompletionRequestSchema,
  completionRequestSchema,
  embeddingsRequestSchema,
  type ModelList,
  maxEmbeddingInputs,
  ParameterError,
  parseBody,
} from "../../src/serve/openai/index.js";

function badRequest(schema: z.ZodType, body: unknown): HttpError {
  try {
    parseBody(schema, body);
  } catch (e) {
    assert.ok(e instanceof HttpError, `expected an HttpError, got ${String(e)}`);
    assert.equal(e.status, 400);
    assert.equal(e.type, "invalid_request_error");
    return e;
  }
  assert.fail(`expected ${JSON.stringify(body)} to be rejected`);
}

const chat = (extra: Record<string, unknown> = {}) => ({ model: "m", messages: [{ role: "user", content: "hi" }], ...extra });

describe("chat completion requests", () => {
  test("accepts what the openai client and the AI SDK send, normalising null to undefined and dropping unknown fields", () => {
    const req = parseBody(chatCompletionRequestSchema, {
      model: "aigc-lm-tiny",
      messages: [
        { role: "system", content: "Be brief." },
        {
          role: "developer",
          content: [
            { type: "text", text: "Style: " },
            { type: "text", text: "terse" },
          ],
        },
        { role: "user", content: "Hello", name: "ann" },
        { role: "assistant", content: null },
        { role: "tool", content: "42", tool_call_id: "call_1" },
      ],
      max_tokens: null,
      max_completion_tokens: 64,
      temperature: 0,
      top_p: 1,
      n: 1,
      stop: ["\n\n"],
      stream: true,
      stream_options: { include_usage: true },
      seed: 7,
      presence_penalty: -2,
      frequency_penalty: 2,
      user: "u-1",
      response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "object" }, strict: true } },
      tools: [],
      logit_bias: { "50256": -100 },
      x_vendor_option: { anything: true },
    });
    assert.equal(req.max_tokens, undefined);
    assert.equal(req.max_completion_tokens, 64);
    assert.equal(req.messages.length, 5);
    assert.equal(req.messages[3].content, undefined);
    assert.deepEqual(req.stream_options, { include_usage: true });
    assert.deepEqual(req.tools, []);
    assert.deepEqual(req.logit_bias, { "50256": -100 });
    assert.equal("x_vendor_option" in req, false);
  });

  test("errors name the field path and what was expected, as OpenAI does", () => {
    const cases: Array<[unknown, string]> = [
      [
        { ...chat(), messages: [{ role: "user", content: 5 }] },
        "Invalid type for 'messages[0].content': expected a string or an array of text parts, got 5.",
      ],
      [
        { ...chat(), messages: [{ role: "user", content: [{ type: "text", text: 5 }] }] },
        "Invalid type for 'messages[0].content[0].text': expected a string, got 5.",
      ],
      [
        { ...chat(), messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "x" } }] }] },
        'Invalid value for \'messages[0].content[0].type\': expected "text": only text content parts are supported, got "image_url".',
      ],
      [chat({ temperature: 2.5 }), "Invalid value for 'temperature': expected a number <= 2, got 2.5."],
      [
        chat({ stop: ["a", "b", "c", "d", "e"] }),
        "Invalid value for 'stop': expected at most 4 stop sequences, got an array of 5 items.",
      ],
      [chat({ max_tokens: 0 }), "Invalid value for 'max_tokens': expected a positive integer, got 0."],
      [{ model: "m" }, "Missing required parameter: 'messages' (expected an array)."],
      [{ model: "m", messages: [] }, "Invalid value for 'messages': expected at least one message, got an array of 0 items."],
      [null, "Invalid type for the request body: expected an object, got null."],
    ];
    for (const [body, message] of cases) assert.equal(badRequest(chatCompletionRequestSchema, body).message, message);
  });

  test("n from 1 to 32; more is a clear 400", () => {
    assert.equal(parseBody(chatCompletionRequestSchema, chat({ n: 3 })).n, 3);
    const e = badRequest(chatCompletionRequestSchema, chat({ n: 33 }));
    assert.equal(e.code, "invalid_value");
    assert.match(e.message, /^Invalid value for 'n': expected an integer from 1 to 32/);
  });

  test("property: arbitrary JSON never throws anything but HttpError 400", () => {
    for (const schema of [chatCompletionRequestSchema, completionRequestSchema, embeddingsRequestSchema]) {
      fc.assert(
        fc.property(fc.jsonValue(), (body) => {
          try {
            parseBody(schema, body);
          } catch (e) {
            assert.ok(e instanceof HttpError && e.status === 400, String(e));
            assert.match(e.message, /^(Invalid (type|value) for ('[^']+'|the request body)|Missing re)/);
          }
        }),
        { numRuns: 300 },
      );
    }
  });

  test("a shape zod 4.6 throws a TypeError on is a 400 on the body for direct callers too", () => {
    const hostile = JSON.parse('{"length": [{"toString": 1, "valueOf": 1}]}') as unknown;
    const cases: [z.ZodType, unknown][] = [
      [chatCompletionRequestSchema, { model: "m", messages: hostile }],
      [chatCompletionRequestSchema, chat({ stop: hostile })],
      [completionRequestSchema, { model: "m", prompt: hostile }],
      [embeddingsRequestSchema, { model: "m", input: hostile }],
    ];
    for (const [schema, body] of cases) {
      const e = badRequest(schema, body);
      assert.ok(e instanceof ParameterError, String(e));
      assert.deepEqual([e.code, e.param], ["invalid_value", null]);
      assert.match(e.message, /^Invalid value for the request body: expected the documented shape/);
    }
    // Where zod gets through it, the field is named as usual.
    const content = badRequest(chatCompletionRequestSchema, { model: "m", messages: [{ role: "user", content: hostile }] });
    assert.deepEqual([content.code, (content as ParameterError).param], ["invalid_type", "messages[0].content"]);
  });

  test("property: any field holding an object with a `length` key is accepted or a 400, never a TypeError", () => {
    const fields = ["messages", "stop", "tools", "logit_bias", "model", "user", "n", "response_format"];
    const lengthy = fc.record({
      length: fc.oneof(fc.jsonValue(), fc.array(fc.record({ toString: fc.jsonValue(), valueOf: fc.jsonValue() }))),
    });
    fc.assert(
      fc.property(fc.constantFrom(...fields), lengthy, fc.boolean(), (field, value, nested) => {
        const body = nested ? { model: "m", messages: [{ role: "user", [field]: value }] } : chat({ [field]: value });
        try {
          parseBody(chatCompletionRequestSchema, body);
        } catch (e) {
          assert.ok(e instanceof ParameterError && e.status === 400, String(e));
        }
      }),
      { numRuns: 300 },
    );
  });

  test("property: a field replaced by arbitrary JSON is either accepted or named in the error", () => {
    const fields = [
      "model",
      "messages",
      "max_tokens",
      "temperature",
      "top_p",
      "n",
      "stop",
      "stream",
      "stream_options",
      "seed",
      "user",
    ];
    fc.assert(
      fc.property(fc.constantFrom(...fields), fc.jsonValue(), (field, value) => {
        const body = { ...chat({ max_tokens: 8, stop: "x" }), [field]: value };
        try {
          parseBody(chatCompletionRequestSchema, body);
        } catch (e) {
          assert.ok(e instanceof HttpError);
          assert.ok(e.message.includes(`'${field}`), `${e.message} should name ${field}`);
        }
      }),
      { numRuns: 500 },
    );
  });

  test("property: valid requests parse to the same messages and sampling values", () => {
    const message = fc.record({
      role: fc.constantFrom("system", "user", "assistant"),
      content: fc.oneof(fc.string(), fc.array(fc.record({ type: fc.constant("text"), text: fc.string() }))),
    });
    fc.assert(
      fc.property(
        fc.array(message, { minLength: 1, maxLength: 4 }),
        fc.double({ min: 0, max: 2, noNaN: true }),
        fc.integer({ min: 1, max: 4096 }),
        (messages, temperature, maxTokens) => {
          const req = parseBody(chatCompletionRequestSchema, { model: "m", messages, temperature, max_tokens: maxTokens });
          const plain = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;
          assert.deepEqual(plain(req.messages), plain(messages));
          assert.equal(req.temperature, temperature);
          assert.equal(req.max_tokens, maxTokens);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("completion and embedding requests", () => {
  test("prompt is a string, strings, token ids or token-id lists; anything else is refused clearly", () => {
    for (const prompt of ["a", ["a", "b"], [1, 2], [[1], [2, 3]]]) {
      assert.deepEqual(parseBody(completionRequestSchema, { model: "m", prompt }).prompt, prompt);
    }
    assert.match(
      badRequest(completionRequestSchema, { model: "m", prompt: 3 }).message,
      /'prompt': expected a string, a non-empty array/,
    );
    assert.match(badRequest(completionRequestSchema, { model: "m", prompt: [[1, -2]] }).message, /'prompt\[0\]\[1\]'/);
    assert.match(badRequest(completionRequestSchema, { model: "m", prompt: [] }).message, /'prompt'/);
  });

  test("embedding input: string, strings, token ids; encoding format and dimensions checked", () => {
    for (const input of ["a", ["a", "b"], [1, 2], [[1], [2, 3]]]) {
      assert.deepEqual(parseBody(embeddingsRequestSchema, { model: "e", input }).input, input);
    }
    const req = parseBody(embeddingsRequestSchema, { model: "e", input: "a", encoding_format: "base64", dimensions: 64 });
    assert.deepEqual([req.encoding_format, req.dimensions], ["base64", 64]);
    assert.equal(
      badRequest(embeddingsRequestSchema, { model: "e", input: "a", encoding_format: "hex" }).message,
      'Invalid value for \'encoding_format\': expected one of "float", "base64", got "hex".',
    );
    assert.match(
      badRequest(embeddingsRequestSchema, { model: "e", input: [[1, -1]] }).message,
      /'input\[0\]\[1\]': expected a number >= 0/,
    );
    assert.match(badRequest(embeddingsRequestSchema, { model: "e", input: [] }).message, /'input'/);
    const many = Array.from({ length: maxEmbeddingInputs + 1 }, () => "x");
    assert.match(
      badRequest(embeddingsRequestSchema, { model: "e", input: many }).message,
      /an array of 1 to 2048 strings.*got an array of 2049 items/,
    );
    assert.equal(parseBody(embeddingsRequestSchema, { model: "e", input: many.slice(1) }).input.length, maxEmbeddingInputs);
  });
});

describe("response types", () => {
  // Compile-time: our response objects are what the official client's types describe.
  const asOpenAi = {
    chat: (c: ChatCompletion): OpenAI.ChatCompletion => c,
    chunk: (c: ChatCompletionChunk): OpenAI.ChatCompletionChunk => c,
    // Not all of Completion: the client types `finish_reason` and `usage` as never null, but streamed
    // completions carry null in both until the end.
    completion: (c: Completion): Omit<OpenAI.Completion, "choices" | "usage"> => c,
    embeddings: (e: CreateEmbeddingResponse): Omit<OpenAI.CreateEmbeddingResponse, "data"> => e,
    model: (m: ModelList["data"][number]): OpenAI.Model => m,
  };

  test("a chat completion built with our types satisfies the openai client's types", () => {
    const c: ChatCompletion = {
      id: "chatcmpl-1",
      object: "chat.completion",
      created: 1,
      model: "m",
      choices: [
        { index: 0, message: { role: "assistant", content: "hi", refusal: null }, logprobs: null, finish_reason: "stop" },
      ],
      usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      system_fingerprint: "fp",
    };
    assert.equal(asOpenAi.chat(c).choices[0].message.content, "hi");
  });
});
