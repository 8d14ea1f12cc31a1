// Byte-level BPE: trained on a mixed English / Chinese / code corpus, saved as tokenizer.json,
// and checked against an independent implementation (Hugging Face tokenizers.js reading that file):
// identical ids and decoded text on held-out text and random strings; exact round trips;
// deterministic training; the documented id layout; clear errors on corrupt files.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Tokenizer } from "@huggingface/tokenizers";
import fc from "fast-check";
import {
  BpeTokenizer,
  DEFAULT_SPECIAL_TOKENS,
  type HfTokenizerJson,
  imageToken,
  PRE_TOKENIZER_PATTERN,
  preTokenize,
  toByteLevel,
  trainBpe,
} from "../../src/data/bpe.js";
import { loadChineseFortunes, loadCodeCorpus, loadEnglishFortunes } from "../../src/data/corpora.js";

const TRAIN_CHARS = 150_000;
const HELD_OUT_CHARS = 20_000;
const VOCAB = 2000;

const en = loadEnglishFortunes(TRAIN_CHARS + HELD_OUT_CHARS);
const zh = loadChineseFortunes(TRAIN_CHARS + HELD_OUT_CHARS);
const code = loadCodeCorpus(TRAIN_CHARS + HELD_OUT_CHARS);
const trainTexts = [en, zh, code].map((text) => text.slice(0, TRAIN_CHARS));
const heldOut = { en: en.slice(TRAIN_CHARS), zh: zh.slice(TRAIN_CHARS), code: code.slice(TRAIN_CHARS) };

const trainStart = performance.now();
const tokenizer = trainBpe(trainTexts, { vocabSize: VOCAB, specialTokens: DEFAULT_SPECIAL_TOKENS });
const trainMs = performance.now() - trainStart;

