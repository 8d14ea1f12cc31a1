// Is a request sensitive? Yes if its endpoint is sensitive by definition (medical), if any
// string anywhere in its parsed body holds PHI/PII, or if part of it cannot be read (token
// ids, binary blobs): what cannot be read cannot be cleared. Sensitive requests never leave
// the private zone and are never cached.
//
// Why every string: PHI reaches a public provider wherever the classifier does not look —
// a message's `name`, `user`, `stop`, tool calls and results, schema descriptions, a
// completion's `suffix`, `metadata`. So the body is walked whole (iteratively: a 200k-deep
// array must not overflow the stack), and text encoded inside strings (base64, JSON such as
// tool-call arguments, %-escapes, HTML and \u escapes) is decoded and read as well. The
// detector folds lookalike characters (fullwidth digits, NBSP, zero-width characters; see
// src/secure/pii/fold.ts), so those do not hide PHI either.
//
// Texts are scanned joined, three ways, so PHI split across fields or messages is found:
// one text per line (context in one message, "Patient:", reaches the name on the next line),
// free-text values joined by a space ("Patient:" + "John Smith"), and joined with nothing
// ("536-22-" + "8491").

import { type PiiKind, piiKinds, sensitivity } from "../../secure/index.js";
import { HttpError } from "../errors.js";

export interface Classification {
  readonly sensitive: boolean;
  /**
   * "endpoint:/v1/medical", "pii:email,phone", "unreadable:token-ids", both kinds joined by
   * "; " ("pii:email; unreadable:binary"), or "none"; names kinds, never the text found.
   */
  readonly reason: string;
}

export interface ClassifyOptions {
  /** The request path, e.g. `/v1/chat/completions` or `/v1/medical/report` (a query string is ignored). */
  readonly endpoint: string;
  /** Path prefixes sensitive by definition (default `["/v1/medical"]`). */
  readonly sensitiveEndpoints?: readonly string[];
}

/** Any parsed request body: OpenAI chat/completions/embeddings, medical, avatar or other app bodies. */
export type ClassifiableRequest = unknown;

export const defaultSensitiveEndpoints: readonly string[] = ["/v1/medical"];

/** Deepest nesting of objects and arrays a body may have (the body itself is level 1). */
export const maxClassifyDepth = 64;

/** Why part of a request could not be read. */
export type UnreadableKind = "token-ids" | "binary" | "too-deeply-nested";

/** What the classifier reads of a request. */
export interface RequestReading {
  /** Every readable text, in document order; values under data keys carry the key ("ssn: 536228491"). */
  readonly texts: readonly string[];
  /** The free-text values alone, in document order (joined to find PHI split across fields). */
  readonly values: readonly string[];
  readonly unreadable: readonly UnreadableKind[];
}

/**
 * Field names of the request APIs (OpenAI's and JSON Schema's). A value under one of them is
 * read alone; a value under any other key (metadata, app fields) is read after its key, so
 * the key labels it. Keys outside this list are user data and are read themselves.
 */
const apiFields = new Set([
  "model",
  "messages",
  "role",
  "content",
  "type",
  "text",
  "name",
  "refusal",
  "tool_calls",
  "tool_call_id",
  "function",
  "function_call",
  "functions",
  "arguments",
  "id",
  "tools",
  "tool_choice",
  "parallel_tool_calls",
  "response_format",
  "json_schema",
  "schema",
  "strict",
  "description",
  "parameters",
  "properties",
  "items",
  "required",
  "enum",
  "const",
  "title",
  "format",
  "pattern",
  "default",
  "examples",
  "additionalProperties",
  "anyOf",
  "oneOf",
  "allOf",
  "$schema",
  "$ref",
  "$defs",
  "definitions",
  "stop",
  "suffix",
  "prompt",
  "input",
  "user",
  "metadata",
  "image_url",
  "input_audio",
  "url",
  "detail",
  "stream",
  "stream_options",
  "include_usage",
  "temperature",
  "top_p",
  "n",
  "max_tokens",
  "max_completion_tokens",
  "seed",
  "presence_penalty",
  "frequency_penalty",
  "logit_bias",
  "logprobs",
  "top_logprobs",
  "echo",
  "best_of",
  "encoding_format",
  "dimensions",
  "modalities",
  "store",
  "service_tier",
  "reasoning_effort",
]);

/** API fields whose values are keywords ("user", "function", "text"), kept out of the joined values. */
const keywordFields = new Set(["role", "type", "detail", "encoding_format", "service_tier", "reasoning_effort", "model"]);
const keywordRe = /^[A-Za-z0-9_.:/-]{1,128}$/;

