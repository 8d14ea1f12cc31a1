// Constrained decoding over the shipped tokenizer (assets/lm-tiny, 2048 byte-level BPE tokens)
// and model. Checked: token bytes, masks = a brute-force per-token check (memoised or not),
// random walks under every mask stay accepted (eos exactly in accepting states, never an
// empty mask), JSON-mode outputs parse and pass an independent zod validator, misspelled
// terms cannot be forced through, Chinese tokens that split characters, end-to-end
// generation with the real model, and the term checker on hand-written texts.

import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { z } from "zod";
import { BpeTokenizer } from "../../src/data/bpe.js";
import { labelReport, reportTerms, reportText, synthChestCase } from "../../src/data/synth/index.js";
import {
  acceptsPrefix,
  acceptsText,
  type ByteAutomaton,
  ConstraintDeadEndError,
  constrainedMask,
  editDistance,
  findingsJsonSchema,
  findingsSchema,
  generalWordsFromTexts,
  intersect,
  type JsonSchema,
  JsonSchemaError,
  jsonSchemaAutomaton,
  lexiconFromTerms,
  lexiconPhrases,
  lexiconWordsMissingFrom,
  loadMedicalWordList,
  readWordList,
  runBytes,
  sectionAutomaton,
  TokenMasker,
  terminologyAutomaton,
  termValidity,
  vocabularyFromBpe,
} from "../../src/generate/constraints/index.js";
import { type DecodeModel, type DecodeSession, generate } from "../../src/generate/index.js";
import { loadMoeLm } from "../../src/models/moeLmFiles.js";
import { MoeLmModel } from "../../src/models/moeLmModel.js";

const modelDir = "assets/lm-tiny";
const tokenizer = BpeTokenizer.load(join(modelDir, "tokenizer.json"));
const vocab = vocabularyFromBpe(tokenizer);
const eosId = tokenizer.idOf("<|eos|>")!;
const utf8 = new TextEncoder();
const utf8Text = new TextDecoder("utf-8", { fatal: true });

const lexicon = lexiconFromTerms(reportTerms);
const trainingReports = [
  "FINDINGS:\nSingle axial image at the level of the heart. A 14 mm solid nodule in the right upper lobe. Small left pleural effusion.\n\nIMPRESSION:\n1. Right upper lobe nodule, 14 mm.\n2. Small left pleural effusion.",
  "检查所见：心脏层面单层轴位图像。右肺上叶见一直径约14 mm实性结节。左侧胸腔少量积液。\n\n诊断意见：1. 右肺上叶实性结节。2. 左侧胸腔少量积液。",
];
const generalWords = [...generalWordsFromTexts(trainingReports, lexicon), "见", "一", "约"];
const terminology = terminologyAutomaton(lexicon, { generalWords });

/** A small seeded PRNG for the random walks (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const plainMaskers = new WeakMap<object, object>();

interface Walk {
  bytes: number[];
  /** The longest prefix of `bytes` that was a complete accepted text. */
  accepted: number[];
  ended: boolean;
}

/**
 * Samples tokens uniformly from each mask (eos with probability `eosBias` when allowed) for at
 * most `maxTokens` tokens, checking every step: the mask is non-empty, eos is in it iff the
 * state is accepting, specials other than eos never are, and the text so far is a live prefix.
 */
function randomWalk<S>(masker: TokenMasker<S>, seed: number, maxTokens: number, eosBias = 0.3): Walk {
  const { automaton } = masker;
  // masks served from the memo must equal freshly computed ones (keys must not collide)
  let plain = plainMaskers.get(masker) as TokenMasker<S> | undefined;
  if (plain === undefined) {
    plain = new TokenMasker(automaton, vocab, { memoize: false });
    plainMaskers.set(masker, plain);
  }
  const random = prng(seed);
  let state = automaton.start;
  const bytes: number[] = [];
  let accepted: number[] = [];
  for (let step = 0; step < maxTokens; step++) {
    if (automaton.accepting(state)) accepted = [...bytes];
    const mask = masker.mask(state);
    assert.deepEqual(mask, plain.mask(state), `memoised mask differs at key ${automaton.key?.(state)}`);
    const allowed: number[] = [];
    mask.forEach((m, id) => {
      if (m) allowed.push(id);
    });
    assert.ok(allowed.length > 0, `empty mask after ${JSON.stringify(Buffer.from(bytes).toString())}`);
    assert.equal(mask[eosId] === 1, automaton.accepting(state), "eos allowed iff accepting");
    for (const id of tokenizer.specialIds) if (id !== eosId) assert.equal(mask[id], 0, `special token ${id} allowed`);
    if (mask[eosId] && random() < eosBias) return { bytes, accepted, ended: true };
    const choices = allowed.filter((id) => id !== eosId);
    if (choices.length === 0) return { bytes, accepted, ended: true };
    const token = choices[Math.floor(random() * choices.length)];
    const next = masker.advance(state, token);
    assert.ok(next !== undefined, `token ${token} was allowed but does not advance`);
    state = next;
    bytes.push(...vocab.bytes(token)!);
    assert.ok(runBytes(automaton, bytes) !== undefined, "the text so far is a live prefix");
  }
  return { bytes, accepted: automaton.accepting(state) ? bytes : accepted, ended: false };
}

