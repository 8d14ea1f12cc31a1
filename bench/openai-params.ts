// The OpenAI parameters that constrain or annotate a reply, measured through the real server
// (loopback, the shipped model, the official `openai` client): for each mode, `tries`
// sampled requests (temperature 1, seeds 0…tries-1, default max_tokens unless said, 8 in
// flight so they batch):
//   json_object        content parses as a JSON object
//   json_schema        content parses and passes zod's fromJSONSchema (an independent validator)
//   tools required     one call; its arguments parse and match the tool's parameters
//   tools streamed     the client's stream helper reassembles the same kind of call
//   tools auto         how often the model chooses a call (and that every choice is valid)
//   logprobs           logprob ≤ 0 and Σ exp(top_logprobs) ≤ 1 for every token (and, counted
//                      apart, whether the tokens' bytes spell the content: not where the
//                      unconstrained model wrote invalid UTF-8 or was cut inside a character)
// Prints JSON: per mode the counts, finish reasons, mean completion tokens, wall seconds.
//   node --import tsx bench/openai-params.ts [--tries 200]

import OpenAI from "openai";
import { z } from "zod";
import { buildApp } from "../src/serve/app.js";
import { serverConfigSchema } from "../src/serve/config.js";
import { createPlatform } from "../src/serve/platform.js";

const triesArg = process.argv.indexOf("--tries");
const tries = triesArg > 0 ? Number(process.argv[triesArg + 1]) : 200;
const inFlight = 8;
const model = "aigc-lm-tiny";

const personSchema = {
  type: "object",
  properties: {
    name: { type: "string", maxLength: 24 },
    age: { type: "integer", minimum: 0, maximum: 120 },
    tags: { type: "array", items: { enum: ["poet", "coder", "sailor"] }, maxItems: 3 },
    email: { type: ["string", "null"] },
    score: { type: "number", minimum: 0, maximum: 1 },
  },
  required: ["name", "age", "tags"],
  additionalProperties: false,
};
const weather = {
  type: "object",
  properties: {
    city: { type: "string", maxLength: 32 },
    unit: { enum: ["celsius", "fahrenheit"] },
    days: { type: "integer", minimum: 1, maximum: 7 },
  },
  required: ["city", "unit"],
  additionalProperties: false,
};
const clock = { type: "object", properties: { zone: { type: "string", maxLength: 12 } }, required: ["zone"] };
const tools: OpenAI.ChatCompletionFunctionTool[] = [
  { type: "function", function: { name: "get_weather", parameters: weather, strict: true } },
  { type: "function", function: { name: "get_time", parameters: clock } },
];
type JsonSchemaInput = Parameters<typeof z.fromJSONSchema>[0];
const validators: Record<string, z.ZodType> = {
  person: z.fromJSONSchema(personSchema as JsonSchemaInput),
  get_weather: z.fromJSONSchema(weather as JsonSchemaInput),
  get_time: z.fromJSONSchema(clock as JsonSchemaInput),
};

interface Tally {
  tries: number;
  ok: number;
  failures: string[];
  finish: Record<string, number>;
  completionTokens: number;
  extra: Record<string, number>;
}

const parses = (text: string): unknown => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
};

/** Runs `one(seed)` for seeds 0…tries-1, `inFlight` at a time; `one` says whether the answer was right. */
async function measure(
  name: string,
  one: (seed: number, t: Tally) => Promise<{ ok: boolean; finish: string; tokens: number; why?: string }>,
): Promise<[string, Tally & { seconds: number; meanCompletionTokens: number }]> {
  const t: Tally = { tries, ok: 0, failures: [], finish: {}, completionTokens: 0, extra: {} };
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < tries) {
        const seed = next++;
        const r = await one(seed, t);
        t.ok += r.ok ? 1 : 0;
        if (!r.ok && t.failures.length < 5) t.failures.push(`seed ${seed}: ${r.why ?? "?"}`);
        t.finish[r.finish] = (t.finish[r.finish] ?? 0) + 1;
        t.completionTokens += r.tokens;
      }
    }),
  );
  const seconds = +((performance.now() - t0) / 1000).toFixed(1);
  return [name, { ...t, seconds, meanCompletionTokens: +(t.completionTokens / tries).toFixed(1) }];
}

const platform = await createPlatform(serverConfigSchema.parse({ cache: { enabled: false } }), {});
const app = await buildApp({ platform });
const url = await app.listen({ host: "127.0.0.1", port: 0 });
const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: "none", maxRetries: 0 });
const ask = (content: string) => ({ model, messages: [{ role: "user" as const, content }], temperature: 1 });

