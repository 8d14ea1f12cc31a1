// Config of one OpenAI-compatible provider (DeepSeek, vLLM, Ollama, another AIGC Studio).
// Defaults live here; the server config embeds this schema as `providers[]`.

import { z } from "zod";

/** Provider names go into the `x-aigc-route` header and env var names: keep them plain. */
export const providerNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { error: "expected a name of letters, digits, '.', '_' or '-' (at most 64)" });

/** A model as clients name it, optionally served upstream under another name. */
export const providerModelSchema = z.union(
  [z.string().min(1), z.strictObject({ name: z.string().min(1), upstream: z.string().min(1).optional() })],
  { error: "expected a model name, or { name, upstream } to rename it upstream" },
);

const nonNegative = () => z.number({ error: "expected a number >= 0" }).nonnegative({ error: "expected a number >= 0" });
const positiveInt = () => z.int({ error: "expected a positive integer" }).positive({ error: "expected a positive integer" });

export const openAiProviderConfigSchema = z.strictObject({
  name: providerNameSchema,
  zone: z.enum(["private", "public"], { error: "expected 'private' or 'public'" }),
  /** Up to and including the version segment, e.g. `https://api.deepseek.com/v1`. */
  baseUrl: z.url({ protocol: /^https?$/, error: "expected an http(s) URL such as https://api.deepseek.com/v1" }),
  /** The key itself; prefer `apiKeyEnv` so keys stay out of config files. */
  apiKey: z.string().min(1).optional(),
  /** Name of the environment variable holding the key. */
  apiKeyEnv: z.string().min(1).optional(),
  models: z.array(providerModelSchema).min(1, { error: "expected at least one model" }),
  price: z
    .strictObject({ inputPerMTok: nonNegative(), outputPerMTok: nonNegative() })
    .prefault({ inputPerMTok: 0, outputPerMTok: 0 }),
  /** Whole-request limit (from leaving the queue); for streams, the limit until the first byte and between two chunks. */
  timeoutMs: positiveInt().default(60_000),
  /** Requests in flight at once; the rest wait (and count as `load().queued`). */
  maxConcurrency: positiveInt().default(16),
  /** Extra headers for every upstream request (e.g. an organisation id). */
  headers: z.record(z.string(), z.string()).default({}),
});

export type OpenAiProviderConfig = z.output<typeof openAiProviderConfigSchema>;
export type OpenAiProviderConfigInput = z.input<typeof openAiProviderConfigSchema>;
export type ProviderModel = z.output<typeof providerModelSchema>;

/** `AIGC_PROVIDER_<NAME>_API_KEY`: the name upper-cased, anything but letters and digits as "_". */
export const providerApiKeyEnvVar = (name: string): string =>
  `AIGC_PROVIDER_${name.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_API_KEY`;

/** The key to send: `AIGC_PROVIDER_<NAME>_API_KEY`, else the `apiKeyEnv` variable, else `apiKey`. */
export function resolveApiKey(
  config: Pick<OpenAiProviderConfig, "name" | "apiKey" | "apiKeyEnv">,
  env: NodeJS.ProcessEnv,
): string | undefined {
  return env[providerApiKeyEnvVar(config.name)] || (config.apiKeyEnv ? env[config.apiKeyEnv] : undefined) || config.apiKey;
}
