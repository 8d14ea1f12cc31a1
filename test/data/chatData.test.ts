// The chat model's data: sections of the real Debian documentation, instruction pairs whose
// answers are passages of that documentation (never invented), and the chat template in
// TypeScript and in Jinja (as other runtimes render it) giving the same prompt.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Template } from "@huggingface/jinja";
import fc from "fast-check";
import {
  CHAT_TEMPLATE_JINJA,
  type ChatTurn,
  chatTemplatePrompt,
  chatTranscript,
  instructionPairs,
  leadingSentences,
  loadDebianHandbook,
  loadDebianReference,
  loadPoems,
  sectionsText,
} from "../../src/data/index.js";

const reference = loadDebianReference();
const handbookEn = loadDebianHandbook("en-US");
const handbookZh = loadDebianHandbook("zh-CN");

test("the Debian Reference splits into its numbered sections, hard-wrapped prose joined", () => {
  assert.ok(reference.length > 400, `${reference.length} sections`);
  const fifo = reference.find((s) => s.title === "Named pipes (FIFOs)");
  assert.ok(fifo, "section 1.2.8 is found");
  assert.match(fifo.paragraphs[0], /^A named pipe is a file that acts like a pipe\. You put something into the file/);
  assert.ok(!fifo.paragraphs[0].includes("\n"), "a paragraph is one line");
  // command examples stay verbatim blocks, not prose
  assert.ok(reference.some((s) => s.blocks.some((b) => b.kind === "code" && b.text.includes("$ "))));
});

test("the Debian Handbook in English and Chinese: titles without numbering, paragraphs from div.para", () => {
  assert.ok(handbookEn.length > 400 && handbookZh.length > 400);
  const syntax = handbookEn.find((s) => s.title === "Syntax" && s.paragraphs[0]?.includes("sources.list"));
  assert.ok(syntax, "6.1.1 Syntax of sources.list");
  assert.ok(handbookEn.every((s) => !/^\d+(\.\d+)*\./.test(s.title)));
  const zhText = sectionsText(handbookZh);
  assert.ok((zhText.match(/\p{Script=Han}/gu)?.length ?? 0) > 100_000, "the zh-CN edition is mostly Chinese");
});

test("instruction answers are passages of the corpora; the held-out pairs are not trained on", () => {
  const { train, valid } = instructionPairs(7);
  assert.ok(train.length > 3000 && valid.length > 300, `${train.length} train, ${valid.length} held out`);
  const docs = sectionsText([...reference, ...handbookEn, ...handbookZh]).replace(/\s+/g, " ");
  const poems = [...loadPoems("tang300"), ...loadPoems("song100")].map((p) => p.lines.join("\n")).join("\n");
  for (const pair of [...train, ...valid].filter((_, i) => i % 7 === 0)) {
    if (pair.source.startsWith("debian")) assert.ok(docs.includes(pair.answer.replace(/\s+/g, " ")), pair.answer.slice(0, 80));
    if (pair.source === "tang300" && pair.question.startsWith("续写")) assert.ok(poems.includes(pair.answer), pair.answer);
  }
  const trained = new Set(train.map((p) => `${p.question}\u0000${p.answer}`));
  assert.ok(valid.every((p) => !trained.has(`${p.question}\u0000${p.answer}`)));
});

test("leadingSentences keeps whole sentences and at least one", () => {
  assert.equal(leadingSentences("One. Two two. Three.", 9), "One.");
  assert.equal(leadingSentences("One. Two two. Three.", 14), "One. Two two.");
  assert.equal(leadingSentences("A very long first sentence.", 3), "A very long first sentence.");
  assert.equal(leadingSentences("第一句。第二句。", 4), "第一句。");
});

const jinja = new Template(CHAT_TEMPLATE_JINJA);
const turn = fc.record({
  role: fc.constantFrom<ChatTurn["role"]>("system", "user", "assistant", "tool"),
  content: fc.string({ maxLength: 40 }),
});

test("the Jinja chat_template renders exactly the prompt chatTemplatePrompt builds", () => {
  fc.assert(
    fc.property(fc.array(turn, { maxLength: 5 }), (turns) => {
      assert.equal(jinja.render({ messages: turns, add_generation_prompt: true }), chatTemplatePrompt(turns));
      assert.equal(jinja.render({ messages: turns, add_generation_prompt: false }), chatTranscript(turns));
    }),
  );
  assert.equal(
    chatTemplatePrompt([{ role: "user", content: " What is a named pipe? " }]),
    "<|user|>What is a named pipe?<|eos|><|assistant|>",
  );
});
