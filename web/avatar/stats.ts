// Live figures the page shows and tests read (window.avatarStats): frame intervals, the time
// our per-frame code takes (face update, lip-sync bookkeeping) and the render call, and the
// latency from an audio chunk being cut to the mouth pose it yields being set.

export class RollingWindow {
  private readonly values: number[] = [];
  constructor(private readonly size: number) {}
  push(v: number): void {
    this.values.push(v);
    if (this.values.length > this.size) this.values.shift();
  }
  get count(): number {
    return this.values.length;
  }
  quantile(q: number): number {
    if (this.values.length === 0) return Number.NaN;
    const s = [...this.values].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(q * s.length))];
  }
  clear(): void {
    this.values.length = 0;
  }
}

export interface AvatarStats {
  frames: number;
  fpsMedian: number;
  frameMs: { p50: number; p95: number };
  updateMs: { p50: number; p95: number };
  renderMs: { p50: number; p95: number };
  lipSyncLatencyMs: { p50: number; p95: number; n: number };
  lipSyncSource: "model" | "timings" | "microphone" | "none";
  /** Microphone chunks that arrived while the model was still busy with the previous one. */
  queuedChunks: number;
  sentencesSpoken: number;
  speaking: boolean;
  maxMouthOpen: number;
  emotion: string | null;
  /** Share of the canvas's resolution the head is drawn at (1 = full; lowered to hold 60 FPS). */
  renderScale: number;
  /** Frames × meshes whose blend shapes changed and were blended and uploaded (cpuMorph.ts). */
  morphUploads: number;
  ready: boolean;
  error: string | null;
}

export class FrameStats {
  readonly frame = new RollingWindow(600);
  readonly update = new RollingWindow(600);
  readonly render = new RollingWindow(600);
  readonly latency = new RollingWindow(2000);
  frames = 0;
  queued = 0;

  reset(): void {
    for (const w of [this.frame, this.update, this.render, this.latency]) w.clear();
    this.frames = 0;
    this.queued = 0;
  }

  snapshot(
    extra: Omit<AvatarStats, "frames" | "fpsMedian" | "frameMs" | "updateMs" | "renderMs" | "lipSyncLatencyMs" | "queuedChunks">,
  ): AvatarStats {
    const p = (w: RollingWindow) => ({ p50: w.quantile(0.5), p95: w.quantile(0.95) });
    return {
      frames: this.frames,
      fpsMedian: 1000 / this.frame.quantile(0.5),
      frameMs: p(this.frame),
      updateMs: p(this.update),
      renderMs: p(this.render),
      lipSyncLatencyMs: { ...p(this.latency), n: this.latency.count },
      queuedChunks: this.queued,
      ...extra,
    };
  }
}
