// Server-sent events (the WHATWG "event stream" format) parsed from raw bytes. Chunks may
// split anywhere: inside a line, between "\r" and "\n", inside a multi-byte UTF-8
// character. Comment lines (": keepalive") are skipped.

export interface SseEvent {
  /** The `event:` field, "message" when absent. */
  readonly event: string;
  /** The `data:` lines joined with "\n". */
  readonly data: string;
  readonly id?: string;
}

/** Incremental parser: `push` bytes, get the events they completed; `end` flushes. */
export class SseParser {
  private readonly decoder = new TextDecoder("utf-8");
  private buffer = "";
  /** The previous chunk ended with "\r": a leading "\n" in the next one belongs to it. */
  private pendingCr = false;
  private dataLines: string[] = [];
  private eventName = "";
  private lastId: string | undefined;

  push(bytes: Uint8Array): SseEvent[] {
    return this.consume(this.decoder.decode(bytes, { stream: true }));
  }

  /** End of stream: a final event without its blank line is dropped, as the spec says. */
  end(): SseEvent[] {
    const events = this.consume(this.decoder.decode());
    this.buffer = "";
    this.dataLines = [];
    return events;
  }

  private consume(text: string): SseEvent[] {
    let s = text;
    if (this.pendingCr && s.startsWith("\n")) s = s.slice(1);
    if (s.length > 0) this.pendingCr = false;
    this.buffer += s;
    const events: SseEvent[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      const line = this.buffer.slice(start, i);
      if (c === 13) {
        if (i + 1 < this.buffer.length) {
          if (this.buffer.charCodeAt(i + 1) === 10) i++;
        } else {
          this.pendingCr = true;
        }
      }
      start = i + 1;
      const event = this.line(line);
      if (event) events.push(event);
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  private line(line: string): SseEvent | undefined {
    if (line === "") {
      if (this.dataLines.length === 0) {
        this.eventName = "";
        return undefined;
      }
      const event: SseEvent = { event: this.eventName || "message", data: this.dataLines.join("\n"), id: this.lastId };
      this.dataLines = [];
      this.eventName = "";
      return event;
    }
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.dataLines.push(value);
    else if (field === "event") this.eventName = value;
    else if (field === "id" && !value.includes("\0")) this.lastId = value;
    return undefined;
  }
}

/** Events of a byte stream (e.g. a fetch `Response.body`). */
export async function* parseSse(bytes: AsyncIterable<Uint8Array>): AsyncGenerator<SseEvent> {
  const parser = new SseParser();
  for await (const chunk of bytes) yield* parser.push(chunk);
  yield* parser.end();
}
