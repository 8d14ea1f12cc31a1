// Log-mel features for lip sync, computed incrementally: audio arrives in chunks of any
// size and complete frames come out as soon as their samples are in, identical to the
// features of the whole signal. Browser-safe (plain TypeScript, no Node imports), so the
// trainer in Node and the page in the browser compute the same numbers.
//
// Pipeline: resample to 16 kHz (windowed sinc) -> 25 ms Hann frames every 10 ms ->
// 512-point power spectrum -> triangular mel filters (HTK mel scale) -> log(max(e, floor)).
// Frame t covers resampled samples [t*hop, t*hop + window).

import { z } from "zod";

export const LogMelConfig = z
  .object({
    /** Rate the features are computed at; input audio is resampled to it. */
    sampleRate: z.number().int().positive(),
    /** Analysis window in samples (25 ms at 16 kHz). */
    windowSamples: z.number().int().positive(),
    /** Hop between frames in samples (10 ms at 16 kHz). */
    hopSamples: z.number().int().positive(),
    /** FFT size (power of two, at least windowSamples). */
    fftSize: z.number().int().positive(),
    /** Number of mel bands. */
    melBands: z.number().int().positive(),
    /** Lowest and highest filter edge in Hz. */
    minHz: z.number().min(0),
    maxHz: z.number().positive(),
    /** Energies below this floor are clamped before the log (silence maps to log(floor)). */
    logFloor: z.number().positive(),
  })
  .strict()
  .refine((c) => (c.fftSize & (c.fftSize - 1)) === 0 && c.fftSize >= c.windowSamples, {
    message: "fftSize must be a power of two and at least windowSamples",
  })
  .refine((c) => c.maxHz <= c.sampleRate / 2 && c.minHz < c.maxHz, { message: "need minHz < maxHz <= sampleRate / 2" });
export type LogMelConfig = z.infer<typeof LogMelConfig>;

export const DEFAULT_LOG_MEL: LogMelConfig = {
  sampleRate: 16000,
  windowSamples: 400,
  hopSamples: 160,
  fftSize: 512,
  melBands: 40,
  minHz: 20,
  maxHz: 8000,
  logFloor: 1e-8,
};

/** Milliseconds between frames. */
export const frameMs = (config: LogMelConfig): number => (1000 * config.hopSamples) / config.sampleRate;

/** Half-width of the resampling filter, in input samples per side (at the lower of the two rates). */
const SINC_HALF_TAPS = 16;

/**
 * Streaming band-limited resampler. Output sample n sits at input position n·in/out and is
 * a Blackman-windowed sinc over the inputs around it, so it depends only on n and the
 * signal: any chunking gives the same output. It needs SINC_HALF_TAPS inputs past that
 * position, which flush() supplies as zeros at the end.
 */
export class StreamingResampler {
  private buffer = new Float32Array(0);
  /** Absolute index of buffer[0] in the input stream. */
  private bufferStart = 0;
  private received = 0;
  private produced = 0;
  private readonly inputPerOutput: number; // input samples per output sample
  private readonly cutoff: number;
  private readonly halfWidth: number;
  private readonly kernels = new Map<number, Float64Array>();

  constructor(
    readonly inputRate: number,
    readonly outputRate: number,
  ) {
    if (!(inputRate > 0 && outputRate > 0))
      throw new Error(`StreamingResampler: rates must be positive, got ${inputRate} -> ${outputRate}`);
    this.inputPerOutput = inputRate / outputRate;
    // Low-pass at 95% of the lower Nyquist frequency, in cycles per input sample.
    this.cutoff = (0.95 * Math.min(inputRate, outputRate)) / (2 * inputRate);
    this.halfWidth = Math.ceil(SINC_HALF_TAPS * Math.max(1, this.inputPerOutput));
  }

