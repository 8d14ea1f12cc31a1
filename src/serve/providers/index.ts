// Model providers: the interface the router drives, and the OpenAI-compatible HTTP provider.

export {
  type OpenAiProviderConfig,
  type OpenAiProviderConfigInput,
  openAiProviderConfigSchema,
  type ProviderModel,
  providerApiKeyEnvVar,
  providerModelSchema,
  providerNameSchema,
  resolveApiKey,
} from "./config.js";
export { OpenAiCompatibleProvider } from "./openAiCompatible.js";
export {
  isRetryableStatus,
  LatencyWindow,
  type Provider,
  type ProviderContext,
  ProviderError,
  type ProviderErrorCode,
  type ProviderLoad,
  type ProviderPrice,
  RequestRejectedError,
  type Zone,
} from "./provider.js";
export { parseSse, type SseEvent, SseParser } from "./sse.js";
