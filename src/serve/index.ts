// The serving layer's public surface: the app and its pipeline, the platform, the config,
// tenants and keys, and what app routes need (defineRoute, errors, SSE, body parsing).

export {
  type AppOptions,
  type AppPlugin,
  buildApp,
  registeredRoutes,
} from "./app.js";
export {
  ConfigError,
  loadConfig,
  type ServerConfig,
  type ServerConfigInput,
  serverConfigSchema,
  shippedModel,
} from "./config.js";
export { errorBody, HttpError, sseHeaders, toHttpError } from "./errors.js";
export { createGate, type Gate } from "./gate.js";
export { parseBody } from "./openai/index.js";
export {
  type Access,
  defineRoute,
  type RegisteredRoute,
  type RequestContext,
  type RoutePolicy,
  type Served,
  type SseWriter,
  startSse,
} from "./pipeline.js";
export { createPlatform, type Platform } from "./platform.js";
export type { AppPage } from "./routes/ops.js";
export { apiKeyPrefix, hashApiKey, newApiKey } from "./tenants/index.js";
