// Request bodies of the OpenAI-compatible endpoints, validated with zod at the HTTP
// boundary. Every parameter of OpenAI's chat, completions and embeddings APIs (as the `openai`
// npm client types them) is either honoured or refused here with a 400 naming it: none is
// accepted and silently ignored. Hints that never change an answer (prompt-cache keys,
// `prediction`, `metadata` without `store`) are honoured by having no effect. Unknown,
// non-OpenAI fields are tolerated and dropped (clients such as the Vercel AI SDK send fields
// of their own); `null` is accepted wherever OpenAI accepts it and normalised to `undefined`.

import { z } from "zod";
import { describeIssue, formatPath, safeParseInput } from "../../runtime/index.js";
import { HttpError } from "../errors.js";

/** A 400 naming the request field at fault (OpenAI's `error.param`; null: the body as a whole). */
export class ParameterError extends HttpError {
  constructor(
    code: string,
    message: string,
    override readonly param: string | null,
  ) {
    super(400, code, message);
    this.name = "ParameterError";
  }
}

/** Optional, also accepting `null` (OpenAI clients send both), normalised to `undefined`. */
const opt = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === null ? undefined : v), schema.optional());

const positiveInt = () => z.int({ error: "expected a positive integer" }).positive({ error: "expected a positive integer" });

/** The params of a custom issue parseBody turns into its own error (`code`, and a whole sentence). */
interface IssueParams {
  /** The parameter is an OpenAI one this server does not implement: "Unsupported parameter: …". */
  unsupported?: boolean;
  code?: string;
}

/**
 * An OpenAI parameter this server does not implement: absent or null passes; anything else is
 * a 400 `unsupported_parameter` naming it, saying `why`.
 */
const refused = (why: string) =>
  z
    .unknown()
    .superRefine((value, ctx) => {
      if (value !== undefined && value !== null)
        ctx.addIssue({ code: "custom", message: why, params: { unsupported: true } satisfies IssueParams });
    })
    .optional();

/** A refusal of one value of an honoured parameter (e.g. `store: true`). */
const refuseValue = (ctx: z.RefinementCtx, path: PropertyKey[], why: string): void => {
  ctx.addIssue({ code: "custom", path, message: why, params: { unsupported: true } satisfies IssueParams });
};

const temperature = z.number().min(0).max(2);
const topP = z.number().min(0).max(1);
const penalty = z.number().min(-2).max(2);

const stopSequences = z.union([z.string(), z.array(z.string()).max(4, { error: "expected at most 4 stop sequences" })], {
  error: "expected a string or an array of at most 4 strings",
});

/** Most choices one request may ask for: prompts × n (each is a row of the batcher). */
export const maxChoices = 32;

const choiceCount = z
  .int({ error: "expected an integer from 1 to 32" })
  .min(1, { error: `expected an integer from 1 to ${maxChoices}` })
  .max(maxChoices, {
    error: `expected an integer from 1 to ${maxChoices}: this server returns at most ${maxChoices} choices per request`,
  });

const streamOptionsSchema = z.object({ include_usage: opt(z.boolean()), include_obfuscation: opt(z.boolean()) });

/** OpenAI's logit_bias: token id (as a string key) → a bias from -100 to 100 added to its logit. */
const logitBiasSchema = z.record(
  z.string().regex(/^\d+$/, { error: "expected token ids as keys" }),
  z.number().min(-100).max(100),
);

const jsonSchemaFormat = z.object({
  name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, { error: "expected a name of 1 to 64 letters, digits, '_' or '-'" }),
  description: opt(z.string()),
  /** The JSON schema the content must match; absent: any JSON value. */
  schema: opt(z.record(z.string(), z.unknown())),
  /** Output is always constrained to the schema here, strict or not. */
  strict: opt(z.boolean()),
});

const responseFormatSchema = z.discriminatedUnion(
  "type",
  [
    z.object({ type: z.literal("text") }),
    z.object({ type: z.literal("json_object") }),
    z.object({ type: z.literal("json_schema"), json_schema: jsonSchemaFormat }),
  ],
  { error: "expected a response_format of type 'text', 'json_object' or 'json_schema'" },
);

