// Tool calls as constrained text. The model writes a call as one compact JSON object, the
// form Hermes-style chat templates use:
//
//   {"name":"get_weather","arguments":{"city":"Paris"}}
//
// The header up to the arguments is a choice among the tools' names; the arguments follow
// that tool's parameters schema (the JSON-schema automaton); then the closing "}".
//
// `textOrToolCall` is the `tool_choice: "auto"` constraint: the model's first bytes decide.
// A reply that starts with "{" (after at most one space) is a call; any other reply is free
// UTF-8 text. So plain text may not start with "{", and the model calls a tool exactly when
// it puts its probability there.

import type { ByteAutomaton } from "./automaton.js";
import { ChoiceTrie } from "./choiceTrie.js";
import { type JsonSchema, type JsonState, jsonSchemaAutomaton } from "./jsonSchema.js";
import { utf8AtBoundary, utf8Start, utf8Step } from "./utf8.js";

export interface ToolSpec {
  name: string;
  /** The arguments' JSON schema (the JSON-schema automaton's subset). */
  parameters: JsonSchema;
}

/** The text of a call up to its arguments: `{"name":"<name>","arguments":`. */
export const toolCallHeader = (name: string): string => `{"name":${JSON.stringify(name)},"arguments":`;

export type ToolCallState =
  | { readonly p: "header"; readonly at: number }
  | { readonly p: "arguments"; readonly tool: number; readonly args: JsonState }
  | { readonly p: "done" };

const utf8 = new TextEncoder();
const closeBrace = 0x7d;

/** The calls of one of `tools`; throws JsonSchemaError when a tool's parameters are outside the subset. */
export function toolCallAutomaton(tools: readonly ToolSpec[]): ByteAutomaton<ToolCallState> {
  if (tools.length === 0) throw new RangeError("toolCallAutomaton needs at least one tool");
  const headers = new ChoiceTrie(tools.map((t) => utf8.encode(toolCallHeader(t.name))));
  const args = tools.map((t) => jsonSchemaAutomaton(t.parameters));
  const argsMin = args.map((a) => a.minBytesToAccept!(a.start));
  const done: ToolCallState = { p: "done" };

  const step = (state: ToolCallState, byte: number): ToolCallState | undefined => {
    switch (state.p) {
      case "header": {
        const at = headers.child(state.at, byte);
        if (at < 0) return undefined;
        const tool = headers.outcomeAt(at);
        return tool >= 0 ? { p: "arguments", tool, args: args[tool].start } : { p: "header", at };
      }
      case "arguments": {
        const a = args[state.tool];
        const next = a.step(state.args, byte);
        if (next !== undefined) return { p: "arguments", tool: state.tool, args: next };
        // The arguments are whole (an object ends itself; a number ends at the next byte): close the call.
        return byte === closeBrace && a.accepting(state.args) ? done : undefined;
      }
      case "done":
        return undefined;
    }
  };

  return {
    start: { p: "header", at: 0 },
    step,
    accepting: (state) => state.p === "done",
    key: (state) =>
      state.p === "header" ? `h${state.at}` : state.p === "done" ? "d" : `a${state.tool}:${args[state.tool].key!(state.args)}`,
    minBytesToAccept: (state) => {
      if (state.p === "done") return 0;
      if (state.p === "arguments") return args[state.tool].minBytesToAccept!(state.args) + 1;
      return headers.minRemaining(state.at, (tool) => argsMin[tool] + 1);
    },
  };
}

export type TextOrToolCallState =
  | { readonly b: "start" }
  /** One space read: still either. */
  | { readonly b: "space" }
  | { readonly b: "text"; readonly utf8: number }
  | { readonly b: "call"; readonly call: ToolCallState };

/** Free text that does not start with "{" or " {", or (after at most one space) a call of one of `tools`. */
export function textOrToolCall(tools: readonly ToolSpec[]): ByteAutomaton<TextOrToolCallState> {
  const call = toolCallAutomaton(tools);
  const openBrace = 0x7b;
  const space = 0x20;
  const text = (state: number, byte: number): TextOrToolCallState | undefined => {
    const next = utf8Step(state, byte);
    return next < 0 ? undefined : { b: "text", utf8: next };
  };
  const startCall = (byte: number): TextOrToolCallState | undefined => {
    const next = call.step(call.start, byte);
    return next === undefined ? undefined : { b: "call", call: next };
  };
  return {
    start: { b: "start" },
    step: (state, byte) => {
      switch (state.b) {
        case "start":
          if (byte === space) return { b: "space" };
          return byte === openBrace ? startCall(byte) : text(utf8Start, byte);
        case "space":
          return byte === openBrace ? startCall(byte) : text(utf8Step(utf8Start, space), byte);
        case "text":
          return text(state.utf8, byte);
        case "call": {
          const next = call.step(state.call, byte);
          return next === undefined ? undefined : { b: "call", call: next };
        }
      }
    },
    accepting: (state) =>
      state.b === "text" ? utf8AtBoundary(state.utf8) : state.b === "call" ? call.accepting(state.call) : true,
    // What follows text depends only on the bytes still expected for its last character.
    key: (state) => (state.b === "text" ? `t${state.utf8 & 0x1f}` : state.b === "call" ? `c${call.key!(state.call)}` : state.b),
    minBytesToAccept: (state) =>
      state.b === "text" ? (state.utf8 >> 3) & 3 : state.b === "call" ? call.minBytesToAccept!(state.call) : 0,
  };
}
