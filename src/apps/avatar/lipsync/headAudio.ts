// The pretrained HeadAudio viseme detector (@met4citizen/headaudio, MIT) run in Node, as
// a comparison for our model on the same audio. Its audio-worklet processor is plain
// JavaScript: we drive `Processor` directly with a stub port and collect the 'viseme'
// messages it posts. Facts read from its modules:
//   - input: any rate; pre-emphasis 0.97, polyphase low-pass resampling to 16 kHz;
//   - features: 12 MFCCs over 512-sample blocks (32 ms) every 256 samples (16 ms),
//     tanh-compressed; a Gaussian-prototype (Mahalanobis) classifier with a short vote;
//   - output: the same 15 Oculus visemes in its own order (HEADAUDIO_VISEMES below, from
//     HeadAudio's `visemeNames`), posted only while its VAD gate and classifier say
//     speech; between those, the mouth rests (we count that as "sil");
//   - timing: each message's `t` is the centre of its 32 ms block, in seconds.
// Node-only (reads the model file).

import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { VISEMES, type Viseme } from "../faceRig.js";

/** HeadAudio's class order (its headaudio.mjs `visemeNames` without the "viseme_" prefix). */
export const HEADAUDIO_VISEMES: readonly Viseme[] = [
  "aa",
  "E",
  "I",
  "O",
  "U",
  "PP",
  "SS",
  "TH",
  "DD",
  "FF",
  "kk",
  "nn",
  "RR",
  "CH",
  "sil",
];
const HEADAUDIO_PACKAGE = "@met4citizen/headaudio";
const BLOCK_HOP_MS = 16;

interface HeadAudioMessage {
  event: string;
  viseme?: number;
  t?: number;
}
interface HeadAudioProcessor {
  _onmessage(message: { data: { event: "model"; model: unknown[] } }): void;
  process(samples: Float32Array): void;
}
interface ProcessorModule {
  Processor: new (
    options: { sampleRate: number; processorOptions: object },
    worklet: { port: { postMessage(m: HeadAudioMessage): void } },
  ) => HeadAudioProcessor;
}
interface TrainingModule {
  Training: new () => { loadModel(url: string): Promise<{ model: unknown[] }> };
}

export interface HeadAudioRunner {
  /** Viseme index (our VISEMES order) per frame centre `offsetMs + t * frameMs`, t < frames. */
  frames(samples: Float32Array, sampleRate: number, frames: number, frameMs: number, offsetMs: number): Int32Array;
}

/** Load HeadAudio's processor and its English model (dist/model-en-mixed.bin). */
export async function loadHeadAudio(modelFile = "model-en-mixed.bin"): Promise<HeadAudioRunner> {
  const root = dirname(createRequire(import.meta.url).resolve(`${HEADAUDIO_PACKAGE}/package.json`));
  const processorModule: ProcessorModule = await import(join(root, "modules", "processor.mjs"));
  const trainingModule: TrainingModule = await import(join(root, "modules", "training.mjs"));
  // Its loader fetches a URL; Node's fetch reads data: URLs, so hand it the bytes that way.
  const bytes = await readFile(join(root, "dist", modelFile));
  const { model } = await new trainingModule.Training().loadModel(
    `data:application/octet-stream;base64,${bytes.toString("base64")}`,
  );
  const toOurs = HEADAUDIO_VISEMES.map((v) => VISEMES.indexOf(v));
  return {
    frames(samples, sampleRate, frames, frameMs, offsetMs) {
      const messages: HeadAudioMessage[] = [];
      const processor = new processorModule.Processor(
        { sampleRate, processorOptions: {} },
        { port: { postMessage: (m) => messages.push(m) } },
      );
      processor._onmessage({ data: { event: "model", model } });
      processor.process(samples);
      const out = new Int32Array(frames); // 0 = sil where HeadAudio posts nothing
      for (const m of messages) {
        if (m.event !== "viseme" || m.viseme === undefined || m.t === undefined) continue;
        // The block's centre holds for one hop: frames whose centre is within ±8 ms.
        const centreMs = 1000 * m.t;
        const first = Math.max(0, Math.ceil((centreMs - BLOCK_HOP_MS / 2 - offsetMs) / frameMs));
        const last = Math.min(frames - 1, Math.floor((centreMs + BLOCK_HOP_MS / 2 - offsetMs - 1e-9) / frameMs));
        for (let t = first; t <= last; t++) out[t] = toOurs[m.viseme] ?? 0;
      }
      return out;
    },
  };
}
