// Fine-tuning data: OpenAI-format JSONL (chat and legacy completion) through the chat template
// with a loss mask on what the model writes, errors that name file, line and field, plain
// text, the held-out tail, and the two fine-tuning domains read from this Debian system.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import fc from "fast-check";
import { BpeTokenizer, trainBpe } from "../../src/data/bpe.js";
import { type ChatTurn, chatTranscript } from "../../src/data/chatTemplate.js";
import { loadEnglishFortunes } from "../../src/data/corpora.js";
import { loadDebianHandbook, loadDebianReference, sectionsText } from "../../src/data/docCorpora.js";
import { BASE_MODEL_PACKAGES, debianChangelogs, type FinetuneCorpus, licenseTexts } from "../../src/data/finetuneCorpora.js";
import {
  encodeFinetuneRecord,
  FinetuneDataError,
  type FinetuneMessage,
  type FinetuneRecord,
  parseFinetuneJsonl,
  readFinetuneData,
  splitRecords,
  splitText,
} from "../../src/data/finetuneData.js";

const chat = BpeTokenizer.load("assets/chat/tokenizer.json");
const eos = chat.idOf("<|eos|>")!;
const dir = mkdtempSync(join(tmpdir(), "finetune-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const line = (record: unknown): string => JSON.stringify(record);

/** The tokens whose mask bit is set, decoded. */
function learned(tokens: ArrayLike<number>, mask: ArrayLike<number>): string {
  const ids: number[] = [];
  for (let i = 0; i < tokens.length; i++) if (mask[i] === 1) ids.push(tokens[i]);
  return chat.decode(ids);
}

// ---------------------------------------------------------------------------------------------
// Chat and completion records

test("a chat record is its chat-template transcript, learned only on the assistant turns", () => {
  const turns: ChatTurn[] = [
    { role: "system", content: "You answer questions about release notes." },
    { role: "user", content: "What changed in bash 5.2?" },
    { role: "assistant", content: " The malloc now aligns to 16 bytes. " },
    { role: "user", content: "And?" },
    { role: "assistant", content: "A new timer framework." },
  ];
  const [record] = parseFinetuneJsonl(line({ messages: turns }), "data.jsonl");
  const { tokens, lossMask } = encodeFinetuneRecord(record, chat);
  assert.deepEqual(tokens, chat.encode(chatTranscript(turns)));
  assert.equal(learned(tokens, lossMask), "The malloc now aligns to 16 bytes.<|eos|>A new timer framework.<|eos|>");
  // the role token that opens an answer is given (it ends the prompt), not learned
  const assistant = chat.idOf("<|assistant|>")!;
  tokens.forEach((id, i) => {
    if (id === assistant) assert.equal(lossMask[i], 0);
  });
});

test("weight 0 keeps an assistant turn as context; content parts are joined; name is accepted", () => {
  const records = parseFinetuneJsonl(
    line({
      messages: [
        {
          role: "user",
          name: "ann",
          content: [
            { type: "text", text: "Say " },
            { type: "text", text: "hi." },
          ],
        },
        { role: "assistant", content: "Bad answer.", weight: 0 },
        { role: "user", content: "Again." },
        { role: "assistant", content: "Hi.", weight: 1 },
      ],
    }),
    "data.jsonl",
  );
  const record = records[0] as Extract<FinetuneRecord, { kind: "chat" }>;
  assert.equal(record.messages[0].content, "Say hi.");
  assert.deepEqual(
    record.messages.map((m) => m.weight),
    [1, 0, 1, 1],
  );
  const { tokens, lossMask } = encodeFinetuneRecord(record, chat);
  assert.equal(learned(tokens, lossMask), "Hi.<|eos|>");
});

test("a completion record is prompt + completion + <|eos|>, learned on the completion", () => {
  const records = parseFinetuneJsonl(`${line({ prompt: "Q: 2+2?\nA:", completion: " 4" })}\n`, "c.jsonl");
  assert.deepEqual(records, [{ kind: "completion", line: 1, prompt: "Q: 2+2?\nA:", completion: " 4" }]);
  const { tokens, lossMask } = encodeFinetuneRecord(records[0], chat);
  assert.deepEqual(tokens, [...chat.encode("Q: 2+2?\nA:"), ...chat.encode(" 4"), eos]);
  assert.equal(learned(tokens, lossMask), " 4<|eos|>");
});

test("special-token text inside a record is ordinary text, not a role switch", () => {
  const [record] = parseFinetuneJsonl(
    line({
      messages: [
        { role: "user", content: "<|assistant|>x" },
        { role: "assistant", content: "y<|eos|>" },
      ],
    }),
    "d.jsonl",
  );
  const { tokens } = encodeFinetuneRecord(record, chat);
  assert.equal(tokens.filter((id) => id === eos).length, 2);
  assert.equal(chat.decode(tokens), "<|user|><|assistant|>x<|eos|><|assistant|>y<|eos|><|eos|>");
});

test("chat records need a chat tokenizer", () => {
  const base = trainBpe(["hello world"], { vocabSize: 270, reservedImageTokens: 0 });
  const [record] = parseFinetuneJsonl(line({ messages: [{ role: "assistant", content: "hi" }] }), "d.jsonl");
  assert.throws(() => encodeFinetuneRecord(record, base), /no <\|assistant\|> token: chat records need a chat model's tokenizer/);
});

// ---------------------------------------------------------------------------------------------
// Errors

test("errors name the file, line and field, after skipped blank lines", () => {
  const good = line({
    messages: [
      { role: "user", content: "a" },
      { role: "assistant", content: "b" },
    ],
  });
  const text = [
    good,
    "",
    line({
      messages: [
        { role: "user", content: "a" },
        { role: "assistant", content: "b" },
        { role: "bot", content: "c" },
      ],
    }),
    "{not json",
    "   ",
    line({ messages: [{ role: "tool", content: "42", tool_call_id: "x" }] }),
    line({
      messages: [
        { role: "user", content: "a" },
        { role: "assistant", tool_calls: [], content: null },
      ],
    }),
    line({
      messages: [
        { role: "user", content: "a", weight: 1 },
        { role: "assistant", content: "b" },
      ],
    }),
    line({ messages: [{ role: "user", content: "a" }] }),
    line({ prompt: "p", completion: "c" }),
    line([1, 2]),
    line({
      messages: [
        { role: "user", content: "a" },
        { role: "assistant", content: "b" },
      ],
      tools: [],
    }),
    line({
      messages: [
        { role: "user", content: [{ type: "image_url", image_url: {} }] },
        { role: "assistant", content: "b" },
      ],
    }),
    line({ messages: [{ role: "assistant", content: "b", weight: 0.5 }] }),
    line({ messages: [{ role: "assistant", contents: "b" }] }),
    line({ prompt: "p" }),
  ].join("\n");
  const err = (() => {
    try {
      parseFinetuneJsonl(text, "data.jsonl", 100);
    } catch (e) {
      return e;
    }
    assert.fail("no error");
  })();
  assert.ok(err instanceof FinetuneDataError);
  const messages = err.message.split("\n");
  const expected: [number, RegExp][] = [
    [3, /^data\.jsonl:3: messages\[2\]\.role: expected one of system, user, assistant, got "bot"$/],
    [4, /^data\.jsonl:4: not valid JSON \(.+\); each line must hold one JSON object$/],
    [6, /^data\.jsonl:6: messages\[0\]\.role: "tool" messages \(tool calling\) are not supported/],
    [7, /^data\.jsonl:7: messages\[1\]\.tool_calls: tool calling is not supported$/],
    [8, /^data\.jsonl:8: messages\[0\]\.weight: only assistant messages have a weight$/],
    [9, /^data\.jsonl:9: messages: no assistant message/],
    [10, /^data\.jsonl:10: a completion record in a file of chat records \(line 1\)/],
    [11, /^data\.jsonl:11: expected a JSON object .*, got an array$/],
    [12, /^data\.jsonl:12: tools: tool calling is not supported$/],
    [13, /^data\.jsonl:13: messages\[0\]\.content\[0\]\.type: only "text" parts are supported, got "image_url"$/],
    [14, /^data\.jsonl:14: messages\[0\]\.weight: expected 0 or 1, got number 0\.5$/],
    [15, /^data\.jsonl:15: messages\[0\]\.contents: unknown field; expected only role, content, name, weight$/],
    [16, /^data\.jsonl:16: completion: expected a string, got nothing$/],
  ];
  assert.equal(messages.length, expected.length, err.message);
  expected.forEach(([n, pattern], i) => {
    assert.match(messages[i], pattern);
    assert.equal(err.errors[i].line, n);
  });
});

test("at most maxErrors errors are listed, then a count of the rest", () => {
  const text = Array.from({ length: 25 }, () => "[]").join("\n");
  assert.throws(
    () => parseFinetuneJsonl(text, "bad.jsonl", 3),
    (e: unknown) => {
      assert.ok(e instanceof FinetuneDataError);
      assert.equal(e.errors.length, 3);
      assert.equal(e.more, 22);
      assert.match(e.message, /^bad\.jsonl:1: .*\nbad\.jsonl:2: .*\nbad\.jsonl:3: .*\n… and 22 more errors$/);
      return true;
    },
  );
});

test("CRLF line ends, a byte-order mark and blank lines are accepted; line numbers count every line", () => {
  const r = line({ prompt: "a", completion: "b" });
  const records = parseFinetuneJsonl(`\uFEFF${r}\r\n\r\n${r}\r\n`, "x.jsonl");
  assert.deepEqual(
    records.map((x) => x.line),
    [1, 3],
  );
  assert.deepEqual(parseFinetuneJsonl("\n  \n", "x.jsonl"), []);
});

// ---------------------------------------------------------------------------------------------
// Properties

const FILE = "gen.jsonl";

const contentArb = fc.string({ unit: "binary", maxLength: 40 });
const chatRecordArb: fc.Arbitrary<FinetuneMessage[]> = fc
  .array(
    fc
      .oneof(
        fc.record({
          role: fc.constantFrom("system" as const, "user" as const),
          content: contentArb,
          weight: fc.constant(1 as const),
        }),
        fc.record({
          role: fc.constant("assistant" as const),
          content: contentArb,
          weight: fc.constantFrom(0 as const, 1 as const),
        }),
      )
      .map((m) => ({ ...m })),
    { minLength: 1, maxLength: 5 },
  )
  .map((ms) => [...ms, { role: "assistant" as const, content: "ok", weight: 1 as const }]);

/** Lines that are JSON of many shapes: near-misses of the two formats as well as junk. */
const messageArb = fc.record(
  {
    role: fc.oneof(fc.constantFrom("system", "user", "assistant", "tool", "developer", ""), fc.anything()),
    content: fc.oneof(fc.string(), fc.anything(), fc.array(fc.record({ type: fc.constantFrom("text", "x"), text: fc.string() }))),
    weight: fc.oneof(fc.constantFrom(0, 1), fc.anything()),
    name: fc.anything(),
  },
  { requiredKeys: [] },
);
const lineArb = fc.oneof(
  fc.string({ unit: "binary" }).filter((s) => !s.includes("\n")),
  fc.json(),
  fc.record({ messages: fc.oneof(fc.array(messageArb, { maxLength: 4 }), fc.anything()) }, { requiredKeys: [] }).map(line),
  fc
    .record(
      { prompt: fc.oneof(fc.string(), fc.anything()), completion: fc.oneof(fc.string(), fc.anything()) },
      { requiredKeys: [] },
    )
    .map(line),
  fc.dictionary(fc.string(), fc.anything()).map(line),
  chatRecordArb.map((messages) => line({ messages })),
  // a valid record with one field of one message changed or added
  fc
    .tuple(chatRecordArb, fc.nat(), fc.constantFrom("role", "content", "weight", "name", "tool_calls", "x"), fc.anything())
    .map(([messages, i, key, value]) => {
      const changed = messages.map((m, j) => (j === i % messages.length ? { ...m, [key]: value } : m));
      return line({ messages: changed });
    }),
);

test("property: any line is accepted as one record, skipped when blank, or refused with <file>:<line>:", () => {
  fc.assert(
    fc.property(lineArb, fc.integer({ min: 0, max: 5 }), (text, blanks) => {
      const lineNo = blanks + 1;
      const source = `${"\n".repeat(blanks)}${text}`;
      let records: FinetuneRecord[];
      try {
        records = parseFinetuneJsonl(source, FILE);
      } catch (e) {
        assert.ok(e instanceof FinetuneDataError, `not a FinetuneDataError: ${e}`);
        assert.ok(e.message.startsWith(`${FILE}:${lineNo}: `), e.message);
        return;
      }
      assert.ok(records.length <= 1);
      for (const r of records) assert.equal(r.line, lineNo);
    }),
    { numRuns: 2000 },
  );
});

test("property: a file is all records, or its errors are its bad lines in order, each <file>:<line>:", () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(lineArb, fc.constantFrom("", "  ")), { maxLength: 12 }), (lines) => {
      const filled = lines.flatMap((l, i) => (l.trim() === "" ? [] : [i + 1]));
      try {
        const records = parseFinetuneJsonl(lines.join("\n"), FILE, 1000);
        assert.deepEqual(
          records.map((r) => r.line),
          filled,
        );
      } catch (e) {
        assert.ok(e instanceof FinetuneDataError, `not a FinetuneDataError: ${e}`);
        const numbers = e.errors.map((x) => x.line);
        assert.ok(numbers.every((n, i) => filled.includes(n) && (i === 0 || n > numbers[i - 1])));
        for (const [i, m] of e.message.split("\n").entries()) assert.ok(m.startsWith(`${FILE}:${numbers[i]}: `), m);
      }
    }),
    { numRuns: 500 },
  );
});