const dir = mkdtempSync(join(tmpdir(), "bpe-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const savedPath = join(dir, "tokenizer.json");
tokenizer.save(savedPath);
// the reference reads the file from disk, as any Hugging Face consumer would
const reference = new Tokenizer(JSON.parse(readFileSync(savedPath, "utf8")), tokenizer.toHuggingFaceConfig());

/** Held-out lines, plus strings that stress the pre-tokenizer and the added-token splitter. */
const tricky = [
  "",
  "Hello, world! It's 2024-06-01; he'll say \"I'M DONE\", they've gone, we'd go, you're 'quoted'.",
  "numbers: 1 12 123 1234 12345 1234567890 3.14159 -42 1e-10 0x1F ١٢٣٤ ３．１４ ²³ ½ Ⅻ",
  "whitespace:  two   three    four\t\ttabs\t \n\n\nnewlines\r\n\r\ncrlf \n \n  trailing   ",
  "unicode spaces:\u00a0nbsp\u2003em\u3000ideographic\u0085nel\ufeffbom\u200bzwsp\u2028ls",
  "emoji: 😀 👍🏽 👨‍👩‍👧‍👦 🇨🇳🇺🇸 ❤️ 🤖 ✨ a😀b",
  "中文：你好，世界！这是一个测试。「引号」《书名》——破折号……省略号 English混合text 和数字123。",
  "床前明月光，疑是地上霜。举头望明月，低头思故乡。",
  "日本語のテキスト、한국어 텍스트, Ελληνικά, русский текст, עברית, العربية, हिन्दी",
  "const __proto__ = { constructor: 1, toString: 2 }; // __proto__ hasOwnProperty",
  "export function f<T extends object>(x: T): Promise<T[]> {\n\treturn Promise.resolve([x]); // ok\n}\n",
  "  if (a !== b && c >= 0) { x += 1; } else { y ||= z ?? w; }\n    return a + '-' + b;\n",
  "<|bos|><|text|>Hello<|eos|><|code|>let x = 1;<|eos|><|pad|><|pad|>",
  "<|image|><|image_0|><|image_1|><|image_12|><|image_255|><|image_256|><|image_|> caption<|eos|>",
  "<|bos|<|eos|>|> <|<|bos|>|> <|BOS|> < |bos| > <|image_7|>x<|image_7|>",
  "'s 's's ' s ''' 'S 'LL 'Ve 'ſ don't",
  "e\u0301 é Å Å ﬁ ß ẞ İ ı ǅ",
  "\u0000\u0001\u001f\u007f\u0080\u009f control",
  "a".repeat(300),
  "你".repeat(300),
  `${" ".repeat(70)}x${"\n".repeat(5)}${"\t".repeat(9)}`,
];

function heldOutLines(): string[] {
  return Object.values(heldOut).flatMap((text) => text.split("\n"));
}

/** Held-out text in 400-character chunks, so newlines and indentation are inside the strings. */
function heldOutChunks(): string[] {
  const chunks: string[] = [];
  for (const text of Object.values(heldOut)) {
    for (let i = 0; i + 400 <= text.length; i += 400) chunks.push(text.slice(i, i + 400));
  }
  return chunks;
}

function assertSameAsReference(text: string): void {
  const ids = tokenizer.encode(text);
  assert.deepEqual(ids, reference.encode(text).ids, `ids differ for ${JSON.stringify(text.slice(0, 120))}`);
  if (ids.length === 0) return; // tokenizers.js refuses to decode an empty list
  const options = { clean_up_tokenization_spaces: false };
  assert.equal(tokenizer.decode(ids), reference.decode(ids, options), `decode differs for ${JSON.stringify(text.slice(0, 120))}`);
  assert.equal(
    tokenizer.decode(ids, { skipSpecial: true }),
    reference.decode(ids, { ...options, skip_special_tokens: true }),
    `decode(skipSpecial) differs for ${JSON.stringify(text.slice(0, 120))}`,
  );
}

/** What a round trip gives: UTF-8 cannot carry a lone surrogate, which becomes U+FFFD. */
function wellFormed(text: string): string {
  return text.replace(/\p{Cs}/gu, "\uFFFD");
}

/** Strings from pieces that stress the pattern: contractions, digits, CJK, emoji, odd spaces, specials. */
const mixedPiece = fc.constantFrom(
  "a",
  "Z",
  "é",
  "the",
  " ",
  "  ",
  "\t",
  "\n",
  "\r",
  "\r\n",
  "\u00a0",
  "\u0085",
  "\u3000",
  "\ufeff",
  "0",
  "7",
  "42",
  "１",
  "²",
  "'",
  "'s",
  "'LL",
  "ſ",
  "你",
  "好",
  "。",
  "，",
  "😀",
  "👍🏽",
  "\u0301",
  "_",
  "-",
  "...",
  "=>",
  "{",
  "}",
  "<|",
  "|>",
  "<|bos|>",
  "<|eos|>",
  "<|image_3|>",
  "<|image_255|>",
  "\ud800",
  "\udfff",
);
const mixedString = fc.string({ unit: mixedPiece, maxLength: 40 });
const anyCodeUnits = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u)), maxLength: 60 });

test("tokenizers.js reading our tokenizer.json gives exactly our ids and text on held-out zh/en/code", () => {
  const lines = heldOutLines();
  const chunks = heldOutChunks();
  assert.ok(lines.length > 500 && chunks.length > 100, `held-out text too small: ${lines.length} lines`);
  for (const text of [...tricky, ...lines, ...chunks]) assertSameAsReference(text);
  // a whole held-out corpus in one call
  for (const text of Object.values(heldOut)) assertSameAsReference(text);
});

test("tokenizers.js agrees on random strings (pre-tokenizer, specials, surrogates, odd spaces)", () => {
  fc.assert(
    fc.property(fc.oneof(mixedString, fc.string({ unit: "binary", maxLength: 40 }), anyCodeUnits), (text) => {
      assertSameAsReference(text);
    }),
    { numRuns: 600, seed: 20240601 },
  );
});

test("the pre-tokenizer splits like the tokenizers.js translation of the stored pattern", () => {
  assert.deepEqual(preTokenize("Hello world's  12345 你好，世界!\n\n  x\ty"), [
    "Hello",
    " world",
    "'s",
    " ",
    " ",
    "123",
    "45",
    " 你好",
    "，世界",
    "!\n\n",
    " ",
    " x",
    "\ty",
  ]);
  const splitter = reference.pre_tokenizer;
  assert.ok(splitter !== null);
  fc.assert(
    fc.property(fc.oneof(mixedString, fc.string({ unit: "binary", maxLength: 40 })), (text) => {
      const ours = preTokenize(text).map(toByteLevel);
      assert.deepEqual(ours, splitter.pre_tokenize(text));
    }),
    { numRuns: 500, seed: 7 },
  );
});

