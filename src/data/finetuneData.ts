// Fine-tuning data for the MoE language model (`aigc finetune --data <file>`): a JSONL file
// in OpenAI's fine-tuning formats, or any other file as plain text.
//
//   chat (supervised)   {"messages":[{"role":"system","content":"…"},{"role":"user","content":"…"},
//                        {"role":"assistant","content":"…","weight":1}]}
//   completion (legacy) {"prompt":"…","completion":"…"}
//   plain text          the whole file (.txt, .md, anything not .jsonl)
//
// Chat records become tokens through the project's chat template (src/data/chatTemplate.ts):
// each turn is its role token, the content (trimmed, special-token text kept as ordinary text)
// and <|eos|>. A completion record is its prompt, its completion and <|eos|>, as OpenAI's
// legacy format concatenates them. Every token carries a loss-mask bit: 1 on what the model
// is to learn to write (an assistant turn's content and its <|eos|>, a completion and its
// <|eos|>, all of plain text), 0 on what it is given (role tokens, system and user turns,
// prompts, assistant turns of weight 0). `mask[i]` says whether predicting `tokens[i]` from
// the tokens before it counts.
//
// Not supported, refused with a message naming the line and field: tool and function calling
// (role "tool"/"function", `tool_calls`, `function_call`, `tools`, `functions`), the "developer"
// role, images and audio in content, and preference (DPO) records.
//
// The held-out part is the tail: the records after the first record boundary past 90% of
// the tokens, or, for plain text, the text after the first paragraph break past 90% of the
// characters (as src/train/lmRecipe.ts cuts its sources).

import { readFileSync } from "node:fs";
import type { BpeTokenizer } from "./bpe.js";
import { CHAT_ROLE_TOKENS, END_OF_TURN } from "./chatTemplate.js";

/** The roles a chat record may use. */
export const FINETUNE_ROLES = ["system", "user", "assistant"] as const;
export type FinetuneRole = (typeof FINETUNE_ROLES)[number];

export interface FinetuneMessage {
  role: FinetuneRole;
  content: string;
  /** Assistant turns only: 1 (default) trains on the turn, 0 keeps it as context only. */
  weight: 0 | 1;
}

/** One record of a fine-tuning file, with the line it came from (1-based; 0 for plain text). */
export type FinetuneRecord =
  | { kind: "chat"; line: number; messages: FinetuneMessage[] }
  | { kind: "completion"; line: number; prompt: string; completion: string };

export type FinetuneFormat = "chat" | "completion" | "text";

/** A token stream and its loss mask, the records one after another. */
export interface FinetuneStream {
  tokens: Int32Array;
  /** 1 where predicting `tokens[i]` counts in the loss, 0 where the token is context only. */
  lossMask: Uint8Array;
  /** Where each record (plain text: the whole part) starts in `tokens`. */
  recordStarts: Int32Array;
}

export interface FinetuneData {
  format: FinetuneFormat;
  train: FinetuneStream;
  /** The held-out tail; empty only when the file holds a single record. */
  valid: FinetuneStream;
  /** JSONL: records read; plain text: paragraphs (blocks between blank lines). */
  records: number;
  /** Tokens in train and valid together. */
  tokens: number;
}

export interface FinetuneDataOptions {
  /** Fraction of the data held out, in [0, 1). Default 0.1. */
  heldOut?: number;
  /** How many errors of a JSONL file to list before giving up. Default 10. */
  maxErrors?: number;
  /** `"jsonl"` or `"text"`; default: by the file name (`.jsonl` → jsonl, anything else → text). */
  format?: "jsonl" | "text";
}

/** One problem of a JSONL file. */
export interface FinetuneLineError {
  line: number;
  message: string;
}

/**
 * A fine-tuning file that cannot be used. The message lists the first problems, each as
 * `<file>:<line>: <field>: <what is wrong>`; `errors` holds them (at most `maxErrors`).
 */