test("property: valid chat records round-trip through JSONL and encode as their chat-template transcript", () => {
  fc.assert(
    fc.property(fc.array(chatRecordArb, { minLength: 1, maxLength: 6 }), fc.boolean(), (recs, omitWeights) => {
      const lines: string[] = [];
      const expected: FinetuneRecord[] = [];
      recs.forEach((messages, i) => {
        if (i % 2 === 1) lines.push("");
        const written = messages.map((m) =>
          m.role === "assistant" && !(omitWeights && m.weight === 1) ? m : { role: m.role, content: m.content },
        );
        lines.push(line({ messages: written }));
        expected.push({ kind: "chat", line: lines.length, messages });
      });
      const parsed = parseFinetuneJsonl(lines.join("\n"), FILE);
      assert.deepEqual(parsed, expected);
      for (const record of parsed) {
        const { tokens, lossMask } = encodeFinetuneRecord(record, chat);
        const messages = (record as Extract<FinetuneRecord, { kind: "chat" }>).messages;
        if (!messages.some((m) => /<\|[a-z_0-9]+\|>/.test(m.content))) {
          assert.deepEqual(tokens, chat.encode(chatTranscript(messages)));
        }
        const learnedCount = messages
          .filter((m) => m.role === "assistant" && m.weight === 1)
          .reduce((a, m) => a + chat.encode(m.content.trim(), { allowSpecial: false }).length + 1, 0);
        assert.equal(
          lossMask.reduce((a, b) => a + b, 0),
          learnedCount,
        );
      }
    }),
    { numRuns: 300 },
  );
});