test("decode(encode(s)) === s for random strings and the held-out corpus", () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: "binary" }), fc.string({ unit: "grapheme" }), mixedString, anyCodeUnits), (text) => {
      assert.equal(tokenizer.decode(tokenizer.encode(text)), wellFormed(text));
      assert.equal(tokenizer.decode(tokenizer.encode(text, { allowSpecial: false })), wellFormed(text));
    }),
    { numRuns: 1000, seed: 42 },
  );
  for (const text of [...tricky, ...Object.values(heldOut)]) {
    assert.equal(tokenizer.decode(tokenizer.encode(text)), text);
  }
});

test("training is deterministic: the same corpus gives the same tokenizer.json", () => {
  const again = trainBpe(trainTexts, { vocabSize: VOCAB, specialTokens: DEFAULT_SPECIAL_TOKENS });
  assert.equal(JSON.stringify(again.toHuggingFaceJson()), JSON.stringify(tokenizer.toHuggingFaceJson()));
  assert.equal(readFileSync(savedPath, "utf8"), `${JSON.stringify(again.toHuggingFaceJson(), null, 2)}\n`);
});

test("special tokens, reserved image tokens and bytes have the documented ids", () => {
  assert.equal(tokenizer.vocabSize, VOCAB);
  DEFAULT_SPECIAL_TOKENS.forEach((token, id) => {
    assert.equal(tokenizer.idOf(token), id);
    assert.equal(tokenizer.tokenOf(id), token);
  });
  assert.deepEqual(
    ["<|bos|>", "<|eos|>", "<|pad|>", "<|text|>", "<|code|>", "<|image|>"].map((t) => tokenizer.idOf(t)),
    [0, 1, 2, 3, 4, 5],
  );
  assert.equal(tokenizer.imageTokenIds.length, 256);
  tokenizer.imageTokenIds.forEach((id, i) => {
    assert.equal(id, 6 + i);
    assert.equal(tokenizer.tokenOf(id), imageToken(i));
  });
  assert.deepEqual(
    tokenizer.specialIds,
    Array.from({ length: 262 }, (_, i) => i),
  );
  assert.ok(tokenizer.specialIds.every((id) => tokenizer.isSpecial(id)));
  // bytes: 262 + byte value, in GPT-2's printable spelling
  assert.equal(tokenizer.tokenOf(262), "Ā"); // byte 0x00
  assert.equal(tokenizer.idOf("Ġ"), 262 + 0x20);
  assert.equal(tokenizer.idOf("A"), 262 + 0x41);
  assert.equal(tokenizer.idOf("ÿ"), 262 + 0xff);
  assert.ok(!tokenizer.isSpecial(262 + 0x41));

  assert.deepEqual(tokenizer.encode("<|image_7|><|eos|>"), [13, 1]);
  assert.ok(tokenizer.encode("<|eos|>", { allowSpecial: false }).length > 1);
  assert.equal(tokenizer.decode([0, 3, ...tokenizer.encode("hi"), 1], { skipSpecial: true }), "hi");
  assert.equal(tokenizer.decode([6, 261]), "<|image_0|><|image_255|>");

  const json = tokenizer.toHuggingFaceJson();
  assert.equal(json.added_tokens.length, 262);
  assert.ok(json.added_tokens.every((t, i) => t.id === i && t.special && !t.normalized));
  assert.equal(json.model.vocab["<|image_255|>"], 261);
  assert.equal(reference.token_to_id("<|image_255|>"), 261);
  assert.equal(json.model.merges.length, VOCAB - 262 - 256);
  assert.deepEqual(json.pre_tokenizer.pretokenizers[0].pattern.Regex, PRE_TOKENIZER_PATTERN);
  assert.throws(() => tokenizer.decode([VOCAB]), /token id 2000 at position 0 is out of range/);
});

