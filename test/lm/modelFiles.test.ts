// A model folder's JSON files that are wrong are refused in one line naming the field, what
// was expected and what was there (never zod's multi-line dump), whatever JSON they hold:
// config.json (read by every model loader) and a chat model's generation_config.json.

import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import fc from "fast-check";
import { loadGenerationDefaults, loadMoeLm, MODEL_KIND } from "../../src/models/index.js";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "aigc-model-files-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const zodDump = /\n|✖|→|Invalid input|\(root\)/;

test("config.json: a wrong field is one line naming it", async () => {
  await writeFile(join(dir, "config.json"), JSON.stringify({ kind: MODEL_KIND, model: { vocab: "many" } }));
  await assert.rejects(loadMoeLm(dir), (e: unknown) => {
    assert.ok(e instanceof Error);
    assert.match(e.message, /config\.json is not a valid aigc-moe-lm config: model\.vocab: expected a number, got a string/);
    assert.doesNotMatch(e.message, zodDump, e.message);
    return true;
  });
  await writeFile(join(dir, "config.json"), "[1, 2]");
  await assert.rejects(
    loadMoeLm(dir),
    /is not a valid aigc-moe-lm config: the file: expected an object, got an array of 2 items/,
  );
});

test("generation_config.json: a wrong field is one line naming it; an absent file is plain sampling", async () => {
  const sub = await mkdtemp(join(dir, "gen-"));
  assert.deepEqual(loadGenerationDefaults(sub), { temperature: 1, topP: 1, repetitionPenalty: 1 });
  await writeFile(join(sub, "generation_config.json"), JSON.stringify({ temperature: 0.7, top_p: 2 }));
  assert.throws(
    () => loadGenerationDefaults(sub),
    /generation_config\.json is not a valid generation config: top_p: expected a number <= 1, got 2$/,
  );
  await writeFile(
    join(sub, "generation_config.json"),
    JSON.stringify({ temperature: { length: [{ toString: 1, valueOf: 1 }] } }),
  );
  assert.throws(() => loadGenerationDefaults(sub), /is not a valid generation config: temperature: expected a number/);
});

test("property: any JSON in generation_config.json gives defaults in range or a one-line error", async () => {
  const sub = await mkdtemp(join(dir, "gen-prop-"));
  const path = join(sub, "generation_config.json");
  const field = fc.oneof(fc.double({ noNaN: true }), fc.jsonValue());
  const body = fc.oneof(
    fc.jsonValue(),
    fc.record({ temperature: field, top_p: field, repetition_penalty: field }, { requiredKeys: [] }),
  );
  await fc.assert(
    fc.asyncProperty(body, async (json) => {
      await writeFile(path, JSON.stringify(json) ?? "null");
      try {
        const d = loadGenerationDefaults(sub);
        assert.ok(d.temperature >= 0 && d.topP > 0 && d.topP <= 1 && d.repetitionPenalty > 0, JSON.stringify(d));
      } catch (e) {
        assert.ok(e instanceof Error);
        assert.match(e.message, /generation_config\.json is not a valid generation config: /);
        assert.doesNotMatch(e.message, zodDump, e.message);
      }
    }),
    { numRuns: 200 },
  );
});
