// JSON-schema mode: a pushdown byte automaton accepting exactly the compact JSON texts (no
// whitespace) valid for a schema of this subset:
//   object   properties in the given order, `required` (others may be left out); only the
//            listed properties are written (valid whatever additionalProperties says). An
//            object with no properties and additionalProperties true or a schema is a map:
//            any keys (at most 64 characters), each value of that schema
//   array    items (any value when left out), minItems, maxItems
//   string   enum, or free text with minLength, maxLength (in characters; an escape is one)
//   integer / number   minimum, maximum (number: at most `fractionDigits` decimals, no exponent)
//   boolean, null, enum or const of literals, nullable via type arrays (["integer", "null"])
//   or anyOf whose alternatives start with different bytes (different JSON types)
//   {}       (no type, enum or anyOf) any JSON value, nested at most `freeValueDepth` deep
// Annotations ($schema, $id, $comment, title, description, default, examples, deprecated,
// readOnly, writeOnly) are ignored. Texts are canonical: no leading zeros, strings as
// JSON.stringify writes enum values.
//
// The state is an immutable stack of frames (innermost first), one per value being read. A
// number (or a numeric enum) does not know it has ended until a byte it cannot take: then it
// is popped and the byte goes to the frame below. Every live state can be completed (the
// compiler rejects unsatisfiable schemas), so masks are never empty. The stack depth is
// bounded by the schema's nesting, and each frame has a short key, so states memoise.
//
// Every node knows the fewest bytes of a value it accepts, and every frame the fewest bytes
// that finish it, so `minBytesToAccept` is a sum over the stack: what lets a budgeted mask
// (budget.ts) close the value before the token budget runs out.

import type { ByteAutomaton } from "./automaton.js";
import { ChoiceTrie } from "./choiceTrie.js";
import { utf8AtBoundary, utf8Start, utf8Step } from "./utf8.js";

export type JsonTypeName = "object" | "array" | "string" | "integer" | "number" | "boolean" | "null";
export type JsonLiteral = string | number | boolean | null;