/** Sampling fields shared by chat and text completions. */
const samplingFields = {
  model: z.string().min(1),
  max_tokens: opt(positiveInt()),
  temperature: opt(temperature),
  top_p: opt(topP),
  n: opt(choiceCount),
  stop: opt(stopSequences),
  stream: opt(z.boolean()),
  stream_options: opt(streamOptionsSchema),
  seed: opt(z.int()),
  presence_penalty: opt(penalty),
  frequency_penalty: opt(penalty),
  logit_bias: opt(logitBiasSchema),
  user: opt(z.string()),
};

export const textPartSchema = z.object({
  type: z.literal("text", { error: 'expected "text": only text content parts are supported' }),
  text: z.string(),
});

const messageContent = z.union([z.string(), z.array(textPartSchema)], {
  error: "expected a string or an array of text parts",
});

const functionName = z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, {
  error: "expected a function name of 1 to 64 letters, digits, '_' or '-'",
});

/** A call the assistant made earlier in the conversation. */
const messageToolCallSchema = z.object({
  id: z.string(),
  type: z.literal("function", { error: 'expected "function": only function tool calls are supported' }),
  function: z.object({ name: z.string(), arguments: z.string() }),
});

export const chatMessageSchema = z.discriminatedUnion(
  "role",
  [
    z.object({ role: z.literal("system"), content: messageContent, name: opt(z.string()) }),
    // Newer OpenAI clients send "developer" where older ones send "system"; same meaning here.
    z.object({ role: z.literal("developer"), content: messageContent, name: opt(z.string()) }),
    z.object({ role: z.literal("user"), content: messageContent, name: opt(z.string()) }),
    // An assistant turn that only called tools has null content.
    z.object({
      role: z.literal("assistant"),
      content: opt(messageContent),
      name: opt(z.string()),
      refusal: opt(z.string()),
      tool_calls: opt(z.array(messageToolCallSchema)),
    }),
    z.object({ role: z.literal("tool"), content: messageContent, tool_call_id: z.string() }),
  ],
  { error: "expected a message with role 'system', 'developer', 'user', 'assistant' or 'tool'" },
);

const toolSchema = z.object({
  type: z.literal("function", { error: 'expected "function": only function tools are supported (custom tools are not)' }),
  function: z.object({
    name: functionName,
    description: opt(z.string()),
    /** The arguments' JSON schema; absent: no parameters (`{}` arguments). */
    parameters: opt(z.record(z.string(), z.unknown())),
    /** Arguments are always constrained to `parameters` here, strict or not. */
    strict: opt(z.boolean()),
  }),
});

const namedFunctionSchema = z.object({ type: z.literal("function"), function: z.object({ name: functionName }) });

const toolChoiceSchema = z.union(
  [
    z.enum(["none", "auto", "required"]),
    namedFunctionSchema,
    z.object({
      type: z.literal("allowed_tools"),
      allowed_tools: z.object({ mode: z.enum(["auto", "required"]), tools: z.array(namedFunctionSchema).min(1) }),
    }),
  ],
  {
    error:
      "expected 'none', 'auto', 'required', {type: 'function', function: {name}} or {type: 'allowed_tools', allowed_tools: {mode, tools}}",
  },
);

const predictionSchema = z.object({ type: z.literal("content"), content: messageContent });

