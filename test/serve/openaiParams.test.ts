// The OpenAI parameters beyond plain sampling, end to end with the official `openai` client
// against a real server on loopback (the shipped model, ONNX Runtime): response_format JSON
// (every answer parses; json_schema answers pass zod's fromJSONSchema), tools (arguments
// parse and match the tool's schema; streamed calls reassemble with the client's stream
// helper), logprobs (≤ 0, alternatives' probabilities sum to ≤ 1, streamed = whole), prompt
// arrays and n (prompt-major), best_of, and the refusals: every OpenAI parameter is honoured
// or refused with a 400 naming it, local errors carry their own codes, empty embedding
// inputs are a 400. The 200-try figures are in bench/openai-params.ts.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import OpenAI from "openai";
import type { ChatCompletionCreateParamsBase } from "openai/resources/chat/completions/completions";
import type { CompletionCreateParamsBase } from "openai/resources/completions";
import type { EmbeddingCreateParams } from "openai/resources/embeddings";
import { z } from "zod";
import { BpeTokenizer, CHAT_ROLE_TOKENS, DEFAULT_SPECIAL_TOKENS } from "../../src/data/index.js";
import { vocabularyFromBpe } from "../../src/generate/index.js";
import { longestTokenBytes } from "../../src/serve/local/lmProvider.js";
import {
  chatCompletionRequestSchema,
  completionRequestSchema,
  embeddingsRequestSchema,
  ParameterError,
  parseBody,
} from "../../src/serve/openai/index.js";
import type { Platform } from "../../src/serve/platform.js";
import { RequestRejectedError } from "../../src/serve/providers/index.js";
import { listenOnDefaults } from "../helpers/defaultServer.js";

const model = "aigc-lm-tiny";
const messages = [{ role: "user" as const, content: "Describe a person as JSON." }];

const personSchema = {
  type: "object",
  properties: {
    name: { type: "string", maxLength: 16 },
    age: { type: "integer", minimum: 0, maximum: 120 },
    tags: { type: "array", items: { enum: ["poet", "coder", "sailor"] }, maxItems: 3 },
    email: { type: ["string", "null"] },
  },
  required: ["name", "age", "tags"],
  additionalProperties: false,
} as const;
const personValidator = z.fromJSONSchema(personSchema as unknown as Parameters<typeof z.fromJSONSchema>[0]);

const weatherParameters = {
  type: "object",
  properties: {
    city: { type: "string", maxLength: 20 },
    unit: { enum: ["celsius", "fahrenheit"] },
    days: { type: "integer", minimum: 1, maximum: 7 },
  },
  required: ["city", "unit"],
  additionalProperties: false,
} as const;
const weatherValidator = z.fromJSONSchema(weatherParameters as unknown as Parameters<typeof z.fromJSONSchema>[0]);
const tools: OpenAI.ChatCompletionFunctionTool[] = [
  {
    type: "function",
    function: { name: "get_weather", description: "Weather for a city", parameters: weatherParameters, strict: true },
  },
  {
    type: "function",
    function: {
      name: "get_time",
      parameters: { type: "object", properties: { zone: { type: "string", maxLength: 8 } }, required: ["zone"] },
    },
  },
];

// ------------------------------------------------------------------------------------------
// Every parameter of the openai client's request types: honoured, or refused with a 400 naming it.

