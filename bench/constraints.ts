// Cost of the constraint masks per decoding step, for the shipped 2048-token byte-level BPE
// (assets/lm-tiny) and an 8192-token one trained here on fortunes + synthetic reports.
// Two kinds of walk per constraint, each measured with and without memoisation (after one
// unmeasured warm-up walk):
//   text    the tokens of real outputs (synthetic reports, their findings as JSON): the states
//           a model that writes such text visits; masks repeat across texts
//   random  tokens drawn uniformly from each mask (seeded): odd states, few repeats
// Prints JSON: median and p95 µs per mask, and the memo hit rate.
//   node --import tsx bench/constraints.ts

import { join } from "node:path";
import { BpeTokenizer, trainBpe } from "../src/data/bpe.js";
import { loadChineseFortunes, loadEnglishFortunes } from "../src/data/corpora.js";
import { labelReport, reportTerms, reportText, synthChestCase } from "../src/data/synth/index.js";
import {
  type ByteAutomaton,
  findingsJsonSchema,
  generalWordsFromTexts,
  intersect,
  jsonSchemaAutomaton,
  lexiconFromTerms,
  sectionAutomaton,
  TokenMasker,
  terminologyAutomaton,
  vocabularyFromBpe,
} from "../src/generate/constraints/index.js";

const randomSteps = 300;

interface Timing {
  medianUs: number;
  p95Us: number;
  masks: number;
  memoHitRate: number;
}

function summary(times: number[], masker: TokenMasker<unknown>): Timing {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q: number) => +sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))].toFixed(1);
  const { computed, memoHits } = masker.stats;
  return { medianUs: at(0.5), p95Us: at(0.95), masks: times.length, memoHitRate: +(memoHits / (computed + memoHits)).toFixed(3) };
}

/** µs per mask along the token sequences `texts` (each from the start state). */
function textWalk(masker: TokenMasker<unknown>, texts: readonly number[][]): number[] {
  const times: number[] = [];
  for (const tokens of texts) {
    let state: unknown = masker.automaton.start;
    for (const token of tokens) {
      const t0 = performance.now();
      masker.mask(state);
      times.push((performance.now() - t0) * 1000);
      const next = masker.advance(state, token);
      if (next === undefined) throw new Error(`the constraint rejects a benchmark text at token ${token}`);
      state = next;
    }
  }
  return times;
}

/** µs per mask along a seeded uniform random walk (restarting when a text ends). */
function randomWalk(masker: TokenMasker<unknown>, seed: number): number[] {
  const { eosId, size } = masker.vocabulary;
  let s = seed;
  const random = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
  const times: number[] = [];
  let state: unknown = masker.automaton.start;
  for (let i = 0; i < randomSteps; i++) {
    const t0 = performance.now();
    const mask = masker.mask(state);
    times.push((performance.now() - t0) * 1000);
    const allowed: number[] = [];
    for (let id = 0; id < size; id++) if (mask[id] && id !== eosId) allowed.push(id);
    const next = allowed.length === 0 ? undefined : masker.advance(state, allowed[Math.floor(random() * allowed.length)]);
    state = next ?? masker.automaton.start;
  }
  return times;
}

const cases = Array.from({ length: 60 }, (_, i) => synthChestCase(5, i, { size: 64 }));
const reports = (lang: "en" | "zh") => cases.map((c) => reportText(c.report[lang], lang));
const lexicon = lexiconFromTerms(reportTerms);
const generalWords = generalWordsFromTexts([...reports("en").slice(0, 40), ...reports("zh").slice(0, 40)], lexicon);
const findingsJson = reports("en").map((text) =>
  JSON.stringify({
    findings: labelReport(text, "en").map((f) => ({
      type: f.type,
      side: f.side ?? null,
      lobe: f.lobe ?? null,
      sizeMm: f.sizeMm ?? null,
      severity: f.severity ?? null,
    })),
  }),
);

interface Constraint {
  automaton: ByteAutomaton<unknown>;
  texts: string[];
}
const constraints: Record<string, Constraint> = {
  json: { automaton: jsonSchemaAutomaton(findingsJsonSchema) as ByteAutomaton<unknown>, texts: findingsJson.slice(40) },
  "sections en": { automaton: sectionAutomaton({ lang: "en" }) as ByteAutomaton<unknown>, texts: reports("en").slice(40) },
  "terminology en": {
    automaton: terminologyAutomaton(lexicon, { generalWords }) as ByteAutomaton<unknown>,
    texts: reports("en").slice(40),
  },
  "terminology zh": {
    automaton: terminologyAutomaton(lexicon, { generalWords }) as ByteAutomaton<unknown>,
    texts: reports("zh").slice(40),
  },
  "terminology(strict) ∩ sections en": {
    automaton: intersect(
      terminologyAutomaton(lexicon, { generalWords, strictPhrases: true }),
      sectionAutomaton({ lang: "en" }),
    ) as ByteAutomaton<unknown>,
    texts: reports("en").slice(40),
  },
};

const shipped = BpeTokenizer.load(join("assets", "lm-tiny", "tokenizer.json"));
const trainStart = performance.now();
const trained = trainBpe([loadEnglishFortunes(300_000), loadChineseFortunes(150_000), ...reports("en"), ...reports("zh")], {
  vocabSize: 8192,
});
const trainSeconds = (performance.now() - trainStart) / 1000;

const results: Record<string, unknown> = {};
for (const [name, tokenizer] of [
  ["bpe2048", shipped],
  ["bpe8192", trained],
] as const) {
  const vocab = vocabularyFromBpe(tokenizer);
  for (const [constraintName, { automaton, texts }] of Object.entries(constraints)) {
    const tokenTexts = texts.map((t) => tokenizer.encode(t, { allowSpecial: false }));
    const row: Record<string, Timing> = {};
    for (const memoize of [false, true]) {
      const label = memoize ? "memo" : "plain";
      textWalk(new TokenMasker(automaton, vocab, { memoize }), tokenTexts.slice(0, 2)); // warm-up
      const textMasker = new TokenMasker(automaton, vocab, { memoize });
      row[`text ${label}`] = summary(textWalk(textMasker, tokenTexts), textMasker);
      const randomMasker = new TokenMasker(automaton, vocab, { memoize });
      row[`random ${label}`] = summary(randomWalk(randomMasker, 12345), randomMasker);
    }
    results[`${name} ${constraintName}`] = row;
  }
}
console.log(
  JSON.stringify(
    { vocabularies: { bpe2048: shipped.vocabSize, bpe8192: trained.vocabSize }, trainSeconds: +trainSeconds.toFixed(1), results },
    null,
    2,
  ),
);