export const chatCompletionRequestSchema = z
  .object({
    ...samplingFields,
    messages: z.array(chatMessageSchema).min(1, { error: "expected at least one message" }),
    max_completion_tokens: opt(positiveInt()),
    response_format: opt(responseFormatSchema),
    tools: opt(z.array(toolSchema)),
    tool_choice: opt(toolChoiceSchema),
    /** At most one call per reply is made here, which either value allows. */
    parallel_tool_calls: opt(z.boolean()),
    logprobs: opt(z.boolean()),
    top_logprobs: opt(z.int().min(0).max(20)),
    // Honoured by having no effect: nothing is stored, there is no prompt cache to key, and a
    // prediction only speeds up an answer, never changes it.
    store: opt(z.boolean()),
    metadata: opt(z.record(z.string(), z.string())),
    prediction: opt(predictionSchema),
    prompt_cache_key: opt(z.string()),
    prompt_cache_retention: opt(z.enum(["in_memory", "24h"])),
    prompt_cache_options: opt(z.object({ mode: opt(z.enum(["implicit", "explicit"])) })),
    safety_identifier: opt(z.string()),
    service_tier: opt(z.enum(["auto", "default", "flex", "scale", "priority"])),
    modalities: opt(z.array(z.enum(["text", "audio"]))),
    audio: refused("audio output needs a speech model"),
    functions: refused("use 'tools' (function tools) instead of the deprecated 'functions'"),
    function_call: refused("use 'tool_choice' instead of the deprecated 'function_call'"),
    reasoning_effort: refused("the model does not reason before it answers"),
    verbosity: refused("the model has no verbosity control"),
    web_search_options: refused("there is no web search"),
    moderation: refused("there is no moderation model"),
  })
  .superRefine((req, ctx) => {
    if (req.store === true) refuseValue(ctx, ["store"], "completions are not stored");
    if (req.modalities?.includes("audio")) refuseValue(ctx, ["modalities"], "only text output is supported");
    if (req.service_tier !== undefined && req.service_tier !== "auto" && req.service_tier !== "default") {
      refuseValue(ctx, ["service_tier"], "there is one service tier ('default')");
    }
    if (req.top_logprobs !== undefined && req.logprobs !== true) {
      ctx.addIssue({ code: "custom", path: ["top_logprobs"], message: "expected logprobs: true alongside top_logprobs" });
    }
    const tools = req.tools ?? [];
    const names = tools.map((t) => t.function.name);
    names.forEach((name, i) => {
      if (names.indexOf(name) !== i) {
        ctx.addIssue({
          code: "custom",
          path: ["tools", i, "function", "name"],
          message: `expected unique tool names ('${name}' twice)`,
        });
      }
    });
    const choice = req.tool_choice;
    if (choice === undefined || choice === "none" || choice === "auto") return;
    if (tools.length === 0) {
      ctx.addIssue({
        code: "custom",
        path: ["tool_choice"],
        message: "expected tools: tool_choice names tools to call, and none are given",
      });
      return;
    }
    const wanted =
      choice === "required"
        ? []
        : choice.type === "function"
          ? [{ name: choice.function.name, path: ["tool_choice", "function", "name"] }]
          : choice.allowed_tools.tools.map((t, i) => ({
              name: t.function.name,
              path: ["tool_choice", "allowed_tools", "tools", i, "function", "name"],
            }));
    for (const w of wanted) {
      if (!names.includes(w.name))
        ctx.addIssue({ code: "custom", path: w.path, message: `expected the name of a tool in 'tools' (${names.join(", ")})` });
    }
  });

const tokenId = z.int().nonnegative();

export const completionRequestSchema = z
  .object({
    ...samplingFields,
    // Empty prompts pass here and are refused by the model that cannot start from nothing.
    prompt: z.union([z.string(), z.array(z.string()).min(1), z.array(tokenId).min(1), z.array(z.array(tokenId)).min(1)], {
      error:
        "expected a string, a non-empty array of strings, a non-empty array of token ids, or a non-empty array of token-id arrays",
    }),
    echo: opt(z.boolean()),
    /** Up to 5, as OpenAI allows. */
    logprobs: opt(z.int().min(0).max(5)),
    best_of: opt(choiceCount),
    suffix: refused("the model does not insert text (no fill-in-the-middle)"),
  })
  .superRefine((req, ctx) => {
    const prompts = typeof req.prompt === "string" || typeof req.prompt[0] === "number" ? 1 : req.prompt.length;
    const perPrompt = Math.max(req.n ?? 1, req.best_of ?? 1);
    if (prompts * perPrompt > maxChoices) {
      ctx.addIssue({
        code: "custom",
        path: [req.best_of !== undefined && req.best_of > (req.n ?? 1) ? "best_of" : "n"],
        message: `expected at most ${maxChoices} generations per request (${prompts} prompts × ${perPrompt})`,
      });
    }
    if (req.best_of !== undefined && req.best_of < (req.n ?? 1)) {
      ctx.addIssue({ code: "custom", path: ["best_of"], message: "expected best_of ≥ n" });
    }
    if (req.best_of !== undefined && req.best_of > 1 && req.stream === true) {
      ctx.addIssue({
        code: "custom",
        path: ["best_of"],
        message: "expected best_of 1 when streaming (the best is known only at the end)",
      });
    }
    if (req.echo === true && req.logprobs !== undefined) {
      refuseValue(ctx, ["echo"], "echo together with logprobs (the prompt's log probabilities are not computed)");
    }
  });

