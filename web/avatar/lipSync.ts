// The lip-sync model in the page: onnxruntime-web (wasm, one thread) runs the shipped
// model.onnx behind the same LipSyncStreamer the Node evaluation uses, so the browser makes
// the very windows the model was measured on.

import * as ort from "onnxruntime-web";
import type { LipSyncModelFile } from "../../src/apps/avatar/lipsync/modelFiles.js";
import { LipSyncStreamer } from "../../src/apps/avatar/lipsync/streamer.js";

export interface LipSyncRunner {
  /**
   * Add audio at the rate the runner was made for (calls queue up in order); resolves to the
   * newest frame's 15 viseme probabilities, or null if no frame completed.
   */
  push(chunk: Float32Array): Promise<Float32Array | null>;
  /** Forget the audio so far (between utterances). */
  reset(): void;
}

export interface LipSyncModel {
  /** The features' own rate: audio pushed at this rate skips resampling. */
  featureSampleRate: number;
  /** How far ahead of the heard sound audio must be pushed for the pose to match it (window look-ahead). */
  lookAheadS: number;
  /** A runner for audio at `inputSampleRate` (resampled to the features' rate inside). */
  runner(inputSampleRate: number): LipSyncRunner;
}

export async function loadLipSync(base: string): Promise<LipSyncModel> {
  ort.env.wasm.wasmPaths = "/avatar/vendor/ort/";
  ort.env.wasm.numThreads = 1; // threads need cross-origin isolation; one is plenty for this model
  const response = await fetch(`${base}/config.json`);
  if (!response.ok) throw new Error(`${base}/config.json: HTTP ${response.status}`);
  const file = (await response.json()) as LipSyncModelFile;
  const session = await ort.InferenceSession.create(`${base}/model.onnx`, { executionProviders: ["wasm"] });
  const { context, melBands, visemes, lookahead } = file.model;
  const streamer = (inputSampleRate: number) =>
    new LipSyncStreamer({
      inputSampleRate,
      features: file.features,
      context,
      lookahead,
      visemes,
      infer: async (windows, count) => {
        const out = await session.run({ [file.input]: new ort.Tensor("float32", windows, [count, context, melBands]) });
        return out[file.output].data as Float32Array;
      },
    });
  return {
    featureSampleRate: file.features.sampleRate,
    lookAheadS: file.algorithmicLatencyMs / 1000,
    runner(inputSampleRate) {
      let s = streamer(inputSampleRate);
      // The streamer keeps a window of past frames: pushes must run one after another.
      let tail: Promise<unknown> = Promise.resolve();
      return {
        push(chunk) {
          const current = s;
          const frames = tail.then(() => current.push(chunk));
          tail = frames.catch(() => undefined);
          return frames.then((f) => f.at(-1) ?? null);
        },
        reset() {
          s = streamer(inputSampleRate);
        },
      };
    },
  };
}
