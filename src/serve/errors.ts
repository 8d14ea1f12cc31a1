// One typed HTTP error and the OpenAI-shaped error body every route answers with:
// { error: { message, type, code } }.

export type ErrorType = "invalid_request_error" | "not_found_error" | "server_error";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly type: ErrorType = status === 404 ? "not_found_error" : status >= 500 ? "server_error" : "invalid_request_error",
  ) {
    super(message);
    this.name = "HttpError";
  }
}

export interface ErrorBody {
  error: { message: string; type: ErrorType; code: string };
}

export const errorBody = (error: HttpError): ErrorBody => ({
  error: { message: error.message, type: error.type, code: error.code },
});

interface FastifyLikeError {
  statusCode?: number;
  code?: string;
  message: string;
}

/** Map anything thrown in a handler (ours, fastify's body parser, or a bug) to an HttpError. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  const f = (typeof error === "object" && error !== null ? error : { message: String(error) }) as FastifyLikeError;
  if (f.code === "FST_ERR_CTP_BODY_TOO_LARGE")
    return new HttpError(413, "body_too_large", `request body is larger than this server accepts: ${f.message}`);
  if (f.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE")
    return new HttpError(415, "unsupported_media_type", "send JSON with Content-Type: application/json");
  if (typeof f.statusCode === "number" && f.statusCode >= 400 && f.statusCode < 500)
    return new HttpError(f.statusCode, f.code === "FST_ERR_CTP_EMPTY_JSON_BODY" ? "empty_body" : "invalid_json", f.message);
  return new HttpError(500, "internal_error", "internal server error");
}

/** Response headers of every server-sent-events stream. */
export const sseHeaders: Readonly<Record<string, string>> = Object.freeze({
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  connection: "keep-alive",
});