type Fate = { honoured: unknown } | { refused: unknown };
const chatParams: Record<keyof ChatCompletionCreateParamsBase, Fate> = {
  messages: { honoured: messages },
  model: { honoured: model },
  audio: { refused: { voice: "alloy", format: "mp3" } },
  frequency_penalty: { honoured: 0.5 },
  function_call: { refused: "auto" },
  functions: { refused: [{ name: "f" }] },
  logit_bias: { honoured: { "17": -100 } },
  logprobs: { honoured: true },
  max_completion_tokens: { honoured: 8 },
  max_tokens: { honoured: 8 },
  metadata: { honoured: { team: "a" } },
  modalities: { honoured: ["text"] },
  moderation: { refused: { model: "omni-moderation-latest" } },
  n: { honoured: 2 },
  parallel_tool_calls: { honoured: false },
  prediction: { honoured: { type: "content", content: "Hello" } },
  presence_penalty: { honoured: -0.5 },
  prompt_cache_key: { honoured: "k1" },
  prompt_cache_options: { honoured: { mode: "implicit" } },
  prompt_cache_retention: { honoured: "24h" },
  reasoning_effort: { refused: "low" },
  response_format: { honoured: { type: "json_object" } },
  safety_identifier: { honoured: "user-1" },
  seed: { honoured: 1 },
  service_tier: { honoured: "auto" },
  stop: { honoured: ["\n"] },
  store: { honoured: false },
  stream: { honoured: false },
  stream_options: { honoured: { include_usage: true } },
  temperature: { honoured: 0 },
  tool_choice: { honoured: "auto" },
  tools: { honoured: tools },
  top_logprobs: { honoured: 2 },
  top_p: { honoured: 0.9 },
  user: { honoured: "u" },
  verbosity: { refused: "low" },
  web_search_options: { refused: {} },
};
const completionParams: Record<keyof CompletionCreateParamsBase, Fate> = {
  model: { honoured: model },
  prompt: { honoured: ["a", "b"] },
  best_of: { honoured: 2 },
  echo: { honoured: true },
  frequency_penalty: { honoured: 1 },
  logit_bias: { honoured: { "5": 3 } },
  logprobs: { honoured: 3 },
  max_tokens: { honoured: 4 },
  n: { honoured: 2 },
  presence_penalty: { honoured: 1 },
  seed: { honoured: 1 },
  stop: { honoured: "x" },
  stream: { honoured: false },
  stream_options: { honoured: { include_usage: true } },
  suffix: { refused: " the end" },
  temperature: { honoured: 1 },
  top_p: { honoured: 1 },
  user: { honoured: "u" },
};
const embeddingParams: Record<keyof EmbeddingCreateParams, Fate> = {
  input: { honoured: ["a"] },
  model: { honoured: model },
  dimensions: { honoured: 8 },
  encoding_format: { honoured: "base64" },
  user: { honoured: "u" },
};

function refusal(schema: z.ZodType, body: unknown): ParameterError {
  try {
    parseBody(schema, body);
  } catch (e) {
    assert.ok(e instanceof ParameterError, String(e));
    return e;
  }
  assert.fail(`expected ${JSON.stringify(body)} to be refused`);
}

