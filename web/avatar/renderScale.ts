// Dynamic resolution: the share of the canvas's pixels the head is drawn at, lowered one
// level when frames come too slowly and tried one level higher again later. Without a GPU
// (software WebGL) drawing the pixels is what costs; a smaller drawing buffer, scaled up by
// the browser, holds the frame rate where full resolution drops to every second vsync.
//
// Frame intervals are all a page can see (the GPU work is asynchronous), and at the display's
// rate they look the same with or without headroom: so a level up is a blind try, and each
// try that fails doubles the wait before the next one (no flicker between two levels).

export interface RenderScaleOptions {
  /** Frame rate to hold (the display's, usually 60). */
  targetFps?: number;
  /** Scales to step through, largest first. */
  levels?: readonly number[];
  /** Frames per window (the median interval over them is compared with the budget); two slow windows in a row step down. */
  windowFrames?: number;
  /** Frames at a level before trying the next one up, at first. */
  retryFrames?: number;
  /** Frames ignored at the start (loading models and compiling shaders is not drawing). */
  warmupFrames?: number;
}

/** Intervals longer than this are hitches (garbage collection, a compile, a hidden tab), not drawing cost. */
const HITCH_MS = 100;

const DEFAULT_LEVELS = [1, 0.85, 0.7, 0.55, 0.4] as const;

export class RenderScaler {
  readonly levels: readonly number[];
  private readonly budgetMs: number;
  private readonly windowFrames: number;
  private level = 0;
  private intervals: number[] = [];
  /** Frames since the last change of level. */
  private framesAtLevel = 0;
  /** Frames to wait at the current level before trying one up; doubles per failed try. */
  private retryAfter: number;
  /** The level being tried (just stepped up to), until it has held the target for a while. */
  private trying: number | null = null;
  private warmupLeft: number;
  /** Slow windows in a row (one alone may be a passing load, e.g. a sentence starting). */
  private slowWindows = 0;

  constructor(o: RenderScaleOptions = {}) {
    this.levels = o.levels ?? DEFAULT_LEVELS;
    if (this.levels.length === 0 || this.levels.some((s, i) => !(s > 0 && s <= 1) || (i > 0 && s >= this.levels[i - 1])))
      throw new Error(`render scale levels must be decreasing values in (0, 1], got [${this.levels.join(", ")}]`);
    // Frames slower than this (a fifth over one vsync) count as missing the target.
    this.budgetMs = (1000 / (o.targetFps ?? 60)) * 1.2;
    this.windowFrames = o.windowFrames ?? 30;
    this.retryAfter = o.retryFrames ?? 300;
    this.warmupLeft = o.warmupFrames ?? 120;
  }

  get scale(): number {
    return this.levels[this.level];
  }

  /** Record one frame interval (ms); returns the new scale when it changes, else null. */
  push(intervalMs: number): number | null {
    if (this.warmupLeft > 0) {
      this.warmupLeft--;
      return null;
    }
    if (!(intervalMs <= HITCH_MS)) return null;
    this.intervals.push(intervalMs);
    this.framesAtLevel++;
    if (this.intervals.length < this.windowFrames) return null;
    const sorted = [...this.intervals].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    this.intervals = [];
    if (median > this.budgetMs) {
      if (++this.slowWindows < 2 || this.level === this.levels.length - 1) return null;
      this.slowWindows = 0;
      // A failed try up: wait twice as long before the next one.
      if (this.trying === this.level) this.retryAfter *= 2;
      this.trying = null;
      return this.moveTo(this.level + 1);
    }
    this.slowWindows = 0;
    // A tried level that held the target for four windows is kept.
    if (this.trying === this.level && this.framesAtLevel >= this.windowFrames * 4) this.trying = null;
    if (this.level > 0 && this.framesAtLevel >= this.retryAfter) {
      this.trying = this.level - 1;
      return this.moveTo(this.level - 1);
    }
    return null;
  }

  private moveTo(level: number): number {
    this.level = level;
    this.framesAtLevel = 0;
    return this.scale;
  }
}