  /**
   * Filter taps for an output at fractional offset `frac` past input sample `centre`, for
   * inputs centre-halfWidth+1 .. centre+halfWidth. Rational rate ratios repeat a few
   * hundred offsets, so the taps are cached by offset (bounded, for irrational ones).
   */
  private kernelAt(frac: number): Float64Array {
    const hit = this.kernels.get(frac);
    if (hit) return hit;
    const kernel = new Float64Array(2 * this.halfWidth);
    for (let j = 0; j < kernel.length; j++) {
      const x = frac + this.halfWidth - 1 - j; // distance from input sample to the output position
      const w = 0.42 + 0.5 * Math.cos((Math.PI * x) / this.halfWidth) + 0.08 * Math.cos((2 * Math.PI * x) / this.halfWidth);
      const arg = 2 * this.cutoff * x;
      const sinc = arg === 0 ? 1 : Math.sin(Math.PI * arg) / (Math.PI * arg);
      kernel[j] = 2 * this.cutoff * sinc * w;
    }
    if (this.kernels.size < 4096) this.kernels.set(frac, kernel);
    return kernel;
  }

  push(chunk: Float32Array): Float32Array {
    if (this.inputRate === this.outputRate) {
      this.received += chunk.length;
      this.produced += chunk.length;
      return chunk.slice();
    }
    const merged = new Float32Array(this.buffer.length + chunk.length);
    merged.set(this.buffer);
    merged.set(chunk, this.buffer.length);
    this.buffer = merged;
    this.received += chunk.length;
    return this.drain();
  }

  /** Feed the trailing zeros the last outputs need and return them; the stream ends. */
  flush(): Float32Array {
    if (this.inputRate === this.outputRate) return new Float32Array(0);
    // Only outputs whose position lies inside the real signal are produced.
    const lastPosition = this.received - 1;
    const zeros = new Float32Array(this.halfWidth + 1);
    const merged = new Float32Array(this.buffer.length + zeros.length);
    merged.set(this.buffer);
    this.buffer = merged;
    const out = this.drain(this.received + zeros.length, lastPosition);
    this.received += zeros.length;
    return out;
  }

  private drain(available = this.received, maxPosition = Number.POSITIVE_INFINITY): Float32Array {
    const out: number[] = [];
    for (;;) {
      const position = this.produced * this.inputPerOutput;
      if (position > maxPosition) break;
      const centre = Math.floor(position);
      if (centre + this.halfWidth >= available) break;
      const kernel = this.kernelAt(position - centre);
      let acc = 0;
      for (let j = 0; j < kernel.length; j++) {
        const i = centre - this.halfWidth + 1 + j;
        if (i >= 0) acc += this.buffer[i - this.bufferStart] * kernel[j];
      }
      out.push(acc);
      this.produced++;
    }
    // Keep only what future outputs can still reach.
    const keepFrom = Math.max(0, Math.floor(this.produced * this.inputPerOutput) - this.halfWidth);
    if (keepFrom > this.bufferStart) {
      this.buffer = this.buffer.slice(keepFrom - this.bufferStart);
      this.bufferStart = keepFrom;
    }
    return Float32Array.from(out);
  }
}

/** In-place radix-2 FFT of (re, im), length a power of two. */
function fft(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j], re[i]];
      [im[i], im[j]] = [im[j], im[i]];
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const angle = (-2 * Math.PI) / len;
    const wRe = Math.cos(angle);
    const wIm = Math.sin(angle);
    for (let i = 0; i < n; i += len) {
      let curRe = 1;
      let curIm = 0;
      for (let k = 0; k < len / 2; k++) {
        const aRe = re[i + k];
        const aIm = im[i + k];
        const bRe = re[i + k + len / 2] * curRe - im[i + k + len / 2] * curIm;
        const bIm = re[i + k + len / 2] * curIm + im[i + k + len / 2] * curRe;
        re[i + k] = aRe + bRe;
        im[i + k] = aIm + bIm;
        re[i + k + len / 2] = aRe - bRe;
        im[i + k + len / 2] = aIm - bIm;
        const next = curRe * wRe - curIm * wIm;
        curIm = curRe * wIm + curIm * wRe;
        curRe = next;
      }
    }
  }
}

const hzToMel = (hz: number): number => 2595 * Math.log10(1 + hz / 700);
const melToHz = (mel: number): number => 700 * (10 ** (mel / 2595) - 1);

