// JSON-schema mode: a pushdown byte automaton accepting exactly the compact JSON texts (no
// whitespace) valid for a schema of this subset:
//   object   properties in the given order, `required` (others may be left out),
//            no additional properties
//   array    items, minItems, maxItems
//   string   enum, or free text with maxLength (in characters; an escape is one character)
//   integer / number   minimum, maximum (number: at most `fractionDigits` decimals, no exponent)
//   boolean, null, enum of literals, nullable via type arrays (["integer", "null"]) or anyOf
//   whose alternatives start with different bytes (different JSON types)
// Texts are canonical: no leading zeros, strings as JSON.stringify writes enum values.
//
// The state is an immutable stack of frames (innermost first), one per value being read. A
// number (or a numeric enum) does not know it has ended until a byte it cannot take: then it
// is popped and the byte goes to the frame below. Every live state can be completed (the
// compiler rejects unsatisfiable schemas), so masks are never empty. The stack depth is
// bounded by the schema's nesting, and each frame has a short key, so states memoise.

import type { ByteAutomaton } from "./automaton.js";
import { ChoiceTrie } from "./choiceTrie.js";
import { utf8AtBoundary, utf8Start, utf8Step } from "./utf8.js";

export type JsonTypeName = "object" | "array" | "string" | "integer" | "number" | "boolean" | "null";
export type JsonLiteral = string | number | boolean | null;

/** The schema subset (a JSON Schema object); unknown keywords are rejected, `description`/`title` ignored. */
export interface JsonSchema {
  type?: JsonTypeName | readonly JsonTypeName[];
  enum?: readonly JsonLiteral[];
  anyOf?: readonly JsonSchema[];
  properties?: Readonly<Record<string, JsonSchema>>;
  required?: readonly string[];
  additionalProperties?: false;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  /** number only: most digits after the point (default 6). */
  fractionDigits?: number;
  description?: string;
  title?: string;
}

/** A schema outside the supported subset, or one no value satisfies. */
export class JsonSchemaError extends Error {
  override name = "JsonSchemaError";
}

// ---------------------------------------------------------------------------------------------
// Compiled schema nodes

interface ChoiceNode {
  kind: "choice";
  id: number;
  trie: ChoiceTrie;
}
interface ObjectNode {
  kind: "object";
  id: number;
  properties: SchemaNode[];
  /** keyTries[a + 1]: after property a (-1: none yet), the choice of "}" (outcome -1) or the next key (outcome j). */
  keyTries: ChoiceTrie[];
}
interface ArrayNode {
  kind: "array";
  id: number;
  items: SchemaNode;
  minItems: number;
  maxItems: number;
}
interface NumberNode {
  kind: "number";
  id: number;
  /** Bounds scaled by 10^fractionDigits (integers: fractionDigits 0). */
  min: bigint;
  max: bigint;
  fractionDigits: number;
}
interface StringNode {
  kind: "string";
  id: number;
  maxLength: number;
}
interface UnionNode {
  kind: "union";
  id: number;
  /** The alternative starting with each byte. */
  byFirstByte: Map<number, SchemaNode>;
}
type SchemaNode = ChoiceNode | ObjectNode | ArrayNode | NumberNode | StringNode | UnionNode;

const utf8 = new TextEncoder();
const knownKeywords = new Set([
  "type",
  "enum",
  "anyOf",
  "properties",
  "required",
  "additionalProperties",
  "items",
  "minItems",
  "maxItems",
  "minimum",
  "maximum",
  "maxLength",
  "fractionDigits",
  "description",
  "title",
]);
const safeMax = BigInt(Number.MAX_SAFE_INTEGER);

function literalType(value: JsonLiteral): JsonTypeName {
  if (value === null) return "null";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value as "string" | "boolean";
}

class SchemaCompiler {
  private nextId = 0;

