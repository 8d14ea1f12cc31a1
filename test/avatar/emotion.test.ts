import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { EMOTION_VALENCE, featurizerConfigOf } from "../../src/apps/avatar/emotion/classifier.js";
import {
  defaultEmotionModelConfig,
  EmotionInputError,
  EmotionSentenceGenerator,
  EvaluationDataError,
  featurize,
  loadEmotionClassifier,
  MAX_TEXT_LENGTH,
  polarityReport,
  readAmazonSentences,
  readReviewSentences,
  reviewSplit,
  tokenize,
} from "../../src/apps/avatar/emotion/index.js";
import { interleaveReviews } from "../../src/apps/avatar/emotion/train.js";
import { EMOTIONS } from "../../src/apps/avatar/faceRig.js";
import type { EmotionClassifierConfig } from "../../src/models/emotionClassifier.js";
import { trainEmotionClassifier } from "../../src/train/emotionRecipe.js";

const fcfg = featurizerConfigOf(defaultEmotionModelConfig);
const classifierPromise = loadEmotionClassifier();

describe("emotion featuriser and generator", () => {
  it("featurises deterministically, with ids in range and padding at zero", () => {
    const texts = ["I'm not happy at all :(", "这个手机不好用，但是很便宜！", "Great phone, but the battery died 😡"];
    const a = featurize(texts, fcfg);
    const b = featurize(texts, fcfg);
    assert.deepEqual(a, b);
    const tokens = texts.map((t) => tokenize(t).length);
    for (let n = 0; n < texts.length; n++) {
      const real = a.mask.slice(n * fcfg.maxTokens, (n + 1) * fcfg.maxTokens).reduce((s, v) => s + v, 0);
      assert.equal(real, Math.min(tokens[n], fcfg.maxTokens));
    }
    for (const id of a.ids) assert.ok(id >= 0n && id < BigInt(fcfg.buckets));
  });

  it("marks negation scope and contrast clauses", () => {
    const en = tokenize("The screen is not good, but the battery is great");
    assert.equal(en.find((t) => t.text === "good")?.negated, true);
    assert.equal(en.find((t) => t.text === "battery")?.negated, false);
    assert.equal(en.find((t) => t.text === "screen")?.segment, 1);
    assert.equal(en.find((t) => t.text === "great")?.segment, 2);
    const zh = tokenize("这个不好，但是那个不错");
    assert.equal(zh.find((t) => t.text === "好")?.negated, true);
    assert.equal(zh.find((t) => t.text === "错")?.negated, false); // 不错 is praise, not a negation
  });

  it("generates the same sentences for the same seed and different ones for another", () => {
    const a = new EmotionSentenceGenerator(3).samples(0, 50);
    assert.deepEqual(new EmotionSentenceGenerator(3).samples(0, 50), a);
    assert.notDeepEqual(new EmotionSentenceGenerator(4).samples(0, 50), a);
    const many = new EmotionSentenceGenerator(3).samples(0, 2000);
    for (const e of EMOTIONS)
      assert.ok(
        many.some((s) => s.emotion === e),
        `no ${e} sample`,
      );
    assert.ok(many.some((s) => s.lang === "zh") && many.some((s) => s.lang === "en"));
    for (const s of many) assert.ok(s.intensity >= 0 && s.intensity <= 1 && s.text.length > 0);
  });
});

