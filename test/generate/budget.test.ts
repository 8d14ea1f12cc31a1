// Constrained JSON and tool calls under a token budget, over the shipped tokenizer
// (assets/lm-tiny) and no model: random token choices stand in for one. Checked, mostly as
// properties over random schemas and walks: `minBytesToAccept` is the exact shortest
// completion (0 exactly when accepting; no byte shortens it by more than 1, and some byte by
// exactly 1); a budgeted generation always ends with eos and a whole value within its limit,
// whose text parses and passes an independent validator (zod's fromJSONSchema); a budget too
// small falls back to the plain mask; tool calls parse and their arguments match the tool's
// schema; the reply parser reassembles a call from any chunking of its text.

import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { z } from "zod";
import { BpeTokenizer } from "../../src/data/bpe.js";
import {
  type ByteAutomaton,
  budgetedMask,
  type JsonSchema,
  jsonSchemaAutomaton,
  TokenMasker,
  textOrToolCall,
  toolCallAutomaton,
  toolCallHeader,
  vocabularyFromBpe,
} from "../../src/generate/constraints/index.js";
import { ToolCallReplyParser } from "../../src/generate/index.js";
import { Rng } from "../../src/runtime/index.js";

const tokenizer = BpeTokenizer.load(join("assets/lm-tiny", "tokenizer.json"));
const vocab = vocabularyFromBpe(tokenizer);
const eosId = tokenizer.idOf("<|eos|>")!;
const utf8 = new TextDecoder("utf-8", { fatal: true });

const person: JsonSchema = {
  type: "object",
  properties: {
    name: { type: "string", minLength: 1, maxLength: 12 },
    age: { type: "integer", minimum: 18, maximum: 120 },
    email: { type: ["string", "null"] },
    tags: { type: "array", items: { enum: ["a", "bb", 3] }, minItems: 1, maxItems: 3 },
    score: { type: "number", minimum: -1.5, maximum: 99.25, fractionDigits: 2 },
  },
  required: ["name", "age", "tags"],
  additionalProperties: false,
};

/** Random schemas of the automaton's subset (leaves, objects, arrays, nullable types, free values). */
const schemaArb: fc.Arbitrary<JsonSchema> = fc.letrec<{ node: JsonSchema }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", maxDepth: 3 },
    fc.constant<JsonSchema>({ type: "boolean" }),
    fc.constant<JsonSchema>({ type: "null" }),
    fc.constant<JsonSchema>({}),
    fc.constant<JsonSchema>({ type: "object", additionalProperties: true }),
    fc
      .tuple(fc.nat(4), fc.nat(6))
      .map(([min, extra]): JsonSchema => ({ type: "string", minLength: min, maxLength: min + extra })),
    fc
      .tuple(fc.integer({ min: -2000, max: 2000 }), fc.nat(5000))
      .map(([min, span]): JsonSchema => ({ type: "integer", minimum: min, maximum: min + span })),
    fc
      .tuple(fc.integer({ min: -500, max: 500 }), fc.nat(300), fc.integer({ min: 1, max: 3 }))
      .map(
        ([min, span, fd]): JsonSchema => ({ type: "number", minimum: min / 10, maximum: (min + span) / 10, fractionDigits: fd }),
      ),
    fc.uniqueArray(fc.string({ maxLength: 4 }), { minLength: 1, maxLength: 4 }).map((values): JsonSchema => ({ enum: values })),
    fc.constantFrom<JsonSchema>({ const: "x" }, { type: ["integer", "null"] }, { type: ["string", "boolean"] }),
    fc
      .tuple(tie("node"), fc.nat(2), fc.nat(2))
      .map(([items, min, extra]): JsonSchema => ({ type: "array", items, minItems: min, maxItems: min + extra })),
    fc
      .uniqueArray(fc.tuple(fc.stringMatching(/^[a-z]{1,5}$/), tie("node"), fc.boolean()), {
        maxLength: 4,
        selector: ([key]) => key,
      })
      .map(
        (props): JsonSchema => ({
          type: "object",
          properties: Object.fromEntries(props.map(([k, s]) => [k, s])),
          required: props.filter(([, , r]) => r).map(([k]) => k),
          additionalProperties: false,
        }),
      ),
  ),
})).node;