test("property: valid completion records round-trip", () => {
  fc.assert(
    fc.property(fc.array(fc.record({ prompt: contentArb, completion: contentArb }), { minLength: 1, maxLength: 8 }), (recs) => {
      const parsed = parseFinetuneJsonl(recs.map(line).join("\n"), FILE);
      assert.deepEqual(
        parsed,
        recs.map((r, i) => ({ kind: "completion", line: i + 1, prompt: r.prompt, completion: r.completion })),
      );
    }),
  );
});

// ---------------------------------------------------------------------------------------------
// Files, plain text and the held-out split

const qa = (i: number) =>
  line({
    messages: [
      { role: "user", content: `Question ${i}?` },
      { role: "assistant", content: `Answer ${i}.` },
    ],
  });

test("readFinetuneData: a JSONL file's last records are held out, whole", () => {
  const path = file("chat.jsonl", `${Array.from({ length: 40 }, (_, i) => qa(i)).join("\n")}\n`);
  const data = readFinetuneData(path, chat);
  assert.equal(data.format, "chat");
  assert.equal(data.records, 40);
  assert.equal(data.train.recordStarts.length + data.valid.recordStarts.length, 40);
  assert.equal(data.tokens, data.train.tokens.length + data.valid.tokens.length);
  assert.ok(
    data.valid.recordStarts.length >= 3 && data.valid.recordStarts.length <= 5,
    `${data.valid.recordStarts.length} held out`,
  );
  assert.ok(data.valid.tokens.length / data.tokens <= 0.11);
  assert.equal(data.valid.recordStarts[0], 0);
  assert.ok(chat.decode(data.valid.tokens).startsWith("<|user|>Question 3"));
  assert.ok(learned(data.valid.tokens, data.valid.lossMask).endsWith("Answer 39.<|eos|>"));
  assert.equal(data.train.lossMask.length, data.train.tokens.length);
});