  compile(schema: JsonSchema, path: string): SchemaNode {
    if (typeof schema !== "object" || schema === null || Array.isArray(schema)) {
      throw new JsonSchemaError(`${path}: expected a schema object, got ${JSON.stringify(schema)}`);
    }
    for (const keyword of Object.keys(schema)) {
      if (!knownKeywords.has(keyword)) {
        throw new JsonSchemaError(`${path}: keyword "${keyword}" is not supported; supported: ${[...knownKeywords].join(", ")}`);
      }
    }
    if (schema.anyOf !== undefined) {
      if (schema.type !== undefined || schema.enum !== undefined) {
        throw new JsonSchemaError(`${path}: give either anyOf or type/enum, not both`);
      }
      if (schema.anyOf.length === 0) throw new JsonSchemaError(`${path}: anyOf is empty, so no value is valid`);
      return this.union(
        schema.anyOf.map((alt, i) => this.compile(alt, `${path}.anyOf[${i}]`)),
        path,
      );
    }
    const types = schema.type === undefined ? undefined : typeof schema.type === "string" ? [schema.type] : [...schema.type];
    if (schema.enum !== undefined) {
      const values = schema.enum.filter(
        (v) =>
          types === undefined || types.includes(literalType(v)) || (literalType(v) === "integer" && types.includes("number")),
      );
      if (values.length === 0)
        throw new JsonSchemaError(`${path}: no enum value has the schema's type ${JSON.stringify(schema.type)}`);
      return this.choice(values.map((v) => JSON.stringify(v)));
    }
    if (types === undefined) throw new JsonSchemaError(`${path}: give a type, an enum or anyOf`);
    if (types.length === 0) throw new JsonSchemaError(`${path}: the type list is empty`);
    if (types.length > 1)
      return this.union(
        types.map((type) => this.compile({ ...schema, type }, `${path}<${type}>`)),
        path,
      );
    switch (types[0]) {
      case "null":
        return this.choice(["null"]);
      case "boolean":
        return this.choice(["true", "false"]);
      case "string":
        return {
          kind: "string",
          id: this.nextId++,
          maxLength: this.count(schema.maxLength, `${path}.maxLength`, Number.POSITIVE_INFINITY),
        };
      case "integer":
      case "number":
        return this.number(schema, types[0], path);
      case "array":
        return this.array(schema, path);
      case "object":
        return this.object(schema, path);
      default:
        throw new JsonSchemaError(
          `${path}: type ${JSON.stringify(types[0])} is not one of object, array, string, integer, number, boolean, null`,
        );
    }
  }

  private count(value: number | undefined, path: string, fallback: number): number {
    if (value === undefined) return fallback;
    if (!Number.isInteger(value) || value < 0) throw new JsonSchemaError(`${path} must be an integer ≥ 0, got ${value}`);
    return value;
  }

  private choice(texts: readonly string[]): ChoiceNode {
    return { kind: "choice", id: this.nextId++, trie: new ChoiceTrie(texts.map((t) => utf8.encode(t))) };
  }

  private number(schema: JsonSchema, type: "integer" | "number", path: string): NumberNode {
    const fractionDigits = type === "integer" ? 0 : this.count(schema.fractionDigits, `${path}.fractionDigits`, 6);
    if (fractionDigits > 15) throw new JsonSchemaError(`${path}.fractionDigits must be ≤ 15, got ${fractionDigits}`);
    const scale = 10 ** fractionDigits;
    const bound = (value: number | undefined, name: string, round: (x: number) => number, fallback: bigint): bigint => {
      if (value === undefined) return fallback;
      if (!Number.isFinite(value)) throw new JsonSchemaError(`${path}.${name} must be a finite number, got ${value}`);
      return BigInt(round(value * scale));
    };
    const limit = safeMax * BigInt(scale);
    const min = bound(schema.minimum, "minimum", Math.ceil, -limit);
    const max = bound(schema.maximum, "maximum", Math.floor, limit);
    if (min > max)
      throw new JsonSchemaError(`${path}: minimum ${schema.minimum} > maximum ${schema.maximum}, so no ${type} is valid`);
    return { kind: "number", id: this.nextId++, min, max, fractionDigits };
  }