/** The mask by brute force: every token's bytes run through the automaton one by one. */
function bruteMask<S>(automaton: ByteAutomaton<S>, state: S): Uint8Array {
  const mask = new Uint8Array(vocab.size);
  for (let id = 0; id < vocab.size; id++) {
    const bytes = vocab.bytes(id);
    if (bytes === null) mask[id] = id === eosId && automaton.accepting(state) ? 1 : 0;
    else mask[id] = runBytes(automaton, bytes, state) !== undefined ? 1 : 0;
  }
  return mask;
}

// An independent validator of the findings schema (zod, written from the schema's description).
const nullable = <T extends z.ZodType>(t: T) => t.nullable();
const findingsValidator = (maxFindings: number) =>
  z
    .object({
      findings: z
        .array(
          z
            .object({
              type: z.enum(["nodule", "mass", "effusion", "consolidation", "cardiomegaly", "pneumothorax", "emphysema"]),
              side: nullable(z.enum(["left", "right", "bilateral"])),
              lobe: nullable(z.enum(["RUL", "RML", "RLL", "LUL", "lingula", "LLL"])),
              sizeMm: nullable(z.number().int().min(1).max(100)),
              severity: nullable(z.enum(["small", "moderate", "large", "mild", "severe"])),
            })
            .strict(),
        )
        .max(maxFindings),
    })
    .strict();

// A second schema exercising numbers, free strings, optional properties, numeric enums and anyOf.
const mixedSchema: JsonSchema = {
  type: "object",
  properties: {
    id: { type: "integer", minimum: -20, maximum: 300 },
    score: { type: "number", minimum: -1.5, maximum: 2.25, fractionDigits: 2 },
    ok: { type: "boolean" },
    note: { type: "string", maxLength: 6 },
    tags: { type: "array", items: { enum: ["a", "ab", 1, 12, true] }, minItems: 1, maxItems: 3 },
    opt: { anyOf: [{ type: "null" }, { type: "integer", minimum: 5, maximum: 5 }] },
  },
  required: ["id", "ok", "tags"],
};
const mixedValidator = z
  .object({
    id: z.number().int().min(-20).max(300),
    score: z
      .number()
      .min(-1.5)
      .max(2.25)
      .refine((x) => Math.abs(Math.round(x * 100) - x * 100) < 1e-9, "at most 2 decimals")
      .optional(),
    ok: z.boolean(),
    note: z.string().max(6).optional(),
    tags: z
      .array(z.union([z.literal("a"), z.literal("ab"), z.literal(1), z.literal(12), z.literal(true)]))
      .min(1)
      .max(3),
    opt: z.union([z.null(), z.literal(5)]).optional(),
  })
  .strict();

test("token bytes: the bytes of a text's tokens are its UTF-8 bytes; specials hold none", () => {
  fc.assert(
    fc.property(
      fc.string({ unit: fc.constantFrom("a", "B", " ", "肺", "结", "节", "é", "😀", "\n", "1", "."), maxLength: 30 }),
      (text) => {
        const bytes = tokenizer.encode(text, { allowSpecial: false }).flatMap((id) => [...vocab.bytes(id)!]);
        assert.deepEqual(Uint8Array.from(bytes), utf8.encode(text));
      },
    ),
    { numRuns: 100 },
  );
  for (const id of tokenizer.specialIds) assert.equal(vocab.bytes(id), null);
  assert.equal(vocab.eosId, eosId);
});