/** Most inputs one embeddings request may carry (OpenAI's limit). */
export const maxEmbeddingInputs = 2048;

const emptyInput = { code: "empty_input" } satisfies IssueParams;

export const embeddingsRequestSchema = z
  .object({
    model: z.string().min(1),
    input: z.union(
      [
        z.string(),
        z.array(z.string()).max(maxEmbeddingInputs),
        z.array(tokenId),
        z.array(z.array(tokenId)).max(maxEmbeddingInputs),
      ],
      {
        error: `expected a string, an array of 1 to ${maxEmbeddingInputs} strings, or an array of 1 to ${maxEmbeddingInputs} token-id arrays`,
      },
    ),
    encoding_format: opt(z.enum(["float", "base64"])),
    dimensions: opt(positiveInt()),
    user: opt(z.string()),
  })
  .superRefine((req, ctx) => {
    // An empty text has no embedding (OpenAI answers 400 too).
    const { input } = req;
    if (input === "" || (Array.isArray(input) && input.length === 0)) {
      ctx.addIssue({
        code: "custom",
        path: ["input"],
        message: "'input' is empty: give at least one non-empty text or token list",
        params: emptyInput,
      });
      return;
    }
    if (!Array.isArray(input)) return;
    const at = input.findIndex((item) => item === "" || (Array.isArray(item) && item.length === 0));
    if (at >= 0) {
      ctx.addIssue({
        code: "custom",
        path: ["input", at],
        message: `'input[${at}]' is empty: every input needs at least one character or token`,
        params: emptyInput,
      });
    }
  });

export type ChatMessage = z.output<typeof chatMessageSchema>;
export type TextPart = z.output<typeof textPartSchema>;
export type ChatCompletionRequest = z.output<typeof chatCompletionRequestSchema>;
export type CompletionRequest = z.output<typeof completionRequestSchema>;
export type EmbeddingsRequest = z.output<typeof embeddingsRequestSchema>;
export type ChatTool = z.output<typeof toolSchema>;
export type ResponseFormat = z.output<typeof responseFormatSchema>;

/** The text of a message's content, text parts joined without separator (as OpenAI concatenates them). */
export function messageText(content: string | readonly TextPart[] | undefined): string {
  if (content === undefined) return "";
  return typeof content === "string" ? content : content.map((p) => p.text).join("");
}

/**
 * Validate a request body. Returns the typed value, or throws `ParameterError` (an HttpError
 * 400 `invalid_request_error`) naming the first wrong field in `param` and in the message, e.g.
 * `Invalid type for 'messages[0].content': expected a string or an array of text parts, got 5.`
 * An OpenAI parameter this server does not implement is `unsupported_parameter`:
 * `Unsupported parameter: 'audio' is not supported by this server (audio output needs a speech model).`
 */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  // Never throws on a hostile shape (zod 4.6's TypeError on `{"messages": {"length": [{…}]}}`):
  // that is a 400 on the body as a whole, for the pipeline and direct callers alike.
  const parsed = safeParseInput(schema, body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const params = issue.code === "custom" ? (issue.params as IssueParams | undefined) : undefined;
  const param = issue.path.length === 0 ? null : formatPath(issue.path);
  if (params?.unsupported) {
    throw new ParameterError(
      "unsupported_parameter",
      `Unsupported parameter: '${param}' is not supported by this server (${issue.message}).`,
      param,
    );
  }
  if (params?.code)
    throw new ParameterError(params.code, issue.message.endsWith(".") ? issue.message : `${issue.message}.`, param);
  const d = describeIssue(issue, body);
  const where = d.path === "" ? "the request body" : `'${d.path}'`;
  const message = d.missing
    ? d.path === ""
      ? "Missing request body: expected a JSON object."
      : `Missing required parameter: '${d.path}' (${d.expected}).`
    : `Invalid ${d.wrongType ? "type" : "value"} for ${where}: ${d.expected}${d.got === undefined ? "" : `, got ${d.got}`}.`;
  throw new ParameterError(
    d.missing ? "missing_required_parameter" : d.wrongType ? "invalid_type" : "invalid_value",
    message,
    d.path === "" ? null : d.path,
  );
}