describe("request schemas: every OpenAI parameter is honoured or refused by name", () => {
  const cases = [
    { schema: chatCompletionRequestSchema, params: chatParams, base: { model, messages } },
    // echo and logprobs together are refused: checked below.
    { schema: completionRequestSchema, params: completionParams, base: { model, prompt: "a" } },
    { schema: embeddingsRequestSchema, params: embeddingParams, base: { model, input: "a" } },
  ];

  test("each parameter alone: honoured ones parse and are kept, refused ones are unsupported_parameter naming them", () => {
    for (const { schema, params, base } of cases) {
      for (const [name, fate] of Object.entries(params) as [string, Fate][]) {
        const extra = name === "top_logprobs" ? { logprobs: true } : {};
        if ("honoured" in fate) {
          const parsed = parseBody(schema, { ...base, ...extra, [name]: fate.honoured }) as Record<string, unknown>;
          assert.deepEqual(parsed[name], fate.honoured, name);
        } else {
          const e = refusal(schema, { ...base, [name]: fate.refused });
          assert.equal(e.code, "unsupported_parameter", name);
          assert.equal(e.param, name);
          assert.match(e.message, new RegExp(`^Unsupported parameter: '${name}' is not supported by this server \\(.+\\)\\.$`));
          // null is OpenAI's "not given", and is accepted.
          parseBody(schema, { ...base, [name]: null });
        }
      }
    }
  });

  test("property: a refused parameter with any non-null value is refused by name", () => {
    const refused = cases.flatMap(({ schema, params, base }) =>
      Object.entries(params as Record<string, Fate>)
        .filter(([, fate]) => "refused" in fate)
        .map(([name]) => ({ schema, base, name })),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...refused),
        fc.jsonValue().filter((v) => v !== null),
        ({ schema, base, name }, value) => {
          const e = refusal(schema, { ...base, [name]: value });
          assert.equal(e.param, name);
          assert.equal(e.code, "unsupported_parameter");
        },
      ),
      { numRuns: 200 },
    );
  });

  test("values this server does not implement are refused by name; cross-field rules name the field", () => {
    const chat = (extra: Record<string, unknown>) => ({ model, messages, ...extra });
    const refusedValues: [Record<string, unknown>, string][] = [
      [chat({ store: true }), "store"],
      [chat({ modalities: ["text", "audio"] }), "modalities"],
      [chat({ service_tier: "flex" }), "service_tier"],
      [{ model, prompt: "a", echo: true, logprobs: 1 }, "echo"],
    ];
    for (const [body, param] of refusedValues) {
      const e = refusal(body.messages ? chatCompletionRequestSchema : completionRequestSchema, body);
      assert.deepEqual([e.code, e.param], ["unsupported_parameter", param]);
    }
    const invalid: [z.ZodType, Record<string, unknown>, string, RegExp][] = [
      [chatCompletionRequestSchema, chat({ top_logprobs: 3 }), "top_logprobs", /logprobs: true/],
      [chatCompletionRequestSchema, chat({ top_logprobs: 21, logprobs: true }), "top_logprobs", /<= 20/],
      [chatCompletionRequestSchema, chat({ tool_choice: "required" }), "tool_choice", /expected tools/],
      [
        chatCompletionRequestSchema,
        chat({ tools, tool_choice: { type: "function", function: { name: "nope" } } }),
        "tool_choice.function.name",
        /get_weather, get_time/,
      ],
      [chatCompletionRequestSchema, chat({ tools: [tools[0], tools[0]] }), "tools[1].function.name", /unique/],
      [
        chatCompletionRequestSchema,
        chat({ tools: [{ type: "custom", custom: { name: "x" } }] }),
        "tools[0].type",
        /only function tools/,
      ],
      [chatCompletionRequestSchema, chat({ temperature: 3 }), "temperature", /<= 2/],
      [completionRequestSchema, { model, prompt: ["a", "b"], n: 20 }, "n", /at most 32 generations/],
      [completionRequestSchema, { model, prompt: "a", n: 3, best_of: 2 }, "best_of", /best_of ≥ n/],
      [completionRequestSchema, { model, prompt: "a", best_of: 2, stream: true }, "best_of", /when streaming/],
      [completionRequestSchema, { model, prompt: "a", logprobs: 6 }, "logprobs", /<= 5/],
    ];
    for (const [schema, body, param, message] of invalid) {
      const e = refusal(schema, body);
      assert.equal(e.param, param, e.message);
      assert.match(e.message, message);
      assert.equal(e.status, 400);
    }
  });

  test("empty embedding inputs are a 400 naming the input", () => {
    for (const [input, param] of [
      ["", "input"],
      [[], "input"],
      [[""], "input[0]"],
      [["a", ""], "input[1]"],
      [[[1], []], "input[1]"],
    ] as const) {
      const e = refusal(embeddingsRequestSchema, { model, input });
      assert.deepEqual([e.code, e.param], ["empty_input", param], JSON.stringify(input));
    }
  });
});

// ------------------------------------------------------------------------------------------
// The server

let platform: Platform;
let close: () => Promise<void>;
let openai: OpenAI;
let baseUrl: string;

before(async () => {
  ({ platform, openai, baseUrl, close } = await listenOnDefaults());
});

after(async () => {
  await close?.();
});

const tries = (n: number) => Array.from({ length: n }, (_, i) => i);