try {
  const results = [
    await measure("json_object", async (seed) => {
      const r = await openai.chat.completions.create({
        ...ask("Describe a cat as JSON."),
        seed,
        response_format: { type: "json_object" },
      });
      const c = r.choices[0];
      const value = parses(c.message.content ?? "");
      const ok = typeof value === "object" && value !== null && !Array.isArray(value);
      return { ok, finish: c.finish_reason, tokens: r.usage!.completion_tokens, why: c.message.content ?? "null" };
    }),
    await measure("json_schema", async (seed) => {
      const r = await openai.chat.completions.create({
        ...ask("Describe a person as JSON."),
        seed,
        response_format: { type: "json_schema", json_schema: { name: "person", schema: personSchema, strict: true } },
      });
      const c = r.choices[0];
      const value = parses(c.message.content ?? "");
      const ok = value !== undefined && validators.person.safeParse(value).success;
      return { ok, finish: c.finish_reason, tokens: r.usage!.completion_tokens, why: c.message.content ?? "null" };
    }),
    await measure("tools required", async (seed) => {
      const r = await openai.chat.completions.create({
        ...ask("What is the weather in Paris?"),
        seed,
        tools,
        tool_choice: "required",
      });
      const c = r.choices[0];
      const call = c.message.tool_calls?.[0] as OpenAI.ChatCompletionMessageFunctionToolCall | undefined;
      const args = call ? parses(call.function.arguments) : undefined;
      const ok =
        call !== undefined &&
        args !== undefined &&
        validators[call.function.name].safeParse(args).success &&
        c.message.content === null;
      return { ok, finish: c.finish_reason, tokens: r.usage!.completion_tokens, why: JSON.stringify(c.message) };
    }),
    await measure("tools streamed", async (seed) => {
      const stream = openai.chat.completions.stream({
        ...ask("What is the time in Oslo?"),
        seed,
        tools,
        tool_choice: "required",
        stream_options: { include_usage: true },
      });
      const final = await stream.finalChatCompletion();
      const c = final.choices[0];
      const call = c.message.tool_calls?.[0] as OpenAI.ChatCompletionMessageFunctionToolCall | undefined;
      const args = call ? parses(call.function.arguments) : undefined;
      const ok = call !== undefined && args !== undefined && validators[call.function.name].safeParse(args).success;
      return { ok, finish: c.finish_reason, tokens: final.usage?.completion_tokens ?? 0, why: JSON.stringify(c.message) };
    }),
    await measure("tools auto", async (seed, t) => {
      t.extra.calls ??= 0;
      const r = await openai.chat.completions.create({ ...ask("What is the weather in Paris?"), seed, tools, max_tokens: 48 });
      const c = r.choices[0];
      const call = c.message.tool_calls?.[0] as OpenAI.ChatCompletionMessageFunctionToolCall | undefined;
      if (call) t.extra.calls = (t.extra.calls ?? 0) + 1;
      const ok = call
        ? validators[call.function.name].safeParse(parses(call.function.arguments)).success
        : typeof c.message.content === "string" && !/^ ?\{/.test(c.message.content);
      return { ok, finish: c.finish_reason, tokens: r.usage!.completion_tokens, why: JSON.stringify(c.message) };
    }),
    await measure("logprobs", async (seed, t) => {
      const r = await openai.chat.completions.create({
        ...ask("Tell me a fortune"),
        seed,
        logprobs: true,
        top_logprobs: 20,
        max_tokens: 32,
      });
      const c = r.choices[0];
      const entries = c.logprobs?.content ?? [];
      const ok =
        entries.length > 0 &&
        entries.every((e) => e.logprob <= 0 && e.top_logprobs.reduce((s, x) => s + Math.exp(x.logprob), 0) <= 1 + 1e-9);
      const spelled = Buffer.from(entries.flatMap((e) => e.bytes ?? [])).toString("utf8") === c.message.content;
      t.extra.bytesSpellContent = (t.extra.bytesSpellContent ?? 0) + (spelled ? 1 : 0);
      return { ok, finish: c.finish_reason, tokens: r.usage!.completion_tokens, why: c.message.content ?? "" };
    }),
  ];
  console.log(JSON.stringify({ tries, inFlight, results: Object.fromEntries(results) }, null, 2));
} finally {
  await app.close();
  await platform.close();
}