/** Keys whose number arrays are token ids (a prompt the classifier cannot read). */
const tokenIdFields = new Set(["prompt", "input", "input_ids", "token_ids", "tokens"]);

/** Inline base64 runs (whole strings, data: URLs, or a run inside a sentence). */
const base64RunRe = /[A-Za-z0-9+/_-]{16,}={0,2}/g;
/** A base64 run this long that does not decode to text is binary data (an image, audio, a file). */
const binaryRunLength = 256;
/** Encoded bytes mix lower case, upper case and digits; a long plain word or "aaaa…" does not. */
const looksEncodedRe = [/[a-z]/, /[A-Z]/, /[0-9+/_-]/];
const percentRe = /%[0-9A-Fa-f]{2}/;
const escapeRe = /&#(?:[xX][0-9A-Fa-f]{1,6}|\d{1,7});|\\u[0-9A-Fa-f]{4}|\\x[0-9A-Fa-f]{2}/;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Text a base64 run decodes to, when it is text (mostly printable UTF-8); undefined otherwise. */
function base64Text(run: string): string | undefined {
  const bytes = Buffer.from(run.replace(/=+$/, ""), run.includes("-") || run.includes("_") ? "base64url" : "base64");
  if (bytes.length < 8) return undefined;
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return undefined;
  }
  let printable = 0;
  for (const ch of text) if (/[\p{L}\p{N}\p{P}\p{S}\p{Zs}\n\r\t]/u.test(ch)) printable++;
  return printable >= 0.9 * [...text].length ? text : undefined;
}

/** %XX runs decoded (invalid UTF-8 runs are left as they are). */
function percentDecoded(s: string): string {
  return s.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}

/** HTML numeric entities and \u / \x escapes decoded. */
function escapesDecoded(s: string): string {
  return s.replace(
    /&#([xX][0-9A-Fa-f]{1,6}|\d{1,7});|\\u([0-9A-Fa-f]{4})|\\x([0-9A-Fa-f]{2})/g,
    (whole: string, entity: string | undefined, u: string | undefined, x: string | undefined) => {
      const cp =
        entity !== undefined
          ? /^[xX]/.test(entity)
            ? Number.parseInt(entity.slice(1), 16)
            : Number(entity)
          : Number.parseInt(u ?? x ?? "", 16);
      return cp <= 0x10ffff ? String.fromCodePoint(cp) : whole;
    },
  );
}

interface Frame {
  readonly value: unknown;
  /** The nearest object key above this value (array items inherit their array's). */
  readonly key: string | undefined;
  /** How many objects and arrays this value sits inside (the body itself: 0). */
  readonly depth: number;
  /** Parsed from JSON inside a string: too deep there means unreadable, not a bad request. */
  readonly decoded: boolean;
  /** An object key read as data (a text of its own, not one of the joined values). */
  readonly isKey?: boolean;
}

const isTokenIds = (items: readonly unknown[]): boolean =>
  items.length > 0 && items.every((x) => typeof x === "number" || (Array.isArray(x) && x.every((y) => typeof y === "number")));

/**
 * Everything a request carries that can be read, and what cannot. Walks the body with an
 * explicit stack. Throws `HttpError` 400 `too_deeply_nested` when the body nests objects and
 * arrays deeper than `maxClassifyDepth`.
 */