describe("real review sentences (IMDB + Yelp train / dev, Amazon test)", () => {
  const key = (t: string) => t.trim().toLowerCase().replace(/\s+/g, " ");

  it("splits IMDB and Yelp into training and dev sentences that never touch the Amazon test set", () => {
    const { train, dev } = reviewSplit();
    const amazon = new Set(readAmazonSentences().map((s) => key(s.text)));
    const all = [...train, ...dev];
    assert.ok(train.length > 1500 && dev.length > 380, `${train.length} train, ${dev.length} dev`);
    assert.ok(Math.abs(dev.length / all.length - 0.2) < 0.01);
    assert.equal(new Set(all.map((s) => key(s.text))).size, all.length, "duplicates");
    assert.equal(all.filter((s) => amazon.has(key(s.text))).length, 0, "an Amazon test sentence leaked into training");
    const trainKeys = new Set(train.map((s) => key(s.text)));
    assert.equal(dev.filter((s) => trainKeys.has(key(s.text))).length, 0);
    for (const corpus of ["imdb", "yelp"] as const) {
      const part = dev.filter((s) => s.corpus === corpus);
      assert.ok(part.some((s) => s.positive) && part.some((s) => !s.positive), `${corpus} dev has both labels`);
    }
  });

  it("rejects a malformed fixture with a typed error that names the row", () => {
    const dir = mkdtempSync(join(tmpdir(), "reviews-"));
    try {
      const path = join(dir, "reviews.json");
      fc.assert(
        fc.property(fc.jsonValue(), (value) => {
          writeFileSync(path, JSON.stringify(value));
          try {
            const rows = readReviewSentences("yelp", path);
            // Accepted: an array whose non-blank rows are { text, class: 0 | 1 }.
            assert.ok(Array.isArray(value));
            for (const r of rows) assert.ok(r.text.length > 0 && typeof r.positive === "boolean");
          } catch (err) {
            assert.ok(err instanceof EvaluationDataError, `${err}`);
          }
        }),
        { numRuns: 200 },
      );
      writeFileSync(
        path,
        JSON.stringify([
          { text: "fine", class: 1 },
          { text: "bad", class: 2 },
        ]),
      );
      assert.throws(() => readReviewSentences("yelp", path), /\[1\]: expected \{ text: string, class: 0 \| 1 \}/);
      writeFileSync(path, "{ not json");
      assert.throws(() => readReviewSentences("yelp", path), /not JSON/);
      assert.throws(() => readReviewSentences("yelp", join(dir, "missing.json")), /is the dev dependency sentiment installed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("interleaves reviews evenly, each once per pass, between consecutive generated samples", () => {
    const reviews = Array.from({ length: 7 }, (_, k) => ({ text: `review ${k}`, labels: [1], group: "yelp" }));
    const generated = (i: number) => ({ text: `generated ${i}`, labels: [0], group: "en" });
    const sample = interleaveReviews(generated, reviews, 0.1, 3);
    const stream = Array.from({ length: 700 }, (_, i) => sample(i).text);
    const picked = stream.filter((t) => t.startsWith("review"));
    assert.equal(picked.length, 70);
    for (let pass = 0; pass < 10; pass++)
      assert.deepEqual(picked.slice(pass * 7, pass * 7 + 7).sort(), reviews.map((r) => r.text).sort(), `pass ${pass}`);
    assert.notDeepEqual(picked.slice(0, 7), picked.slice(7, 14), "each pass has its own order");
    const gen = stream.filter((t) => t.startsWith("generated")).map((t) => Number(t.split(" ")[1]));
    assert.deepEqual(
      gen,
      Array.from({ length: 630 }, (_, i) => i),
    );
    for (let w = 0; w + 10 <= 700; w += 10)
      assert.equal(stream.slice(w, w + 10).filter((t) => t.startsWith("review")).length, 1, `window ${w}`);
    assert.deepEqual(
      Array.from({ length: 50 }, (_, i) => interleaveReviews(generated, reviews, 0, 3)(i).text),
      Array.from({ length: 50 }, (_, i) => `generated ${i}`),
    );
  });
});

describe("the shipped emotion classifier", () => {
  it("never throws on arbitrary non-blank text up to the limit; probabilities sum to 1", async () => {
    const classifier = await classifierPromise;
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: "grapheme", maxLength: 300 }).filter((s) => s.trim().length > 0 && s.length <= MAX_TEXT_LENGTH),
        async (text) => {
          const p = await classifier.classify(text);
          const sum = EMOTIONS.reduce((s, e) => s + p.probs[e], 0);
          assert.ok(Math.abs(sum - 1) < 1e-4, `probabilities sum to ${sum}`);
          assert.ok(p.intensity >= 0 && p.intensity <= 1);
          assert.ok(p.valence >= -1 && p.valence <= 1);
          assert.ok(EMOTIONS.includes(p.emotion));
        },
      ),
      { numRuns: 150 },
    );
    const long = await classifier.classify("good ".repeat(MAX_TEXT_LENGTH / 5));
    assert.ok(Number.isFinite(long.valence));
  });

  it("rejects empty and oversized text with a typed error", async () => {
    const classifier = await classifierPromise;
    await assert.rejects(classifier.classify("   "), EmotionInputError);
    await assert.rejects(classifier.classify("x".repeat(MAX_TEXT_LENGTH + 1)), /at most 2000/);
    await assert.rejects(classifier.classifyMany(["fine", ""]), /text 1 is empty/);
  });

  it("gets obvious English and Chinese cases right", async () => {
    const classifier = await classifierPromise;
    const cases: [string, (typeof EMOTIONS)[number]][] = [
      ["I am so happy today!", "happy"],
      ["This phone works great, I love it.", "happy"],
      ["I feel so sad and lonely.", "sad"],
      ["I'm furious, they lied to me!", "angry"],
      ["Wow, I can't believe it!", "surprised"],
      ["The meeting starts at three.", "neutral"],
      ["我今天非常开心！", "happy"],
      ["我好难过。", "sad"],
      ["气死我了！", "angry"],
      ["天哪，真不敢相信！", "surprised"],
      ["会议三点开始。", "neutral"],
    ];
    const preds = await classifier.classifyMany(cases.map(([t]) => t));
    cases.forEach(([text, want], i) => {
      assert.equal(preds[i].emotion, want, `"${text}"`);
    });
  });

  it("handles negation and contrast", async () => {
    const classifier = await classifierPromise;
    const [notHappy, notGood, zhNotHappy, but] = await classifier.classifyMany([
      "I am not happy at all.",
      "The screen is not good.",
      "我一点也不开心。",
      "It looked great at first, but it broke after a week.",
    ]);
    for (const p of [notHappy, notGood, zhNotHappy, but]) {
      assert.notEqual(p.emotion, "happy");
      assert.ok(p.valence < 0, `valence ${p.valence}`);
    }
    const strong = await classifier.classify("I am extremely happy!!!");
    const mild = await classifier.classify("I am a bit glad.");
    assert.ok(strong.intensity > mild.intensity, `intensity ${strong.intensity} vs ${mild.intensity}`);
  });

  it("scores the real wink sentences and both baselines", async () => {
    const classifier = await classifierPromise;
    const sentences = readAmazonSentences();
    assert.equal(sentences.length, 1000);
    const report = await polarityReport(sentences, await classifier.classifyMany(sentences.map((s) => s.text)));
    assert.equal(report.n, 1000);
    for (const v of [report.accuracy, report.afinnAccuracy, report.vaderAccuracy, report.neutralShare])
      assert.ok(v >= 0 && v <= 1, `${v}`);
    assert.ok(EMOTION_VALENCE.happy > 0 && EMOTION_VALENCE.sad < 0);
  });
});

