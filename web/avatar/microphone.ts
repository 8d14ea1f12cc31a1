// Live audio: the microphone's samples reach the page in 128-sample blocks through an
// AudioWorklet tap; every ~20 ms of them go to the lip-sync model as one chunk. The tap
// feeds a muted gain node so the graph pulls it without playing the voice back.

/** Served by src/apps/avatar/http.ts (its source is in src/apps/avatar/page.ts). */
export const TAP_WORKLET_URL = "/avatar/tap-worklet.js";

export interface LiveAudio {
  sampleRate: number;
  stop(): void;
}

export async function listenToMicrophone(
  ctx: AudioContext,
  onChunk: (chunk: Float32Array) => void,
  chunkMs = 20,
): Promise<LiveAudio> {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
  await ctx.audioWorklet.addModule(TAP_WORKLET_URL);
  const source = ctx.createMediaStreamSource(stream);
  const tap = new AudioWorkletNode(ctx, "aigc-audio-tap");
  const mute = ctx.createGain();
  mute.gain.value = 0;
  source.connect(tap).connect(mute).connect(ctx.destination);
  const chunkSamples = Math.round((ctx.sampleRate * chunkMs) / 1000);
  let pending: Float32Array[] = [];
  let pendingSamples = 0;
  tap.port.onmessage = (e: MessageEvent<Float32Array>) => {
    pending.push(e.data);
    pendingSamples += e.data.length;
    if (pendingSamples < chunkSamples) return;
    const chunk = new Float32Array(pendingSamples);
    let at = 0;
    for (const p of pending) {
      chunk.set(p, at);
      at += p.length;
    }
    pending = [];
    pendingSamples = 0;
    onChunk(chunk);
  };
  return {
    sampleRate: ctx.sampleRate,
    stop() {
      tap.port.onmessage = null;
      source.disconnect();
      for (const t of stream.getTracks()) t.stop();
    },
  };
}