export class FinetuneDataError extends Error {
  constructor(
    readonly file: string,
    readonly errors: readonly FinetuneLineError[],
    readonly more = 0,
  ) {
    const lines = errors.map((e) => `${file}:${e.line}: ${e.message}`);
    if (more > 0) lines.push(`… and ${more} more error${more === 1 ? "" : "s"}`);
    super(lines.join("\n"));
    this.name = "FinetuneDataError";
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing JSONL

const CHAT_KEYS = ["messages"];
const COMPLETION_KEYS = ["prompt", "completion"];
const MESSAGE_KEYS = ["role", "content", "name", "weight"];

/** Fields of OpenAI's formats that this project does not support, and why. */
const UNSUPPORTED_RECORD_KEYS: Record<string, string> = {
  tools: "tool calling is not supported",
  functions: "function calling is not supported",
  parallel_tool_calls: "tool calling is not supported",
  input: "preference (DPO) records are not supported; use chat records",
  preferred_output: "preference (DPO) records are not supported; use chat records",
  non_preferred_output: "preference (DPO) records are not supported; use chat records",
};
const UNSUPPORTED_MESSAGE_KEYS: Record<string, string> = {
  tool_calls: "tool calling is not supported",
  function_call: "function calling is not supported",
  tool_call_id: "tool calling is not supported",
  audio: "audio is not supported",
  refusal: "refusals are not supported; write the refusal as the content",
};

class FieldError extends Error {}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return "a string";
  return typeof v === "object" ? "an object" : `${typeof v} ${JSON.stringify(v)}`;
}

function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], unsupported: Record<string, string>, at: string) {
  for (const key of Object.keys(obj)) {
    const field = at === "" ? key : `${at}.${key}`;
    if (key in unsupported) throw new FieldError(`${field}: ${unsupported[key]}`);
    if (!allowed.includes(key)) throw new FieldError(`${field}: unknown field; expected only ${allowed.join(", ")}`);
  }
}

/** A message's content: a string, or an array of `{"type":"text","text":"…"}` parts (joined). */
function contentText(content: unknown, at: string): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) throw new FieldError(`${at}: expected a string, got ${describe(content)}`);
  return content
    .map((part, j) => {
      const where = `${at}[${j}]`;
      if (!isObject(part)) throw new FieldError(`${where}: expected an object {"type":"text","text":"…"}, got ${describe(part)}`);
      if (part.type !== "text") {
        throw new FieldError(`${where}.type: only "text" parts are supported, got ${JSON.stringify(part.type)}`);
      }
      if (typeof part.text !== "string") throw new FieldError(`${where}.text: expected a string, got ${describe(part.text)}`);
      return part.text;
    })
    .join("");
}

function parseMessage(m: unknown, i: number): FinetuneMessage {
  const at = `messages[${i}]`;
  if (!isObject(m)) throw new FieldError(`${at}: expected an object {"role":…,"content":…}, got ${describe(m)}`);
  const role = m.role;
  if (role === "tool" || role === "function") {
    throw new FieldError(
      `${at}.role: "${role}" messages (tool calling) are not supported; expected one of ${FINETUNE_ROLES.join(", ")}`,
    );
  }
  if (typeof role !== "string" || !(FINETUNE_ROLES as readonly string[]).includes(role)) {
    const got = typeof role === "string" ? JSON.stringify(role) : role === undefined ? "nothing" : describe(role);
    throw new FieldError(`${at}.role: expected one of ${FINETUNE_ROLES.join(", ")}, got ${got}`);
  }
  checkKeys(m, MESSAGE_KEYS, UNSUPPORTED_MESSAGE_KEYS, at);
  if (!("content" in m)) throw new FieldError(`${at}.content: missing; expected a string`);
  const content = contentText(m.content, `${at}.content`);
  if (m.name !== undefined && typeof m.name !== "string") {
    throw new FieldError(`${at}.name: expected a string, got ${describe(m.name)}`);
  }
  let weight: 0 | 1 = 1;
  if (m.weight !== undefined) {
    if (role !== "assistant") throw new FieldError(`${at}.weight: only assistant messages have a weight`);
    if (m.weight !== 0 && m.weight !== 1) throw new FieldError(`${at}.weight: expected 0 or 1, got ${describe(m.weight)}`);
    weight = m.weight === 0 ? 0 : 1;
  }
  return { role: role as FinetuneRole, content, weight };
}