describe("response_format", () => {
  test("json_object: 20 sampled answers all parse as JSON objects, and end by themselves", async () => {
    const answers = await Promise.all(
      tries(20).map((seed) =>
        openai.chat.completions.create({
          model,
          messages,
          response_format: { type: "json_object" },
          temperature: 1,
          seed,
          max_tokens: 48,
        }),
      ),
    );
    for (const a of answers) {
      const value = JSON.parse(a.choices[0].message.content!) as unknown;
      assert.ok(typeof value === "object" && value !== null && !Array.isArray(value), a.choices[0].message.content!);
      assert.equal(a.choices[0].finish_reason, "stop");
    }
  });

  test("json_schema: 20 sampled answers all parse and pass zod's fromJSONSchema; streamed ones too", async () => {
    const response_format = { type: "json_schema" as const, json_schema: { name: "person", schema: personSchema, strict: true } };
    const answers = await Promise.all(
      tries(20).map((seed) =>
        openai.chat.completions.create({ model, messages, response_format, temperature: 1, seed, max_tokens: 48 }),
      ),
    );
    for (const a of answers) {
      const text = a.choices[0].message.content!;
      const parsed = personValidator.safeParse(JSON.parse(text));
      assert.ok(parsed.success, `${text}: ${parsed.error?.message}`);
      assert.equal(a.choices[0].finish_reason, "stop", text);
    }
    let streamed = "";
    for await (const chunk of await openai.chat.completions.create({
      model,
      messages,
      response_format,
      temperature: 0,
      max_tokens: 48,
      stream: true,
    })) {
      streamed += chunk.choices[0]?.delta.content ?? "";
    }
    assert.ok(personValidator.safeParse(JSON.parse(streamed)).success, streamed);
  });

  test("the budget closes the value: the shortest answer fits in its length; below that, an honest 'length'", async () => {
    const response_format = { type: "json_schema" as const, json_schema: { name: "person", schema: personSchema } };
    const shortest = '{"name":"","age":0,"tags":[]}'.length; // one byte per token at worst, plus eos
    const fits = await openai.chat.completions.create({ model, messages, response_format, max_tokens: shortest + 1, seed: 3 });
    assert.ok(personValidator.safeParse(JSON.parse(fits.choices[0].message.content!)).success);
    assert.equal(fits.choices[0].finish_reason, "stop");
    const cut = await openai.chat.completions.create({ model, messages, response_format, max_tokens: 4, seed: 3 });
    assert.equal(cut.choices[0].finish_reason, "length");
    assert.throws(() => JSON.parse(cut.choices[0].message.content!));
  });

  test("a schema outside the supported subset is a 400 that says which keyword", async () => {
    await assert.rejects(
      openai.chat.completions.create({
        model,
        messages,
        response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "string", pattern: "^a" } } },
      }),
      (e: unknown) =>
        e instanceof OpenAI.BadRequestError &&
        /response_format\.json_schema\.schema: .*"pattern" is not supported/.test(e.message),
    );
  });
});

describe("tools", () => {
  const ask = { model, messages: [{ role: "user" as const, content: "What is the weather in Paris?" }], tools, max_tokens: 64 };

  test('"required": 20 sampled calls all parse and match their tool\'s parameters', async () => {
    const answers = await Promise.all(
      tries(20).map((seed) => openai.chat.completions.create({ ...ask, tool_choice: "required", temperature: 1, seed })),
    );
    const validators: Record<string, z.ZodType> = {
      get_weather: weatherValidator,
      get_time: z.object({ zone: z.string().max(8) }).strict(),
    };
    for (const a of answers) {
      const { message, finish_reason } = a.choices[0];
      assert.equal(finish_reason, "tool_calls");
      assert.equal(message.content, null);
      assert.equal(message.tool_calls?.length, 1);
      const call = message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
      assert.match(call.id, /^call_[0-9a-f]{24}$/);
      assert.equal(call.type, "function");
      const parsed = validators[call.function.name].safeParse(JSON.parse(call.function.arguments));
      assert.ok(parsed.success, `${call.function.name}(${call.function.arguments}): ${parsed.error?.message}`);
    }
  });

  test("a named function is the one called; streamed, the client's stream helper reassembles the call", async () => {
    const tool_choice = { type: "function" as const, function: { name: "get_weather" } };
    const stream = openai.chat.completions.stream({ ...ask, tool_choice, temperature: 0 });
    const done: unknown[] = [];
    stream.on("tool_calls.function.arguments.done", (e) => done.push(e.parsed_arguments));
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    stream.on("chunk", (c) => chunks.push(c));
    const final = await stream.finalChatCompletion();
    const call = final.choices[0].message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    assert.equal(call.function.name, "get_weather");
    assert.equal(final.choices[0].finish_reason, "tool_calls");
    const args = JSON.parse(call.function.arguments) as unknown;
    assert.ok(weatherValidator.safeParse(args).success, call.function.arguments);
    assert.deepEqual(done, [args], "strict: true, so the helper parsed the arguments");
    // The first tool-call delta has the id, type and name; later ones only add arguments.
    const deltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    assert.ok(deltas.length >= 2);
    assert.deepEqual(
      [deltas[0].index, deltas[0].id, deltas[0].type, deltas[0].function?.name],
      [0, call.id, "function", "get_weather"],
    );
    assert.ok(deltas.slice(1).every((d) => d.index === 0 && d.id === undefined && d.function?.name === undefined));
    // Whole and streamed agree (greedy; the seed keeps it from being a cache hit).
    const whole = await openai.chat.completions.create({ ...ask, tool_choice, temperature: 0, seed: 1 });
    assert.equal(
      (whole.choices[0].message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall).function.arguments,
      call.function.arguments,
    );
  });

  test('"auto": each choice is either text or a valid call; tool results and earlier calls are accepted as messages', async () => {
    const history: OpenAI.ChatCompletionMessageParam[] = [
      { role: "user", content: "Weather in Oslo?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo","unit":"celsius"}' } },
        ],
      },
      { role: "tool", tool_call_id: "call_1", content: '{"temp":3}' },
      { role: "user", content: "And in Paris?" },
    ];
    const answer = await openai.chat.completions.create({
      model,
      messages: history,
      tools,
      n: 6,
      temperature: 1,
      seed: 5,
      max_tokens: 40,
    });
    assert.equal(answer.choices.length, 6);
    for (const c of answer.choices) {
      if (c.message.tool_calls) {
        assert.equal(c.finish_reason, "tool_calls");
        const call = c.message.tool_calls[0] as OpenAI.ChatCompletionMessageFunctionToolCall;
        JSON.parse(call.function.arguments);
      } else {
        assert.equal(typeof c.message.content, "string");
        assert.doesNotMatch(c.message.content!, /^ ?\{/, "text never starts like a call");
        assert.ok(c.finish_reason === "stop" || c.finish_reason === "length");
      }
    }
    assert.deepEqual(
      answer.choices.map((c) => c.index),
      [0, 1, 2, 3, 4, 5],
    );
  });

  test("a cached streamed call replays whole and streamed", async () => {
    const body = {
      ...ask,
      tool_choice: "required" as const,
      temperature: 0,
      messages: [{ role: "user" as const, content: "Cache this call" }],
    };
    let streamedArgs = "";
    for await (const c of await openai.chat.completions.create({ ...body, stream: true })) {
      streamedArgs += c.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? "";
    }
    const hit = await openai.chat.completions.create(body).withResponse();
    assert.equal(hit.response.headers.get("x-aigc-cache"), "hit");
    const call = hit.data.choices[0].message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    assert.equal(call.function.arguments, streamedArgs);
    assert.equal(hit.data.choices[0].finish_reason, "tool_calls");
    const replay = await openai.chat.completions.stream(body).finalChatCompletion();
    assert.equal(
      (replay.choices[0].message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall).function.arguments,
      streamedArgs,
    );
  });
});

