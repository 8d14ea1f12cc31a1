// Held-out evaluation of the lip-sync model, run the way the page runs it: audio in 20 ms
// chunks through the streamer and the ONNX model. Figures:
//   frameAccuracy          argmax == target viseme, per 10 ms frame;
//   majorityFrameAccuracy  always predicting the most frequent target viseme (baseline);
//   mouthOpenCorrelation   Pearson r of mouth openness (MOUTH_OPENNESS; the prediction's is
//                          its probability-weighted openness) against the target's;
//   syncOffsetMs           the lag in -200..200 ms maximising that r (positive: prediction late);
//   latencyMsPerChunk      p95 wall time of one 20 ms chunk through streamer + model (Node);
//   ruleFrameAccuracy      the rule mapping from eSpeak's own timings: it defines the target,
//                          so this is the oracle (1 unless the track code disagrees with itself);
//   headaudio*             HeadAudio's pretrained detector on the same audio, at lag 0 and
//                          at its best lag in -200..200 ms (its frames mapped to ours);
//   english*               both accuracies on the English utterances only.
// Node-only.

import { VISEMES, type Viseme } from "../faceRig.js";
import type { LipSyncUtterance } from "./dataset.js";
import type { HeadAudioRunner } from "./headAudio.js";
import { frameMs } from "./logMel.js";
import type { LoadedLipSyncModel } from "./nodeModel.js";
import { visemeTrack } from "./phonemeVisemes.js";

/** How far each viseme opens the mouth (0 closed .. 1 wide open), fixed by hand. */
export const MOUTH_OPENNESS: Readonly<Record<Viseme, number>> = {
  sil: 0,
  PP: 0,
  FF: 0.15,
  TH: 0.25,
  DD: 0.3,
  kk: 0.35,
  CH: 0.3,
  SS: 0.2,
  nn: 0.25,
  RR: 0.3,
  aa: 1,
  E: 0.7,
  I: 0.5,
  O: 0.8,
  U: 0.4,
};
const OPENNESS = VISEMES.map((v) => MOUTH_OPENNESS[v]);

export interface LipSyncMetrics {
  frameAccuracy: number;
  majorityFrameAccuracy: number;
  mouthOpenCorrelation: number;
  syncOffsetMs: number;
  latencyMsPerChunk: number;
  chunkMs: number;
  ruleFrameAccuracy: number;
  headaudioFrameAccuracy: number | null;
  headaudioBestLagFrameAccuracy: number | null;
  headaudioBestLagMs: number | null;
  headaudioMouthOpenCorrelation: number | null;
  /** The same two accuracies on the English utterances only (HeadAudio's model is English). */
  englishFrameAccuracy: number | null;
  headaudioEnglishFrameAccuracy: number | null;
  /** Held-out utterances and frames. */
  n: number;
  frames: number;
}

export interface EvaluateOptions {
  model: LoadedLipSyncModel;
  /** Held-out utterances with their audio kept. */
  utterances: readonly LipSyncUtterance[];
  headAudio?: HeadAudioRunner;
  /** Audio per streamer push (ms); default 20. */
  chunkMs?: number;
  /** Largest lag searched, ms; default 200. */
  maxLagMs?: number;
}

/** Pearson r over pairs (a[u][t + lag], b[u][t]) pooled over utterances. */
function laggedCorrelation(a: readonly Float64Array[], b: readonly Float64Array[], lag: number): number {
  let n = 0;
  let sa = 0;
  let sb = 0;
  let saa = 0;
  let sbb = 0;
  let sab = 0;
  a.forEach((x, u) => {
    const y = b[u];
    for (let t = Math.max(0, -lag); t < y.length && t + lag < x.length; t++) {
      const p = x[t + lag];
      const q = y[t];
      n++;
      sa += p;
      sb += q;
      saa += p * p;
      sbb += q * q;
      sab += p * q;
    }
  });
  const cov = sab / n - (sa / n) * (sb / n);
  const va = saa / n - (sa / n) ** 2;
  const vb = sbb / n - (sb / n) ** 2;
  return va > 0 && vb > 0 ? cov / Math.sqrt(va * vb) : 0;
}

function laggedAccuracy(pred: readonly Int32Array[], target: readonly Int32Array[], lag: number): number {
  let hit = 0;
  let n = 0;
  pred.forEach((p, u) => {
    const y = target[u];
    for (let t = Math.max(0, -lag); t < y.length && t + lag < p.length; t++) {
      n++;
      if (p[t + lag] === y[t]) hit++;
    }
  });
  return n ? hit / n : 0;
}

const percentile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
};