/** One line (already known not to be blank) as a record; throws FieldError. */
function parseRecord(text: string, line: number): FinetuneRecord {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new FieldError(`not valid JSON (${(err as Error).message}); each line must hold one JSON object`);
  }
  const shapes = `{"messages":[…]} (chat) or {"prompt":"…","completion":"…"}`;
  if (!isObject(json)) throw new FieldError(`expected a JSON object ${shapes}, got ${describe(json)}`);
  if ("messages" in json) {
    checkKeys(json, CHAT_KEYS, UNSUPPORTED_RECORD_KEYS, "");
    const messages = json.messages;
    if (!Array.isArray(messages)) throw new FieldError(`messages: expected an array of messages, got ${describe(messages)}`);
    if (messages.length === 0) throw new FieldError("messages: empty; expected at least one user and one assistant message");
    const parsed = messages.map(parseMessage);
    if (!parsed.some((m) => m.role === "assistant")) {
      throw new FieldError("messages: no assistant message, so nothing to learn; add the answer as an assistant message");
    }
    return { kind: "chat", line, messages: parsed };
  }
  if ("prompt" in json || "completion" in json) {
    checkKeys(json, COMPLETION_KEYS, UNSUPPORTED_RECORD_KEYS, "");
    for (const key of COMPLETION_KEYS) {
      if (typeof json[key] !== "string") {
        throw new FieldError(`${key}: expected a string, got ${json[key] === undefined ? "nothing" : describe(json[key])}`);
      }
    }
    return { kind: "completion", line, prompt: json.prompt as string, completion: json.completion as string };
  }
  for (const key of Object.keys(json))
    if (key in UNSUPPORTED_RECORD_KEYS) throw new FieldError(`${key}: ${UNSUPPORTED_RECORD_KEYS[key]}`);
  throw new FieldError(
    `expected ${shapes}; found ${Object.keys(json).length === 0 ? "no fields" : `fields ${Object.keys(json).join(", ")}`}`,
  );
}

/**
 * The records of a JSONL text (`file` names it in errors). Blank lines are skipped; a file
 * mixing chat and completion records is refused. Throws FinetuneDataError listing at most
 * `maxErrors` problems, each `<file>:<line>: …`. No records (an empty file) is not an error here.
 */
export function parseFinetuneJsonl(text: string, file: string, maxErrors = 10): FinetuneRecord[] {
  if (!Number.isInteger(maxErrors) || maxErrors < 1)
    throw new RangeError(`maxErrors must be a positive integer, got ${maxErrors}`);
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const records: FinetuneRecord[] = [];
  const errors: FinetuneLineError[] = [];
  let more = 0;
  let first: FinetuneRecord | undefined;
  lines.forEach((raw, i) => {
    if (raw.trim() === "") return;
    const line = i + 1;
    try {
      const record = parseRecord(raw, line);
      first ??= record;
      if (record.kind !== first.kind) {
        throw new FieldError(
          `a ${record.kind} record in a file of ${first.kind} records (line ${first.line}); use one format per file`,
        );
      }
      records.push(record);
    } catch (err) {
      if (!(err instanceof FieldError)) throw err;
      if (errors.length < maxErrors) errors.push({ line, message: err.message });
      else more++;
    }
  });
  if (errors.length > 0) throw new FinetuneDataError(file, errors, more);
  return records;
}

// ---------------------------------------------------------------------------------------------
// Tokens

/** Token ids and loss mask of one record. */
export interface EncodedRecord {
  tokens: number[];
  lossMask: number[];
}

function specialId(tokenizer: BpeTokenizer, token: string, why: string): number {
  const id = tokenizer.idOf(token);
  if (id === undefined) throw new Error(`the tokenizer has no ${token} token: ${why}`);
  return id;
}

const roleTokenOf: Record<FinetuneRole, string> = {
  system: CHAT_ROLE_TOKENS[0],
  user: CHAT_ROLE_TOKENS[1],
  assistant: CHAT_ROLE_TOKENS[2],
};

/**
 * A record as tokens in the chat template (chat) or as prompt + completion + <|eos|>, with its
 * loss mask. Text inside a record is never read as special tokens. A chat record gives the
 * same tokens as `tokenizer.encode(chatTranscript(messages))` when no content holds special-token text.
 */
export function encodeFinetuneRecord(record: FinetuneRecord, tokenizer: BpeTokenizer): EncodedRecord {
  const tokens: number[] = [];
  const lossMask: number[] = [];
  const push = (ids: readonly number[], learn: boolean): void => {
    for (const id of ids) {
      tokens.push(id);
      lossMask.push(learn ? 1 : 0);
    }
  };
  const text = (s: string): number[] => tokenizer.encode(s, { allowSpecial: false });
  const eos = specialId(tokenizer, END_OF_TURN, "fine-tuning needs the end-of-turn token");
  if (record.kind === "completion") {
    push(text(record.prompt), false);
    push(text(record.completion), true);
    push([eos], true);
    return { tokens, lossMask };
  }
  for (const m of record.messages) {
    const role = specialId(tokenizer, roleTokenOf[m.role], "chat records need a chat model's tokenizer (e.g. assets/chat)");
    const learn = m.role === "assistant" && m.weight === 1;
    push([role], false);
    push(text(m.content.trim()), learn);
    push([eos], learn);
  }
  return { tokens, lossMask };
}

