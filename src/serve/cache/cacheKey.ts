// Cache keys and the cacheability rule for OpenAI-shaped requests.
//
// A key is `<tenant>/<endpoint>/<sha256 hex>`: the tenant id (URI-encoded, so distinct ids
// give distinct prefixes) namespaces every entry, and the hash covers a canonical JSON of
// { tenant, endpoint, model, request }, where `request` is the PARSED request — the route
// schema's (zod) output, not the raw body: fields the schema drops cannot split the cache,
// and what is hashed is exactly what is served. After normalisation; what it does, and
// nothing else:
// - object keys are sorted at every depth (JSON key order never changes a response);
// - top-level fields that never change the output are dropped: `stream`, `stream_options`
//   (a cached entry can answer both a streamed and a plain request) and `user` (an
//   end-user id for abuse tracking);
// - top-level fields whose value is `null` are dropped (the API reads null as "default");
// - chat messages' text content loses trailing whitespace (the chat template ends each
//   turn, so "hi\n" and "hi" produce the same prompt); all other text — leading
//   whitespace, inner whitespace, completion `prompt`s and embedding `input`s — is kept
//   byte for byte, because there it does change the tokens the model sees.
//
// The canonical JSON is built with an explicit stack, never by recursion, and refuses values
// nested deeper than `maxCanonicalDepth` with HttpError 400 `too_deeply_nested`: a
// 200k-deep array in a body must be a client error, not a stack overflow (500).

import { createHash } from "node:crypto";
import { HttpError } from "../errors.js";

export type CacheEndpoint = "chat" | "completions" | "embeddings";

export interface CacheKeyParts {
  tenant: string;
  model: string;
  /**
   * What tells this model's answers from those of an earlier model of the same name (a LoRA
   * adapter's digest: one reloaded from other files gets other keys); absent for most models.
   */
  revision?: string;
  endpoint: CacheEndpoint;
  /** The parsed request (the route schema's output), not the raw body. */
  request: unknown;
}

/** Top-level request fields that never change what the model answers. */
export const outputNeutralFields: readonly string[] = ["stream", "stream_options", "user"];

/** Deepest nesting of objects and arrays a request may have to get a key (the request itself is level 1). */
export const maxCanonicalDepth = 64;

/**
 * The cache key of a parsed request. Throws `HttpError` 400 `too_deeply_nested` when the
 * request nests deeper than `maxCanonicalDepth` levels.
 */
export function cacheKey(parts: CacheKeyParts): string {
  // The canonical JSON of { tenant, endpoint, model, request }, its keys in sorted order,
  // written out so the request alone is held to the depth limit.
  const request = canonicalJsonOrUndefined(normaliseRequest(parts.request), maxCanonicalDepth);
  const canonical = `{"endpoint":${JSON.stringify(parts.endpoint)},"model":${JSON.stringify(parts.model)}${
    request === undefined ? "" : `,"request":${request}`
  }${parts.revision === undefined ? "" : `,"revision":${JSON.stringify(parts.revision)}`},"tenant":${JSON.stringify(parts.tenant)}}`;
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
 * numbers become null, `toJSON` is honoured. Throws TypeError on cycles and bigints, and
 * `HttpError` 400 `too_deeply_nested` past `maxDepth` levels of objects and arrays (the value
 * itself is level 1). Iterative: no depth can overflow the stack.
 */
export function canonicalJson(value: unknown, maxDepth: number = maxCanonicalDepth): string {
  return canonicalJsonOrUndefined(value, maxDepth) ?? "null";
}

/** An object or array being written: its entries, how far it got, and the texts so far. */
interface OpenContainer {
  readonly object: object;
  readonly isArray: boolean;
  /** [key, value]: keys sorted for objects; `undefined` keys for array items. */
  readonly entries: ReadonlyArray<readonly [string | undefined, unknown]>;
  next: number;
  /** The key of the entry being written (an object's child may be a container still open). */
  key: string | undefined;
  readonly parts: string[];
}

const open = Symbol("open");

function canonicalJsonOrUndefined(value: unknown, maxDepth: number): string | undefined {
  const stack: OpenContainer[] = [];
  const ancestors = new Set<object>();
  let result: string | undefined;

  /** A leaf's JSON (undefined: it drops out), or `open` when it is a container now on the stack. */
  const begin = (raw: unknown): string | undefined | typeof open => {
    const withToJson = raw as { toJSON?: () => unknown } | null | undefined;
    const v = typeof withToJson?.toJSON === "function" ? withToJson.toJSON() : raw;
    if (v === null || typeof v === "boolean" || typeof v === "number" || typeof v === "string") return JSON.stringify(v);
    if (v === undefined || typeof v === "function" || typeof v === "symbol") return undefined;
    if (typeof v === "bigint") throw new TypeError("canonicalJson: a bigint has no JSON form; send it as a string or number");
    const object = v as object;
    if (ancestors.has(object)) throw new TypeError("canonicalJson: the value contains a cycle; only tree-shaped JSON has a key");
    if (stack.length >= maxDepth) {
      throw new HttpError(
        400,
        "too_deeply_nested",
        `The request is nested deeper than ${maxDepth} levels of objects and arrays; flatten it to at most ${maxDepth} levels.`,
      );
    }
    ancestors.add(object);
    const isArray = Array.isArray(object);
    const entries: Array<readonly [string | undefined, unknown]> = isArray
      ? (object as unknown[]).map((item) => [undefined, item] as const)
      : Object.keys(object)
          .sort()
          .map((key) => [key, (object as Record<string, unknown>)[key]] as const);
    stack.push({ object, isArray, entries, next: 0, key: undefined, parts: [] });
    return open;
  };

  /** Hand a finished value to the container it belongs in (or make it the result). */
  const deliver = (text: string | undefined): void => {
    const parent = stack[stack.length - 1];
    if (!parent) result = text;
    else if (parent.isArray) parent.parts.push(text ?? "null");
    else if (text !== undefined) parent.parts.push(`${JSON.stringify(parent.key)}:${text}`);
  };

  const first = begin(value);
  if (first !== open) return first;
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top.next < top.entries.length) {
      const [key, child] = top.entries[top.next++];
      top.key = key;
      const text = begin(child);
      if (text !== open) deliver(text);
      continue;
    }
    stack.pop();
    ancestors.delete(top.object);
    deliver(top.isArray ? `[${top.parts.join(",")}]` : `{${top.parts.join(",")}}`);
  }
  return result;
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
