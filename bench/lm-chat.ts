// The default chat model, measured on its own held-out data:
//   - perplexity on the held-out 10% of every pretraining source, against the anchor any LM
//     must beat: an interpolated modified Kneser-Ney 5-gram model counted on the same
//     training tokens (target: ≥ 30% lower perplexity);
//   - against the previously shipped model (assets/lm-tiny, another tokenizer): nats per
//     character on the same held-out text;
//   - 1,000 sampled answers to held-out questions with the model's default sampling
//     (generation_config.json) and at temperature 1: U+FFFD count (target 0), and the share
//     of generated English words found in Debian's `wamerican` dictionary (target ≥ 95%),
//     beside the same share in the held-out reference answers;
//   - `--samples`: 20 answers to fixed questions, printed as Markdown for the README (unedited).
//
//   node --import tsx bench/lm-chat.ts [model dir] [--completions 1000] [--samples] [--json]

import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { chatTemplatePrompt, instructionPairs } from "../src/data/index.js";
import { constraints, generate } from "../src/generate/index.js";
import { loadGenerationDefaults, loadMoeLm, MoeLmModel } from "../src/models/index.js";
import { KneserNeyLm, type LmCorpusSpec, tokenizeCorpus } from "../src/train/index.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    completions: { type: "string", default: "1000" },
    windows: { type: "string", default: "0" },
    samples: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});
const dir = positionals[0] ?? "assets/chat";
const baselineDir = "assets/lm-tiny";
const log = (line: string) => {
  if (!values.json) console.log(line);
};

const files = await loadMoeLm(dir);
const cfg = files.config.model;
const tokenizer = {
  encode: (s: string) => files.tokenizer.encode(s),
  decode: (ids: readonly number[]) => files.tokenizer.decode(ids),
};
const eosId = files.tokenizer.idOf("<|eos|>");
const model = await MoeLmModel.create(cfg, files.store, tokenizer, { eosId });
const defaults = loadGenerationDefaults(dir);
// One masker for every batch (its vocabulary trie and mask memo are built once).
const utf8Masker = new constraints.TokenMasker(constraints.utf8TextAutomaton, constraints.vocabularyFromBpe(files.tokenizer));
const utf8Mask = () => constraints.constrainedMask(utf8Masker);

// --- perplexity on the held-out text -----------------------------------------------------
const training = files.config.training as LmCorpusSpec;
const corpus = tokenizeCorpus(files.tokenizer, training);
const windowLength = 256;
let windows: number[][] = [];
for (const s of corpus.valid) {
  for (let at = 0; at + windowLength <= s.tokens.length; at += windowLength)
    windows.push(Array.from(s.tokens.subarray(at, at + windowLength)));
}
const maxWindows = Number(values.windows);
if (maxWindows > 0 && windows.length > maxWindows) {
  const step = windows.length / maxWindows;
  windows = Array.from({ length: maxWindows }, (_, i) => windows[Math.floor(i * step)]);
}
const scoredTokens = windows.length * (windowLength - 1);
let t0 = performance.now();
let nll = 0;
for (let i = 0; i < windows.length; i += 8) {
  const batch = windows.slice(i, i + 8);
  nll += (await model.crossEntropy(batch)) * batch.length * (windowLength - 1);
}
const modelCe = nll / scoredTokens;
log(
  `held-out: ${windows.length} windows of ${windowLength} tokens (${scoredTokens} scored), model ${((performance.now() - t0) / 1000).toFixed(0)} s`,
);