/** The schema subset (a JSON Schema object); unknown keywords are rejected, `description`/`title` ignored. */
export interface JsonSchema {
  type?: JsonTypeName | readonly JsonTypeName[];
  enum?: readonly JsonLiteral[];
  const?: JsonLiteral;
  anyOf?: readonly JsonSchema[];
  properties?: Readonly<Record<string, JsonSchema>>;
  required?: readonly string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minimum?: number;
  maximum?: number;
  minLength?: number;
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

// Every node has `minBytes`: the length of its shortest value.
interface ChoiceNode {
  kind: "choice";
  id: number;
  minBytes: number;
  trie: ChoiceTrie;
}
interface ObjectNode {
  kind: "object";
  id: number;
  minBytes: number;
  properties: SchemaNode[];
  /** keyTries[a + 1]: after property a (-1: none yet), the choice of "}" (outcome -2) or the next key (outcome j). */
  keyTries: ChoiceTrie[];
  /** rest[a + 1]: the fewest bytes that end the object after property a ("}" included). */
  rest: number[];
}
interface MapNode {
  kind: "map";
  id: number;
  minBytes: number;
  key: StringNode;
  values: SchemaNode;
}
interface ArrayNode {
  kind: "array";
  id: number;
  minBytes: number;
  items: SchemaNode;
  minItems: number;
  maxItems: number;
}
interface NumberNode {
  kind: "number";
  id: number;
  minBytes: number;
  /** Bounds scaled by 10^fractionDigits (integers: fractionDigits 0). */
  min: bigint;
  max: bigint;
  fractionDigits: number;
}
interface StringNode {
  kind: "string";
  id: number;
  minBytes: number;
  minLength: number;
  maxLength: number;
}
interface UnionNode {
  kind: "union";
  id: number;
  minBytes: number;
  /** The alternative starting with each byte. */
  byFirstByte: Map<number, SchemaNode>;
}
type SchemaNode = ChoiceNode | ObjectNode | MapNode | ArrayNode | NumberNode | StringNode | UnionNode;

/** How deep a free value (schema `{}`, a map of any values) may nest: objects and arrays in it, counted from 1. */
export const freeValueDepth = 3;
/** Longest key of a map object, in characters. */
const mapKeyMaxLength = 64;

const utf8 = new TextEncoder();
const knownKeywords = new Set([
  "type",
  "enum",
  "const",
  "anyOf",
  "properties",
  "required",
  "additionalProperties",
  "items",
  "minItems",
  "maxItems",
  "minimum",
  "maximum",
  "minLength",
  "maxLength",
  "fractionDigits",
  "description",
  "title",
  "$schema",
  "$id",
  "$comment",
  "default",
  "examples",
  "deprecated",
  "readOnly",
  "writeOnly",
]);
const safeMax = BigInt(Number.MAX_SAFE_INTEGER);

function literalType(value: JsonLiteral): JsonTypeName {
  if (value === null) return "null";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value as "string" | "boolean";
}

class SchemaCompiler {
  private nextId = 0;
  /** anyValue(depth), shared so that equal states have equal keys. */
  private readonly anyValues = new Map<number, SchemaNode>();

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
    if (schema.const !== undefined) {
      if (schema.enum !== undefined) throw new JsonSchemaError(`${path}: give either const or enum, not both`);
      return this.compile({ ...schema, const: undefined, enum: [schema.const] }, path);
    }
    if (schema.enum !== undefined) {
      const values = schema.enum.filter(
        (v) =>
          types === undefined || types.includes(literalType(v)) || (literalType(v) === "integer" && types.includes("number")),
      );
      if (values.length === 0)
        throw new JsonSchemaError(`${path}: no enum value has the schema's type ${JSON.stringify(schema.type)}`);
      return this.choice(values.map((v) => JSON.stringify(v)));
    }
    if (types === undefined) {
      // No type: an object or array if its keywords say so, else any value.
      if (schema.properties !== undefined || schema.required !== undefined || schema.additionalProperties !== undefined) {
        return this.compile({ ...schema, type: "object" }, path);
      }
      if (schema.items !== undefined) return this.compile({ ...schema, type: "array" }, path);
      return this.anyValue(freeValueDepth);
    }
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
      case "string": {
        const minLength = this.count(schema.minLength, `${path}.minLength`, 0);
        const maxLength = this.count(schema.maxLength, `${path}.maxLength`, Number.POSITIVE_INFINITY);
        if (minLength > maxLength) throw new JsonSchemaError(`${path}: minLength ${minLength} > maxLength ${maxLength}`);
        return this.string(minLength, maxLength);
      }
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
    const trie = new ChoiceTrie(texts.map((t) => utf8.encode(t)));
    return { kind: "choice", id: this.nextId++, minBytes: trie.minRemaining(0), trie };
  }

  private string(minLength: number, maxLength: number): StringNode {
    return { kind: "string", id: this.nextId++, minBytes: 2 + minLength, minLength, maxLength };
  }

  /** Any JSON value with objects and arrays nested at most `depth` deep (0: scalars only). */
  private anyValue(depth: number): SchemaNode {
    const known = this.anyValues.get(depth);
    if (known) return known;
    const scalars: SchemaNode[] = [
      this.string(0, Number.POSITIVE_INFINITY),
      this.number({}, "number", "$any"),
      this.choice(["true", "false", "null"]),
    ];
    const alternatives =
      depth === 0
        ? scalars
        : [...scalars, this.map(this.anyValue(depth - 1)), this.arrayOf(this.anyValue(depth - 1), 0, Number.POSITIVE_INFINITY)];
    const node = this.union(alternatives, "$any");
    this.anyValues.set(depth, node);
    return node;
  }

  private map(values: SchemaNode): MapNode {
    return { kind: "map", id: this.nextId++, minBytes: 2, key: this.string(0, mapKeyMaxLength), values };
  }

  private arrayOf(items: SchemaNode, minItems: number, maxItems: number): ArrayNode {
    const minBytes = 2 + minItems * items.minBytes + Math.max(0, minItems - 1);
    return { kind: "array", id: this.nextId++, minBytes, items, minItems, maxItems };
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
    const node: NumberNode = { kind: "number", id: this.nextId++, minBytes: 0, min, max, fractionDigits };
    node.minBytes = numberMinRest(node, false, "", false, "");
    return node;
  }