test("splitRecords holds out at least one of two records, none when heldOut is 0", () => {
  const parts = [0, 1].map((i) => encodeFinetuneRecord(parseFinetuneJsonl(qa(i), "q.jsonl")[0], chat));
  assert.equal(splitRecords(parts).valid.recordStarts.length, 1);
  assert.equal(splitRecords(parts, 0).valid.tokens.length, 0);
  assert.equal(splitRecords(parts.slice(0, 1)).valid.tokens.length, 0);
  assert.throws(() => splitRecords(parts, 1), /heldOut must be in \[0, 1\)/);
});

test("readFinetuneData: plain text is tokenized whole, every token learned, cut at a paragraph break", () => {
  const paragraphs = Array.from({ length: 30 }, (_, i) => `Paragraph ${i} says <|eos|> is only text here.`);
  const text = paragraphs.join("\n\n");
  const data = readFinetuneData(file("notes.md", text), chat);
  assert.equal(data.format, "text");
  assert.equal(data.records, 30);
  assert.ok(data.train.lossMask.every((b) => b === 1) && data.valid.lossMask.every((b) => b === 1));
  assert.ok(!data.train.tokens.includes(eos), "special-token text became a special token");
  assert.equal(chat.decode(data.train.tokens) + chat.decode(data.valid.tokens), text);
  assert.ok(chat.decode(data.valid.tokens).startsWith("\n\nParagraph 28"));
  const { train, valid } = splitText(text);
  assert.equal(train + valid, text);
  assert.ok(valid.startsWith("\n\n"));
  assert.deepEqual(splitText("no breaks at all in this one", 0.5), { train: "no breaks at a", valid: "ll in this one" });
});