t0 = performance.now();
const trainStreams = [...corpus.train.map((s) => s.tokens), ...(corpus.sft ? [corpus.sft.train.tokens] : [])];
const kn = KneserNeyLm.train(trainStreams, { order: 5, vocab: cfg.vocab });
const knCe = kn.crossEntropy(windows);
log(
  `Kneser-Ney 5-gram counted on ${trainStreams.reduce((a, s) => a + s.length, 0)} training tokens in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
);

// The previous default model, on the same text: nats per character (its tokenizer differs).
const windowText = windows.map((w) => files.tokenizer.decode(w.slice(1)));
const chars = windowText.reduce((a, t) => a + t.length, 0);
let baselineNatsPerChar: number | undefined;
if (existsSync(baselineDir)) {
  const base = await loadMoeLm(baselineDir);
  const baseModel = await MoeLmModel.create(base.config.model, base.store, {
    encode: (s: string) => base.tokenizer.encode(s),
    decode: (ids: readonly number[]) => base.tokenizer.decode(ids),
  });
  let baseNll = 0;
  let baseChars = 0;
  for (const w of windows) {
    // Its first token is context, as the window's first token is for the model; the
    // characters after it are scored (the window is cut to its context when longer).
    const ids = base.tokenizer.encode(files.tokenizer.decode(w), { allowSpecial: false }).slice(0, base.config.model.maxSeq);
    baseNll += (await baseModel.crossEntropy([ids])) * (ids.length - 1);
    baseChars += base.tokenizer.decode(ids.slice(1)).length;
  }
  baselineNatsPerChar = baseNll / baseChars;
}
const modelNatsPerChar = (modelCe * scoredTokens) / chars;
const knNatsPerChar = (knCe * scoredTokens) / chars;

const ppl = Math.exp(modelCe);
const knPpl = Math.exp(knCe);
log(
  `perplexity: model ${ppl.toFixed(2)}, Kneser-Ney 5-gram ${knPpl.toFixed(2)} → ${((1 - ppl / knPpl) * 100).toFixed(1)}% lower (target ≥ 30%)`,
);
log(
  `nats/char: model ${modelNatsPerChar.toFixed(3)}, KN ${knNatsPerChar.toFixed(3)}` +
    (baselineNatsPerChar === undefined
      ? ""
      : `, ${baselineDir} ${baselineNatsPerChar.toFixed(3)} (ratio ${(modelNatsPerChar / baselineNatsPerChar).toFixed(3)})`),
);

// --- sampled answers ---------------------------------------------------------------------
const dictionary = new Set(
  readFileSync("/usr/share/dict/american-english", "utf8")
    .split("\n")
    .map((w) => w.toLowerCase()),
);
const englishWords = (text: string) => text.match(/[A-Za-z]+(?:'[a-z]+)?/g) ?? [];
const dictionaryShare = (texts: readonly string[]) => {
  let found = 0;
  let total = 0;
  for (const t of texts)
    for (const w of englishWords(t)) {
      total++;
      if (dictionary.has(w.toLowerCase())) found++;
    }
  return { found, total, share: total === 0 ? 0 : found / total };
};

const pairs = instructionPairs(training.chat?.pairSeed ?? 7).valid;
const englishSources = new Set(["debian-reference", "debian-handbook-en", "fortunes"]);
const completions = Number(values.completions);
const asked = Array.from({ length: completions }, (_, i) => pairs[i % pairs.length]);

async function sampleAnswers(sampling: { temperature: number; topP: number; repetitionPenalty: number }, label: string) {
  const texts: string[] = [];
  const start = performance.now();
  for (let i = 0; i < asked.length; i += 50) {
    const batch = asked.slice(i, i + 50);
    const prompts = batch.map((p) => files.tokenizer.encode(chatTemplatePrompt([{ role: "user", content: p.question }])));
    const results = await generate(model, prompts, {
      ...sampling,
      maxTokens: 64,
      seed: batch.map((_, r) => 1000 + i + r),
      logitsMask: utf8Mask(),
    });
    texts.push(...results.map((r) => r.text));
  }
  const replacement = texts.reduce((a, t) => a + (t.match(/\uFFFD/g)?.length ?? 0), 0);
  const words = dictionaryShare(texts.filter((_, i) => englishSources.has(asked[i].source)));
  log(
    `${label}: ${texts.length} answers in ${((performance.now() - start) / 1000).toFixed(0)} s, U+FFFD ${replacement} (target 0), ` +
      `English words in wamerican ${(words.share * 100).toFixed(1)}% of ${words.total} (target ≥ 95%)`,
  );
  return { replacement, dictionaryShare: words.share, words: words.total };
}
const reference = dictionaryShare(asked.filter((p) => englishSources.has(p.source)).map((p) => p.answer));
log(`reference answers: English words in wamerican ${(reference.share * 100).toFixed(1)}% of ${reference.total}`);
const atDefaults = await sampleAnswers(
  defaults,
  `defaults (T ${defaults.temperature}, top-p ${defaults.topP}, rep ${defaults.repetitionPenalty})`,
);
const atT1 = await sampleAnswers({ temperature: 1, topP: 1, repetitionPenalty: 1 }, "temperature 1");

if (values.samples) {
  const questions = [
    "Hello!",
    "Who are you?",
    "What is a named pipe?",
    "Tell me about the shell prompt.",
    "Explain sudo configuration.",
    "What should I know about apt-get on Debian?",
    "Tell me about the root account.",
    "How do I shut down the system?",
    "What is the Linux kernel?",
    "Explain file permissions.",
    "Tell me about network configuration.",
    "Can you describe the X Window System?",
    "Tell me a joke.",
    "Say something wise.",
    "你好",
    "介绍一下Debian。",
    "什么是软件包？",
    "请背诵《静夜思》。",
    "续写：春眠不觉晓，",
    "续写：白日依山尽，",
  ];
  const prompts = questions.map((q) => files.tokenizer.encode(chatTemplatePrompt([{ role: "user", content: q }])));
  const results = await generate(model, prompts, { ...defaults, maxTokens: 96, seed: 2026, logitsMask: utf8Mask() });
  console.log(`\n| # | question | answer (seed 2026, the model's default sampling, unedited) |\n|---|---|---|`);
  const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, "<br>");
  for (const [i, r] of results.entries())
    console.log(`| ${i + 1} | ${cell(questions[i])} | ${cell(r.text)}${r.finishReason === "length" ? " …" : ""} |`);
}

if (values.json) {
  console.log(
    JSON.stringify({
      perplexity: ppl,
      kneserNeyPerplexity: knPpl,
      reduction: 1 - ppl / knPpl,
      natsPerChar: { model: modelNatsPerChar, kneserNey: knNatsPerChar, baseline: baselineNatsPerChar },
      atDefaults,
      atT1,
      reference: reference.share,
    }),
  );
}
