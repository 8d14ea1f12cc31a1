// Loading the shipped lip-sync model in Node: config.json + model.onnx run by
// onnxruntime-node, exposed as the streamer's `infer`. Node-only.

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { issueLines, safeParseInput } from "../../../runtime/index.js";
import { LipSyncModelFile, type LipSyncModelFile as LipSyncModelFileType } from "./modelFiles.js";
import { type LipSyncInfer, LipSyncStreamer } from "./streamer.js";

export const DEFAULT_LIPSYNC_DIR = "assets/lipsync";

export interface LoadedLipSyncModel {
  file: LipSyncModelFileType;
  session: ort.InferenceSession;
  infer: LipSyncInfer;
  /** A fresh streamer for audio at `sampleRate`. */
  streamer(sampleRate: number): LipSyncStreamer;
}

/** Infer function over an ONNX Runtime session with input "mel" [B, C, M] and output "visemes" [B, V]. */
export function sessionInfer(session: ort.InferenceSession, file: LipSyncModelFileType): LipSyncInfer {
  const { context, melBands } = file.model;
  return async (windows, count) => {
    const out = await session.run({ [file.input]: new ort.Tensor("float32", windows, [count, context, melBands]) });
    return out[file.output].data as Float32Array;
  };
}

export async function loadLipSyncModel(dir = DEFAULT_LIPSYNC_DIR, threads = 1): Promise<LoadedLipSyncModel> {
  let raw: string;
  try {
    raw = await readFile(join(dir, "config.json"), "utf8");
  } catch (err) {
    throw new Error(
      `loadLipSyncModel: no config.json in ${dir}; expected a model written by \`aigc train lipsync --out ${dir}\``,
      { cause: err },
    );
  }
  const json: unknown = JSON.parse(raw);
  const parsed = safeParseInput(LipSyncModelFile, json);
  if (!parsed.success)
    throw new Error(
      `loadLipSyncModel: ${dir}/config.json is not a lip-sync config: ${issueLines(parsed.error, json, { root: "the file" })}`,
    );
  const file = parsed.data;
  const session = await ort.InferenceSession.create(await readFile(join(dir, "model.onnx")), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
  });
  const infer = sessionInfer(session, file);
  return {
    file,
    session,
    infer,
    streamer: (sampleRate) =>
      new LipSyncStreamer({
        inputSampleRate: sampleRate,
        features: file.features,
        context: file.model.context,
        lookahead: file.model.lookahead,
        visemes: file.model.visemes,
        infer,
      }),
  };
}