test("masks equal a brute-force check per token, with and without memoisation", () => {
  const automata: [string, ByteAutomaton<unknown>, string][] = [
    [
      "json",
      jsonSchemaAutomaton(findingsJsonSchema) as ByteAutomaton<unknown>,
      '{"findings":[{"type":"nodule","side":null,"lobe":"RUL","sizeMm":1',
    ],
    ["sections", sectionAutomaton({ lang: "en" }) as ByteAutomaton<unknown>, "FINDINGS:\nA nodule.\n\nIMPRESSION"],
    ["terminology", terminology as ByteAutomaton<unknown>, "A 14 mm solid nodule in the right up"],
    ["terminology zh", terminology as ByteAutomaton<unknown>, "右肺上叶见胸腔积"],
  ];
  for (const [name, automaton, text] of automata) {
    const bytes = utf8.encode(text);
    const memo = new TokenMasker(automaton, vocab);
    const plain = new TokenMasker(automaton, vocab, { memoize: false });
    for (let cut = 0; cut <= bytes.length; cut += 3) {
      const state = runBytes(automaton, bytes.subarray(0, cut));
      assert.ok(state !== undefined, `${name}: prefix ${cut} is live`);
      const expected = bruteMask(automaton, state);
      assert.deepEqual(plain.mask(state), expected, `${name} at ${cut}`);
      assert.deepEqual(memo.mask(state), expected, `${name} at ${cut} (memo)`);
      assert.deepEqual(memo.mask(state), expected, `${name} at ${cut} (memo hit)`);
    }
    assert.ok(memo.stats.memoHits > 0, `${name}: the memo was used`);
  }
});

test("JSON mode: random walks under the mask end in JSON that parses and passes an independent validator", () => {
  const cases: [JsonSchema, z.ZodType][] = [
    [findingsSchema(2), findingsValidator(2)],
    [mixedSchema, mixedValidator],
  ];
  for (const [schema, validator] of cases) {
    const masker = new TokenMasker(jsonSchemaAutomaton(schema), vocab);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), (seed) => {
        const walk = randomWalk(masker, seed, 400, 1);
        assert.ok(walk.ended, "a bounded schema ends within 400 tokens");
        const text = utf8Text.decode(Uint8Array.from(walk.bytes));
        const parsed = validator.safeParse(JSON.parse(text));
        assert.ok(parsed.success, `${text}: ${parsed.error?.message}`);
      }),
      { numRuns: 40 },
    );
  }
});

test("JSON mode accepts exactly the valid compact texts it is shown", () => {
  const automaton = jsonSchemaAutomaton(mixedSchema);
  fc.assert(
    fc.property(
      fc.record({
        id: fc.integer({ min: -40, max: 400 }),
        ok: fc.boolean(),
        tags: fc.array(fc.constantFrom<string | number | boolean>("a", "ab", 1, 12, true, "b", 3), {
          minLength: 0,
          maxLength: 4,
        }),
        note: fc.option(fc.string({ maxLength: 8 }), { nil: undefined }),
        score: fc.option(
          fc.integer({ min: -300, max: 300 }).map((x) => x / 100),
          { nil: undefined },
        ),
      }),
      (value) => {
        // property order as in the schema: id, score, ok, note, tags
        const ordered = { id: value.id, score: value.score, ok: value.ok, note: value.note, tags: value.tags };
        const text = JSON.stringify(ordered);
        assert.equal(acceptsText(automaton, text), mixedValidator.safeParse(ordered).success, text);
      },
    ),
    { numRuns: 300 },
  );
  assert.ok(!acceptsText(automaton, '{"id":007,"ok":true,"tags":["a"]}'), "leading zeros");
  assert.ok(!acceptsText(automaton, '{"ok":true,"id":1,"tags":["a"]}'), "property order");
  assert.ok(!acceptsText(automaton, '{"id":1,"ok":true,"tags":["a"],"x":1}'), "additional property");
  assert.ok(acceptsText(automaton, '{"id":1,"ok":true,"tags":[12,1],"opt":5}'));
  assert.throws(() => jsonSchemaAutomaton({ type: "integer", minimum: 3, maximum: 2 }), JsonSchemaError);
  assert.throws(() => jsonSchemaAutomaton({ type: "string", pattern: "x" } as JsonSchema), /keyword "pattern" is not supported/);
  assert.throws(
    () => jsonSchemaAutomaton({ anyOf: [{ type: "integer" }, { type: "number" }] }),
    /must be of different JSON types/,
  );
});

