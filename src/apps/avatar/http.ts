// The digital human over HTTP. GET /avatar is the page (a three.js head that speaks typed
// text or a chat reply, lip-synced by the lip-sync model in the browser); the page's script,
// head mesh, lip-sync model and onnxruntime-web's wasm are served under /avatar/. The API:
// POST /v1/avatar/speak turns one sentence into audio (WAV, base64), phoneme timings, the
// rule-based viseme track and the sentence's emotion; POST /v1/avatar/emotion classifies text.

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { type AppPage, defineRoute, HttpError } from "../../serve/index.js";
import type { Emotion } from "./faceRig.js";
import { avatarPage, tapWorkletSource } from "./page.js";
import { avatarBundle, ortWebFiles, ortWebPath } from "./webBundle.js";

export const avatarAppPage: AppPage = {
  path: "/avatar",
  title: "Digital human",
  description:
    "a 3D head that speaks typed text or chat replies, lip-synced in the browser, with expressions from an emotion model",
};

export type SpeechLanguage = "en" | "zh";

export interface PhonemeTiming {
  symbol: string;
  startMs: number;
  endMs: number;
}

export interface SpokenAudio {
  sampleRate: number;
  samples: Float32Array;
  phonemes: PhonemeTiming[];
}

export interface EmotionReading {
  emotion: Emotion;
  intensity: number;
  valence: number;
  probs: Record<Emotion, number>;
}

/** What the routes need; each part is optional so the page degrades instead of failing. */
export interface AvatarServices {
  /** Text → speech; absent when the optional (GPL) eSpeak-NG adapter is not installed. */
  synthesize?: (text: string, o: { lang: SpeechLanguage; voice?: string; wordsPerMinute?: number }) => Promise<SpokenAudio>;
  /** 16-bit PCM WAV of samples. */
  encodeWav: (samples: Float32Array, sampleRate: number) => Uint8Array;
  /** Phoneme timings → the rule-based viseme track (the page's fallback when the model is off). */
  visemeSegments: (phonemes: readonly PhonemeTiming[]) => { viseme: string; startMs: number; endMs: number }[];
  emotion?: { classify: (text: string) => Promise<EmotionReading> };
  /** Folder of the lip-sync model for the browser (model.onnx, config.json). */
  lipSyncDir?: string;
  /** The head as glTF binary. */
  headGlb: () => Uint8Array;
  /** Why speech is unavailable, shown on the page and in 503 answers. */
  speechUnavailable?: string;
}

export const maxSpeakChars = 1000;

const speakRequest = z.object({
  text: z
    .string()
    .trim()
    .min(1, "text must not be empty")
    .max(maxSpeakChars, `text is longer than ${maxSpeakChars} characters: send one sentence or a short paragraph per request`),
  lang: z.enum(["auto", "en", "zh"]).default("auto"),
  voice: z
    .string()
    .regex(/^[A-Za-z0-9_+-]{1,32}$/, "voice must be an eSpeak voice variant name such as m3 or f2")
    .optional(),
  wordsPerMinute: z.number().int().min(80).max(450).optional(),
  emotion: z.boolean().default(true),
});

const emotionRequest = z.object({
  text: z.string().trim().min(1, "text must not be empty").max(2000, "text is longer than 2000 characters"),
});

const hanCharacter = /\p{Script=Han}/u;
/** Mandarin if the text has Han characters, else English. */
export const detectLanguage = (text: string): SpeechLanguage => (hanCharacter.test(text) ? "zh" : "en");

/** Files of the lip-sync model served to the page, with their content types. */
const lipSyncFiles: ReadonlyMap<string, string> = new Map([
  ["model.onnx", "application/octet-stream"],
  ["config.json", "application/json"],
]);

export async function avatarRoutes(app: FastifyInstance, services: AvatarServices): Promise<void> {
  let head: Buffer | undefined;
  const file = (name: string, url: string, handler: Parameters<typeof defineRoute>[1]["handler"]) =>
    defineRoute(app, { method: "GET", url, policy: { name, access: "public", classify: "none" }, handler });

  file("avatar-page", "/avatar", (_ctx, _req, reply) =>
    reply.type("text/html; charset=utf-8").send(avatarPage({ speechUnavailable: services.speechUnavailable })),
  );
  file("avatar-files", "/avatar/app.js", async (_ctx, _req, reply) =>
    reply.type("text/javascript; charset=utf-8").send(await avatarBundle()),
  );
  file("avatar-files", "/avatar/tap-worklet.js", (_ctx, _req, reply) =>
    reply.type("text/javascript; charset=utf-8").send(tapWorkletSource),
  );
  file("avatar-files", "/avatar/head.glb", (_ctx, _req, reply) => {
    head ??= Buffer.from(services.headGlb());
    return reply.type("model/gltf-binary").header("cache-control", "max-age=3600").send(head);
  });
  file("avatar-files", "/avatar/lipsync/:file", async (_ctx, req, reply) => {
    const name = (req.params as { file: string }).file;
    const type = lipSyncFiles.get(name);
    if (!type) throw new HttpError(404, "not_found", `no file ${name}: the lip-sync model has model.onnx and config.json`);
    if (!services.lipSyncDir) throw new HttpError(404, "lipsync_model_missing", "no lip-sync model is configured");
    return reply.type(type).send(await readFile(join(services.lipSyncDir, name)));
  });
  file("avatar-files", "/avatar/vendor/ort/:file", async (_ctx, req, reply) => {
    const name = (req.params as { file: string }).file;
    const type = Object.hasOwn(ortWebFiles, name) ? ortWebFiles[name] : undefined;
    if (!type) throw new HttpError(404, "not_found", `no file ${name} in the served onnxruntime-web files`);
    return reply
      .type(type)
      .header("cache-control", "max-age=86400")
      .send(await readFile(ortWebPath(name)));
  });

  defineRoute(app, {
    method: "POST",
    url: "/v1/avatar/speak",
    body: speakRequest,
    policy: { name: "avatar-speak", access: "tenant", classify: "scan", model: () => "espeak-ng" },
    handler: async ({ body }) => {
      if (!services.synthesize)
        throw new HttpError(503, "speech_unavailable", services.speechUnavailable ?? "no speech synthesizer is installed");
      const lang = body.lang === "auto" ? detectLanguage(body.text) : body.lang;
      const [audio, emotion] = await Promise.all([
        services.synthesize(body.text, { lang, voice: body.voice, wordsPerMinute: body.wordsPerMinute }),
        body.emotion && services.emotion ? services.emotion.classify(body.text) : undefined,
      ]);
      const wav = services.encodeWav(audio.samples, audio.sampleRate);
      return {
        text: body.text,
        lang,
        sampleRate: audio.sampleRate,
        durationMs: (audio.samples.length / audio.sampleRate) * 1000,
        audio: Buffer.from(wav.buffer, wav.byteOffset, wav.byteLength).toString("base64"),
        phonemes: audio.phonemes,
        visemes: services.visemeSegments(audio.phonemes),
        emotion: emotion ?? null,
      };
    },
  });

  defineRoute(app, {
    method: "POST",
    url: "/v1/avatar/emotion",
    body: emotionRequest,
    policy: { name: "avatar-emotion", access: "tenant", classify: "scan", model: () => "aigc-emotion" },
    handler: async ({ body }) => {
      if (!services.emotion) throw new HttpError(503, "emotion_unavailable", "no emotion model is loaded");
      return services.emotion.classify(body.text);
    },
  });
}