export function readRequest(body: unknown): RequestReading {
  const texts: string[] = [];
  const values: string[] = [];
  const unreadable = new Set<UnreadableKind>();
  const seen = new Set<object>();
  const stack: Frame[] = [{ value: body, key: undefined, depth: 0, decoded: false }];

  const readString = (s: string, frame: Frame): void => {
    const { key } = frame;
    if (frame.isKey) {
      texts.push(s);
      return;
    }
    const isApiField = key === undefined || apiFields.has(key);
    texts.push(isApiField ? s : `${key}: ${s}`);
    if (!(key !== undefined && keywordFields.has(key) && keywordRe.test(s))) values.push(s);
    // Text hidden inside the string, read like the string itself.
    const trimmed = s.trim();
    if ((trimmed.startsWith("{") && trimmed.endsWith("}")) || (trimmed.startsWith("[") && trimmed.endsWith("]"))) {
      try {
        const parsed: unknown = JSON.parse(trimmed);
        if (typeof parsed === "object" && parsed !== null) stack.push({ value: parsed, key, depth: frame.depth, decoded: true });
      } catch {
        // Not JSON: it was read as text above.
      }
    }
    if (percentRe.test(s)) texts.push(percentDecoded(s));
    if (escapeRe.test(s)) texts.push(escapesDecoded(s));
    for (const m of s.matchAll(base64RunRe)) {
      const decoded = base64Text(m[0]);
      if (decoded !== undefined) texts.push(decoded);
      else if (m[0].length >= binaryRunLength && looksEncodedRe.every((re) => re.test(m[0]))) unreadable.add("binary");
    }
  };

  while (stack.length > 0) {
    const frame = stack.pop()!;
    const { value, key } = frame;
    if (typeof value === "string") {
      readString(value, frame);
      continue;
    }
    if (typeof value === "number" || typeof value === "bigint") {
      // Numbers under API fields are parameters (max_tokens, seed); under data keys they are data.
      if (key !== undefined && !apiFields.has(key)) texts.push(`${key}: ${String(value)}`);
      continue;
    }
    if (typeof value !== "object" || value === null) continue;
    if (seen.has(value)) continue;
    seen.add(value);
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
      unreadable.add("binary");
      continue;
    }
    const depth = frame.depth + 1;
    if (depth > maxClassifyDepth) {
      if (frame.decoded) {
        unreadable.add("too-deeply-nested");
        continue;
      }
      throw new HttpError(
        400,
        "too_deeply_nested",
        `The request body is nested deeper than ${maxClassifyDepth} levels of objects and arrays; flatten it to at most ${maxClassifyDepth} levels.`,
      );
    }
    if (Array.isArray(value)) {
      if (key !== undefined && tokenIdFields.has(key) && isTokenIds(value)) {
        unreadable.add("token-ids");
        continue;
      }
      // Reversed onto the stack, so items are read in document order.
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], key, depth, decoded: frame.decoded });
      continue;
    }
    // A message's `name` first, whatever the field order: templates put the speaker before the
    // content, so "Patient" + ": Zelda Quarry" is what the model reads.
    const entries = Object.entries(value).sort(([a], [b]) => Number(b === "name") - Number(a === "name"));
    for (let i = entries.length - 1; i >= 0; i--) {
      const [childKey, child] = entries[i];
      stack.push({ value: child, key: childKey, depth, decoded: frame.decoded });
      // A key that is not an API field is user data (metadata keys, app fields): read it too.
      // Pushed after its value, so it is read before it.
      if (!apiFields.has(childKey)) stack.push({ value: childKey, key: undefined, depth, decoded: frame.decoded, isKey: true });
    }
  }
  return { texts, values, unreadable: (["token-ids", "binary", "too-deeply-nested"] as const).filter((k) => unreadable.has(k)) };
}

/** All readable text of a request, in document order. */
export function requestTexts(body: unknown): string[] {
  return [...readRequest(body).texts];
}

/** The path as routed: no query or fragment, %-escapes decoded, `//` and `.`/`..` segments resolved, lower-cased. */
function canonicalPath(endpoint: string): string {
  const raw = endpoint.split(/[?#]/)[0];
  const segments: string[] = [];
  for (const segment of raw.split("/")) {
    let s = segment;
    try {
      s = decodeURIComponent(segment);
    } catch {
      // A malformed escape stays as written.
    }
    if (s === "" || s === ".") continue;
    if (s === "..") segments.pop();
    else segments.push(s.toLowerCase());
  }
  return `/${segments.join("/")}`;
}

/** `/v1/medical` covers `/v1/medical` and `/v1/medical/…`, not `/v1/medicalx`. */
function matchesPrefix(path: string, prefix: string): boolean {
  const p = canonicalPath(prefix);
  return path === p || path.startsWith(`${p === "/" ? "" : p}/`);
}

/**
 * Classify a parsed request body (any shape). Reads every string and data key of it (see the
 * header comment). Throws `HttpError` 400 `too_deeply_nested` past `maxClassifyDepth` levels.
 */
export function classifyRequest(body: unknown, opts: ClassifyOptions): Classification {
  const path = canonicalPath(opts.endpoint);
  const prefix = (opts.sensitiveEndpoints ?? defaultSensitiveEndpoints).find((p) => matchesPrefix(path, p));
  if (prefix !== undefined) return { sensitive: true, reason: `endpoint:${prefix}` };
  const reading = readRequest(body);
  const found = new Set<PiiKind>();
  for (const text of [reading.texts.join("\n"), reading.values.join(" "), reading.values.join("")]) {
    for (const kind of sensitivity(text).kinds) found.add(kind);
  }
  const kinds = piiKinds.filter((k) => found.has(k));
  const reasons: string[] = [];
  if (kinds.length > 0) reasons.push(`pii:${kinds.join(",")}`);
  if (reading.unreadable.length > 0) reasons.push(`unreadable:${reading.unreadable.join(",")}`);
  if (reasons.length > 0) return { sensitive: true, reason: reasons.join("; ") };
  return { sensitive: false, reason: "none" };
}