  private array(schema: JsonSchema, path: string): ArrayNode {
    const items = schema.items === undefined ? this.anyValue(freeValueDepth - 1) : this.compile(schema.items, `${path}.items`);
    const minItems = this.count(schema.minItems, `${path}.minItems`, 0);
    const maxItems = this.count(schema.maxItems, `${path}.maxItems`, Number.POSITIVE_INFINITY);
    if (minItems > maxItems) throw new JsonSchemaError(`${path}: minItems ${minItems} > maxItems ${maxItems}`);
    return this.arrayOf(items, minItems, maxItems);
  }

  private object(schema: JsonSchema, path: string): ObjectNode | MapNode {
    const extra = schema.additionalProperties;
    if (
      extra !== undefined &&
      typeof extra !== "boolean" &&
      (typeof extra !== "object" || extra === null || Array.isArray(extra))
    ) {
      throw new JsonSchemaError(`${path}: additionalProperties must be a boolean or a schema object`);
    }
    const names = Object.keys(schema.properties ?? {});
    const required = new Set(schema.required ?? []);
    if (names.length === 0 && required.size === 0 && extra !== undefined && extra !== false) {
      return this.map(extra === true ? this.anyValue(freeValueDepth - 1) : this.compile(extra, `${path}.additionalProperties`));
    }
    for (const name of required) {
      if (!names.includes(name)) throw new JsonSchemaError(`${path}: required property "${name}" is not in properties`);
    }
    const properties = names.map((name) => this.compile(schema.properties![name], `${path}.properties.${name}`));
    const keyTries: ChoiceTrie[] = [];
    const rest: number[] = new Array(names.length + 1).fill(1);
    for (let after = names.length - 1; after >= -1; after--) {
      const trie = new ChoiceTrie();
      let best = Number.POSITIVE_INFINITY;
      let j = after + 1;
      for (; j < names.length; j++) {
        const key = utf8.encode(`${after < 0 ? "" : ","}${JSON.stringify(names[j])}:`);
        trie.add(key, j);
        best = Math.min(best, key.length + properties[j].minBytes + rest[j + 1]);
        if (required.has(names[j])) break;
      }
      if (j >= names.length) {
        trie.add(utf8.encode("}"), -2); // every later property is optional
        best = 1;
      }
      keyTries[after + 1] = trie;
      rest[after + 1] = best;
    }
    return { kind: "object", id: this.nextId++, minBytes: 1 + rest[0], properties, keyTries, rest };
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
    const minBytes = Math.min(...alternatives.map((alt) => alt.minBytes));
    return { kind: "union", id: this.nextId++, minBytes, byFirstByte };
  }
}

const digitBytes = [0x2d, ...Array.from({ length: 10 }, (_, i) => 0x30 + i)];

