import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { Graph, op, toOnnx } from "../../../graph/index.js";
import { EmotionClassifierConfig, emotionClassifier, emotionFeeds, emotionInputs } from "../../../models/index.js";
import { Scope } from "../../../nn/index.js";
import {
  type CompiledGraph,
  compile,
  jsonFile,
  type ParamStore,
  readModelConfig,
  readModelWeights,
  storeTensors,
  writeModelFolder,
} from "../../../runtime/index.js";
import { EMOTIONS, type Emotion } from "../faceRig.js";
import { type FeaturizerConfig, featurize } from "./featurize.js";

/** The classifier the project ships (trained by assets/emotion/RECIPE.md). */
export const SHIPPED_EMOTION_MODEL_DIR = fileURLToPath(new URL("../../../../assets/emotion", import.meta.url));
export const EMOTION_MODEL_KIND = "aigc-emotion-classifier";
/** Longest text classify accepts, in UTF-16 code units. */
export const MAX_TEXT_LENGTH = 2000;

/**
 * Valence of each emotion, for polarity: happy +1, sad and angry -1, neutral 0, surprised
 * +0.3 (surprise is mostly pleasant in reviews and chat, "wow", but far weaker evidence of
 * approval than happiness).
 */
export const EMOTION_VALENCE: Readonly<Record<Emotion, number>> = { neutral: 0, happy: 1, sad: -1, angry: -1, surprised: 0.3 };

export const EmotionModelFileConfig = z
  .object({
    kind: z.literal(EMOTION_MODEL_KIND),
    /** Output order of the classifier; must be the face rig's EMOTIONS. */
    emotions: z.array(z.string()),
    model: EmotionClassifierConfig,
    /** How it was trained (seed, steps, data): informational. */
    training: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();
export type EmotionModelFileConfig = z.infer<typeof EmotionModelFileConfig>;

export class EmotionModelError extends Error {
  override name = "EmotionModelError";
}
export class EmotionInputError extends Error {
  override name = "EmotionInputError";
}

export interface EmotionPrediction {
  emotion: Emotion;
  /** How strongly the emotion shows, in [0, 1]. */
  intensity: number;
  probs: Record<Emotion, number>;
  /** Σ p(e)·valence(e), in [-1, 1]. */
  valence: number;
}

export const featurizerConfigOf = (config: EmotionClassifierConfig): FeaturizerConfig => ({
  buckets: config.buckets,
  maxTokens: config.maxTokens,
  featuresPerToken: config.featuresPerToken,
});

/** Write a model folder (atomically); weights in float16 (half the bytes; loading widens them back). */
export async function saveEmotionModel(dir: string, config: EmotionModelFileConfig, store: ParamStore): Promise<void> {
  const tensors = storeTensors(store, { weights: "f16" });
  // Other entries of the folder (RECIPE.md, metrics) stay.
  await writeModelFolder(
    dir,
    { "model.safetensors": { tensors, metadata: { format: "pt" } }, "config.json": jsonFile(config) },
    { keep: "others" },
  );
}

export async function loadEmotionModel(dir: string): Promise<{ config: EmotionModelFileConfig; store: ParamStore }> {
  const fail = (message: string) => new EmotionModelError(message);
  const config = await readModelConfig(dir, {
    schema: EmotionModelFileConfig,
    what: "emotion model",
    kind: EMOTION_MODEL_KIND,
    trainCommand: `aigc train emotion --out ${dir}`,
    fail,
  });
  if (config.emotions.join() !== EMOTIONS.join() || config.model.classes !== EMOTIONS.length)
    throw new EmotionModelError(
      `${join(dir, "config.json")}: emotions [${config.emotions.join(", ")}] must be [${EMOTIONS.join(", ")}]`,
    );
  const store = await readModelWeights(dir, { fail });
  return { config, store };
}

export class EmotionClassifier {
  private constructor(
    readonly config: EmotionModelFileConfig,
    private readonly session: CompiledGraph,
  ) {}

  /** Build the inference graph with the weights embedded and compile it (1 thread: one text is tiny). */
  static async create(config: EmotionModelFileConfig, store: ParamStore, threads = 1): Promise<EmotionClassifier> {
    const g = new Graph();
    const out = emotionClassifier(new Scope(g), config.model, emotionInputs(g, config.model, "B"));
    for (const name of g.params.keys()) {
      if (!store.values.has(name)) throw new EmotionModelError(`the weights have no tensor "${name}" the classifier needs`);
      const want = (g.params.get(name)?.shape ?? []).join(",");
      if (store.get(name).shape.join(",") !== want)
        throw new EmotionModelError(`tensor "${name}" has shape [${store.get(name).shape}], expected [${want}]`);
    }
    const model = toOnnx({
      outputs: { probs: op.softmax(out.logits, -1), intensity: op.sigmoid(out.intensityLogit) },
      name: "emotion_classifier",
      paramValue: (name) => store.get(name).data,
    });
    return new EmotionClassifier(config, await compile(model, { threads }));
  }

  async classify(text: string): Promise<EmotionPrediction> {
    return (await this.classifyMany([text]))[0];
  }

  async classifyMany(texts: readonly string[]): Promise<EmotionPrediction[]> {
    texts.forEach((t, i) => {
      const what = texts.length > 1 ? `text ${i}` : "text";
      if (typeof t !== "string") throw new EmotionInputError(`${what} must be a string, got ${typeof t}`);
      if (t.trim().length === 0) throw new EmotionInputError(`${what} is empty: give a sentence to classify`);
      if (t.length > MAX_TEXT_LENGTH)
        throw new EmotionInputError(
          `${what} has ${t.length} characters; at most ${MAX_TEXT_LENGTH} are accepted (split it into sentences)`,
        );
    });
    const m = this.config.model;
    const out: EmotionPrediction[] = [];
    const chunk = 256;
    for (let from = 0; from < texts.length; from += chunk) {
      const part = texts.slice(from, from + chunk);
      const r = await this.session.run(emotionFeeds(featurize(part, featurizerConfigOf(m)), part.length, m));
      const probs = r.probs.data as Float32Array;
      const intensity = r.intensity.data as Float32Array;
      part.forEach((_, i) => {
        const p = {} as Record<Emotion, number>;
        let best: Emotion = EMOTIONS[0];
        let valence = 0;
        EMOTIONS.forEach((e, c) => {
          p[e] = probs[i * m.classes + c];
          valence += p[e] * EMOTION_VALENCE[e];
          if (p[e] > p[best]) best = e;
        });
        out.push({ emotion: best, intensity: intensity[i], probs: p, valence });
      });
    }
    return out;
  }
}

/** Load a classifier folder (default: the shipped one). */
export async function loadEmotionClassifier(dir: string = SHIPPED_EMOTION_MODEL_DIR): Promise<EmotionClassifier> {
  const { config, store } = await loadEmotionModel(dir);
  return EmotionClassifier.create(config, store);
}
