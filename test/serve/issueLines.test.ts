// Zod issues as one line (runtime/zodIssues.ts, shared by every boundary): examples of each
// kind of issue, and a property over arbitrary JSON against several schemas: whenever a parse
// fails, the line is one line, bounded, names the field, and never carries zod's dump.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { z } from "zod";
import { describeIssue, issueLine, issueLines, safeParseInput } from "../../src/runtime/index.js";

const lineOf = (schema: z.ZodType, value: unknown, root?: string): string => {
  const r = schema.safeParse(value);
  assert.ok(!r.success, `expected ${JSON.stringify(value)} to fail`);
  return issueLines(r.error, value, { root });
};

test("each kind of issue as one line", () => {
  const image = z.object({ image: z.string({ error: "expected a base64 PNG or DICOM file" }) });
  assert.equal(lineOf(image, {}), "image: required (a base64 PNG or DICOM file)");
  assert.equal(lineOf(image, { image: 3 }), "image: expected a base64 PNG or DICOM file, got a number");
  assert.equal(lineOf(z.object({ n: z.number() }), undefined, "the request body"), "the request body: required (an object)");
  assert.equal(lineOf(z.object({ n: z.number() }), { n: "7" }), "n: expected a number, got a string");
  assert.equal(lineOf(z.object({ n: z.number().min(1) }), { n: 0 }), "n: expected a number >= 1, got 0");
  assert.equal(lineOf(z.array(z.number()).min(1), [], ""), "expected at least 1 item, got an array of 0 items");
  assert.equal(lineOf(z.enum(["en", "zh"]), "fr"), 'the value: expected one of "en", "zh", got "fr"');
  assert.equal(
    lineOf(z.array(z.union([z.array(z.number()), z.record(z.string(), z.number())])), ["abc"]),
    "[0]: expected an array or an object, got a string",
    "a union with no message lists its branches' types",
  );
  assert.equal(
    lineOf(z.array(z.union([z.array(z.number()), z.record(z.string(), z.number())])), [[1, "x"]]),
    "[0][1]: expected a number, got a string",
    "the branch that got past the type check is the one reported",
  );
  assert.equal(
    lineOf(z.strictObject({ a: z.number() }), { a: 1, "b\nc": 2 }),
    "the value: unknown field 'b\\nc' (check the spelling)",
  );
  assert.equal(
    lineOf(z.object({ a: z.string(), b: z.string(), c: z.string(), d: z.string() }), {}),
    "a: required (a string); b: required (a string); c: required (a string) (and 1 more)",
  );
  const rowName = (path: readonly PropertyKey[]) => `row ${String(path[0])}`;
  const r = z.array(z.array(z.number(), { error: "expected an array of numbers" })).safeParse(["x"]);
  assert.ok(!r.success);
  assert.equal(issueLine(r.error.issues[0], ["x"], { name: rowName }), "row 0: expected an array of numbers, got a string");
});

test("describeIssue keeps the JSON-ish `got` the OpenAI messages use, and adds the kind", () => {
  const r = z.object({ content: z.string() }).safeParse({ content: 5 });
  assert.ok(!r.success);
  const d = describeIssue(r.error.issues[0], { content: 5 });
  assert.deepEqual(
    { path: d.path, expected: d.expected, got: d.got, gotKind: d.gotKind, wrongType: d.wrongType },
    { path: "content", expected: "expected a string", got: "5", gotKind: "a number", wrongType: true },
  );
});

const schemas: readonly [string, z.ZodType][] = [
  [
    "medical-like",
    z.object(
      {
        image: z.string({ error: "expected a base64 file" }).min(1, "expected a base64 file"),
        ehr: z.record(z.string(), z.unknown(), { error: "expected an EHR object" }),
        lang: z.enum(["en", "zh"]).default("en"),
        stream: z.boolean().default(false),
      },
      { error: "expected a JSON object { image, ehr }" },
    ),
  ],
  [
    "strict with refine",
    z
      .strictObject({
        model: z.string().min(1).max(10),
        ciphertexts: z.array(z.string().min(1)).min(1).max(3),
        keyId: z
          .string()
          .regex(/^[0-9a-f]{4}$/)
          .optional(),
        count: z.int().min(0).optional(),
      })
      .refine((v) => v.keyId !== undefined || v.ciphertexts.length > 1, { message: "send keyId", path: ["keyId"] }),
  ],
  ["rows", z.array(z.union([z.array(z.number().finite()), z.record(z.string(), z.number().finite())])).min(1)],
  [
    "messages",
    z.object({
      messages: z
        .array(
          z.discriminatedUnion("role", [
            z.object({ role: z.literal("user"), content: z.union([z.string(), z.array(z.object({ text: z.string() }))]) }),
            z.object({ role: z.literal("assistant"), content: z.string().nullable() }),
          ]),
        )
        .min(1),
      n: z.literal(1).optional(),
      stop: z.union([z.string(), z.array(z.string()).max(2)]).optional(),
    }),
  ],
];

/** JSON shaped like what the schemas want, with wrong pieces: reaches deep issues, not only root ones. */
const nearly = fc.dictionary(
  fc.oneof(
    fc.constantFrom("image", "ehr", "lang", "model", "ciphertexts", "keyId", "messages", "role", "content", "stop", "n"),
    fc.string(),
  ),
  fc.oneof(
    fc.jsonValue(),
    fc.array(fc.oneof(fc.jsonValue(), fc.record({ role: fc.constantFrom("user", "assistant", "x"), content: fc.jsonValue() }))),
  ),
);

test("zod's throw on a hostile shape is a validation failure, and issues on a wrong-typed value are not repeated", () => {
  const hostile = JSON.parse('{"c": {"length": [{"toString": 1, "valueOf": 1}]}}') as unknown;
  const schema = z.object({ c: z.array(z.string()).min(1) });
  assert.throws(() => schema.safeParse(hostile), TypeError, "zod 4.6 throws here; safeParseInput must not");
  const r = safeParseInput(schema, hostile);
  assert.ok(!r.success);
  assert.match(issueLines(r.error, hostile, { root: "the body" }), /^the body: expected the documented shape/);
  const lengthy = { c: { length: 0 } };
  const l = safeParseInput(schema, lengthy);
  assert.ok(!l.success);
  assert.equal(issueLines(l.error, lengthy), "c: expected an array, got an object", "not also 'expected at least 1 item'");
});

test("property: a failed parse of any JSON is one bounded line naming the field, never zod's dump", () => {
  fc.assert(
    fc.property(fc.constantFrom(...schemas), fc.oneof(fc.jsonValue(), nearly), ([name, schema], value) => {
      const r = safeParseInput(schema, value);
      if (r.success) return;
      const line = issueLines(r.error, value, { root: "the body" });
      assert.doesNotMatch(line, /[\r\n]|✖|→|Invalid input|Too (small|big)/, `${name}: ${line}`);
      assert.ok(line.length > 0 && line.length <= 800, `${name}: ${line.length} characters`);
      const first = issueLine(r.error.issues[0], value, { root: "the body" });
      assert.ok(line.startsWith(first), `${name}: "${first}" opens "${line}"`);
      // It opens with the field: the root's name, or a path (`messages[0].content`, `[0][":"]`).
      assert.match(first, /^(the body: |[A-Za-z_$[].*: )/, `${name}: ${first}`);
    }),
    { numRuns: 1500, seed: 3 },
  );
});