test("section grammar: random walks end with both sections; headers never appear in a body", () => {
  for (const lang of ["en", "zh"] as const) {
    const automaton = sectionAutomaton({ lang, maxBodyBytes: { findings: 40, impression: 30 } });
    const masker = new TokenMasker(automaton, vocab);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), (seed) => {
        const walk = randomWalk(masker, seed, 300);
        assert.ok(walk.ended);
        const text = utf8Text.decode(Uint8Array.from(walk.bytes));
        const m =
          lang === "en"
            ? /^FINDINGS:\n([\s\S]*?)\n\nIMPRESSION:\n([\s\S]*)$/.exec(text)
            : /^检查所见：([\s\S]*?)\n\n诊断意见：([\s\S]*)$/.exec(text);
        assert.ok(m, JSON.stringify(text));
        for (const body of [m[1], m[2]]) {
          assert.ok(body.trim().length > 0, "non-empty body");
          assert.ok(!/FINDINGS:|IMPRESSION:|检查所见：|诊断意见：/.test(body), JSON.stringify(body));
        }
      }),
      { numRuns: 30 },
    );
  }
  const en = sectionAutomaton({ lang: "en" });
  assert.ok(acceptsText(en, trainingReports[0]));
  assert.ok(!acceptsText(en, "FINDINGS:\nA nodule.\n\nIMPRESSION:\n"), "empty impression");
  assert.ok(
    !acceptsText(en, "FINDINGS:\nA nodule.\n\nIMPRESSION:\n\u3000\u00a0"),
    "an impression of Unicode whitespace is empty",
  );
  assert.ok(!acceptsPrefix(en, "FINDINGS:\nA nodule. IMPRESSION: x"), "a header inside the findings");
  assert.ok(acceptsText(sectionAutomaton({ lang: "zh" }), trainingReports[1]));
});

test("terminology: random walks (alone and with the section grammar) only write allowed words", () => {
  const combined = intersect(terminology, sectionAutomaton({ lang: "en" }));
  for (const automaton of [terminology, combined] as ByteAutomaton<unknown>[]) {
    const masker = new TokenMasker(automaton, vocab);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), (seed) => {
        const walk = randomWalk(masker, seed, 40, 0.05);
        // a cut-off walk may end inside a term; check the text up to its last complete point
        const text = utf8Text.decode(Uint8Array.from(walk.accepted));
        const report = termValidity(text, lexicon);
        assert.equal(report.invalid, 0, `${JSON.stringify(text)}: ${JSON.stringify(report.terms.filter((t) => !t.valid))}`);
      }),
      { numRuns: 25 },
    );
  }
  assert.ok(acceptsText(terminology, trainingReports[0]));
  assert.ok(acceptsText(terminology, trainingReports[1]));
});

