// The hybrid-cloud router: sensitivity classification, zone rules, overflow, retries,
// fallback, circuit breakers, and the audit trail of every decision.

export { type AuditEntry, type AuditLog, JsonlAuditLog, MemoryAuditLog, type RequestAudit } from "./audit.js";
export { CircuitBreaker, type CircuitState } from "./breaker.js";
export {
  type ClassifiableRequest,
  type Classification,
  type ClassifyOptions,
  classifyRequest,
  defaultSensitiveEndpoints,
  maxClassifyDepth,
  type RequestReading,
  readRequest,
  requestTexts,
  type UnreadableKind,
} from "./classify.js";
export {
  type BreakerConfig,
  breakerConfigSchema,
  type RouterConfig,
  type RouterConfigInput,
  routerConfigSchema,
} from "./config.js";
export { type AttemptOutcome, formatRouteHeader, type RouteAttempt, type RouteDecision, type RouteReason } from "./decision.js";
export {
  HybridRouter,
  type HybridRouterOptions,
  type RouteCall,
  type Routed,
  type RoutedStream,
  type RouteOptions,
} from "./hybridRouter.js";