  private array(schema: JsonSchema, path: string): ArrayNode {
    if (schema.items === undefined) throw new JsonSchemaError(`${path}: an array needs an items schema`);
    const minItems = this.count(schema.minItems, `${path}.minItems`, 0);
    const maxItems = this.count(schema.maxItems, `${path}.maxItems`, Number.POSITIVE_INFINITY);
    if (minItems > maxItems) throw new JsonSchemaError(`${path}: minItems ${minItems} > maxItems ${maxItems}`);
    return { kind: "array", id: this.nextId++, items: this.compile(schema.items, `${path}.items`), minItems, maxItems };
  }

  private object(schema: JsonSchema, path: string): ObjectNode {
    if (schema.additionalProperties !== undefined && schema.additionalProperties !== false) {
      throw new JsonSchemaError(`${path}: additionalProperties must be false (or left out)`);
    }
    const names = Object.keys(schema.properties ?? {});
    const required = new Set(schema.required ?? []);
    for (const name of required) {
      if (!names.includes(name)) throw new JsonSchemaError(`${path}: required property "${name}" is not in properties`);
    }
    const properties = names.map((name) => this.compile(schema.properties![name], `${path}.properties.${name}`));
    const keyTries: ChoiceTrie[] = [];
    for (let after = -1; after < names.length; after++) {
      const trie = new ChoiceTrie();
      let j = after + 1;
      for (; j < names.length; j++) {
        trie.add(utf8.encode(`${after < 0 ? "" : ","}${JSON.stringify(names[j])}:`), j);
        if (required.has(names[j])) break;
      }
      if (j >= names.length) trie.add(utf8.encode("}"), -2); // every later property is optional
      keyTries.push(trie);
    }
    return { kind: "object", id: this.nextId++, properties, keyTries };
  }

  private union(alternatives: SchemaNode[], path: string): UnionNode {
    const byFirstByte = new Map<number, SchemaNode>();
    for (const alt of alternatives) {
      for (const b of firstBytes(alt)) {
        if (byFirstByte.has(b)) {
          throw new JsonSchemaError(
            `${path}: two alternatives may start with ${JSON.stringify(String.fromCharCode(b))}; ` +
              "anyOf / type lists must be of different JSON types (merge enums into one)",
          );
        }
        byFirstByte.set(b, alt);
      }
    }
    return { kind: "union", id: this.nextId++, byFirstByte };
  }
}

const digitBytes = [0x2d, ...Array.from({ length: 10 }, (_, i) => 0x30 + i)];

function firstBytes(node: SchemaNode): number[] {
  switch (node.kind) {
    case "choice":
      return node.trie.firstBytes();
    case "object":
      return [0x7b];
    case "array":
      return [0x5b];
    case "string":
      return [0x22];
    case "number":
      return digitBytes;
    case "union":
      return [...node.byFirstByte.keys()];
  }
}

// ---------------------------------------------------------------------------------------------
// Frames and the stack

type Frame =
  | { t: "union"; node: UnionNode }
  | { t: "choice"; node: ChoiceNode; at: number }
  /** open: "{" read; after: the last property written (-1 none); at: node in keyTries[after + 1] */
  | { t: "object"; node: ObjectNode; open: boolean; after: number; at: number }
  /** phase 0: expects "["; 1: "[" read; 2: an item read. count: items started */
  | { t: "array"; node: ArrayNode; phase: 0 | 1 | 2; count: number }
  | { t: "number"; node: NumberNode; negative: boolean; int: string; dot: boolean; frac: string }
  /** escape: 0 none, 1 after "\", 2–5: hex digits of \uXXXX still to read + 1 */
  | { t: "string"; node: StringNode; open: boolean; chars: number; escape: number; utf8: number };

/** The frames being read, innermost first; null: a whole value has been read. */
export interface JsonStack {
  readonly frame: Frame;
  readonly below: JsonStack | null;
  readonly key: string;
}

export type JsonState = JsonStack | null;

function frameKey(f: Frame): string {
  switch (f.t) {
    case "union":
      return `u${f.node.id}`;
    case "choice":
      return `c${f.node.id}.${f.at}`;
    case "object":
      return `o${f.node.id}.${f.open ? 1 : 0}.${f.after}.${f.at}`;
    case "array":
      return `a${f.node.id}.${f.phase}.${f.count}`;
    case "number":
      return `n${f.node.id}.${f.negative ? "-" : ""}${f.int}${f.dot ? "." : ""}${f.frac}`;
    case "string":
      return `s${f.node.id}.${f.open ? 1 : 0}.${f.chars}.${f.escape}.${f.utf8 & 0x1f}`;
  }
}

