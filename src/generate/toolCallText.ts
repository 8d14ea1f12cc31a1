// Reading a streamed reply written under `toolCallAutomaton` or `textOrToolCall` (see
// constraints/toolCall.ts): plain text, or a call `{"name":"…","arguments":…}` split into the
// tool's name (as soon as the header is complete) and fragments of the arguments' text, so a
// caller can stream the call as it is written. The call's closing "}" is held back until
// more text shows it was not the end of the arguments (they may end with "}" too).

import { toolCallHeader } from "./constraints/index.js";

export type ReplyEvent =
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "call"; readonly name: string }
  | { readonly kind: "arguments"; readonly text: string };

export class ToolCallReplyParser {
  private raw = "";
  private branch: "undecided" | "text" | "call";
  /** Where the call's "{" is (after an optional space in "auto"). */
  private callStart = 0;
  private argsStart = -1;
  private argsEmitted = 0;
  private textEmitted = 0;
  private readonly headers: readonly { name: string; header: string }[];
  /** The called tool's name, once its header is complete. */
  name: string | undefined;

  /** `mode` "call": the reply is a call; "auto": text, or a call when it starts with "{" or " {". */
  constructor(names: readonly string[], mode: "call" | "auto") {
    this.headers = names.map((name) => ({ name, header: toolCallHeader(name) }));
    this.branch = mode === "call" ? "call" : "undecided";
  }

  /** Whether the reply is (so far known to be) a call. */
  get isCall(): boolean {
    return this.branch === "call";
  }

  /** The arguments' text so far (the whole of it after `finish(true)`). */
  get argumentsText(): string {
    return this.argsStart < 0 ? "" : this.raw.slice(this.argsStart, this.argsStart + this.argsEmitted);
  }

  /** Feed newly generated text; returns what it makes known. */
  push(delta: string): ReplyEvent[] {
    this.raw += delta;
    if (this.branch === "undecided") {
      const lead = this.raw.startsWith(" ") ? 1 : 0;
      if (this.raw.length <= lead) return [];
      this.branch = this.raw[lead] === "{" ? "call" : "text";
      this.callStart = lead;
    }
    return this.branch === "text" ? this.text() : this.call(false);
  }

  /** The reply ended: `complete` when the call (if it is one) was closed. Releases what was held back. */
  finish(complete: boolean): ReplyEvent[] {
    if (this.branch === "undecided") this.branch = "text";
    return this.branch === "text" ? this.text() : this.call(true, complete);
  }

  private text(): ReplyEvent[] {
    const text = this.raw.slice(this.textEmitted);
    this.textEmitted = this.raw.length;
    return text === "" ? [] : [{ kind: "text", text }];
  }

  private call(ended: boolean, complete = false): ReplyEvent[] {
    const events: ReplyEvent[] = [];
    if (this.name === undefined) {
      const rest = this.raw.slice(this.callStart);
      const hit = this.headers.find((h) => rest.startsWith(h.header));
      if (!hit) return events;
      this.name = hit.name;
      this.argsStart = this.callStart + hit.header.length;
      events.push({ kind: "call", name: hit.name });
    }
    const end = ended && !complete ? this.raw.length : this.raw.endsWith("}") ? this.raw.length - 1 : this.raw.length;
    const from = this.argsStart + this.argsEmitted;
    if (end > from) {
      events.push({ kind: "arguments", text: this.raw.slice(from, end) });
      this.argsEmitted = end - this.argsStart;
    }
    return events;
  }
}
