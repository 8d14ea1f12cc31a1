// `aigc train lipsync`, `aigc eval lipsync`, `aigc speak`: the lip-sync model and the
// optional eSpeak-NG speech adapter from the command line.

import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import cliProgress from "cli-progress";
import { type Command, Option } from "commander";
import { z } from "zod";
import {
  buildLipSyncModel,
  ESPEAK_PACKAGE,
  encodeWav,
  evaluateLipSync,
  heldOutUtterances,
  type LipSyncMetrics,
  loadHeadAudio,
  loadLipSyncModel,
  SPEECH_LANGS,
  type SpeechLang,
  synthesizeSpeech,
} from "../apps/index.js";
import { LIPSYNC_PRESETS, type LipSyncPresetName } from "../train/index.js";
import { finiteNumber, integer, positiveInt } from "./args.js";

/** The lip-sync model the project ships (trained by assets/lipsync/RECIPE.md). */
export const SHIPPED_LIPSYNC_DIR = fileURLToPath(new URL("../../assets/lipsync", import.meta.url));

/** What `aigc eval lipsync` needs from a model folder's metrics.json to rebuild its held-out set. */
const TrainedWith = z.object({ preset: z.enum(LIPSYNC_PRESETS), seed: z.number().int() });

export function formatLipSyncMetrics(metrics: LipSyncMetrics): string {
  const pct = (x: number | null) => (x === null ? "n/a" : `${(100 * x).toFixed(1)}%`);
  return [
    `held-out: ${metrics.n} utterances, ${metrics.frames} frames of 10 ms`,
    `frame accuracy ${pct(metrics.frameAccuracy)} (majority class ${pct(metrics.majorityFrameAccuracy)}, rule oracle ${pct(metrics.ruleFrameAccuracy)})`,
    `HeadAudio ${pct(metrics.headaudioFrameAccuracy)} at lag 0, ${pct(metrics.headaudioBestLagFrameAccuracy)} at its best lag ${metrics.headaudioBestLagMs} ms`,
    `English only: ours ${pct(metrics.englishFrameAccuracy)}, HeadAudio ${pct(metrics.headaudioEnglishFrameAccuracy)}`,
    `mouth-openness r ${metrics.mouthOpenCorrelation.toFixed(3)}, sync offset ${metrics.syncOffsetMs} ms, p95 ${metrics.latencyMsPerChunk.toFixed(2)} ms per ${metrics.chunkMs} ms chunk`,
  ].join("\n");
}

