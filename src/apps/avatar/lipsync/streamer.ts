// Streaming lip sync: audio chunks in, viseme probabilities per 10 ms frame out. The
// streamer owns the feature stream and the window of recent frames; the model runs
// through an injected `infer`, so the page uses onnxruntime-web and Node uses
// onnxruntime-node with the same logic. Browser-safe: no Node imports.

import { type LogMelConfig, LogMelStream } from "./logMel.js";

/**
 * Runs the model on `count` windows laid out [count, context, melBands] (row-major) and
 * resolves to their probabilities [count, visemes].
 */
export type LipSyncInfer = (windows: Float32Array, count: number) => Promise<Float32Array>;

export interface LipSyncStreamerOptions {
  /** Rate of the audio pushed in (resampled internally). */
  inputSampleRate: number;
  features: LogMelConfig;
  /** Window length C and look-ahead L of the model (see LipSyncConfig). */
  context: number;
  lookahead: number;
  /** Outputs per frame (15 Oculus visemes). */
  visemes: number;
  infer: LipSyncInfer;
}

export class LipSyncStreamer {
  private readonly mel: LogMelStream;
  /** Frames still needed by a future window, oldest first; frames before the stream start are silence. */
  private history: Float32Array[];
  /** Absolute index of the next frame to decide. */
  private nextFrame = 0;
  /** Absolute index of history[0]. */
  private historyStart: number;
  private readonly silence: Float32Array;
  private readonly melBands: number;

  constructor(private readonly options: LipSyncStreamerOptions) {
    this.mel = new LogMelStream(options.inputSampleRate, options.features);
    this.melBands = options.features.melBands;
    this.silence = new Float32Array(this.melBands).fill(Math.log(options.features.logFloor));
    const past = options.context - 1 - options.lookahead;
    this.history = Array.from({ length: past }, () => this.silence);
    this.historyStart = -past;
  }

  /** Frames decided so far. */
  get framesOut(): number {
    return this.nextFrame;
  }

  /** Add audio; resolves to one probability vector [visemes] per newly decided frame. */
  push(chunk: Float32Array): Promise<Float32Array[]> {
    return this.decide(this.mel.push(chunk));
  }

  /** End of stream: the remaining frames, their look-ahead filled with silence. */
  async flush(): Promise<Float32Array[]> {
    const tail = this.mel.flush();
    const total = this.historyStart + this.history.length + tail.length;
    const pad = Array.from({ length: Math.max(0, Math.min(this.options.lookahead, total - this.nextFrame)) }, () => this.silence);
    return this.decide([...tail, ...pad]);
  }

  private async decide(frames: Float32Array[]): Promise<Float32Array[]> {
    this.history.push(...frames);
    const { context, lookahead, visemes } = this.options;
    const available = this.historyStart + this.history.length; // frames known so far
    const count = Math.max(0, available - lookahead - this.nextFrame);
    if (count === 0) return [];
    const windows = new Float32Array(count * context * this.melBands); // [count, C, M]
    for (let n = 0; n < count; n++) {
      const first = this.nextFrame + n - (context - 1 - lookahead) - this.historyStart;
      for (let c = 0; c < context; c++) windows.set(this.history[first + c], (n * context + c) * this.melBands);
    }
    const probs = await this.options.infer(windows, count);
    if (probs.length !== count * visemes)
      throw new Error(`LipSyncStreamer: infer returned ${probs.length} values for ${count} windows; expected ${count * visemes}`);
    this.nextFrame += count;
    const keepFrom = this.nextFrame - (context - 1 - lookahead) - this.historyStart;
    this.history = this.history.slice(keepFrom);
    this.historyStart += keepFrom;
    return Array.from({ length: count }, (_, n) => probs.slice(n * visemes, (n + 1) * visemes));
  }
}