describe("logprobs", () => {
  const checkEntries = (entries: OpenAI.ChatCompletionTokenLogprob[], content: string, top: number, constrained = false) => {
    assert.ok(entries.length > 0);
    for (const e of entries) {
      assert.ok(e.logprob <= 0);
      // Fewer where the constraint leaves fewer tokens possible (the rest have probability 0).
      assert.ok(e.top_logprobs.length >= 1 && e.top_logprobs.length <= top);
      if (!constrained) assert.equal(e.top_logprobs.length, top);
      assert.ok(e.top_logprobs.reduce((s, t) => s + Math.exp(t.logprob), 0) <= 1 + 1e-9);
    }
    // The tokens' bytes spell the content exactly.
    assert.equal(Buffer.from(entries.flatMap((e) => e.bytes!)).toString("utf8"), content);
  };

  test("chat: per token, logprob ≤ 0 and the alternatives' probabilities sum to ≤ 1; streamed = whole", async () => {
    const ask = {
      model,
      messages: [{ role: "user" as const, content: "Tell me a fortune" }],
      logprobs: true,
      top_logprobs: 5,
      temperature: 0,
      max_tokens: 16,
    };
    const whole = await openai.chat.completions.create(ask);
    const content = whole.choices[0].message.content!;
    checkEntries(whole.choices[0].logprobs!.content!, content, 5);
    const streamed: OpenAI.ChatCompletionTokenLogprob[] = [];
    // seed changes the cache key, not a greedy answer: the stream comes from the model, not from the cache.
    for await (const c of await openai.chat.completions.create({ ...ask, seed: 1, stream: true }))
      streamed.push(...(c.choices[0]?.logprobs?.content ?? []));
    assert.deepEqual(streamed, whole.choices[0].logprobs!.content);
    // Sampled at temperature 1.3 and constrained to JSON: still a distribution (the one sampled from).
    const json = await openai.chat.completions.create({
      ...ask,
      temperature: 1.3,
      seed: 2,
      response_format: { type: "json_object" },
      max_tokens: 24,
    });
    checkEntries(json.choices[0].logprobs!.content!, json.choices[0].message.content!, 5, true);
  });

  test("completions: logprobs k gives tokens, token_logprobs, top_logprobs and text_offset per token", async () => {
    const c = await openai.completions.create({
      model,
      prompt: "The sea",
      logprobs: 3,
      max_tokens: 10,
      temperature: 0.7,
      seed: 4,
    });
    const { text, logprobs } = c.choices[0];
    const lp = logprobs!;
    const n = lp.tokens!.length;
    assert.ok(n > 0);
    assert.deepEqual([lp.token_logprobs!.length, lp.top_logprobs!.length, lp.text_offset!.length], [n, n, n]);
    assert.ok(lp.token_logprobs!.every((x) => x <= 0));
    for (const top of lp.top_logprobs!) {
      assert.ok(Object.keys(top).length <= 3);
      assert.ok(Object.values(top).reduce((s, x) => s + Math.exp(x), 0) <= 1 + 1e-9);
    }
    assert.equal(lp.text_offset![0], 0);
    for (let i = 1; i < n; i++) assert.ok(lp.text_offset![i] >= lp.text_offset![i - 1] && lp.text_offset![i] <= text.length);
  });
});