const push = (frame: Frame, below: JsonStack | null): JsonStack => ({
  frame,
  below,
  key: `${frameKey(frame)}/${below?.key ?? ""}`,
});

function initialFrame(node: SchemaNode): Frame {
  switch (node.kind) {
    case "union":
      return { t: "union", node };
    case "choice":
      return { t: "choice", node, at: 0 };
    case "object":
      return { t: "object", node, open: false, after: -1, at: 0 };
    case "array":
      return { t: "array", node, phase: 0, count: 0 };
    case "number":
      return { t: "number", node, negative: false, int: "", dot: false, frac: "" };
    case "string":
      return { t: "string", node, open: false, chars: 0, escape: 0, utf8: utf8Start };
  }
}

/** Whether a frame holds a complete value that more bytes could still extend (numbers, numeric enums). */
function completeFrame(f: Frame): boolean {
  if (f.t === "choice") return f.node.trie.outcomeAt(f.at) >= 0;
  if (f.t === "number") return numberComplete(f.node, f.negative, f.int, f.dot, f.frac);
  return false;
}

// ---------------------------------------------------------------------------------------------
// Numbers: a prefix is allowed iff some number with ≤ fractionDigits decimals in [min, max]
// starts with it. Magnitudes are counted in units of 10^-fractionDigits.

const ten = 10n;

/** max for bigints (Math.max takes numbers only). */
function largerBigint(a: bigint, b: bigint): bigint {
  if (a > b) return a;
  return b;
}

function overlaps(negative: boolean, lo: bigint, hi: bigint, node: NumberNode): boolean {
  const [a, b] = negative ? [-hi, -lo] : [lo, hi];
  return a <= node.max && b >= node.min;
}

function numberFeasible(node: NumberNode, negative: boolean, int: string, dot: boolean, frac: string): boolean {
  const scale = ten ** BigInt(node.fractionDigits);
  if (int === "") return overlaps(negative, negative ? 1n : 0n, BigInt(Number.MAX_SAFE_INTEGER) * scale * ten, node);
  const d = BigInt(int);
  if (dot) {
    const unit = ten ** BigInt(node.fractionDigits - frac.length);
    const lo = d * scale + (frac === "" ? 0n : BigInt(frac)) * unit;
    return overlaps(negative, lo, lo + unit - 1n, node);
  }
  const limit = largerBigint(node.max, -node.min);
  for (let p = 1n; ; p *= ten) {
    const lo = d * p * scale;
    if (lo > limit) return false;
    if (overlaps(negative, lo, (d + 1n) * p * scale - 1n, node)) return true;
    if (int === "0") return false; // no digits may follow a leading zero
  }
}

function numberComplete(node: NumberNode, negative: boolean, int: string, dot: boolean, frac: string): boolean {
  if (int === "" || (dot && frac === "")) return false;
  const scale = ten ** BigInt(node.fractionDigits);
  const magnitude = BigInt(int) * scale + (frac === "" ? 0n : BigInt(frac) * ten ** BigInt(node.fractionDigits - frac.length));
  const value = negative ? -magnitude : magnitude;
  return value >= node.min && value <= node.max;
}

// ---------------------------------------------------------------------------------------------
// Stepping

const RETRY = Symbol("retry");

function isHex(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
}

const simpleEscapes = new Set([0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74]);