/** Walks `steps` random live bytes from the start, checking that minBytesToAccept is the exact distance everywhere. */
function checkShortestCompletion<S>(automaton: ByteAutomaton<S>, seed: number, steps: number): void {
  const rng = Rng.forName(seed, "walk");
  let state = automaton.start;
  const minBytes = automaton.minBytesToAccept!;
  for (let k = 0; k < steps; k++) {
    const here = minBytes(state);
    assert.equal(here === 0, automaton.accepting(state), `min ${here} vs accepting at ${automaton.key?.(state)}`);
    const live: S[] = [];
    let closer = false;
    for (let b = 0; b < 256; b++) {
      const next = automaton.step(state, b);
      if (next === undefined) continue;
      const there = minBytes(next);
      assert.ok(there >= here - 1, `byte ${b} takes ${here} to ${there} at ${automaton.key?.(state)}`);
      if (there === here - 1) closer = true;
      live.push(next);
    }
    assert.ok(here === 0 || closer, `no byte brings ${here} closer at ${automaton.key?.(state)}`);
    if (live.length === 0) return;
    state = live[Math.floor(rng.next() * live.length)];
  }
}

/** A budgeted generation with uniformly random allowed tokens (a stand-in model); the bytes and whether eos ended it. */
function budgetedWalk(
  masker: TokenMasker<unknown>,
  limit: number,
  seed: number,
  eosChance = 0.05,
): { text: string; ended: boolean; tokens: number } {
  const mask = budgetedMask(masker, limit);
  const rng = Rng.forName(seed, "model");
  const generated: number[] = [];
  const bytes: number[] = [];
  while (generated.length < limit) {
    const allowed = mask(0, [...generated]);
    assert.ok(allowed, "the budgeted mask is never null");
    const ids: number[] = [];
    for (let t = 0; t < allowed.length; t++) if (allowed[t]) ids.push(t);
    assert.ok(ids.length > 0, "never an empty mask");
    // Favour continuing over eos, so values grow until the budget closes them.
    const nonEos = ids.filter((t) => t !== eosId);
    const pool = nonEos.length > 0 && rng.next() >= eosChance ? nonEos : ids;
    const token = pool[Math.floor(rng.next() * pool.length)];
    generated.push(token);
    if (token === eosId) return { text: utf8.decode(Uint8Array.from(bytes)), ended: true, tokens: generated.length };
    bytes.push(...vocab.bytes(token)!);
  }
  return { text: new TextDecoder().decode(Uint8Array.from(bytes)), ended: false, tokens: generated.length };
}

test("minBytesToAccept is the exact shortest completion, for random schemas and tool calls", () => {
  fc.assert(
    fc.property(schemaArb, fc.integer({ min: 0, max: 2 ** 31 }), (schema, seed) => {
      checkShortestCompletion(jsonSchemaAutomaton(schema), seed, 40);
    }),
    { numRuns: 150 },
  );
  const tools = [
    { name: "get_weather", parameters: person },
    { name: "get", parameters: { type: "object", properties: {} } as JsonSchema },
  ];
  for (let seed = 0; seed < 40; seed++) {
    checkShortestCompletion(toolCallAutomaton(tools), seed, 80);
    checkShortestCompletion(textOrToolCall(tools), seed, 30);
  }
  assert.equal(
    jsonSchemaAutomaton(person).minBytesToAccept!(jsonSchemaAutomaton(person).start),
    '{"name":"x","age":18,"tags":[3]}'.length,
  );
});

test("budgeted generations always end with eos in a whole value that passes zod's fromJSONSchema", () => {
  const schemas: JsonSchema[] = [
    person,
    { type: "object", additionalProperties: true },
    { type: "array", items: { type: "string" } },
  ];
  for (const schema of schemas) {
    const masker = new TokenMasker(jsonSchemaAutomaton(schema), vocab) as TokenMasker<unknown>;
    const validator = z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
    const shortest = masker.automaton.minBytesToAccept!(masker.automaton.start);
    fc.assert(
      fc.property(fc.integer({ min: shortest + 1, max: shortest + 40 }), fc.integer({ min: 0, max: 2 ** 31 }), (limit, seed) => {
        const walk = budgetedWalk(masker, limit, seed);
        assert.ok(walk.ended, `limit ${limit}: ended without eos: ${walk.text}`);
        assert.ok(walk.tokens <= limit);
        const parsed = validator.safeParse(JSON.parse(walk.text));
        assert.ok(parsed.success, `${walk.text}: ${parsed.error?.message}`);
      }),
      { numRuns: 12 },
    );
  }
});

test("a budget smaller than the shortest value falls back to the plain mask and ends unfinished at the limit", () => {
  const masker = new TokenMasker(jsonSchemaAutomaton(person), vocab) as TokenMasker<unknown>;
  const mask = budgetedMask(masker, 5);
  assert.deepEqual(mask(0, []), masker.mask(masker.automaton.start));
  const walk = budgetedWalk(masker, 5, 1);
  assert.equal(walk.ended, false);
  assert.equal(walk.tokens, 5);
});