/** Model predictions for one utterance through the streamer, with the time of each chunk. */
async function streamUtterance(model: LoadedLipSyncModel, u: LipSyncUtterance, chunkMs: number) {
  if (!u.samples) throw new Error("evaluateLipSync: utterances need their audio (build the dataset with keepHeldOutAudio)");
  const streamer = model.streamer(u.sampleRate);
  const chunk = Math.max(1, Math.round((u.sampleRate * chunkMs) / 1000));
  const probs: Float32Array[] = [];
  const times: number[] = [];
  for (let i = 0; i < u.samples.length; i += chunk) {
    const t0 = performance.now();
    probs.push(...(await streamer.push(u.samples.subarray(i, i + chunk))));
    times.push(performance.now() - t0);
  }
  probs.push(...(await streamer.flush()));
  return { probs, times };
}

export async function evaluateLipSync(options: EvaluateOptions): Promise<LipSyncMetrics> {
  const chunkMs = options.chunkMs ?? 20;
  const features = options.model.file.features;
  const hop = frameMs(features);
  const maxLag = Math.round((options.maxLagMs ?? 200) / hop);
  const offsetMs = (500 * features.windowSamples) / features.sampleRate;
  const targets: Int32Array[] = [];
  const predicted: Int32Array[] = [];
  const predictedOpen: Float64Array[] = [];
  const targetOpen: Float64Array[] = [];
  const headAudio: Int32Array[] = [];
  const times: number[] = [];
  let ruleHits = 0;
  const counts = new Array<number>(VISEMES.length).fill(0);
  for (const u of options.utterances) {
    const { probs, times: chunkTimes } = await streamUtterance(options.model, u, chunkMs);
    times.push(...chunkTimes);
    const frames = Math.min(probs.length, u.targets.length);
    const y = u.targets.subarray(0, frames);
    targets.push(y);
    for (const v of y) counts[v]++;
    const argmax = new Int32Array(frames);
    const open = new Float64Array(frames);
    for (let t = 0; t < frames; t++) {
      const p = probs[t];
      let best = 0;
      for (let v = 0; v < p.length; v++) {
        if (p[v] > p[best]) best = v;
        open[t] += p[v] * OPENNESS[v];
      }
      argmax[t] = best;
    }
    predicted.push(argmax);
    predictedOpen.push(open);
    targetOpen.push(Float64Array.from(y, (v) => OPENNESS[v]));
    const rule = visemeTrack(u.phonemes, hop, { frames, sampleOffsetMs: offsetMs, unknown: "sil" });
    for (let t = 0; t < frames; t++) if (rule[t] === y[t]) ruleHits++;
    if (options.headAudio && u.samples) headAudio.push(options.headAudio.frames(u.samples, u.sampleRate, frames, hop, offsetMs));
  }
  const english = options.utterances.map((u) => u.lang === "en");
  const onlyEnglish = <T>(xs: readonly T[]) => xs.filter((_, i) => english[i]);
  const anyEnglish = english.some(Boolean);
  const total = targets.reduce((n, y) => n + y.length, 0);
  const lags = Array.from({ length: 2 * maxLag + 1 }, (_, i) => i - maxLag);
  const correlations = lags.map((lag) => laggedCorrelation(predictedOpen, targetOpen, lag));
  const bestLag = lags[correlations.indexOf(Math.max(...correlations))];
  let headAudioFigures = {
    headaudioFrameAccuracy: null,
    headaudioBestLagFrameAccuracy: null,
    headaudioBestLagMs: null,
    headaudioMouthOpenCorrelation: null,
  } as Pick<
    LipSyncMetrics,
    "headaudioFrameAccuracy" | "headaudioBestLagFrameAccuracy" | "headaudioBestLagMs" | "headaudioMouthOpenCorrelation"
  >;
  if (headAudio.length) {
    const accuracies = lags.map((lag) => laggedAccuracy(headAudio, targets, lag));
    const best = Math.max(...accuracies);
    headAudioFigures = {
      headaudioFrameAccuracy: laggedAccuracy(headAudio, targets, 0),
      headaudioBestLagFrameAccuracy: best,
      headaudioBestLagMs: lags[accuracies.indexOf(best)] * hop,
      headaudioMouthOpenCorrelation: laggedCorrelation(
        headAudio.map((h) => Float64Array.from(h, (v) => OPENNESS[v])),
        targetOpen,
        0,
      ),
    };
  }
  return {
    frameAccuracy: laggedAccuracy(predicted, targets, 0),
    majorityFrameAccuracy: Math.max(...counts) / Math.max(1, total),
    mouthOpenCorrelation: correlations[maxLag],
    syncOffsetMs: bestLag * hop,
    latencyMsPerChunk: percentile(times, 0.95),
    chunkMs,
    ruleFrameAccuracy: ruleHits / Math.max(1, total),
    ...headAudioFigures,
    englishFrameAccuracy: anyEnglish ? laggedAccuracy(onlyEnglish(predicted), onlyEnglish(targets), 0) : null,
    headaudioEnglishFrameAccuracy:
      anyEnglish && headAudio.length ? laggedAccuracy(onlyEnglish(headAudio), onlyEnglish(targets), 0) : null,
    n: options.utterances.length,
    frames: total,
  };
}