export function registerLipSyncCommands(train: Command, evalCmd: Command, program: Command): void {
  train
    .command("lipsync")
    .description(
      "synthesise speech with eSpeak-NG, train the audio -> viseme model, evaluate it on held-out sentences and voices",
    )
    .option("--out <dir>", "model folder (model.onnx, config.json, metrics.json, RECIPE.md)", SHIPPED_LIPSYNC_DIR)
    .addOption(new Option("--preset <name>", "data and model size").choices(LIPSYNC_PRESETS).default("default"))
    .option("--seed <n>", "seed for data, init and batch order", integer("--seed"), 1)
    .option("--threads <n>", "ONNX Runtime threads", positiveInt("--threads"))
    .option("--json", "print the result as JSON")
    .action(async (o: { out: string; preset: LipSyncPresetName; seed: number; threads?: number; json?: boolean }) => {
      const bar = new cliProgress.SingleBar(
        {
          format: "lipsync {phase} |{bar}| {value}/{total} | loss {loss} | ETA {eta_formatted}",
          hideCursor: true,
          noTTYOutput: true,
          notTTYSchedule: 5000,
          stream: process.stderr,
        },
        cliProgress.Presets.shades_classic,
      );
      let phase = "";
      try {
        const r = await buildLipSyncModel({
          ...o,
          onProgress: (p) => {
            if (o.json) return;
            if (p.phase !== phase) {
              if (phase) bar.stop();
              phase = p.phase;
              bar.start(p.total, p.done, { phase, loss: "-" });
            }
            bar.update(p.done, { phase, loss: p.loss === undefined ? "-" : p.loss.toFixed(3) });
          },
        });
        if (phase) bar.stop();
        if (o.json) console.log(JSON.stringify(r));
        else
          console.log(
            `${formatLipSyncMetrics(r.metrics)}\n${r.parameters} parameters, ${(r.modelBytes / 1024).toFixed(0)} KiB ONNX, trained in ${r.trainSeconds.toFixed(0)} s; model in ${o.out}`,
          );
      } finally {
        bar.stop();
      }
    });

  evalCmd
    .command("lipsync")
    .description(
      "frame accuracy, mouth-openness correlation, sync offset and latency of a lip-sync model (and HeadAudio) on its held-out set",
    )
    .option("--model <dir>", "model folder", SHIPPED_LIPSYNC_DIR)
    .option("--n <n>", "held-out utterances (default: as many as at training)", positiveInt("--n"))
    .option("--no-headaudio", "skip the HeadAudio comparison")
    .option("--json", "print JSON")
    .action(async (o: { model: string; n?: number; headaudio: boolean; json?: boolean }) => {
      let trainedWith: z.infer<typeof TrainedWith>;
      try {
        trainedWith = TrainedWith.parse(JSON.parse(await readFile(join(o.model, "metrics.json"), "utf8")));
      } catch (err) {
        throw new Error(
          `--model ${o.model}: no readable metrics.json with the preset and seed it was trained with (write one with \`aigc train lipsync --out ${o.model}\`)`,
          { cause: err },
        );
      }
      const model = await loadLipSyncModel(o.model);
      const utterances = await heldOutUtterances(trainedWith.preset, trainedWith.seed, o.n);
      const m = await evaluateLipSync({ model, utterances, ...(o.headaudio ? { headAudio: await loadHeadAudio() } : {}) });
      console.log(o.json ? JSON.stringify(m) : formatLipSyncMetrics(m));
    });

  program
    .command("speak")
    .description(`text -> 16-bit WAV through the optional eSpeak-NG adapter (GPL-3.0 package ${ESPEAK_PACKAGE})`)
    .argument("<text>", "what to say (at most 1000 characters)")
    .requiredOption("--out <file>", "output .wav file")
    .addOption(new Option("--lang <lang>", "language").choices(SPEECH_LANGS).default("en"))
    .option("--dialect <code>", "eSpeak dialect, e.g. en-us, en-gb-x-rp, cmn")
    .option("--voice <variant>", "eSpeak voice variant, e.g. m3, f2, klatt")
    .option("--wpm <n>", "words per minute (80..450)", finiteNumber("--wpm"))
    .option("--pitch <n>", "base pitch 0..99", integer("--pitch"))
    .option("--json", "print the phoneme timings as JSON")
    .action(
      async (
        text: string,
        o: { out: string; lang: SpeechLang; dialect?: string; voice?: string; wpm?: number; pitch?: number; json?: boolean },
      ) => {
        const speech = await synthesizeSpeech(text, {
          lang: o.lang,
          ...(o.dialect ? { dialect: o.dialect } : {}),
          ...(o.voice ? { voice: o.voice } : {}),
          ...(o.wpm !== undefined ? { wordsPerMinute: o.wpm } : {}),
          ...(o.pitch !== undefined ? { pitch: o.pitch } : {}),
        });
        await writeFile(o.out, encodeWav(speech.samples, speech.sampleRate));
        const seconds = speech.samples.length / speech.sampleRate;
        if (o.json)
          console.log(JSON.stringify({ out: o.out, sampleRate: speech.sampleRate, seconds, phonemes: speech.phonemes }));
        else console.log(`${o.out}: ${seconds.toFixed(2)} s at ${speech.sampleRate} Hz, ${speech.phonemes.length} phonemes`);
      },
    );
}
