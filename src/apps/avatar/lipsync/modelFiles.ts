// The shipped lip-sync model's config.json: the feature settings, the network's config
// and the viseme order, so the browser page and Node build the same inputs.
// Browser-safe: no Node imports, and not the graph code either (the page only needs the
// window shape), so the network config is checked here for the fields a streamer uses;
// the whole LipSyncConfig (src/models/lipSync.ts) is validated when the model is built.

import { z } from "zod";
import { VISEMES } from "../faceRig.js";
import { LogMelConfig } from "./logMel.js";

export const LipSyncModelFile = z
  .object({
    /** Feature extraction the model was trained on. */
    features: LogMelConfig,
    /** Network config (LipSyncConfig); the window shape is what inference needs. */
    model: z
      .object({
        melBands: z.number().int().positive(),
        context: z.number().int().positive(),
        lookahead: z.number().int().min(0),
        visemes: z
          .number()
          .int()
          .refine((v): boolean => v === VISEMES.length, { message: `visemes must be ${VISEMES.length}` }),
      })
      .loose()
      .refine((m) => m.lookahead < m.context, { message: "lookahead must be smaller than context" }),
    /** Output order of the 15 probabilities. */
    visemes: z.array(z.string()).refine((v) => v.join() === VISEMES.join(), { message: `visemes must be ${VISEMES.join(",")}` }),
    /** ONNX input and output names. */
    input: z.literal("mel"),
    output: z.literal("visemes"),
    /** Algorithmic latency: look-ahead frames plus the frame window past its centre, in ms. */
    algorithmicLatencyMs: z.number().min(0),
  })
  .strict()
  .refine((f) => f.model.melBands === f.features.melBands, { message: "model.melBands must equal features.melBands" });
export type LipSyncModelFile = z.infer<typeof LipSyncModelFile>;

/** Latency the window adds: the decided frame's centre to the end of the last frame it needs. */
export function algorithmicLatencyMs(features: LogMelConfig, model: { lookahead: number }): number {
  const hopMs = (1000 * features.hopSamples) / features.sampleRate;
  const halfWindowMs = (500 * features.windowSamples) / features.sampleRate;
  return model.lookahead * hopMs + halfWindowMs;
}
