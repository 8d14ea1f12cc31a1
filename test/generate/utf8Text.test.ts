// The UTF-8 mask: whatever the logits, a byte-level model masked by `utf8TextAutomaton`
// writes valid UTF-8 and ends only on a whole character. Checked on the shipped model's
// real vocabulary with random logits, and with the real model at a high temperature (where,
// unmasked, it does write broken characters).

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { BpeTokenizer } from "../../src/data/index.js";
import { constraints, generate } from "../../src/generate/index.js";
import { loadMoeLm, MoeLmModel } from "../../src/models/index.js";

const tokenizer = BpeTokenizer.load("assets/lm-tiny/tokenizer.json");
const vocabulary = constraints.vocabularyFromBpe(tokenizer);
const fatal = new TextDecoder("utf-8", { fatal: true });

/** Bytes of the tokens, and whether they end on a character boundary. */
function bytesOf(tokens: readonly number[]): Uint8Array {
  return Uint8Array.from(tokens.flatMap((t) => Array.from(vocabulary.bytes(t) ?? [])));
}

test("any token the mask allows keeps the text a valid UTF-8 prefix; eos only at a boundary", () => {
  const masker = new constraints.TokenMasker(constraints.utf8TextAutomaton, vocabulary);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 2 ** 31 - 1 }), { minLength: 1, maxLength: 24 }), (choices) => {
      const mask = constraints.constrainedMask(masker);
      const generated: number[] = [];
      for (const choice of choices) {
        const allowed = mask(0, [...generated]);
        assert.ok(allowed);
        const ids = [...allowed.keys()].filter((i) => allowed[i] === 1);
        assert.ok(ids.length > 0, "some token is always allowed");
        const token = ids[choice % ids.length];
        if (token === vocabulary.eosId) {
          assert.doesNotThrow(() => fatal.decode(bytesOf(generated)), "eos comes at a whole character");
          break;
        }
        generated.push(token);
        // a valid prefix: decoding in streaming mode never throws
        assert.doesNotThrow(() => new TextDecoder("utf-8", { fatal: true }).decode(bytesOf(generated), { stream: true }));
      }
    }),
    { numRuns: 200 },
  );
});

test("the real model at temperature 2: broken characters unmasked, none masked", async () => {
  const files = await loadMoeLm("assets/lm-tiny");
  const model = await MoeLmModel.create(
    files.config.model,
    files.store,
    { encode: (s) => files.tokenizer.encode(s), decode: (ids) => files.tokenizer.decode(ids) },
    { eosId: files.tokenizer.idOf("<|eos|>") },
  );
  const prompts = Array.from({ length: 16 }, () => files.tokenizer.encode("春眠不觉晓，"));
  const options = { temperature: 2, maxTokens: 24, seed: prompts.map((_, i) => i) };
  const count = (texts: string[]) => texts.reduce((a, t) => a + (t.match(/\uFFFD/g)?.length ?? 0), 0);
  const unmasked = await generate(model, prompts, options);
  assert.ok(count(unmasked.map((r) => r.text)) > 0, "unmasked, the model writes broken characters (the test can fail)");
  const masked = await generate(model, prompts, {
    ...options,
    logitsMask: constraints.constrainedMask(constraints.utf8TextAutomaton, vocabulary),
  });
  for (const r of masked) {
    const bytes = bytesOf(r.tokens.filter((t) => t !== vocabulary.eosId));
    // Out of tokens, a row may stop inside a character: a valid prefix, and the text leaves it out.
    const stream = r.finishReason === "length";
    assert.doesNotThrow(() => new TextDecoder("utf-8", { fatal: true }).decode(bytes, { stream }), r.text);
    assert.ok(!r.text.includes("\uFFFD"), r.text);
  }
});