function stream(parts: readonly EncodedRecord[]): FinetuneStream {
  const total = parts.reduce((a, p) => a + p.tokens.length, 0);
  const tokens = new Int32Array(total);
  const lossMask = new Uint8Array(total);
  const recordStarts = new Int32Array(parts.length);
  let at = 0;
  parts.forEach((p, i) => {
    recordStarts[i] = at;
    tokens.set(p.tokens, at);
    lossMask.set(p.lossMask, at);
    at += p.tokens.length;
  });
  return { tokens, lossMask, recordStarts };
}

function checkHeldOut(heldOut: number): void {
  if (!(heldOut >= 0 && heldOut < 1)) throw new RangeError(`heldOut must be in [0, 1), got ${heldOut}`);
}

/**
 * Encoded records cut into train and held-out parts at the first record boundary at or past
 * (1 - heldOut) of the tokens; at least one record is held out when there are two or more.
 */
export function splitRecords(parts: readonly EncodedRecord[], heldOut = 0.1): { train: FinetuneStream; valid: FinetuneStream } {
  checkHeldOut(heldOut);
  const total = parts.reduce((a, p) => a + p.tokens.length, 0);
  const target = total * (1 - heldOut);
  let cut = 0;
  let sum = 0;
  while (cut < parts.length && sum < target) sum += parts[cut++].tokens.length;
  if (heldOut > 0 && cut === parts.length && parts.length >= 2) cut--;
  return { train: stream(parts.slice(0, cut)), valid: stream(parts.slice(cut)) };
}

/**
 * Plain text cut into its first (1 - heldOut) and the rest, at the first paragraph break
 * (blank line) at or past the cut when one is within 5000 characters, else at the cut itself.
 */
export function splitText(text: string, heldOut = 0.1): { train: string; valid: string } {
  checkHeldOut(heldOut);
  const target = Math.floor(text.length * (1 - heldOut));
  const at = text.indexOf("\n\n", target);
  let cut = at < 0 || at - target > 5000 ? target : at;
  // never cut a surrogate pair in two
  if (cut > 0 && cut < text.length && /[\uD800-\uDBFF]/.test(text[cut - 1])) cut--;
  return { train: text.slice(0, cut), valid: text.slice(cut) };
}

/** Plain text as fine-tuning data: every token trained on; special-token text is ordinary text. */
export function textFinetuneData(text: string, tokenizer: BpeTokenizer, heldOut = 0.1): FinetuneData {
  const parts = splitText(text.replace(/\r\n?/g, "\n"), heldOut);
  const encode = (t: string): FinetuneStream => {
    const ids = tokenizer.encode(t, { allowSpecial: false });
    return stream([{ tokens: ids, lossMask: ids.map(() => 1) }]);
  };
  const train = encode(parts.train);
  const valid = encode(parts.valid);
  const records = text.split(/\n[ \t]*\n/).filter((p) => p.trim() !== "").length;
  return { format: "text", train, valid, records, tokens: train.tokens.length + valid.tokens.length };
}

/**
 * A fine-tuning file as token streams: `.jsonl` in OpenAI's chat or legacy completion format,
 * anything else as plain text (see the head of this file). Throws FinetuneDataError naming
 * the file, line and field of each problem (at most `maxErrors`), and an Error for a file
 * with no records or no text.
 */
export function readFinetuneData(path: string, tokenizer: BpeTokenizer, options: FinetuneDataOptions = {}): FinetuneData {
  const heldOut = options.heldOut ?? 0.1;
  checkHeldOut(heldOut);
  const format = options.format ?? (/\.jsonl$/i.test(path) ? "jsonl" : "text");
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`cannot read fine-tuning data ${path}: ${(err as Error).message}`);
  }
  if (format === "text") {
    if (text.trim() === "") throw new Error(`${path}: no text to fine-tune on (the file is empty)`);
    return textFinetuneData(text, tokenizer, heldOut);
  }
  const records = parseFinetuneJsonl(text, path, options.maxErrors ?? 10);
  if (records.length === 0) throw new Error(`${path}: no records (every line is blank); expected one JSON object a line`);
  const encoded = records.map((r) => encodeFinetuneRecord(r, tokenizer));
  const { train, valid } = splitRecords(encoded, heldOut);
  return {
    format: records[0].kind,
    train,
    valid,
    records: records.length,
    tokens: train.tokens.length + valid.tokens.length,
  };
}
