// IncrementalDetokenizer: after every token its text equals decoding the whole sequence, with
// the shipped byte-level BPE (Chinese characters span several tokens, special tokens flush
// bytes) on real and random token streams, and with a decoder the window trick does not fit.

import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { BpeTokenizer } from "../../src/data/bpe.js";
import { IncrementalDetokenizer } from "../../src/generate/detokenize.js";

const tokenizer = BpeTokenizer.load(join(import.meta.dirname, "../../assets/lm-tiny/tokenizer.json"));
const decode = (ids: number[]) => tokenizer.decode(ids);

function checkStream(ids: readonly number[], dec: (ids: number[]) => string = decode): void {
  const d = new IncrementalDetokenizer(dec);
  ids.forEach((id, i) => {
    const got = d.push(id);
    const want = dec(ids.slice(0, i + 1));
    assert.equal(got, want, `after ${i + 1} tokens`);
  });
}

test("equals decode(all tokens) after every token: real mixed text", () => {
  const text = "天哪，真不敢相信！The battery lasts forever 😀 — 大片实变影。\nconst x = 42; // done 🎉";
  const ids = tokenizer.encode(text);
  assert.ok(ids.length > 10);
  checkStream(ids);
  assert.equal(new IncrementalDetokenizer(decode).push(ids[0]), decode([ids[0]]));
});

test("equals decode(all tokens) after every token: random ids, special tokens included (property)", () => {
  const V = tokenizer.vocabSize;
  // Real pieces spliced at random, plus random ids (lone UTF-8 lead and continuation bytes, specials).
  const pieces = ["今天天气很好", "I am so happy!", "左肺小叶", "😡😀", "ok"].map((s) => tokenizer.encode(s));
  const stream = fc.array(
    fc.oneof(
      fc.integer({ min: 0, max: V - 1 }).map((id) => [id]),
      fc.constantFrom(...pieces),
      fc.constantFrom(...pieces).map((p) => p.slice(0, Math.max(1, p.length - 1))),
    ),
    { maxLength: 30 },
  );
  fc.assert(
    fc.property(stream, (parts) => checkStream(parts.flat())),
    { numRuns: 300 },
  );
});

test("falls back to decoding everything where a window's text is not a prefix of the next", () => {
  // A ligature: "a" then "b" decode together as "X", so decode([a]) is not a prefix of decode([a, b]).
  const ligature = (ids: number[]) =>
    ids
      .map((i) => String.fromCharCode(97 + (i % 26)))
      .join("")
      .replaceAll("ab", "X");
  checkStream([0, 1, 2, 0, 0, 1, 1, 0, 1], ligature);
});

test("decodes short windows, not the whole sequence, each step", () => {
  let decodedIds = 0;
  const counting = (ids: number[]) => {
    decodedIds += ids.length;
    return decode(ids);
  };
  const ids = tokenizer.encode("今天天气很好，我们去公园散步吧。The meeting starts at three. ".repeat(40));
  const d = new IncrementalDetokenizer(counting);
  let text = "";
  for (const id of ids) text = d.push(id);
  assert.equal(text, decode(ids));
  // Whole-sequence decoding would read n(n+1)/2 ids; the windows read a few per token.
  assert.ok(decodedIds < 8 * ids.length, `${decodedIds} ids decoded for ${ids.length} tokens`);
});