test("terminology: misspelled terms are rejected, and a model pushing one cannot write it", async () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...[...lexicon.words].filter((w) => w.length >= 5)),
      fc.nat(),
      fc.constantFrom("a", "e", "i", "x"),
      (word, at, letter) => {
        const i = at % word.length;
        const misspelled = word.slice(0, i) + letter + word.slice(i + 1);
        fc.pre(!generalWords.includes(misspelled) && !lexicon.words.has(misspelled));
        assert.ok(!acceptsPrefix(terminology, `Small ${misspelled} `), misspelled);
      },
    ),
    { numRuns: 200 },
  );
  assert.ok(!acceptsPrefix(terminology, "Small left pleurel effusion"));
  assert.ok(!acceptsPrefix(terminology, "左侧胸腔积夜"));

  // A model whose logits favour the next token of the misspelled text: greedy decoding writes
  // it unconstrained, and cannot under the terminology mask.
  const target = "Small left pleurel effusion.";
  const pushing: DecodeModel = {
    decode: (ids) => tokenizer.decode(ids),
    eosId,
    open: async (rows) => {
      const texts = Array.from({ length: rows }, () => "");
      const prompted = Array.from({ length: rows }, () => false);
      const session: DecodeSession = {
        vocabSize: vocab.size,
        maxLength: 64,
        feed: async (rowIds, tokens) =>
          rowIds.map((r, i) => {
            // the first feed is the prompt; later ones the sampled tokens
            texts[r] = prompted[r] ? texts[r] + tokenizer.decode(tokens[i]) : "";
            prompted[r] = true;
            // logits: every token spelling a continuation of the target scores its length
            const logits = new Float32Array(vocab.size).fill(-10);
            const rest = utf8.encode(target.slice(texts[r].length));
            for (let id = 0; id < vocab.size; id++) {
              const b = vocab.bytes(id);
              if (b !== null && b.length <= rest.length && b.every((x, k) => x === rest[k])) logits[id] = b.length;
            }
            if (rest.length === 0) logits[eosId] = 10;
            return logits;
          }),
        close: async () => {},
      };
      return session;
    },
  };
  const prompt = [tokenizer.idOf("<|bos|>")!];
  const [free] = await generate(pushing, [prompt], { temperature: 0, maxTokens: 30 });
  assert.equal(free.text, target);
  const [constrained] = await generate(pushing, [prompt], {
    temperature: 0,
    maxTokens: 30,
    logitsMask: constrainedMask(terminology, vocab),
  });
  assert.ok(!constrained.text.includes("pleurel"), constrained.text);
  assert.equal(termValidity(constrained.text, lexicon).invalid, 0, constrained.text);
});

test("Chinese: tokens that split a character are allowed only when the character can complete a word", () => {
  const split = [...Array(vocab.size).keys()].filter((id) => {
    const b = vocab.bytes(id);
    if (b === null) return false;
    try {
      utf8Text.decode(b);
      return false;
    } catch {
      return true;
    }
  });
  assert.ok(split.length > 0, "the vocabulary has tokens holding part of a character");
  const masker = new TokenMasker(terminology, vocab);
  const state = runBytes(terminology, utf8.encode("右肺上叶见胸腔积"))!;
  const mask = masker.mask(state);
  const allowedSplit = split.filter((id) => mask[id]);
  assert.ok(allowedSplit.length > 0, "some partial-character token leads on to 液");
  for (const id of allowedSplit) {
    const next = masker.advance(state, id)!;
    assert.ok(masker.mask(next).includes(1), `no dead end after token ${id}`);
  }
  // the bytes of 液 are allowed, those of 夜 are not, whichever tokens spell them
  assert.ok(runBytes(terminology, utf8.encode("液"), state) !== undefined);
  assert.equal(runBytes(terminology, utf8.encode("夜"), state), undefined);
  for (const text of ["右肺上叶见胸腔积液", "左侧胸腔积夜"]) {
    let s: unknown = terminology.start;
    for (const id of tokenizer.encode(text)) s = s === undefined ? undefined : masker.advance(s as never, id);
    assert.equal(s !== undefined, text === "右肺上叶见胸腔积液", text);
  }
});

test("constrainedMask resyncs a row from `generated` and reports dead ends", () => {
  const automaton = jsonSchemaAutomaton({ type: "boolean" });
  const hook = constrainedMask(automaton, vocab);
  const t = tokenizer.encode("t")[0];
  assert.equal(hook(0, [])![t], 1);
  const afterT = hook(0, [t])!;
  assert.equal(afterT[t], 0);
  assert.equal(hook(0, [])![t], 1, "a shorter history restarts the row");
  assert.deepEqual(hook(1, tokenizer.encode("tru")), bruteMask(automaton, runBytes(automaton, utf8.encode("tru"))));
  const contradictory = intersect(jsonSchemaAutomaton({ type: "boolean" }), jsonSchemaAutomaton({ type: "null" }));
  assert.throws(() => constrainedMask(contradictory, vocab)(0, []), ConstraintDeadEndError);
});

