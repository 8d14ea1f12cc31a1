// Is a request sensitive? Yes if its endpoint is sensitive by definition (medical), or if
// any of its text (messages, prompt, embedding input) holds PHI/PII. Sensitive requests
// never leave the private zone.

import { sensitivity } from "../../secure/index.js";
import { type ChatCompletionRequest, type CompletionRequest, type EmbeddingsRequest, messageText } from "../openai/index.js";

export interface Classification {
  readonly sensitive: boolean;
  /** "endpoint:/v1/medical", "pii:email,phone", or "none"; names kinds, never the text found. */
  readonly reason: string;
}

export interface ClassifyOptions {
  /** The request path, e.g. `/v1/chat/completions` or `/v1/medical/report` (a query string is ignored). */
  readonly endpoint: string;
  /** Path prefixes sensitive by definition (default `["/v1/medical"]`). */
  readonly sensitiveEndpoints?: readonly string[];
}

export type ClassifiableRequest = ChatCompletionRequest | CompletionRequest | EmbeddingsRequest;

export const defaultSensitiveEndpoints: readonly string[] = ["/v1/medical"];

/** All text a request carries. Token-id inputs carry no readable text. */
export function requestTexts(req: ClassifiableRequest): string[] {
  if ("messages" in req) return req.messages.map((m) => messageText(m.content));
  if ("prompt" in req) return typeof req.prompt === "string" ? [req.prompt] : [...req.prompt];
  const input = req.input;
  if (typeof input === "string") return [input];
  return input.filter((x): x is string => typeof x === "string");
}

/** `/v1/medical` covers `/v1/medical` and `/v1/medical/…`, not `/v1/medicalx`. */
function matchesPrefix(path: string, prefix: string): boolean {
  const p = prefix.replace(/\/+$/, "").toLowerCase();
  return path === p || path.startsWith(`${p}/`);
}

export function classifyRequest(req: ClassifiableRequest, opts: ClassifyOptions): Classification {
  const path = opts.endpoint.split("?")[0].replace(/\/+$/, "").toLowerCase() || "/";
  const prefix = (opts.sensitiveEndpoints ?? defaultSensitiveEndpoints).find((p) => matchesPrefix(path, p));
  if (prefix !== undefined) return { sensitive: true, reason: `endpoint:${prefix}` };
  // One pass over all text joined, so context in one message ("Patient:") reaches a name in the next.
  const { kinds } = sensitivity(requestTexts(req).join("\n\n"));
  if (kinds.length > 0) return { sensitive: true, reason: `pii:${kinds.join(",")}` };
  return { sensitive: false, reason: "none" };
}