/** Triangular filters [melBands][fftSize/2 + 1], HTK mel spacing, unit peak. */
function melFilterbank(c: LogMelConfig): Float64Array[] {
  const bins = c.fftSize / 2 + 1;
  const low = hzToMel(c.minHz);
  const high = hzToMel(c.maxHz);
  const edges = Array.from({ length: c.melBands + 2 }, (_, i) => melToHz(low + ((high - low) * i) / (c.melBands + 1)));
  return Array.from({ length: c.melBands }, (_, m) => {
    const filter = new Float64Array(bins);
    for (let b = 0; b < bins; b++) {
      const hz = (b * c.sampleRate) / c.fftSize;
      const up = (hz - edges[m]) / (edges[m + 1] - edges[m]);
      const down = (edges[m + 2] - hz) / (edges[m + 2] - edges[m + 1]);
      filter[b] = Math.max(0, Math.min(up, down));
    }
    return filter;
  });
}

/** Chunks of audio in, complete log-mel frames out. */
export class LogMelStream {
  readonly config: LogMelConfig;
  private readonly resampler: StreamingResampler;
  private readonly window: Float64Array;
  private readonly filters: { first: number; weights: Float64Array }[];
  private readonly power: Float64Array;
  private pending = new Float32Array(0);
  private readonly re: Float64Array;
  private readonly im: Float64Array;

  constructor(inputSampleRate: number, config: LogMelConfig = DEFAULT_LOG_MEL) {
    this.config = LogMelConfig.parse(config);
    this.resampler = new StreamingResampler(inputSampleRate, this.config.sampleRate);
    const n = this.config.windowSamples;
    this.window = Float64Array.from({ length: n }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n)); // periodic Hann
    // Keep each triangle's non-zero span only.
    this.filters = melFilterbank(this.config).map((f) => {
      const first = f.findIndex((w) => w > 0);
      const last = f.length - 1 - [...f].reverse().findIndex((w) => w > 0);
      return first < 0 ? { first: 0, weights: new Float64Array(0) } : { first, weights: f.slice(first, last + 1) };
    });
    this.power = new Float64Array(this.config.fftSize / 2 + 1);
    this.re = new Float64Array(this.config.fftSize);
    this.im = new Float64Array(this.config.fftSize);
  }

  /** Add audio (at the input rate); returns the frames it completes, each [melBands]. */
  push(chunk: Float32Array): Float32Array[] {
    return this.frames(this.resampler.push(chunk));
  }

  /** End of stream: resample the tail and return the frames it completes. */
  flush(): Float32Array[] {
    return this.frames(this.resampler.flush());
  }

  private frames(samples: Float32Array): Float32Array[] {
    const c = this.config;
    const all = new Float32Array(this.pending.length + samples.length);
    all.set(this.pending);
    all.set(samples, this.pending.length);
    const out: Float32Array[] = [];
    let start = 0;
    for (; start + c.windowSamples <= all.length; start += c.hopSamples) out.push(this.frame(all, start));
    this.pending = all.slice(start);
    return out;
  }

  private frame(samples: Float32Array, start: number): Float32Array {
    const c = this.config;
    const { re, im } = this;
    re.fill(0);
    im.fill(0);
    for (let i = 0; i < c.windowSamples; i++) re[i] = samples[start + i] * this.window[i];
    fft(re, im);
    const out = new Float32Array(c.melBands);
    const bins = c.fftSize / 2 + 1;
    const power = this.power;
    for (let b = 0; b < bins; b++) power[b] = re[b] * re[b] + im[b] * im[b];
    for (let m = 0; m < c.melBands; m++) {
      const { first, weights } = this.filters[m];
      let e = 0;
      for (let k = 0; k < weights.length; k++) e += weights[k] * power[first + k];
      out[m] = Math.log(Math.max(e, c.logFloor));
    }
    return out;
  }
}

/** Features of a whole signal: [frames][melBands], the same as streaming it and flushing. */
export function logMelFrames(samples: Float32Array, sampleRate: number, config: LogMelConfig = DEFAULT_LOG_MEL): Float32Array[] {
  const stream = new LogMelStream(sampleRate, config);
  return [...stream.push(samples), ...stream.flush()];
}
