// API keys: `sk-aigc-<32 base64url chars>` (192 random bits). Only their SHA-256 is ever
// stored or compared; the Authorization header parser never echoes what it was sent.

import { createHash, randomBytes } from "node:crypto";
import { HttpError } from "../errors.js";

export const apiKeyPrefix = "sk-aigc-";

export function newApiKey(): string {
  return apiKeyPrefix + randomBytes(24).toString("base64url");
}

/** SHA-256 hex of the key's UTF-8 bytes: what configs and stores hold instead of the key. */
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/**
 * The API key in an `Authorization: Bearer <key>` header. Throws HttpError 401
 * `invalid_api_key` (and nothing else) when the header is missing or not a bearer token.
 */
export function parseBearer(authorization: string | string[] | undefined): string {
  const header = Array.isArray(authorization) ? authorization[0] : authorization;
  if (typeof header !== "string" || header.trim() === "")
    throw new HttpError(401, "invalid_api_key", `missing API key: send the header "Authorization: Bearer ${apiKeyPrefix}…"`);
  const match = /^\s*bearer\s+(\S+)\s*$/i.exec(header);
  if (!match)
    throw new HttpError(
      401,
      "invalid_api_key",
      `malformed Authorization header: expected "Bearer <API key>" with a key starting "${apiKeyPrefix}"`,
    );
  return match[1];
}