test("a saved tokenizer loads back identically, merges written as pairs or as strings", () => {
  const loaded = BpeTokenizer.load(savedPath);
  assert.equal(JSON.stringify(loaded.toHuggingFaceJson()), JSON.stringify(tokenizer.toHuggingFaceJson()));
  const json = tokenizer.toHuggingFaceJson();
  const legacy = { ...json, model: { ...json.model, merges: json.model.merges.map(([a, b]) => `${a} ${b}`) } };
  const fromLegacy = BpeTokenizer.fromHuggingFaceJson(legacy);
  for (const text of tricky) assert.deepEqual(fromLegacy.encode(text), tokenizer.encode(text));
  for (const text of Object.values(heldOut)) assert.deepEqual(loaded.encode(text), tokenizer.encode(text));
});

test("a token named __proto__ survives loading and saving", () => {
  const text = JSON.stringify(tokenizer.toHuggingFaceJson()).replace('"vocab":{', `"vocab":{"__proto__":${VOCAB},`);
  const loaded = BpeTokenizer.fromHuggingFaceJson(JSON.parse(text));
  assert.equal(loaded.vocabSize, VOCAB + 1);
  assert.equal(loaded.idOf("__proto__"), VOCAB);
  assert.equal(Object.getOwnPropertyDescriptor(loaded.toHuggingFaceJson().model.vocab, "__proto__")?.value, VOCAB);
  assert.ok(JSON.stringify(loaded.toHuggingFaceJson()).includes(`"__proto__":${VOCAB}`));
});

test("a pair listed twice in merges takes its last rank, as in tokenizers.js", () => {
  const json = tokenizer.toHuggingFaceJson();
  json.model.merges.push(json.model.merges[0]);
  const ours = BpeTokenizer.fromHuggingFaceJson(json);
  const theirs = new Tokenizer(json, tokenizer.toHuggingFaceConfig());
  let changed = 0;
  for (const text of [...tricky, ...heldOutChunks()]) {
    const ids = ours.encode(text);
    assert.deepEqual(ids, theirs.encode(text).ids);
    if (JSON.stringify(ids) !== JSON.stringify(tokenizer.encode(text))) changed++;
  }
  assert.ok(changed > 0, "moving the first merge to the end changed nothing");
});

test("loading a corrupt tokenizer.json fails with a clear error", () => {
  const good = (): HfTokenizerJson => structuredClone(tokenizer.toHuggingFaceJson());
  const write = (name: string, content: string): string => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };
  assert.throws(() => BpeTokenizer.load(join(dir, "missing.json")), /cannot read tokenizer file .*missing\.json/);
  assert.throws(
    () => BpeTokenizer.load(write("truncated.json", '{"version": "1.0", "model": {')),
    /truncated\.json is not valid JSON/,
  );
  const broken = (name: string, edit: (json: Record<string, unknown> & HfTokenizerJson) => void, message: RegExp): void => {
    const json = good() as Record<string, unknown> & HfTokenizerJson;
    edit(json);
    assert.throws(() => BpeTokenizer.load(write(name, JSON.stringify(json))), message, name);
  };
  broken(
    "wordpiece.json",
    (json) => {
      (json.model as { type: string }).type = "WordPiece";
    },
    /wordpiece\.json: not a byte-level BPE tokenizer\.json .*model\.type/,
  );
  broken(
    "no-vocab.json",
    (json) => {
      delete (json.model as Partial<HfTokenizerJson["model"]>).vocab;
    },
    /model\.vocab/,
  );
  broken(
    "gpt2-pretokenizer.json",
    (json) => {
      json.pre_tokenizer = {
        type: "ByteLevel",
        add_prefix_space: false,
        use_regex: true,
      } as unknown as HfTokenizerJson["pre_tokenizer"];
    },
    /pre_tokenizer/,
  );
  broken(
    "unknown-merge.json",
    (json) => {
      json.model.merges[0] = ["Ġthe", "nonexistent"];
    },
    /model\.merges\[0\] refers to "nonexistent", which is not in model\.vocab/,
  );
  broken(
    "bad-merge-string.json",
    (json) => {
      (json.model.merges as unknown as string[])[0] = "a b c";
    },
    /model\.merges\[0\] is "a b c"; expected "left right"/,
  );
  broken(
    "merge-result-missing.json",
    (json) => {
      const [a, b] = json.model.merges[json.model.merges.length - 1];
      const id = json.model.vocab[a + b];
      delete json.model.vocab[a + b];
      json.model.vocab.ĠzzzzqQ = id;
    },
    /makes .*, which is not in the vocabulary/,
  );
  broken(
    "missing-byte.json",
    (json) => {
      const id = json.model.vocab.Ā;
      delete json.model.vocab.Ā;
      json.model.vocab["\u4e00"] = id;
    },
    /not byte-level|lacks the byte token/,
  );
  broken(
    "gap.json",
    (json) => {
      json.model.vocab.Ā = 99_999;
    },
    /model\.vocab: id 99999 of "Ā" is not below the vocabulary size 2000/,
  );
  broken(
    "fractional-id.json",
    (json) => {
      json.model.vocab.Ā = 0.5;
    },
    /model\.vocab: the id of "Ā" is 0\.5; expected a non-negative integer/,
  );
  broken(
    "added-mismatch.json",
    (json) => {
      json.added_tokens[1].content = "<|end|>";
    },
    /added token "<\|end\|>" has id 1, but model\.vocab gives that id to "<\|eos\|>"/,
  );
});