test("tool calls: parse, name a tool, and carry arguments valid for that tool; the parser reassembles any chunking", () => {
  const weather: JsonSchema = {
    type: "object",
    properties: {
      city: { type: "string", maxLength: 10 },
      unit: { enum: ["c", "f"] },
      days: { type: "integer", minimum: 1, maximum: 7 },
    },
    required: ["city", "unit"],
  };
  const tools = [
    { name: "get_weather", parameters: weather },
    { name: "lookup", parameters: person },
  ];
  const validators = new Map(
    tools.map((t) => [t.name, z.fromJSONSchema(t.parameters as Parameters<typeof z.fromJSONSchema>[0])]),
  );
  const masker = new TokenMasker(toolCallAutomaton(tools), vocab) as TokenMasker<unknown>;
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2 ** 31 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      fc.integer({ min: 60, max: 90 }),
      (seed, cuts, limit) => {
        const walk = budgetedWalk(masker, limit, seed);
        assert.ok(walk.ended, walk.text);
        const call = JSON.parse(walk.text) as { name: string; arguments: unknown };
        assert.deepEqual(Object.keys(call), ["name", "arguments"]);
        const parsed = validators.get(call.name)!.safeParse(call.arguments);
        assert.ok(parsed.success, `${walk.text}: ${parsed.error?.message}`);
        // Streamed in arbitrary pieces, the parser gives the name once and the arguments' exact text.
        const points = [...new Set(cuts.map((c) => c % (walk.text.length + 1)))].sort((a, b) => a - b);
        const pieces = [0, ...points, walk.text.length]
          .slice(1)
          .map((end, i, ends) => walk.text.slice(i === 0 ? 0 : ends[i - 1], end));
        const parser = new ToolCallReplyParser(
          tools.map((t) => t.name),
          "call",
        );
        const events = [...pieces.flatMap((p) => parser.push(p)), ...parser.finish(true)];
        assert.deepEqual(
          events.filter((e) => e.kind === "call").map((e) => e.kind === "call" && e.name),
          [call.name],
        );
        const args = events.map((e) => (e.kind === "arguments" ? e.text : "")).join("");
        assert.equal(args, walk.text.slice(toolCallHeader(call.name).length, -1));
        assert.equal(args, parser.argumentsText);
        assert.deepEqual(JSON.parse(args), call.arguments);
      },
    ),
    { numRuns: 25 },
  );
});

test('"auto": a reply is a call when it starts with "{" (after at most one space), else text that does not', () => {
  const tools = [
    { name: "f", parameters: { type: "object", properties: { x: { type: "integer" } }, required: ["x"] } as JsonSchema },
  ];
  const masker = new TokenMasker(textOrToolCall(tools), vocab) as TokenMasker<unknown>;
  let calls = 0;
  for (let seed = 0; seed < 30; seed++) {
    const walk = budgetedWalk(masker, 30, seed);
    const parser = new ToolCallReplyParser(["f"], "auto");
    const events = [...parser.push(walk.text), ...parser.finish(walk.ended)];
    if (/^ ?\{/.test(walk.text)) {
      calls++;
      assert.ok(parser.isCall);
      assert.ok(walk.ended);
      assert.equal(typeof (JSON.parse(walk.text) as { arguments: { x: number } }).arguments.x, "number");
    } else {
      assert.ok(!parser.isCall);
      assert.equal(events.map((e) => (e.kind === "text" ? e.text : "")).join(""), walk.text);
    }
  }
  // A random stand-in model starts with "{" for about 1 in 1000 of the tokens: force one call to see both branches.
  const forced = new ToolCallReplyParser(["f"], "auto");
  const events = [...forced.push(' {"name":"f","argu'), ...forced.push('ments":{"x":1}}'), ...forced.finish(true)];
  assert.deepEqual(events, [
    { kind: "call", name: "f" },
    { kind: "arguments", text: '{"x":1}' },
  ]);
  assert.equal(forced.argumentsText, '{"x":1}');
  assert.ok(calls < 30, "text replies too");
  // Text is complete at every character, so the budget never forces its end: a model that
  // never picks eos writes text up to the limit (and the reply reports "length").
  for (let seed = 0; seed < 10; seed++) {
    const walk = budgetedWalk(masker, 20, seed, 0);
    if (/^ ?\{/.test(walk.text)) continue;
    assert.deepEqual([walk.ended, walk.tokens], [false, 20], walk.text);
  }
});
