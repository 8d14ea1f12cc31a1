// eSpeak-NG on a worker thread: one synthesis blocks its thread for ~100 ms per sentence,
// which must not stall a server's event loop (other requests, SSE streams). Requests queue
// on the one eSpeak instance in order; the audio comes back as a transferred buffer.

import { Worker } from "node:worker_threads";
import { EspeakUnavailableError, type SpeechAudio, SpeechInputError, type SpeechOptions, type VoiceList } from "./espeak.js";

export type SpeechThreadRequest =
  | { id: number; kind: "synthesize"; text: string; options: SpeechOptions }
  | { id: number; kind: "voices" };
export type SpeechThreadReply =
  | { id: number; ok: true; audio?: SpeechAudio; voices?: VoiceList }
  | { id: number; ok: false; errorName: string; message: string };

// From dist the worker is speechWorker.js. From src (tests, tsx) it is speechWorker.ts, and
// Node 20 does not apply --import hooks to a worker's entry, so a one-line module registers
// tsx in the worker first.
const fromSource = import.meta.url.endsWith(".ts");
function startWorker(entry: URL): Worker {
  if (!fromSource) return new Worker(entry);
  const boot = `const { register } = await import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}); register(); await import(${JSON.stringify(entry.href)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`));
}

export class SpeechThread {
  private readonly worker: Worker;
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (r: SpeechThreadReply) => void; reject: (e: Error) => void }>();

  constructor() {
    this.worker = startWorker(new URL(`./speechWorker${fromSource ? ".ts" : ".js"}`, import.meta.url));
    this.worker.unref();
    this.worker.on("message", (r: SpeechThreadReply) => {
      this.waiting.get(r.id)?.resolve(r);
      this.waiting.delete(r.id);
    });
    this.worker.on("error", (e) => this.failAll(e));
    this.worker.on("exit", (code) => this.failAll(new Error(`the speech thread exited (code ${code})`)));
  }

  async synthesize(text: string, options: SpeechOptions): Promise<SpeechAudio> {
    const r = await this.send({ id: this.nextId++, kind: "synthesize", text, options });
    if (!r.audio) throw new Error("the speech thread answered without audio");
    return r.audio;
  }

  async listVoices(): Promise<VoiceList> {
    const r = await this.send({ id: this.nextId++, kind: "voices" });
    if (!r.voices) throw new Error("the speech thread answered without voices");
    return r.voices;
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }

  private send(request: SpeechThreadRequest): Promise<SpeechThreadReply & { ok: true }> {
    return new Promise((resolve, reject) => {
      this.waiting.set(request.id, {
        resolve: (r) => {
          if (r.ok) return resolve(r);
          // Keep the adapter's error types across the thread boundary.
          if (r.errorName === "SpeechInputError") return reject(new SpeechInputError(r.message));
          if (r.errorName === "EspeakUnavailableError") return reject(new EspeakUnavailableError(new Error(r.message)));
          reject(new Error(r.message));
        },
        reject,
      });
      this.worker.postMessage(request);
    });
  }

  private failAll(error: Error): void {
    for (const w of this.waiting.values()) w.reject(error);
    this.waiting.clear();
  }
}