test("trainBpe validates its options", () => {
  assert.throws(() => trainBpe(["abc"], { vocabSize: 300, specialTokens: DEFAULT_SPECIAL_TOKENS }), /vocabSize 300 is below 518/);
  assert.throws(() => trainBpe(["abc"], { vocabSize: 600, specialTokens: ["<|a|>", "<|a|>"] }), /appears twice/);
  assert.throws(() => trainBpe(["abc"], { vocabSize: 600, specialTokens: ["<|image_3|>"] }), /appears twice/);
  assert.throws(() => trainBpe(["abc"], { vocabSize: 600, specialTokens: ["!"] }), /also a byte token/);
  assert.throws(() => trainBpe(["abc"], { vocabSize: 2.5, specialTokens: [] }), /vocabSize/);
  // a tiny corpus stops short of the requested size instead of merging pairs seen once
  const small = trainBpe(["ab ab ab cd"], { vocabSize: 1000, specialTokens: ["<|eos|>"], reservedImageTokens: 2 });
  assert.equal(small.idOf("<|image_1|>"), 2);
  assert.equal(small.idOf("ab"), 259);
  assert.equal(small.idOf("Ġab"), 260);
  assert.equal(small.vocabSize, 261);
  assert.deepEqual(small.encode("ab ab<|eos|>cd"), [259, 260, 0, 3 + 0x63, 3 + 0x64]);
});

test("special-token text in the training corpus is not learned", () => {
  const t = trainBpe(["<|eos|>".repeat(50), "x<|eos|>y ".repeat(50)], {
    vocabSize: 700,
    specialTokens: ["<|eos|>"],
    reservedImageTokens: 0,
  });
  assert.equal(t.idOf("<|"), undefined);
  assert.equal(t.idOf("|>"), undefined);
});

test("compression: chars per token on held-out English, Chinese and code", (t) => {
  const ratios: Record<string, number> = {};
  for (const [name, text] of Object.entries(heldOut)) {
    ratios[name] = text.length / tokenizer.encode(text).length;
  }
  t.diagnostic(
    `vocab ${VOCAB}, trained on 3 × ${TRAIN_CHARS / 1000}k chars in ${(trainMs / 1000).toFixed(2)} s; chars/token: ` +
      Object.entries(ratios)
        .map(([name, r]) => `${name} ${r.toFixed(2)}`)
        .join(", "),
  );
  assert.ok(ratios.en > 2.0, `English ${ratios.en.toFixed(2)} chars/token`);
  assert.ok(ratios.code > 2.2, `code ${ratios.code.toFixed(2)} chars/token`);
  assert.ok(ratios.zh > 1.2, `Chinese ${ratios.zh.toFixed(2)} chars/token`);
});

test("trains an 8k vocabulary on ~1 MB of mixed text in well under a minute", (t) => {
  const start = performance.now();
  const big = trainBpe([loadEnglishFortunes(340_000), loadChineseFortunes(340_000), loadCodeCorpus(340_000)], {
    vocabSize: 8000,
    specialTokens: DEFAULT_SPECIAL_TOKENS,
  });
  const seconds = (performance.now() - start) / 1000;
  t.diagnostic(`8000-token vocabulary from 1.02 M chars (incl. loading) in ${seconds.toFixed(2)} s`);
  assert.equal(big.vocabSize, 8000);
  assert.ok(seconds < 30, `training took ${seconds.toFixed(1)} s`);
});