test("end to end: the shipped model writes schema-valid JSON and both report sections under the masks", async () => {
  const { config, store } = await loadMoeLm(modelDir);
  const model = await MoeLmModel.create(config.model, store, tokenizer, { eosId, threads: 1 });
  const prompt = tokenizer.encode("<|bos|>Findings as JSON: ");
  const schema = findingsSchema(2);
  const [json] = await generate(model, [prompt], {
    maxTokens: 230,
    temperature: 0.8,
    seed: 7,
    logitsMask: constrainedMask(jsonSchemaAutomaton(schema), vocab),
  });
  assert.equal(json.finishReason, "eos", json.text);
  const parsed = findingsValidator(2).safeParse(JSON.parse(json.text));
  assert.ok(parsed.success, json.text);

  const [report] = await generate(model, [tokenizer.encode("<|bos|>Report: ")], {
    maxTokens: 160,
    temperature: 0.8,
    seed: 3,
    logitsMask: constrainedMask(sectionAutomaton({ lang: "en", maxBodyBytes: { findings: 80, impression: 40 } }), vocab),
  });
  assert.equal(report.finishReason, "eos", report.text);
  assert.match(report.text, /^FINDINGS:\n[\s\S]*\S[\s\S]*\n\nIMPRESSION:\n[\s\S]*\S/);
});

test("termValidity on hand-written texts, and the lexicon against a medical word list", () => {
  const good = termValidity("Small left pleural effusion. A 14 mm solid nodule in the right upper lobe.", lexicon);
  assert.equal(good.invalid, 0);
  assert.ok(good.valid >= 8);
  assert.equal(good.rate, 1);
  const bad = termValidity("Small left pleurel efusion with consolodation. 右肺上页见实性结节。", lexicon);
  assert.deepEqual(
    bad.terms.filter((t) => !t.valid).map((t) => [t.text, t.nearest]),
    [
      ["pleurel", "pleural"],
      ["efusion", "effusion"],
      ["consolodation", "consolidation"],
      ["右肺上页", "右肺上叶"],
    ],
  );
  assert.ok(bad.rate < 1);
  // Lexicon words side by side are not a misspelling of a longer term (大量 + 实变, not 大片实变),
  // as the terminology automaton writes them; a span that does not split into words still is.
  assert.ok(lexicon.cjkWords.has("大量") && lexicon.cjkWords.has("实变") && lexicon.cjkWords.has("大片实变"));
  assert.deepEqual(
    termValidity("大量实变", lexicon).terms.map((t) => [t.text, t.valid]),
    [
      ["大量", true],
      ["实变", true],
    ],
  );
  assert.deepEqual(
    termValidity("左肺小叶中心型肺气肿", lexicon).terms.map((t) => [t.text, t.valid]),
    [
      ["左肺", true],
      ["小叶中心型肺气肿", true],
    ],
  );
  assert.deepEqual(
    termValidity("大片实交", lexicon).terms.map((t) => [t.text, t.valid, t.nearest]),
    [["大片实交", false, "大片实变"]],
  );
  const plain = termValidity("The weather is fine today.", lexicon);
  assert.deepEqual(
    plain.terms.map((t) => t.text),
    ["the", "is"],
    "only lexicon words (from 'the aortic arch', 'Heart size is normal')",
  );
  assert.equal(editDistance("pleurel", "pleural"), 1);
  assert.equal(editDistance("kitten", "sitting"), 3);

  const dir = mkdtempSync(join(tmpdir(), "medwords-"));
  const dic = join(dir, "med.dic");
  writeFileSync(dic, "4\n    a comment line\nnodule/S\nEffusion\npleural\nbronchiectasis/SM\n");
  const words = readWordList(dic);
  assert.deepEqual([...words].sort(), ["bronchiectasis", "effusion", "nodule", "pleural"]);
  const flagged = termValidity("Bronchiectasis noted.", lexicon, words);
  assert.deepEqual(
    flagged.terms.map((t) => [t.text, t.valid]),
    [["bronchiectasis", false]],
  );
  assert.ok(lexiconWordsMissingFrom(lexicon, words).includes("right"));
  assert.ok(!lexiconWordsMissingFrom(lexicon, words).includes("nodule"));
});

test("the shipped lexicon against Debian's hunspell-en-med word list", (t) => {
  const medical = loadMedicalWordList(process.env.MEDICAL_WORDLIST);
  if (medical === null) {
    t.skip("hunspell-en-med is not installed (apt-get install hunspell-en-med, or set MEDICAL_WORDLIST)");
    return;
  }
  const missing = lexiconWordsMissingFrom(lexicon, medical);
  t.diagnostic(`lexicon words not in the medical list: ${missing.join(", ")}`);
  for (const word of ["cardiomegaly", "pneumothorax", "centrilobular", "lingula", "pleural"])
    assert.ok(!missing.includes(word), word);
});