function firstBytes(node: SchemaNode): number[] {
  switch (node.kind) {
    case "choice":
      return node.trie.firstBytes();
    case "object":
    case "map":
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
  /** phase 0: expects "{"; 1: "{" read; 2: a key read, expects ":"; 3: a value read; 4: "," read */
  | { t: "map"; node: MapNode; phase: 0 | 1 | 2 | 3 | 4 }
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
    case "map":
      return `m${f.node.id}.${f.phase}`;
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
    case "map":
      return { t: "map", node, phase: 0 };
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

/** Whether some multiple of `step` lies in [lo, hi] ∩ [node.min, node.max] (values, not magnitudes). */
function multipleInRange(lo: bigint, hi: bigint, step: bigint, node: NumberNode): boolean {
  const a = lo > node.min ? lo : node.min;
  const b = hi < node.max ? hi : node.max;
  if (a > b) return false;
  const q = a / step; // truncates toward zero
  const first = q * step >= a ? q * step : (q + 1n) * step;
  return first <= b;
}

/**
 * The fewest bytes that complete a number from its prefix (0 when it is complete). A
 * completion adds k integer digits, then optionally "." and m decimals; each choice reaches a
 * contiguous run of values (in steps of the last decimal's unit), so it is one range test.
 */
function numberMinRest(node: NumberNode, negative: boolean, int: string, dot: boolean, frac: string): number {
  if (numberComplete(node, negative, int, dot, frac)) return 0;
  const fd = node.fractionDigits;
  const scale = ten ** BigInt(fd);
  /** Whether magnitudes [lo, hi] (in units) hold a value of the node in steps of `step`, with this sign. */
  const reaches = (neg: boolean, lo: bigint, hi: bigint, step: bigint): boolean =>
    neg ? multipleInRange(-hi, -lo, step, node) : multipleInRange(lo, hi, step, node);
  let best = Number.POSITIVE_INFINITY;
  if (dot) {
    const base = BigInt(int) * scale + (frac === "" ? 0n : BigInt(frac) * ten ** BigInt(fd - frac.length));
    for (let m = frac === "" ? 1 : 0; frac.length + m <= fd; m++) {
      const unit = ten ** BigInt(fd - frac.length - m);
      const span = ten ** BigInt(fd - frac.length);
      if (reaches(negative, base, base + span - unit, unit)) return m;
    }
    return best;
  }
  const tryFrom = (neg: boolean, digits: string, extra: number): void => {
    for (let k = digits === "" ? 1 : 0; digits.length + k <= 17 && extra + k < best; k++) {
      if (digits === "0" && k > 0) break; // no digits after a leading zero
      const p = ten ** BigInt(k);
      let lo: bigint;
      let hi: bigint;
      if (digits === "") [lo, hi] = k === 1 ? [0n, 9n] : [ten ** BigInt(k - 1), p - 1n];
      else [lo, hi] = [BigInt(digits) * p, BigInt(digits) * p + p - 1n];
      if (reaches(neg, lo * scale, hi * scale, scale)) best = Math.min(best, extra + k);
      for (let m = 1; m <= fd && extra + k + 1 + m < best; m++) {
        const unit = ten ** BigInt(fd - m);
        if (reaches(neg, lo * scale, hi * scale + scale - unit, unit)) best = Math.min(best, extra + k + 1 + m);
      }
    }
  };
  tryFrom(negative, int, 0);
  if (!negative && int === "") tryFrom(true, "", 1);
  return best;
}

/** The fewest bytes that finish frame `f` (for a frame below the top: that finish it once the value above it is done). */
function frameRest(f: Frame): number {
  switch (f.t) {
    case "union":
      return f.node.minBytes;
    case "choice":
      return f.node.trie.minRemaining(f.at);
    case "object": {
      const { node } = f;
      if (!f.open) return node.minBytes;
      if (f.at === 0) return node.rest[f.after + 1];
      return node.keyTries[f.after + 1].minRemaining(f.at, (o) => (o < 0 ? 0 : node.properties[o].minBytes + node.rest[o + 1]));
    }
    case "map": {
      const valueAndClose = 1 + f.node.values.minBytes + 1;
      return [f.node.minBytes, 1, valueAndClose, 1, 2 + valueAndClose][f.phase];
    }
    case "array": {
      const { node } = f;
      if (f.phase === 0) return node.minBytes;
      const item = node.items.minBytes;
      if (f.phase === 1) return node.minItems === 0 ? 1 : node.minItems * item + (node.minItems - 1) + 1;
      return Math.max(0, node.minItems - f.count) * (1 + item) + 1;
    }
    case "number":
      return numberMinRest(f.node, f.negative, f.int, f.dot, f.frac);
    case "string": {
      if (!f.open) return f.node.minBytes;
      const pendingBytes = f.escape === 1 ? 1 : f.escape > 1 ? f.escape - 1 : (f.utf8 >> 3) & 3;
      const chars = f.escape > 0 || !utf8AtBoundary(f.utf8) ? f.chars + 1 : f.chars;
      return pendingBytes + Math.max(0, f.node.minLength - chars) + 1;
    }
  }
}

/** The fewest bytes from `state` to a whole value. */
function stackRest(state: JsonState): number {
  let total = 0;
  for (let s = state; s !== null; s = s.below) total += frameRest(s.frame);
  return total;
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
    case "map": {
      if (f.phase === 0) return byte === 0x7b ? push({ ...f, phase: 1 }, below) : undefined;
      if (f.phase === 2) return byte === 0x3a ? push(initialFrame(f.node.values), push({ ...f, phase: 3 }, below)) : undefined;
      if (f.phase === 3 && byte === 0x2c) return push({ ...f, phase: 4 }, below);
      if ((f.phase === 1 || f.phase === 3) && byte === 0x7d) return below;
      if ((f.phase === 1 || f.phase === 4) && byte === 0x22) {
        return push({ ...(initialFrame(f.node.key) as Frame & { t: "string" }), open: true }, push({ ...f, phase: 2 }, below));
      }
      return undefined;
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
      if (boundary && byte === 0x22) return f.chars >= f.node.minLength ? below : undefined;
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
    minBytesToAccept: stackRest,
  };
}
