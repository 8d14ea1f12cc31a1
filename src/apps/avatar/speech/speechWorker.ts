// The worker side of SpeechThread: runs the eSpeak-NG adapter and answers each request.

import { parentPort } from "node:worker_threads";
import { listVoices, synthesizeSpeech } from "./espeak.js";
import type { SpeechThreadReply, SpeechThreadRequest } from "./speechThread.js";

const port = parentPort;
if (!port) throw new Error("speechWorker.ts runs as a worker thread (see SpeechThread)");
port.on("message", async (r: SpeechThreadRequest) => {
  try {
    if (r.kind === "voices") {
      port.postMessage({ id: r.id, ok: true, voices: await listVoices() } satisfies SpeechThreadReply);
      return;
    }
    const audio = await synthesizeSpeech(r.text, r.options);
    port.postMessage({ id: r.id, ok: true, audio } satisfies SpeechThreadReply, [audio.samples.buffer as ArrayBuffer]);
  } catch (e) {
    const err = e as Error;
    port.postMessage({ id: r.id, ok: false, errorName: err.name, message: err.message } satisfies SpeechThreadReply);
  }
});
