// The /avatar page: the head renders every animation frame; typed text (or the chat model's
// streamed reply) is split into sentences, each synthesised by the server and played in turn;
// while audio plays, chunks of the playing samples go through the lip-sync model in the page
// (onnxruntime-web) and its viseme probabilities drive the mouth. The emotion of each sentence
// sets the expression.

import { VISEMES } from "../../src/apps/avatar/faceRig.js";
import { splitSentences } from "../../src/apps/avatar/sentences.js";
import { FaceAnimator } from "./face.js";
import { type LipSyncModel, type LipSyncRunner, loadLipSync } from "./lipSync.js";
import { type LiveAudio, listenToMicrophone } from "./microphone.js";
import { RenderScaler } from "./renderScale.js";
import { applyMorphs, createStage, setRenderScale } from "./scene.js";
import { Speaker, type SpokenSentence } from "./speaker.js";
import { type AvatarStats, FrameStats } from "./stats.js";

declare global {
  interface Window {
    /** fetch with the user's API key (served at /api-fetch.js); absent if that script failed to load. */
    aigcFetch?: typeof fetch;
    avatarStats?: AvatarStats;
    avatar?: {
      speak: (text: string) => void;
      chat: (text: string) => Promise<void>;
      stop: () => void;
      listen: () => Promise<void>;
      /** Start the frame and latency figures afresh (benchmarks measure one phase at a time). */
      resetStats: () => void;
    };
  }
}

const apiFetch: typeof fetch = (input, init) => (window.aigcFetch ?? fetch)(input, init);
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
/** Adds a line at the bottom of the log (oldest first) and keeps the newest line in view. */
const log = (text: string) => {
  const box = $("log");
  const p = document.createElement("p");
  p.textContent = text;
  box.append(p);
  box.scrollTop = box.scrollHeight;
};
/** A figure for the stats box: "—" until there is something to measure (no NaN on the page). */
const figure = (v: number, digits: number, unit = "") => (Number.isFinite(v) ? `${v.toFixed(digits)}${unit}` : "—");

let lastError: string | null = null;
const fail = (e: unknown) => {
  lastError = e instanceof Error ? e.message : String(e);
  log(`⚠ ${lastError}`);
};

async function synthesize(text: string): Promise<SpokenSentence> {
  const lang = $<HTMLSelectElement>("lang").value;
  const voice = $<HTMLSelectElement>("voice").value || undefined;
  const r = await apiFetch("/v1/avatar/speak", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text, lang, voice }),
  });
  const body = await r.json();
  if (!r.ok) throw new Error(body?.error?.message ?? `speech failed with HTTP ${r.status}`);
  return body as SpokenSentence;
}

async function chatReply(prompt: string, onText: (delta: string) => void): Promise<void> {
  const models = await (await apiFetch("/v1/models")).json();
  const model = models?.data?.[0]?.id;
  if (!model) throw new Error("the server lists no chat model");
  const r = await apiFetch("/v1/chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, stream: true, max_tokens: 80, messages: [{ role: "user", content: prompt }] }),
  });
  if (!r.ok || !r.body) throw new Error(`chat failed with HTTP ${r.status}: ${await r.text()}`);
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += value;
    const events = buffered.split("\n\n");
    buffered = events.pop() ?? "";
    for (const event of events) {
      const data = event.replace(/^data: ?/, "");
      if (data === "[DONE]") return;
      const delta = JSON.parse(data)?.choices?.[0]?.delta?.content;
      if (typeof delta === "string") onText(delta);
    }
  }
}

