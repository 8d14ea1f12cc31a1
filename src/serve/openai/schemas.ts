// Request bodies of the OpenAI-compatible endpoints, validated with zod at the HTTP
// boundary. Unknown fields are tolerated and dropped (clients such as the `openai` npm
// package and the Vercel AI SDK send fields we do not use); `null` is accepted wherever
// OpenAI accepts it and normalised to `undefined`.

import { z } from "zod";
import { HttpError } from "../errors.js";
import { describeIssue } from "./issues.js";

/** Optional, also accepting `null` (OpenAI clients send both), normalised to `undefined`. */
const opt = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === null ? undefined : v), schema.optional());

const positiveInt = () => z.int({ error: "expected a positive integer" }).positive({ error: "expected a positive integer" });

const temperature = z.number().min(0).max(2);
const topP = z.number().min(0).max(1);
const penalty = z.number().min(-2).max(2);

const stopSequences = z.union([z.string(), z.array(z.string()).max(4, { error: "expected at most 4 stop sequences" })], {
  error: "expected a string or an array of at most 4 strings",
});

const onlyOneChoice = z.literal(1, {
  error: "expected 1: this server returns one choice per request (send several requests for several samples)",
});

const streamOptionsSchema = z.object({ include_usage: opt(z.boolean()) });

const responseFormatSchema = z.discriminatedUnion(
  "type",
  [
    z.object({ type: z.literal("text") }),
    z.object({ type: z.literal("json_object") }),
    z.object({
      type: z.literal("json_schema"),
      json_schema: z.object({
        name: z.string(),
        description: opt(z.string()),
        schema: opt(z.record(z.string(), z.unknown())),
        strict: opt(z.boolean()),
      }),
    }),
  ],
  { error: "expected a response_format of type 'text', 'json_object' or 'json_schema'" },
);

/** Sampling fields shared by chat and text completions. */
const samplingFields = {
  model: z.string().min(1),
  max_tokens: opt(positiveInt()),
  temperature: opt(temperature),
  top_p: opt(topP),
  n: opt(onlyOneChoice),
  stop: opt(stopSequences),
  stream: opt(z.boolean()),
  stream_options: opt(streamOptionsSchema),
  seed: opt(z.int()),
  presence_penalty: opt(penalty),
  frequency_penalty: opt(penalty),
  user: opt(z.string()),
};

export const textPartSchema = z.object({
  type: z.literal("text", { error: 'expected "text": only text content parts are supported' }),
  text: z.string(),
});

const messageContent = z.union([z.string(), z.array(textPartSchema)], {
  error: "expected a string or an array of text parts",
});

export const chatMessageSchema = z.discriminatedUnion(
  "role",
  [
    z.object({ role: z.literal("system"), content: messageContent, name: opt(z.string()) }),
    // Newer OpenAI clients send "developer" where older ones send "system"; same meaning here.
    z.object({ role: z.literal("developer"), content: messageContent, name: opt(z.string()) }),
    z.object({ role: z.literal("user"), content: messageContent, name: opt(z.string()) }),
    // An assistant turn that only called tools has null content.
    z.object({ role: z.literal("assistant"), content: opt(messageContent), name: opt(z.string()) }),
    z.object({ role: z.literal("tool"), content: messageContent, tool_call_id: z.string() }),
  ],
  { error: "expected a message with role 'system', 'developer', 'user', 'assistant' or 'tool'" },
);

export const chatCompletionRequestSchema = z.object({
  ...samplingFields,
  messages: z.array(chatMessageSchema).min(1, { error: "expected at least one message" }),
  max_completion_tokens: opt(positiveInt()),
  response_format: opt(responseFormatSchema),
});

export const completionRequestSchema = z.object({
  ...samplingFields,
  prompt: z.union([z.string(), z.array(z.string()).min(1)], {
    error: "expected a string or a non-empty array of strings (token-id prompts are not supported)",
  }),
  echo: opt(z.boolean()),
  suffix: opt(z.string()),
});

const tokenIds = z.array(z.int().nonnegative()).min(1);

/** Most inputs one embeddings request may carry (OpenAI's limit). */
export const maxEmbeddingInputs = 2048;

export const embeddingsRequestSchema = z.object({
  model: z.string().min(1),
  input: z.union(
    [z.string(), z.array(z.string()).min(1).max(maxEmbeddingInputs), tokenIds, z.array(tokenIds).min(1).max(maxEmbeddingInputs)],
    {
      error: `expected a string, an array of 1 to ${maxEmbeddingInputs} strings, or an array of 1 to ${maxEmbeddingInputs} token-id arrays`,
    },
  ),
  encoding_format: opt(z.enum(["float", "base64"])),
  dimensions: opt(positiveInt()),
  user: opt(z.string()),
});

export type ChatMessage = z.output<typeof chatMessageSchema>;
export type TextPart = z.output<typeof textPartSchema>;
export type ChatCompletionRequest = z.output<typeof chatCompletionRequestSchema>;
export type CompletionRequest = z.output<typeof completionRequestSchema>;
export type EmbeddingsRequest = z.output<typeof embeddingsRequestSchema>;

/** The text of a message's content, text parts joined without separator (as OpenAI concatenates them). */
export function messageText(content: string | readonly TextPart[] | undefined): string {
  if (content === undefined) return "";
  return typeof content === "string" ? content : content.map((p) => p.text).join("");
}

/**
 * Validate a request body. Returns the typed value, or throws `HttpError` 400
 * `invalid_request_error` naming the first wrong field, e.g.
 * `Invalid type for 'messages[0].content': expected a string or an array of text parts, got 5.`
 */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const d = describeIssue(parsed.error.issues[0], body);
  const where = d.path === "" ? "the request body" : `'${d.path}'`;
  const message = d.missing
    ? d.path === ""
      ? "Missing request body: expected a JSON object."
      : `Missing required parameter: '${d.path}' (${d.expected}).`
    : `Invalid ${d.wrongType ? "type" : "value"} for ${where}: ${d.expected}${d.got === undefined ? "" : `, got ${d.got}`}.`;
  throw new HttpError(400, d.missing ? "missing_required_parameter" : d.wrongType ? "invalid_type" : "invalid_value", message);
}
