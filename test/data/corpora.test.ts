// The English, Chinese and code corpora: right language, no terminal escapes, exact sizes,
// and errors that name the Debian package to install.

import assert from "node:assert/strict";
import { test } from "node:test";
import { loadChineseFortunes, loadCodeCorpus, loadEnglishFortunes, mixedCorpus } from "../../src/data/corpora.js";

const han = (text: string): number => (text.match(/\p{Script=Han}/gu) ?? []).length;

test("the Chinese corpus is fortunes-zh text without colour escapes or cookie separators", () => {
  const zh = loadChineseFortunes(60_000);
  assert.equal(zh.length, 60_000);
  assert.ok(han(zh) > 0.4 * zh.length, `only ${han(zh)} Han characters`);
  assert.ok(!zh.includes("\x1b"), "ANSI escape left in the text");
  assert.ok(!/^%$/m.test(zh), "cookie separator left in the text");
  assert.ok(zh.includes("作者：杜甫"), "tang300 poems missing");
  assert.equal(loadChineseFortunes(60_000), zh);
});

test("the English corpus holds no Chinese, even with fortunes-zh installed next to it", () => {
  const en = loadEnglishFortunes(200_000);
  assert.equal(en.length, 200_000);
  assert.equal(han(en), 0);
  assert.ok(!en.includes("\x1b"));
  assert.ok((en.match(/[A-Za-z]/g) ?? []).length > 0.6 * en.length);
});

test("the code corpus is TypeScript from zod's shipped sources", () => {
  const code = loadCodeCorpus(100_000);
  assert.equal(code.length, 100_000);
  assert.ok(code.startsWith("// file: "));
  assert.ok((code.match(/\bexport\b/g) ?? []).length > 50);
  assert.ok(!code.includes("// file: v4/locales/"));
});

test("mixedCorpus returns the three texts at the requested sizes", () => {
  const corpus = mixedCorpus({ en: 1000, zh: 2000, code: 3000 });
  assert.deepEqual([corpus.en.length, corpus.zh.length, corpus.code.length], [1000, 2000, 3000]);
});

test("a missing corpus names what to install", () => {
  assert.throws(() => loadChineseFortunes(1000, "/nonexistent"), /apt-get install -y fortunes-zh/);
  assert.throws(() => loadEnglishFortunes(1000, "/nonexistent"), /apt-get install -y fortunes/);
  assert.throws(() => loadCodeCorpus(1000, "/nonexistent"), /no code corpus at \/nonexistent/);
  assert.throws(() => loadCodeCorpus(0), /maxChars must be a positive integer/);
});