describe("prompt arrays, n and best_of", () => {
  test("completions: strings and token-id prompts × n, numbered prompt-major; streamed the same", async () => {
    const prompts = ["The sea", "const x = "];
    const ask = { model, prompt: prompts, n: 3, echo: true, max_tokens: 6, temperature: 0.9, seed: 11 };
    const whole = await openai.completions.create(ask);
    assert.equal(whole.choices.length, 6);
    whole.choices.forEach((c, i) => {
      assert.equal(c.index, i);
      assert.ok(c.text.startsWith(prompts[Math.floor(i / 3)]), `choice ${i}: ${c.text}`);
    });
    const texts = new Map<number, string>();
    // frequency_penalty 0 is the default: a different cache key, the same answer.
    for await (const chunk of await openai.completions.create({ ...ask, frequency_penalty: 0, stream: true })) {
      for (const c of chunk.choices) texts.set(c.index, (texts.get(c.index) ?? "") + c.text);
    }
    assert.deepEqual(
      [...texts].sort(([a], [b]) => a - b).map(([, t]) => t),
      whole.choices.map((c) => c.text),
      "seeded: streamed = whole",
    );
    // Token ids: one list, or several.
    const ids = await openai.completions.create({ model, prompt: [[70, 104, 101], [65]], max_tokens: 4, temperature: 0 });
    assert.deepEqual(
      ids.choices.map((c) => c.index),
      [0, 1],
    );
    assert.equal(ids.usage!.prompt_tokens, 4);
    const one = await openai.completions.create({ model, prompt: [70, 104, 101], max_tokens: 4, temperature: 0 });
    assert.equal(one.choices[0].text, ids.choices[0].text);
  });

  test("chat n: distinct seeded choices, usage counts every completion token once and the prompt once", async () => {
    const ask = { model, messages: [{ role: "user" as const, content: "Hi" }], n: 4, max_tokens: 8, temperature: 1, seed: 9 };
    const a = await openai.chat.completions.create(ask);
    assert.equal(a.choices.length, 4);
    const single = await openai.chat.completions.create({ ...ask, n: 1 });
    assert.equal(a.choices[0].message.content, single.choices[0].message.content, "choice 0 uses the request's seed");
    assert.equal(a.usage!.prompt_tokens, single.usage!.prompt_tokens);
  });

  test("best_of: the n best of best_of candidates by mean token log probability; usage counts all", async () => {
    const ask = { model, prompt: "The sea", max_tokens: 6, seed: 1, logprobs: 0 };
    // n = best_of = 4 shows every candidate (candidate k uses seed + k either way).
    const all = await openai.completions.create({ ...ask, n: 4 });
    const mean = (c: OpenAI.CompletionChoice) =>
      c.logprobs!.token_logprobs!.reduce((s, x) => s + x, 0) / c.logprobs!.token_logprobs!.length;
    const ranked = [...all.choices].sort((a, b) => mean(b) - mean(a));
    const best = await openai.completions.create({ ...ask, n: 2, best_of: 4 });
    assert.deepEqual(
      best.choices.map((c) => [c.index, c.text]),
      ranked.slice(0, 2).map((c, i) => [i, c.text]),
    );
    assert.equal(best.usage!.completion_tokens, all.usage!.completion_tokens);
    const plain = await openai.completions.create({ model, prompt: "The sea", max_tokens: 6, seed: 1, best_of: 3 });
    assert.deepEqual(
      plain.choices.map((c) => [c.index, c.logprobs]),
      [[0, null]],
      "logprobs only when asked",
    );
  });
});