test("readFinetuneData refuses empty files and names a file it cannot read", () => {
  assert.throws(() => readFinetuneData(file("empty.jsonl", "\n\n"), chat), /empty\.jsonl: no records/);
  assert.throws(() => readFinetuneData(file("empty.txt", "  \n"), chat), /empty\.txt: no text to fine-tune on/);
  assert.throws(() => readFinetuneData(join(dir, "missing.jsonl"), chat), /cannot read fine-tuning data .*missing\.jsonl/);
  assert.throws(
    () => readFinetuneData(file("bad.jsonl", `${qa(0)}\n{"messages": 3}\n`), chat),
    /bad\.jsonl:2: messages: expected an array of messages, got number 3/,
  );
  // format by option overrides the name
  assert.equal(readFinetuneData(file("chat.data", qa(1)), chat, { format: "jsonl" }).format, "chat");
});

// ---------------------------------------------------------------------------------------------
// The two fine-tuning domains

const changelogs = debianChangelogs();
const licenses = licenseTexts();

function words(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 0);
}

const SHINGLE = 10;
function shingles(text: string): string[] {
  const w = words(text);
  const out: string[] = [];
  for (let i = 0; i + SHINGLE <= w.length; i++) out.push(w.slice(i, i + SHINGLE).join(" "));
  return out;
}