/** One byte into the top frame: the new stack, undefined (dead) or RETRY (the frame is done; give the byte below). */
function stepFrame(f: Frame, below: JsonStack | null, byte: number): JsonState | undefined | typeof RETRY {
  switch (f.t) {
    case "union": {
      const alt = f.node.byFirstByte.get(byte);
      return alt === undefined ? undefined : stepStack(push(initialFrame(alt), below), byte);
    }
    case "choice": {
      const { trie } = f.node;
      const at = trie.child(f.at, byte);
      if (at < 0) return trie.outcomeAt(f.at) >= 0 ? RETRY : undefined;
      if (trie.outcomeAt(at) >= 0 && trie.isLeaf(at)) return below;
      return push({ ...f, at }, below);
    }
    case "object": {
      if (!f.open) return byte === 0x7b ? push({ ...f, open: true }, below) : undefined;
      const trie = f.node.keyTries[f.after + 1];
      const at = trie.child(f.at, byte);
      if (at < 0) return undefined;
      const outcome = trie.outcomeAt(at);
      if (outcome === -2) return below; // "}"
      if (outcome < 0) return push({ ...f, at }, below);
      return push(initialFrame(f.node.properties[outcome]), push({ ...f, after: outcome, at: 0 }, below));
    }
    case "array": {
      const { node } = f;
      if (f.phase === 0) return byte === 0x5b ? push({ ...f, phase: 1 }, below) : undefined;
      if (byte === 0x5d) return f.count >= node.minItems ? below : undefined;
      if (f.phase === 1) {
        if (node.maxItems === 0) return undefined;
        return stepStack(push(initialFrame(node.items), push({ ...f, phase: 2, count: 1 }, below)), byte);
      }
      if (byte !== 0x2c || f.count >= node.maxItems) return undefined;
      return push(initialFrame(node.items), push({ ...f, count: f.count + 1 }, below));
    }
    case "number": {
      let { negative, int, dot, frac } = f;
      if (byte === 0x2d && !negative && int === "") negative = true;
      else if (byte >= 0x30 && byte <= 0x39 && !dot && int !== "0") int += String.fromCharCode(byte);
      else if (byte >= 0x30 && byte <= 0x39 && dot && frac.length < f.node.fractionDigits) frac += String.fromCharCode(byte);
      else if (byte === 0x2e && !dot && int !== "" && f.node.fractionDigits > 0) dot = true;
      else return completeFrame(f) ? RETRY : undefined;
      if (!numberFeasible(f.node, negative, int, dot, frac)) return completeFrame(f) ? RETRY : undefined;
      return push({ ...f, negative, int, dot, frac }, below);
    }
    case "string": {
      if (!f.open) return byte === 0x22 ? push({ ...f, open: true }, below) : undefined;
      if (f.escape === 1) {
        if (byte === 0x75) return push({ ...f, escape: 5 }, below);
        return simpleEscapes.has(byte) ? push({ ...f, escape: 0, chars: f.chars + 1 }, below) : undefined;
      }
      if (f.escape > 1) {
        if (!isHex(byte)) return undefined;
        return push(f.escape === 2 ? { ...f, escape: 0, chars: f.chars + 1 } : { ...f, escape: f.escape - 1 }, below);
      }
      const boundary = utf8AtBoundary(f.utf8);
      if (boundary && byte === 0x22) return below;
      if (boundary && (byte < 0x20 || f.chars >= f.node.maxLength)) return undefined;
      if (boundary && byte === 0x5c) return push({ ...f, escape: 1 }, below);
      const next = utf8Step(f.utf8, byte);
      if (next < 0) return undefined;
      return push({ ...f, utf8: next, chars: utf8AtBoundary(next) ? f.chars + 1 : f.chars }, below);
    }
  }
}

function stepStack(stack: JsonState, byte: number): JsonState | undefined {
  let s = stack;
  for (;;) {
    if (s === null) return undefined; // the value is complete; nothing may follow
    const next = stepFrame(s.frame, s.below, byte);
    if (next !== RETRY) return next;
    s = s.below;
  }
}

/** The automaton of the compact JSON texts valid for `schema`; throws JsonSchemaError outside the subset. */
export function jsonSchemaAutomaton(schema: JsonSchema): ByteAutomaton<JsonState> {
  const root = new SchemaCompiler().compile(schema, "$");
  return {
    start: push(initialFrame(root), null),
    step: stepStack,
    accepting: (state) => state === null || (state.below === null && completeFrame(state.frame)),
    key: (state) => state?.key ?? "",
  };
}
