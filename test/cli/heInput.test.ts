// The files `aigc he encrypt|decrypt` read: a bad features file is one line naming the row and
// what was expected ("row 0: expected an array of numbers…, got a string"), never zod's
// "0: Invalid input"; a property: any JSON either gives rows of the model's width or such a line.

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import fc from "fast-check";
import { featureRows, heDecrypt, heEncrypt } from "../../src/cli/he.js";
import { loadShippedModel } from "../../src/secure/index.js";

const model = loadShippedModel("ehr-mlp");
const width = model.features.length;
const dir = mkdtempSync(join(tmpdir(), "aigc-he-input-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const rowError = (value: unknown): string => {
  try {
    featureRows(value, model);
  } catch (e) {
    assert.ok(e instanceof Error);
    return e.message;
  }
  assert.fail(`expected ${JSON.stringify(value).slice(0, 80)} to be refused`);
};

test("a bad features file says which row and what was expected", () => {
  const row = Array.from({ length: width }, () => 1);
  const cases: [unknown, string][] = [
    [["abc"], "features file: row 0: expected an array of numbers, or an object of numbers by feature name, got a string"],
    [[row, [1, "x", ...row.slice(2)]], "features file: row 1, value 1: expected a number, got a string"],
    [[], "features file: expected at least one row, got an array of 0 items"],
    [
      {},
      "features file: expected an array of rows (each an array of numbers, or an object of numbers by feature name), got an object",
    ],
    [[[1, 2]], `features file: row 0: expected ${width} values (${model.features.join(", ")}), got 2`],
    [[{ [model.features[0]]: "old" }], `features file: row 0, feature "${model.features[0]}": expected a number, got a string`],
  ];
  for (const [value, message] of cases) assert.equal(rowError(value), message);
});

test("property: any JSON gives rows of the model's width, or one line without zod's dump", () => {
  const rowLike = fc.oneof(
    fc.array(fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.jsonValue()), { maxLength: width + 1 }),
    fc.dictionary(fc.constantFrom(...model.features, "other"), fc.oneof(fc.integer(), fc.jsonValue())),
    fc.jsonValue(),
  );
  fc.assert(
    fc.property(fc.oneof(fc.array(rowLike, { maxLength: 4 }), fc.jsonValue()), (value) => {
      let rows: number[][];
      try {
        rows = featureRows(value, model);
      } catch (e) {
        assert.ok(e instanceof Error);
        assert.match(e.message, /^features file: /);
        assert.doesNotMatch(e.message, /\n|✖|Invalid input|→/);
        return;
      }
      assert.ok(rows.length > 0 && rows.every((r) => r.length === width && r.every(Number.isFinite)));
    }),
    { numRuns: 400, seed: 5 },
  );
});

test("he encrypt and decrypt name the file and field that is wrong", async () => {
  const keys = join(dir, "keys");
  mkdirSync(keys);
  writeFileSync(join(keys, "public-keys.json"), JSON.stringify({ params: "ckks8192", publicKey: 5 }));
  writeFileSync(join(dir, "rows.json"), "[]");
  await assert.rejects(
    heEncrypt({ keys, input: join(dir, "rows.json"), out: join(dir, "req.json"), model: "ehr-mlp" }),
    /^Error: public keys: publicKey: expected a string, got a number; relinKeys: required \(a string\); galoisKeys: required \(a string\) \(and 1 more\)$/,
  );
  writeFileSync(join(keys, "secret-key.json"), JSON.stringify({ params: "ckks8192", secretKey: "s" }));
  writeFileSync(join(dir, "resp.json"), JSON.stringify({ model: "ehr-mlp", ciphertexts: [] }));
  await assert.rejects(
    heDecrypt({ keys, input: join(dir, "resp.json") }),
    /^Error: response: ciphertexts: expected at least 1 item, got an array of 0 items$/,
  );
});