for (const corpus of [changelogs, licenses] as FinetuneCorpus[]) {
  test(`the ${corpus.name} corpus: non-empty prose under the 400 KB cap, deterministic, one heading a source`, () => {
    assert.ok(corpus.text.length > 100_000 && corpus.text.length <= 400_000, `${corpus.text.length} characters`);
    assert.ok(corpus.sources.length >= 10, `${corpus.sources.length} sources`);
    assert.equal((corpus.text.match(/^# /gm) ?? []).length >= corpus.sources.length, true);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
    assert.ok(!/[\u0000-\u0008\u000e-\u001f]/.test(corpus.text), "control characters left in the text");
    assert.ok((corpus.text.match(/\p{L}/gu) ?? []).length > 0.5 * corpus.text.length);
    const again = corpus.name === "licenses" ? licenseTexts() : debianChangelogs();
    assert.deepEqual(again, corpus);
  });
}

test("the changelogs are release notes of many packages, none of the base model's", () => {
  const packages = new Set(changelogs.sources.map((s) => s.split("/")[0]));
  assert.ok(packages.size >= 50, `${packages.size} packages`);
  for (const s of changelogs.sources) {
    assert.match(s, /^[^/]+\/(news|changelog|changes)(\.(md|rst|txt))?(\.gz)?$/i);
    assert.ok(!BASE_MODEL_PACKAGES.test(s), `${s} belongs to the base model's sources`);
    assert.ok(!/\.Debian/.test(s));
  }
  assert.ok(changelogs.sources.includes("bash/NEWS.gz"));
  assert.ok(/urgency=|Closes: #\d+|[Vv]ersion \d/.test(changelogs.text));
  const small = debianChangelogs({ maxChars: 30_000, maxCharsPerFile: 1000 });
  assert.ok(small.text.length <= 30_000);
  for (const part of small.text.split(/^# /m).slice(1)) assert.ok(part.length <= 1000 + 80, `${part.length}`);
  assert.ok(changelogs.text.startsWith(small.text.slice(0, 200)));
});

test("the licences are base-files' texts, each once (links skipped)", () => {
  assert.ok(licenses.sources.includes("GPL-3") && licenses.sources.includes("Apache-2.0"));
  assert.ok(!licenses.sources.includes("GPL"), "GPL is a link to GPL-3");
  assert.equal((licenses.text.match(/GNU GENERAL PUBLIC LICENSE\s+Version 3/g) ?? []).length, 1);
  assert.ok(licenseTexts({ maxChars: 20_000 }).text.length <= 20_000);
});

test("neither corpus overlaps the base model's training text (10-word shingles)", () => {
  const base = new Set<string>();
  for (const text of [
    sectionsText(loadDebianReference()),
    sectionsText(loadDebianHandbook("en-US")),
    loadEnglishFortunes(1_500_000),
  ]) {
    for (const s of shingles(text)) base.add(s);
  }
  for (const corpus of [changelogs, licenses]) {
    const own = shingles(corpus.text);
    const shared = own.filter((s) => base.has(s)).length;
    // a stray sentence may be quoted in a fortune cookie ("Yoyodyne, Inc. hereby disclaims …")
    assert.ok(shared / own.length < 0.001, `${corpus.name}: ${shared} of ${own.length} shingles shared`);
  }
});

test("a missing corpus names what to install", () => {
  assert.throws(() => debianChangelogs({ dir: "/nonexistent" }), /apt-get install -y --reinstall/);
  assert.throws(() => debianChangelogs({ dir }), /no NEWS or changelog files under .*apt-get install -y --reinstall/);
  assert.throws(() => licenseTexts({ dir: "/nonexistent" }), /apt-get install -y --reinstall base-files/);
  assert.throws(() => licenseTexts({ maxChars: 0 }), /maxChars must be a positive integer/);
});
