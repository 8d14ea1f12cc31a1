// `aigc train emotion`, `aigc eval emotion`, `aigc emotion "text"`: the digital human's
// emotion classifier from the command line.

import cliProgress from "cli-progress";
import type { Command } from "commander";
import {
  DEFAULT_EMOTION_SEED,
  DEFAULT_REVIEW_SHARE,
  EmotionInputError,
  EmotionModelError,
  evaluateEmotionClassifier,
  loadEmotionClassifier,
  SHIPPED_EMOTION_MODEL_DIR,
  trainEmotionModel,
} from "../apps/index.js";
import { defaultEmotionHyperparameters } from "../train/index.js";
import { fraction, integer, positiveInt } from "./args.js";

/** Print a typed error of ours as one line and set the exit code; rethrow anything else. */
function reportError(err: unknown): void {
  if (err instanceof EmotionInputError || err instanceof EmotionModelError) {
    console.error(`error: ${err.message}`);
    process.exitCode = 1;
    return;
  }
  throw err;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

export function registerEmotionCommands(train: Command, evalCmd: Command, program: Command): void {
  train
    .command("emotion")
    .description(
      "train the text → emotion (+ intensity) classifier on generated English and Chinese sentences and real IMDB / Yelp review sentences",
    )
    .option("--out <dir>", "model folder", "runs/emotion")
    .option("--steps <n>", `optimizer steps (default ${defaultEmotionHyperparameters.steps})`, positiveInt("--steps"))
    .option("--seed <s>", "data and initialisation seed", integer("--seed"), DEFAULT_EMOTION_SEED)
    .option("--threads <n>", "ONNX Runtime threads", positiveInt("--threads"))
    .option(
      "--review-share <f>",
      "share of training samples that are real review sentences (0: generated only)",
      fraction("--review-share"),
      DEFAULT_REVIEW_SHARE,
    )
    .option("--json", "print the metrics as JSON")
    .action(async (o: { out: string; steps?: number; seed: number; threads?: number; reviewShare: number; json?: boolean }) => {
      const steps = o.steps ?? defaultEmotionHyperparameters.steps;
      const bar = new cliProgress.SingleBar(
        {
          format: "emotion classifier |{bar}| {value}/{total} | loss {loss} | {ms} ms/step | ETA {eta_formatted}",
          stream: process.stderr,
          noTTYOutput: true,
          notTTYSchedule: 5000,
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(steps, 0, { loss: "-", ms: "-" });
      let result: Awaited<ReturnType<typeof trainEmotionModel>>;
      try {
        result = await trainEmotionModel({
          out: o.out,
          steps,
          seed: o.seed,
          threads: o.threads,
          reviewShare: o.reviewShare,
          onProgress: (p) => bar.update(p.step, { loss: p.loss.toFixed(3), ms: p.msPerStep.toFixed(0) }),
        });
      } finally {
        bar.stop();
      }
      const e = result.evaluation;
      if (o.json) {
        console.log(JSON.stringify(e, null, 2));
        return;
      }
      console.log(
        `model in ${o.out} (${result.train.wallSeconds.toFixed(0)} s, final loss ${result.train.losses.at(-1)?.toFixed(3)})`,
      );
      if (e) {
        console.log(`held-out synthetic: ${pct(e.heldOut.accuracy)} (en ${pct(e.heldOut.en)}, zh ${pct(e.heldOut.zh)})`);
        const d = e.reviewDev;
        console.log(
          `review dev set (n ${d.n}): ours ${pct(d.accuracy)}, AFINN ${pct(d.afinnAccuracy)}, VADER ${pct(d.vaderAccuracy)}`,
        );
        console.log(
          `Amazon test sentences (n ${e.n}): ours ${pct(e.accuracy)}, AFINN ${pct(e.afinnAccuracy)}, VADER ${pct(e.vaderAccuracy)}`,
        );
      }
    });

  evalCmd
    .command("emotion")
    .description(
      "polarity accuracy on 1000 real Amazon review sentences (the test set) and the IMDB + Yelp dev set vs AFINN and VADER, plus held-out synthetic accuracy",
    )
    .option("--model <dir>", "classifier folder (default: the shipped one)")
    .option(
      "--seed <s>",
      "training seed of the model (held-out sentences use seed + 1000)",
      integer("--seed"),
      DEFAULT_EMOTION_SEED,
    )
    .option("--json", "print JSON")
    .action(async (o: { model?: string; seed: number; json?: boolean }) => {
      try {
        const classifier = await loadEmotionClassifier(o.model ?? SHIPPED_EMOTION_MODEL_DIR);
        const e = await evaluateEmotionClassifier(classifier, { trainSeed: o.seed });
        if (o.json) {
          console.log(JSON.stringify(e, null, 2));
          return;
        }
        console.log(`Amazon review sentences (wink-sentiment test data), n = ${e.n}, positive iff valence > 0:`);
        console.log(`  ours   ${pct(e.accuracy)}`);
        console.log(`  AFINN  ${pct(e.afinnAccuracy)} (positive iff score ${e.afinnRule})`);
        console.log(`  VADER  ${pct(e.vaderAccuracy)} (positive iff compound ${e.vaderRule})`);
        const d = e.reviewDev;
        console.log(
          `review dev set (held-out IMDB + Yelp), n = ${d.n}: ours ${pct(d.accuracy)}, AFINN ${pct(d.afinnAccuracy)}, VADER ${pct(d.vaderAccuracy)}`,
        );
        console.log(`held-out synthetic 5-way: ${pct(e.heldOut.accuracy)} (en ${pct(e.heldOut.en)}, zh ${pct(e.heldOut.zh)})`);
        console.log(`validation (hand-written, n ${e.validation.n}): 5-way ${pct(e.validation.accuracy)}`);
        console.log(`latency ${e.msPerSentence.toFixed(3)} ms/sentence`);
      } catch (err) {
        reportError(err);
      }
    });

  program
    .command("emotion")
    .description("classify a text's emotion (neutral, happy, sad, angry, surprised) and intensity")
    .argument("<text>", "English or Chinese text")
    .option("--model <dir>", "classifier folder (default: the shipped one)")
    .option("--json", "print JSON")
    .action(async (text: string, o: { model?: string; json?: boolean }) => {
      try {
        const classifier = await loadEmotionClassifier(o.model ?? SHIPPED_EMOTION_MODEL_DIR);
        const p = await classifier.classify(text);
        if (o.json) {
          console.log(JSON.stringify(p, null, 2));
          return;
        }
        const probs = Object.entries(p.probs)
          .map(([e, v]) => `${e} ${v.toFixed(2)}`)
          .join(", ");
        console.log(`${p.emotion} (intensity ${p.intensity.toFixed(2)}, valence ${p.valence.toFixed(2)}) — ${probs}`);
      } catch (err) {
        reportError(err);
      }
    });
}
