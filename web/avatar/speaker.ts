// Speech playback, sentence by sentence. Each sentence is synthesised by the server as soon
// as it is queued (so the next one is ready while the current one plays) and scheduled on the
// audio clock right after the previous one. The lip-sync code reads the very samples being
// played, in chunks, through samplesBetween().

import type { Emotion } from "../../src/apps/avatar/faceRig.js";

export interface SpokenSentence {
  text: string;
  lang: "en" | "zh";
  sampleRate: number;
  durationMs: number;
  /** 16-bit PCM WAV, base64. */
  audio: string;
  phonemes: { symbol: string; startMs: number; endMs: number }[];
  visemes: { viseme: string; startMs: number; endMs: number }[];
  emotion: { emotion: Emotion; intensity: number; valence: number } | null;
}

export interface Segment {
  sentence: SpokenSentence;
  pcm: Float32Array<ArrayBuffer>;
  startS: number;
  endS: number;
  source: AudioBufferSourceNode;
}

/** Mono 16-bit PCM WAV → float samples (the format /v1/avatar/speak returns). */
export function decodeWav(bytes: Uint8Array): { sampleRate: number; samples: Float32Array<ArrayBuffer> } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at: number) => String.fromCharCode(...bytes.subarray(at, at + 4));
  if (tag(0) !== "RIFF" || tag(8) !== "WAVE") throw new Error("not a WAV file");
  let at = 12;
  let sampleRate = 0;
  let channels = 1;
  while (at + 8 <= bytes.length) {
    const id = tag(at);
    const size = view.getUint32(at + 4, true);
    if (id === "fmt ") {
      if (view.getUint16(at + 8, true) !== 1 || view.getUint16(at + 22, true) !== 16) throw new Error("WAV is not 16-bit PCM");
      channels = view.getUint16(at + 10, true);
      sampleRate = view.getUint32(at + 12, true);
    } else if (id === "data") {
      const n = Math.floor(Math.min(size, bytes.length - at - 8) / 2 / channels);
      const samples = new Float32Array(n);
      for (let i = 0; i < n; i++) samples[i] = view.getInt16(at + 8 + i * 2 * channels, true) / 32768;
      return { sampleRate, samples };
    }
    at += 8 + size + (size & 1);
  }
  throw new Error("WAV has no data chunk");
}

const base64Bytes = (b64: string): Uint8Array => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

export class Speaker {
  private readonly pending: Promise<SpokenSentence>[] = [];
  private segments: Segment[] = [];
  private pumping = false;
  private generation = 0;
  /** Sentences spoken since the page loaded. */
  spoken = 0;

  constructor(
    private readonly ctx: AudioContext,
    private readonly synthesize: (text: string) => Promise<SpokenSentence>,
    private readonly onError: (e: Error) => void,
  ) {}

  /** Queue a sentence: synthesis starts now, playback after the sentences before it. */
  say(text: string): void {
    const p = this.synthesize(text);
    p.catch(() => undefined); // reported when its turn comes
    this.pending.push(p);
    void this.pump();
  }

  /** Nothing playing and nothing queued. */
  idle(timeS: number): boolean {
    return this.pending.length === 0 && !this.pumping && this.segments.every((s) => s.endS <= timeS);
  }

  segmentAt(timeS: number): Segment | undefined {
    return this.segments.find((s) => s.startS <= timeS && timeS < s.endS);
  }

  /** The samples scheduled for [fromS, toS) at `sampleRate`, silence where nothing plays. */
  samplesBetween(fromS: number, toS: number, sampleRate: number): Float32Array {
    const n = Math.max(0, Math.round((toS - fromS) * sampleRate));
    const out = new Float32Array(n);
    for (const s of this.segments) {
      if (s.endS <= fromS || s.startS >= toS) continue;
      const rate = s.sentence.sampleRate;
      for (let i = 0; i < n; i++) {
        const t = fromS + i / sampleRate - s.startS;
        const j = Math.floor(t * rate);
        if (j >= 0 && j < s.pcm.length) out[i] = s.pcm[j];
      }
    }
    return out;
  }

  stop(): void {
    this.generation++;
    this.pending.length = 0;
    for (const s of this.segments) s.source.stop();
    this.segments = [];
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    const generation = this.generation;
    try {
      while (this.pending.length > 0) {
        const next = this.pending[0];
        let sentence: SpokenSentence;
        try {
          sentence = await next;
        } catch (e) {
          this.pending.shift();
          this.onError(e as Error);
          continue;
        }
        if (generation !== this.generation) return;
        this.pending.shift();
        this.schedule(sentence);
      }
    } finally {
      this.pumping = false;
    }
  }

  private schedule(sentence: SpokenSentence): void {
    const { sampleRate, samples } = decodeWav(base64Bytes(sentence.audio));
    const buffer = this.ctx.createBuffer(1, Math.max(1, samples.length), sampleRate);
    buffer.copyToChannel(samples, 0);
    const source = this.ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(this.ctx.destination);
    const last = this.segments.at(-1);
    const startS = Math.max(this.ctx.currentTime + 0.04, last ? last.endS + 0.12 : 0);
    source.start(startS);
    const now = this.ctx.currentTime;
    this.segments = this.segments.filter((s) => s.endS > now - 1);
    this.segments.push({ sentence, pcm: samples, startS, endS: startS + samples.length / sampleRate, source });
    this.spoken++;
  }
}
