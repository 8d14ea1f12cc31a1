// Cache keys and the cacheability rule for OpenAI-shaped requests.
//
// A key is `<tenant>/<endpoint>/<sha256 hex>`: the tenant id (URI-encoded, so distinct ids
// give distinct prefixes) namespaces every entry, and the hash covers a canonical JSON of
// { tenant, endpoint, model, request } after normalisation. What the normalisation does,
// and nothing else:
// - object keys are sorted at every depth (JSON key order never changes a response);
// - top-level fields that never change the output are dropped: `stream`, `stream_options`
//   (a cached entry can answer both a streamed and a plain request) and `user` (an
//   end-user id for abuse tracking);
// - top-level fields whose value is `null` are dropped (the API reads null as "default");
// - chat messages' text content loses trailing whitespace (the chat template ends each
//   turn, so "hi\n" and "hi" produce the same prompt); all other text — leading
//   whitespace, inner whitespace, completion `prompt`s and embedding `input`s — is kept
//   byte for byte, because there it does change the tokens the model sees.

import { createHash } from "node:crypto";

export type CacheEndpoint = "chat" | "completions" | "embeddings";

export interface CacheKeyParts {
  tenant: string;
  model: string;
  endpoint: CacheEndpoint;
  /** The JSON request body as the client sent it. */
  request: unknown;
}

/** Top-level request fields that never change what the model answers. */
export const outputNeutralFields: readonly string[] = ["stream", "stream_options", "user"];

export function cacheKey(parts: CacheKeyParts): string {
  const canonical = canonicalJson({
    tenant: parts.tenant,
    endpoint: parts.endpoint,
    model: parts.model,
    request: normaliseRequest(parts.request),
  });
  const digest = createHash("sha256").update(canonical).digest("hex");
  return `${encodeURIComponent(parts.tenant)}/${parts.endpoint}/${digest}`;
}

/** The request as the key sees it (see the header comment for the rules). */
export function normaliseRequest(request: unknown): unknown {
  if (!isPlainObject(request)) return request;
  // fromEntries, not assignment: a "__proto__" field must stay a field (and part of the key).
  return Object.fromEntries(
    Object.entries(request)
      .filter(([field, value]) => !outputNeutralFields.includes(field) && value !== null)
      .map(([field, value]) => [field, field === "messages" && Array.isArray(value) ? value.map(trimMessageContent) : value]),
  );
}

function trimMessageContent(message: unknown): unknown {
  if (!isPlainObject(message)) return message;
  const { content } = message;
  if (typeof content === "string") return { ...message, content: content.trimEnd() };
  if (Array.isArray(content)) {
    // Content parts: [{ type: "text", text }, { type: "image_url", ... }]; only text parts trim.
    const parts = content.map((part) =>
      isPlainObject(part) && part.type === "text" && typeof part.text === "string"
        ? { ...part, text: part.text.trimEnd() }
        : part,
    );
    return { ...message, content: parts };
  }
  return message;
}

/**
 * JSON with object keys sorted at every depth. Follows JSON.stringify for everything else:
 * `undefined` and functions drop out of objects and become null in arrays, non-finite
 * numbers become null, `toJSON` is honoured. Throws TypeError on cycles and bigints.
 */
export function canonicalJson(value: unknown): string {
  return stringifySorted(value, new Set()) ?? "null";
}

function stringifySorted(value: unknown, ancestors: Set<object>): string | undefined {
  if (value === null || typeof value === "boolean" || typeof value === "number" || typeof value === "string")
    return JSON.stringify(value);
  if (value === undefined || typeof value === "function" || typeof value === "symbol") return undefined;
  if (typeof value === "bigint") throw new TypeError("canonicalJson: a bigint has no JSON form; send it as a string or number");
  const object = value as object;
  const withToJson = object as { toJSON?: () => unknown };
  if (typeof withToJson.toJSON === "function") return stringifySorted(withToJson.toJSON(), ancestors);
  if (ancestors.has(object)) throw new TypeError("canonicalJson: the value contains a cycle; only tree-shaped JSON has a key");
  ancestors.add(object);
  let text: string;
  if (Array.isArray(object)) {
    text = `[${object.map((item) => stringifySorted(item, ancestors) ?? "null").join(",")}]`;
  } else {
    const record = object as Record<string, unknown>;
    const fields: string[] = [];
    for (const key of Object.keys(record).sort()) {
      const item = stringifySorted(record[key], ancestors);
      if (item !== undefined) fields.push(`${JSON.stringify(key)}:${item}`);
    }
    text = `{${fields.join(",")}}`;
  }
  ancestors.delete(object);
  return text;
}

export interface CacheabilityOptions {
  /** PHI/PII or encrypted traffic: never cached, not even when forced. */
  sensitive: boolean;
  /** The client asked for caching (header `x-aigc-cache: force`): caches sampled output too. */
  force?: boolean;
  /** Embeddings are deterministic whatever their parameters; default "chat". */
  endpoint?: CacheEndpoint;
}

/**
 * Whether a response may be stored and served from the cache.
 *
 * A generation is deterministic when `temperature` is 0, or when an integer `seed` is
 * given (the local engine samples from a seeded generator; OpenAI calls seeded sampling
 * "mostly deterministic"). `temperature` absent means the API default of 1, i.e. sampled.
 * Sampled output is cached only when forced; sensitive requests never are.
 */
export function isCacheable(request: unknown, options: CacheabilityOptions): boolean {
  if (options.sensitive) return false;
  if (options.force) return true;
  if (options.endpoint === "embeddings") return true;
  if (!isPlainObject(request)) return false;
  const { temperature, seed } = request;
  if (temperature === 0) return true;
  return typeof seed === "number" && Number.isInteger(seed);
}

/** Reads `x-aigc-cache: force` (case-insensitive; any other value means not forced). */
export function cacheForcedByHeader(header: string | string[] | undefined): boolean {
  const value = Array.isArray(header) ? header[0] : header;
  return typeof value === "string" && value.trim().toLowerCase() === "force";
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
