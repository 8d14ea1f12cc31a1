// Build the shipped lip-sync model end to end: synthesise the data, train, export, evaluate
// on held-out sentences spoken by held-out voices, and write the model folder
// (model.onnx, config.json, metrics.json, RECIPE.md). Node-only.

import { jsonFile, writeModelFolder } from "../../../runtime/index.js";
import { LIPSYNC_PRESET_VALUES, type LipSyncPresetName, trainLipSync } from "../../../train/index.js";
import { VISEMES } from "../faceRig.js";
import { buildLipSyncDataset, HELD_OUT_VARIANTS, type LipSyncUtterance, TRAIN_VARIANTS } from "./dataset.js";
import { evaluateLipSync, type LipSyncMetrics } from "./evaluate.js";
import { loadHeadAudio } from "./headAudio.js";
import { DEFAULT_LOG_MEL } from "./logMel.js";
import { algorithmicLatencyMs, type LipSyncModelFile } from "./modelFiles.js";
import { loadLipSyncModel } from "./nodeModel.js";

export interface BuildLipSyncOptions {
  out: string;
  preset: LipSyncPresetName;
  seed: number;
  threads?: number;
  onProgress?: (p: { phase: "synthesise" | "train" | "evaluate"; done: number; total: number; loss?: number }) => void;
}

export interface BuildLipSyncResult {
  metrics: LipSyncMetrics;
  modelBytes: number;
  parameters: number;
  trainFrames: number;
  firstLoss: number;
  lastLoss: number;
  trainSeconds: number;
}

/** The held-out set a model of this preset and seed was evaluated on (with audio). */
export async function heldOutUtterances(preset: LipSyncPresetName, seed: number, count?: number): Promise<LipSyncUtterance[]> {
  const p = LIPSYNC_PRESET_VALUES[preset];
  const ds = await buildLipSyncDataset({
    trainUtterances: 0,
    heldOutUtterances: count ?? p.heldOutUtterances,
    mandarinShare: p.mandarinShare,
    seed,
    keepHeldOutAudio: true,
  });
  return ds.heldOut;
}

export async function buildLipSyncModel(options: BuildLipSyncOptions): Promise<BuildLipSyncResult> {
  const preset = LIPSYNC_PRESET_VALUES[options.preset];
  const features = DEFAULT_LOG_MEL;
  const data = await buildLipSyncDataset({
    trainUtterances: preset.trainUtterances,
    heldOutUtterances: preset.heldOutUtterances,
    mandarinShare: preset.mandarinShare,
    seed: options.seed,
    features,
    keepHeldOutAudio: true,
    onProgress: (done, total) => options.onProgress?.({ phase: "synthesise", done, total }),
  });
  const t0 = performance.now();
  const trained = await trainLipSync({
    train: data.train,
    preset,
    melBands: features.melBands,
    silenceValue: Math.log(features.logFloor),
    visemes: VISEMES.length,
    seed: options.seed,
    threads: options.threads,
    onProgress: (p) => options.onProgress?.({ phase: "train", done: p.step, total: p.steps, loss: p.loss }),
  });
  const trainSeconds = (performance.now() - t0) / 1000;
  const file: LipSyncModelFile = {
    features,
    model: trained.config,
    visemes: [...VISEMES],
    input: "mel",
    output: "visemes",
    algorithmicLatencyMs: algorithmicLatencyMs(features, trained.config),
  };
  await writeModelFolder(options.out, { "model.onnx": trained.onnx, "config.json": jsonFile(file) }, { keep: "others" });
  options.onProgress?.({ phase: "evaluate", done: 0, total: 1 });
  const metrics = await evaluateLipSync({
    model: await loadLipSyncModel(options.out),
    utterances: data.heldOut,
    headAudio: await loadHeadAudio(),
  });
  options.onProgress?.({ phase: "evaluate", done: 1, total: 1 });
  const result: BuildLipSyncResult = {
    metrics,
    modelBytes: trained.onnx.length,
    parameters: trained.parameters,
    trainFrames: trained.trainFrames,
    firstLoss: trained.firstLoss,
    lastLoss: trained.lastLoss,
    trainSeconds,
  };
  await writeModelFolder(
    options.out,
    {
      "metrics.json": jsonFile({ preset: options.preset, seed: options.seed, ...result }),
      "RECIPE.md": recipeText(options, result, file),
    },
    { keep: "others" },
  );
  return result;
}

