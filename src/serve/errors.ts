// One typed HTTP error and the OpenAI-shaped error body every route answers with:
// { error: { message, type, param, code } } (`param`: the request field at fault, or null).

export type ErrorType = "invalid_request_error" | "not_found_error" | "server_error";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly type: ErrorType = status === 404 ? "not_found_error" : status >= 500 ? "server_error" : "invalid_request_error",
    /** Headers the answer carries (`Allow` on a 405). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = "HttpError";
  }

  /**
   * OpenAI's `error.param`: the request field at fault (`messages[0].content`), or null for
   * the request as a whole. Set by ParameterError (openai/schemas.ts); null for the others.
   */
  readonly param: string | null = null;
}

export interface ErrorBody {
  error: { message: string; type: ErrorType; param: string | null; code: string };
}

export const errorBody = (error: HttpError): ErrorBody => ({
  error: { message: error.message, type: error.type, param: error.param, code: error.code },
});

/** 1048576 → "1 MiB", 23488103 → "22.4 MiB", 1500 → "1.5 KiB", 300 → "300 bytes". */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  const [size, unit] = bytes < 1024 * 1024 ? [bytes / 1024, "KiB"] : [bytes / 1024 / 1024, "MiB"];
  return `${Number.isInteger(size) ? size : size.toFixed(1)} ${unit}`;
}

/** What the error handler knows about the refused request. */
export interface RefusedRequest {
  /** "POST /v1/chat/completions" (the route, or the path when none matched). */
  readonly route: string;
  /** The route's body limit in bytes. */
  readonly bodyLimit: number;
  /** The declared Content-Length; undefined for a chunked body. */
  readonly contentLength: number | undefined;
}

/** 413: the body's declared size is over the route's limit, or a chunked body grew past it. */
export const bodyTooLarge = (r: RefusedRequest): HttpError =>
  new HttpError(
    413,
    "body_too_large",
    r.contentLength !== undefined && r.contentLength > r.bodyLimit
      ? `request body is ${formatBytes(r.contentLength)}; ${r.route} accepts at most ${formatBytes(r.bodyLimit)} (${r.bodyLimit} bytes)`
      : `request body is larger than the ${formatBytes(r.bodyLimit)} (${r.bodyLimit} bytes) ${r.route} accepts: read up to the limit, then refused`,
  );

/** 413: more characters of text than the route reads (counted before validation, scanning or tokenising). */
export const textTooLong = (route: string, limit: number): HttpError =>
  new HttpError(
    413,
    "text_too_long",
    `the request carries more than ${limit.toLocaleString("en-US")} characters of text; ${route} accepts at most that (send less text, or split it over several requests)`,
  );

/** 405: the path exists, the method does not; `Allow` lists the methods that do. */
export const methodNotAllowed = (method: string, path: string, allowed: readonly string[]): HttpError =>
  new HttpError(
    405,
    "method_not_allowed",
    `${method} is not allowed on ${path}; use ${allowed.join(" or ")}`,
    "invalid_request_error",
    { allow: allowed.join(", ") },
  );

interface FastifyLikeError {
  statusCode?: number;
  code?: string;
  message: string;
}

/**
 * Map anything thrown in a handler (ours, fastify's body parser, or a bug) to an HttpError.
 * `request` lets a 413 say what the limit is.
 */
export function toHttpError(error: unknown, request?: RefusedRequest): HttpError {
  if (error instanceof HttpError) return error;
  const f = (typeof error === "object" && error !== null ? error : { message: String(error) }) as FastifyLikeError;
  if (f.code === "FST_ERR_CTP_BODY_TOO_LARGE")
    return request
      ? bodyTooLarge(request)
      : new HttpError(413, "body_too_large", `request body is larger than this server accepts: ${f.message}`);
  if (f.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE")
    return new HttpError(415, "unsupported_media_type", "send JSON with Content-Type: application/json");
  if (f.code === "FST_ERR_CTP_EMPTY_JSON_BODY")
    return new HttpError(400, "empty_body", "the request body is empty: expected a JSON object");
  if (f.code === "FST_ERR_CTP_INVALID_CONTENT_LENGTH")
    return new HttpError(400, "invalid_content_length", "the request body's length does not match its Content-Length header");
  if (f.code === "FST_ERR_CTP_INVALID_JSON_BODY" || (error instanceof SyntaxError && f.statusCode === 400))
    return new HttpError(400, "invalid_json", "the request body is not valid JSON");
  if (f.code === "FST_REQ_FILE_TOO_LARGE")
    return new HttpError(413, "file_too_large", "an uploaded file is larger than this route accepts");
  if (typeof f.statusCode === "number" && f.statusCode >= 400 && f.statusCode < 500)
    return new HttpError(f.statusCode, "invalid_request", f.message);
  return new HttpError(500, "internal_error", "internal server error");
}

/** Response headers of every server-sent-events stream. */
export const sseHeaders: Readonly<Record<string, string>> = Object.freeze({
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  connection: "keep-alive",
});