async function main(): Promise<void> {
  const stage = await createStage($<HTMLCanvasElement>("stage"), "/avatar/head.glb");
  const face = new FaceAnimator(stage.head);
  const ctx = new AudioContext();
  const speaker = new Speaker(ctx, synthesize, fail);
  const stats = new FrameStats();
  let model: LipSyncModel | null = null;
  let lipSync: LipSyncRunner | null = null;
  // The microphone waits for this when it is switched on while the model still loads.
  const modelLoaded: Promise<LipSyncModel | null> = loadLipSync("/avatar/lipsync")
    .then((m) => {
      model = m;
      lipSync = m.runner(m.featureSampleRate);
      return m;
    })
    .catch((e) => {
      fail(new Error(`lip-sync model not loaded (${(e as Error).message}); the mouth follows the phoneme timings`));
      return null;
    });

  let emotion: string | null = null;
  let lastSegmentText = "";
  let fedS = 0;
  let inFlight = false;
  let maxMouthOpen = 0;
  let source: AvatarStats["lipSyncSource"] = "none";

  const speak = (text: string) => {
    void ctx.resume();
    const { sentences, rest } = splitSentences(text);
    for (const s of [...sentences, rest.trim()].filter(Boolean)) speaker.say(s);
  };
  const chat = async (prompt: string) => {
    void ctx.resume();
    let pending = "";
    log(`you: ${prompt}`);
    await chatReply(prompt, (delta) => {
      pending += delta;
      const { sentences, rest } = splitSentences(pending, { streaming: true });
      for (const s of sentences) speaker.say(s);
      pending = rest;
    });
    if (pending.trim()) speaker.say(pending.trim());
  };
  // One audio chunk through the model; the pose is set, and the latency from the chunk being
  // cut to that moment recorded, when the model answers.
  const poseFromChunk = (runner: LipSyncRunner, chunk: Float32Array): Promise<void> => {
    const cutAt = performance.now();
    return runner
      .push(chunk)
      .then((probs) => {
        if (!probs) return;
        face.setVisemes(probs);
        stats.latency.push(performance.now() - cutAt);
      })
      .catch(fail);
  };

  // Live audio: every chunk from the microphone goes straight to the model; the pose it
  // yields is set as soon as it returns (no look-ahead possible here).
  let microphone: LiveAudio | null = null;
  const listen = async () => {
    if (microphone) {
      microphone.stop();
      microphone = null;
      face.rest();
      source = "none";
      return;
    }
    const loaded = model ?? (await modelLoaded);
    if (!loaded) throw new Error("the lip-sync model is not loaded: the microphone cannot drive the mouth");
    await ctx.resume();
    const runner = loaded.runner(ctx.sampleRate);
    let chunksInModel = 0;
    microphone = await listenToMicrophone(ctx, (chunk) => {
      source = "microphone";
      // A chunk that arrives while the model still works on the previous one queues behind
      // it (its wait counts in the latency).
      if (chunksInModel > 0) stats.queued++;
      chunksInModel++;
      void poseFromChunk(runner, chunk).finally(() => {
        chunksInModel--;
      });
    });
  };
  window.avatar = { speak, chat, stop: () => speaker.stop(), listen, resetStats: () => stats.reset() };
  $("speak").addEventListener("click", () => speak($<HTMLTextAreaElement>("text").value));
  $("chat").addEventListener("click", () => chat($<HTMLTextAreaElement>("text").value).catch(fail));
  $("stop").addEventListener("click", () => speaker.stop());
  $("listen").addEventListener("click", () => listen().catch(fail));

  // The lip-sync model sees the audio a little ahead of the speakers: exactly its look-ahead,
  // so the pose it returns matches the sound being heard.
  const driveLips = (nowS: number) => {
    if (microphone) return; // the microphone drives the mouth from its own chunks
    const segment = speaker.segmentAt(nowS);
    if (segment && segment.sentence.text !== lastSegmentText) {
      lastSegmentText = segment.sentence.text;
      log(`▶ ${segment.sentence.text}`);
      const e = segment.sentence.emotion;
      if (e) {
        emotion = `${e.emotion} ${(e.intensity * 100).toFixed(0)}%`;
        face.setEmotion(e.emotion, e.intensity);
        $("emotion").textContent = `emotion: ${emotion}`;
      }
    }
    const useModel = $<HTMLSelectElement>("lipsync").value === "model" && lipSync !== null;
    if (speaker.idle(nowS - 0.2)) {
      face.rest();
      lipSync?.reset();
      fedS = nowS;
      source = "none";
      return;
    }
    if (!useModel || !lipSync) {
      source = "timings";
      const ms = segment ? (nowS - segment.startS) * 1000 : -1;
      const v = segment?.sentence.visemes.find((x) => x.startMs <= ms && ms < x.endMs);
      face.setVisemes(lipSyncOneHot(v?.viseme));
      return;
    }
    source = "model";
    const runner = lipSync;
    const toS = nowS + (model?.lookAheadS ?? 0);
    if (inFlight || toS <= fedS) return;
    const chunk = speaker.samplesBetween(fedS, toS, model?.featureSampleRate ?? 16000);
    fedS = toS;
    inFlight = true;
    void poseFromChunk(runner, chunk).finally(() => {
      inFlight = false;
    });
  };

  // ?scale=0.5 pins the render scale; by default it adapts to hold 60 FPS (renderScale.ts).
  const pinnedScale = Number(new URLSearchParams(location.search).get("scale"));
  const scaler = pinnedScale > 0 && pinnedScale <= 1 ? null : new RenderScaler();
  let renderScale = scaler?.scale ?? pinnedScale;
  let morphUploads = 0;
  setRenderScale(stage, renderScale);
  let lastFrame = performance.now();
  const frame = (t: number) => {
    requestAnimationFrame(frame);
    const dt = Math.min(0.1, (t - lastFrame) / 1000);
    stats.frame.push(t - lastFrame);
    const rescaled = scaler?.push(t - lastFrame) ?? null;
    if (rescaled !== null) {
      renderScale = rescaled;
      setRenderScale(stage, renderScale);
    }
    lastFrame = t;
    const u0 = performance.now();
    driveLips(ctx.currentTime);
    face.update(t / 1000, dt);
    maxMouthOpen = Math.max(maxMouthOpen, face.mouthOpen());
    morphUploads += applyMorphs(stage.head);
    const u1 = performance.now();
    stage.renderer.render(stage.scene, stage.camera);
    stats.render.push(performance.now() - u1);
    stats.update.push(u1 - u0);
    stats.frames++;
    if (stats.frames % 15 === 0) {
      const s = stats.snapshot({
        lipSyncSource: source,
        sentencesSpoken: speaker.spoken,
        speaking: !speaker.idle(ctx.currentTime),
        maxMouthOpen,
        emotion,
        renderScale,
        morphUploads,
        ready: true,
        error: lastError,
      });
      window.avatarStats = s;
      $("stats").textContent =
        `${figure(s.fpsMedian, 1)} FPS (frame p95 ${figure(s.frameMs.p95, 1, " ms")})\n` +
        `our code ${figure(s.updateMs.p50, 2, " ms")}, render call ${figure(s.renderMs.p50, 2, " ms")} per frame, render scale ${s.renderScale}\n` +
        `lip sync (${s.lipSyncSource}): chunk → pose p50 ${figure(s.lipSyncLatencyMs.p50, 1, " ms")}, p95 ${figure(s.lipSyncLatencyMs.p95, 1, " ms")}`;
    }
  };
  requestAnimationFrame(frame);
}

const visemeIndex = new Map<string, number>(VISEMES.map((v, i) => [v, i]));
function lipSyncOneHot(viseme: string | undefined): Float32Array {
  const w = new Float32Array(VISEMES.length);
  const i = viseme ? visemeIndex.get(viseme) : undefined;
  if (i !== undefined) w[i] = 1;
  return w;
}

main().catch((e) => {
  fail(e);
  if (window.avatarStats) window.avatarStats = { ...window.avatarStats, ready: false, error: lastError };
});