function recipeText(o: BuildLipSyncOptions, r: BuildLipSyncResult, file: LipSyncModelFile): string {
  const p = LIPSYNC_PRESET_VALUES[o.preset];
  const m = r.metrics;
  const pct = (x: number | null) => (x === null ? "n/a" : `${(100 * x).toFixed(1)}%`);
  return `# Lip-sync model (audio -> Oculus visemes)

Reproduce: \`aigc train lipsync --preset ${o.preset} --seed ${o.seed} --out ${o.out}\`
(evaluate again: \`aigc eval lipsync --model ${o.out} --json\`).

- Data: ${p.trainUtterances} training utterances (English from Debian fortunes, Mandarin from the
  Chinese fortune files, ${Math.round(100 * p.mandarinShare)}% Mandarin) synthesised with eSpeak-NG over all English
  dialects and the voice variants [${TRAIN_VARIANTS.map((v) => v || "default").join(", ")}], rates 120–260 wpm,
  pitch 20–80, gain ×0.25–1.6 and white noise at 15–40 dB SNR on 70% of them; half the training
  audio is also warped in speed and formants by ×0.9–1.12 (resampled, timings scaled).
  Held out: ${p.heldOutUtterances} utterances of held-out sentences (10% of sentences, by text hash) spoken by the
  held-out variants [${HELD_OUT_VARIANTS.join(", ")}].
- Target: the viseme of eSpeak's phoneme at each 10 ms frame's centre (rule table in
  src/apps/avatar/lipsync/phonemeVisemes.ts).
- Features: log-mel, ${file.features.melBands} bands, 25 ms Hann window, 10 ms hop, 16 kHz.
- Model: window of ${file.model.context} frames incl. ${file.model.lookahead} look-ahead -> per-frame linear (${file.model.frameDim}) -> MLP (${file.model.hidden})
  -> 15-way softmax; ${r.parameters} parameters, ONNX ${(r.modelBytes / 1024).toFixed(0)} KiB. Algorithmic latency ${file.algorithmicLatencyMs} ms.
- Training: ${p.steps} AdamW steps of ${p.batch} frames, lr ${p.lr} (warmup ${p.warmup}, cosine), ${r.trainFrames} frames,
  ${r.trainSeconds.toFixed(0)} s; loss ${r.firstLoss.toFixed(3)} -> ${r.lastLoss.toFixed(3)}.

Held-out (${m.n} utterances, ${m.frames} frames): frame accuracy ${pct(m.frameAccuracy)} (majority class ${pct(m.majorityFrameAccuracy)},
HeadAudio ${pct(m.headaudioFrameAccuracy)} at lag 0, ${pct(m.headaudioBestLagFrameAccuracy)} at its best lag ${m.headaudioBestLagMs} ms;
English only: ours ${pct(m.englishFrameAccuracy)}, HeadAudio ${pct(m.headaudioEnglishFrameAccuracy)}),
mouth-openness r ${m.mouthOpenCorrelation.toFixed(3)}, sync offset ${m.syncOffsetMs} ms, p95 ${m.latencyMsPerChunk.toFixed(2)} ms per ${m.chunkMs} ms chunk.
The rule oracle (${pct(m.ruleFrameAccuracy)}) is the rule table applied to eSpeak's own timings: it defines the target.
HeadAudio (model-en-mixed.bin, default parameters) runs in Node on the same audio; its 15 Oculus classes
are reordered to ours, each 16 ms block's viseme holds for the frames within ±8 ms of the block centre, and
frames where it posts nothing (VAD closed) count as sil. eSpeak's variation between runs is slight (±1 ms
timings), so re-running the evaluation moves the figures a little.
`;
}