describe("errors of the local model have their own codes", () => {
  const local = () => platform.router.providers.find((p) => p.zone === "private")!;
  const ctx = { signal: new AbortController().signal };

  test("empty prompt, context length, bad token ids, logit_bias ids: RequestRejectedError with code and param", async () => {
    const cases: [Promise<unknown>, string, string][] = [
      [local().completion(parseBody(completionRequestSchema, { model, prompt: "" }), ctx), "empty_prompt", "prompt"],
      [
        local().completion(parseBody(completionRequestSchema, { model, prompt: "word ".repeat(400) }), ctx),
        "context_length_exceeded",
        "prompt",
      ],
      [
        local().chat(
          parseBody(chatCompletionRequestSchema, { model, messages: [{ role: "user", content: "word ".repeat(400) }] }),
          ctx,
        ),
        "context_length_exceeded",
        "messages",
      ],
      [
        local().completion(parseBody(completionRequestSchema, { model, prompt: [[1], [99999]] }), ctx),
        "invalid_token_id",
        "prompt[1]",
      ],
      [
        local().completion(parseBody(completionRequestSchema, { model, prompt: "a", logit_bias: { "99999": 1 } }), ctx),
        "invalid_token_id",
        "logit_bias",
      ],
      [
        local().chat(
          parseBody(chatCompletionRequestSchema, { model, messages, tools, response_format: { type: "json_object" } }),
          ctx,
        ),
        "unsupported_parameter",
        "response_format",
      ],
    ];
    for (const [call, code, param] of cases) {
      await assert.rejects(call, (e: unknown) => {
        assert.ok(e instanceof RequestRejectedError, String(e));
        assert.deepEqual([e.status, e.apiCode, e.param], [400, code, param]);
        return true;
      });
    }
  });

  test("over HTTP: unsupported parameters and empty inputs are 400s with their codes", async () => {
    // OpenAI's error shape: `param` names the field (the client reads it as e.param).
    await assert.rejects(
      openai.chat.completions.create({ model, messages, audio: { voice: "alloy", format: "mp3" }, modalities: ["text"] }),
      (e: unknown) =>
        e instanceof OpenAI.BadRequestError &&
        e.code === "unsupported_parameter" &&
        e.param === "audio" &&
        /'audio'/.test(e.message),
    );
    await assert.rejects(
      openai.completions.create({ model, prompt: "a", suffix: "b" }),
      (e: unknown) =>
        e instanceof OpenAI.BadRequestError &&
        e.code === "unsupported_parameter" &&
        e.param === "suffix" &&
        /'suffix'/.test(e.message),
    );
    // A local refusal carries its param too; an error of the request as a whole has param null.
    await assert.rejects(
      openai.chat.completions.create({ model, messages: [{ role: "user", content: "word ".repeat(400) }] }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && e.code === "context_length_exceeded" && e.param === "messages",
    );
    const raw = await fetch(`${baseUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "[1]",
    });
    assert.equal(raw.status, 400);
    const error = ((await raw.json()) as { error: Record<string, unknown> }).error;
    assert.deepEqual(Object.keys(error).sort(), ["code", "message", "param", "type"]);
    assert.equal(error.param, null);
    for (const input of ["", [], [""]]) {
      await assert.rejects(
        openai.embeddings.create({ model, input }),
        (e: unknown) => e instanceof OpenAI.BadRequestError && e.code === "empty_input" && /'input/.test(e.message),
      );
    }
    await assert.rejects(
      openai.completions.create({ model, prompt: "" }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && /prompt is empty/.test(e.message),
    );
  });
});

describe("prompts that can not fit the context are refused before they are tokenised", () => {
  const local = () => platform.local!;
  const ctx = { signal: new AbortController().signal };
  /** 900 KB, under the 1 MiB body limit: ~95 ms of BPE on this machine, ~420k tokens. */
  const huge = "The quick brown fox jumps over the lazy dog. ".repeat(20_000);

  test("the local engine: context_length_exceeded by the byte count, naming the field (prompt, prompt[i], messages, input)", async () => {
    const bound = local().maxPromptBytes(model)!;
    assert.ok(bound > 0 && bound < Buffer.byteLength(huge), `${bound}`);
    const cases: [() => Promise<unknown>, string][] = [
      [() => local().completion(parseBody(completionRequestSchema, { model, prompt: huge }), ctx), "prompt"],
      [() => local().completion(parseBody(completionRequestSchema, { model, prompt: ["a", huge] }), ctx), "prompt[1]"],
      [
        () => local().chat(parseBody(chatCompletionRequestSchema, { model, messages: [{ role: "user", content: huge }] }), ctx),
        "messages",
      ],
      [() => local().embeddings(parseBody(embeddingsRequestSchema, { model, input: huge }), ctx), "input"],
    ];
    for (const [call, param] of cases) {
      const t0 = performance.now();
      await assert.rejects(call(), (e: unknown) => {
        assert.ok(e instanceof RequestRejectedError, String(e));
        assert.deepEqual([e.apiCode, e.param], ["context_length_exceeded", param]);
        // The byte check's words ("is N bytes"), not the token count's ("has N tokens"): never tokenised.
        assert.match(e.message, /maximum context length is 256 tokens; the (prompt|input) is 9000\d\d bytes/);
        return true;
      });
      console.log(`${param}: 900 KB refused in ${(performance.now() - t0).toFixed(1)} ms`);
    }
    // Under the byte bound but over the context once tokenised: counted, and refused the same way.
    await assert.rejects(
      local().embeddings(parseBody(embeddingsRequestSchema, { model, input: ["a", "word ".repeat(400)] }), ctx),
      (e: unknown) =>
        e instanceof RequestRejectedError &&
        e.apiCode === "context_length_exceeded" &&
        /'input' \[1\] has \d+ tokens/.test(e.message),
    );
  });

  test("property: a text encodes to at least its UTF-8 bytes / the longest token's bytes (the byte check refuses only what can not fit)", () => {
    const tokenizer = BpeTokenizer.load("assets/lm-tiny/tokenizer.json");
    const longest = longestTokenBytes(vocabularyFromBpe(tokenizer), (id) => tokenizer.tokenOf(id));
    const piece = fc.oneof(
      fc.string({ unit: "binary", maxLength: 40 }),
      fc.string({ unit: "grapheme", maxLength: 40 }),
      fc.constantFrom(
        ...DEFAULT_SPECIAL_TOKENS,
        ...CHAT_ROLE_TOKENS,
        "<|image_17|>",
        " the",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      ),
      fc.string({ unit: fc.constantFrom("a", " ", "=", "-", "\n", "0"), maxLength: 200 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
        const text = pieces.join("");
        const ids = tokenizer.encode(text);
        assert.ok(ids.length * longest >= Buffer.byteLength(text, "utf8"), `${ids.length} tokens for ${JSON.stringify(text)}`);
      }),
      { numRuns: 500 },
    );
  });

  test("over HTTP: 413 text_too_long before the schema, the PII scan or the tokeniser; a body that might fit passes the step", async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${baseUrl}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    for (const [path, body] of [
      ["/v1/chat/completions", { model, messages: [{ role: "user", content: huge }] }],
      ["/v1/completions", { model, prompt: huge }],
      ["/v1/embeddings", { model, input: huge }],
    ] as const) {
      const t0 = performance.now();
      const r = await post(path, body);
      const ms = performance.now() - t0;
      const error = ((await r.json()) as { error: { code: string; message: string; param: unknown } }).error;
      assert.equal(r.status, 413, `${path}: ${error.message}`);
      assert.equal(error.code, "text_too_long");
      assert.equal(error.param, null);
      console.log(`${path}: 900 KB prompt refused (413) in ${ms.toFixed(1)} ms`);
    }
    // Several prompts may each fill the context: the limit grows with them (and the engine counts each).
    const each = "word ".repeat(1200); // 6000 bytes: under one prompt's bound, over its context once tokenised
    const several = await post("/v1/completions", { model, prompt: [each, each, each], max_tokens: 1 });
    assert.equal(several.status, 400);
    assert.equal(((await several.json()) as { error: { code: string } }).error.code, "context_length_exceeded");
    // An unknown model is not the text step's business: the schema and the router answer it.
    const unknown = await post("/v1/chat/completions", { model: "nope", messages: [{ role: "user", content: huge }] });
    assert.notEqual(unknown.status, 413);
  });
});