test("synthetic reports: unseen reports pass terminology ∩ sections; their labelled findings pass the findings schema", () => {
  const cases = Array.from({ length: 80 }, (_, i) => synthChestCase(11, i, { size: 64 }));
  const training = cases.slice(0, 60).flatMap((c) => [reportText(c.report.en, "en"), reportText(c.report.zh, "zh")]);
  const general = generalWordsFromTexts(training, lexicon);
  const json = jsonSchemaAutomaton(findingsJsonSchema);
  for (const lang of ["en", "zh"] as const) {
    const automaton = intersect(terminologyAutomaton(lexicon, { generalWords: general }), sectionAutomaton({ lang }));
    for (const c of cases.slice(60)) {
      const text = reportText(c.report[lang], lang);
      assert.ok(acceptsText(automaton, text), text);
      assert.equal(termValidity(text, lexicon).invalid, 0, text);
      const findings = labelReport(text, lang).map((f) => ({
        type: f.type,
        side: f.side ?? null,
        lobe: f.lobe ?? null,
        sizeMm: f.sizeMm ?? null,
        severity: f.severity ?? null,
      }));
      assert.ok(acceptsText(json, JSON.stringify({ findings })), JSON.stringify(findings));
    }
  }
  // a misspelled copy of an unseen report is rejected
  const misspelled = reportText(cases[70].report.en, "en").replace(/pleural|nodule|lobe|heart/, (w) => `${w.slice(0, -1)}x`);
  assert.ok(!acceptsText(terminologyAutomaton(lexicon, { generalWords: general }), misspelled), misspelled);
});

test("strict phrases: a bound word only ever appears inside a complete multi-word term", () => {
  const terms = ["pleural effusion", "right upper lobe", "lobulated soft-tissue mass", "nodule", "emphysema"];
  const general = ["small", "left", "right", "a", "in", "the", "with", "mm", "and", "of"];
  const small = lexiconFromTerms(terms);
  const strict = terminologyAutomaton(small, { generalWords: general, strictPhrases: true });
  const { phrases, standalone } = lexiconPhrases(small, general);
  assert.deepEqual(phrases.map((p) => p.join(" ")).sort(), [
    "lobulated soft tissue mass",
    "pleural effusion",
    "right upper lobe",
  ]);
  const boundWords = [...small.words].filter((w) => !standalone.has(w));
  assert.deepEqual(boundWords.sort(), ["effusion", "lobe", "lobulated", "mass", "pleural", "soft", "tissue", "upper"]);
  // an independent check: every bound word lies inside a phrase written with single spaces or hyphens
  const phraseRegex = new RegExp(`(?<![A-Za-z])(${phrases.map((p) => p.join("[ -]")).join("|")})(?![A-Za-z])`, "gi");
  const boundOutsidePhrases = (text: string): string[] => {
    const covered = new Uint8Array(text.length);
    for (const m of text.matchAll(phraseRegex)) covered.fill(1, m.index, m.index + m[0].length);
    return [...text.matchAll(/[A-Za-z]+/g)]
      .filter((m) => boundWords.includes(m[0].toLowerCase()) && !covered[m.index])
      .map((m) => m[0]);
  };
  for (const text of [
    "Small left pleural effusion.",
    "A nodule in the right upper lobe.",
    "Lobulated soft-tissue mass",
    "Pleural Effusion",
    "right-upper lobe",
  ]) {
    assert.ok(acceptsText(strict, text), text);
    assert.deepEqual(boundOutsidePhrases(text), [], text);
  }
  for (const text of [
    "Small left pleural.",
    "Small pleural  effusion",
    "soft-tissue mass",
    "upper lobe",
    "Right lobe",
    "pleural effusion lobulated",
  ]) {
    assert.ok(!acceptsText(strict, text), text);
    assert.notDeepEqual(boundOutsidePhrases(text), [], text);
  }
  const masker = new TokenMasker(strict, vocab);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 31 }), (seed) => {
      const walk = randomWalk(masker, seed, 30, 0.1);
      const text = utf8Text.decode(Uint8Array.from(walk.accepted));
      assert.deepEqual(boundOutsidePhrases(text), [], JSON.stringify(text));
      assert.ok(acceptsText(strict, text));
    }),
    { numRuns: 40 },
  );
});