describe("emotion training recipe", () => {
  it("a tiny run reduces the loss", async () => {
    const config: EmotionClassifierConfig = { ...defaultEmotionModelConfig, buckets: 2048, dim: 8, tokenDim: 8, hidden: 8 };
    const generator = new EmotionSentenceGenerator(5);
    const small = featurizerConfigOf(config);
    const sample = (i: number) => {
      const s = generator.sample(i);
      return { text: s.text, labels: [EMOTIONS.indexOf(s.emotion)], intensity: s.intensity, group: s.lang };
    };
    const r = await trainEmotionClassifier({
      config,
      seed: 1,
      threads: 1,
      hyper: { steps: 80, batch: 32, warmup: 5, lr: 3e-2 },
      data: { sample, heldOut: Array.from({ length: 64 }, (_, i) => sample(100_000 + i)), featurize: (t) => featurize(t, small) },
    });
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    assert.ok(
      mean(r.losses.slice(-10)) < mean(r.losses.slice(0, 5)) * 0.85,
      `loss ${mean(r.losses.slice(0, 5))} -> ${mean(r.losses.slice(-10))}`,
    );
    assert.ok(r.heldOut.accuracy > 1 / EMOTIONS.length, `held-out accuracy ${r.heldOut.accuracy}`);
  });

  it("rejects a label outside the classes it chooses among", async () => {
    const config: EmotionClassifierConfig = { ...defaultEmotionModelConfig, buckets: 256, dim: 4, tokenDim: 4, hidden: 4 };
    const small = featurizerConfigOf(config);
    const bad = { text: "great", labels: [0], considered: [1, 2, 3], group: "yelp" };
    await assert.rejects(
      trainEmotionClassifier({
        config,
        seed: 1,
        threads: 1,
        hyper: { steps: 2, batch: 4, warmup: 1 },
        data: { sample: () => bad, heldOut: [], featurize: (t) => featurize(t, small) },
      }),
      /has labels \[0\].*among the considered \[1,2,3\]/,
    );
  });
});
