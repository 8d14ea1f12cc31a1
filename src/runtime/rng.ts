// The one seeded random number generator (mulberry32), for parameter init, sampling and
// synthetic data. Streams are keyed so adding one never shifts the values of the others:
// by (seed, name) for parameters (`Rng.forName`), by a tuple of integers for synthetic
// cases (`Rng.fromParts(seed, index, stream)`).

/** A 32-bit FNV-1a hash of a string, for deriving per-name streams. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** 32-bit integer hash of integers (a round of murmur3's finaliser over a running state). */
export function hash32(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    // Split numbers beyond 32 bits so seeds up to 2^53 hash without collisions.
    const low = part >>> 0;
    const high = Math.floor(part / 0x100000000) >>> 0;
    for (const word of [low, high]) {
      h = Math.imul(h ^ word, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
    }
  }
  return h >>> 0;
}

/** mulberry32: small, fast, good enough for init, sampling and synthetic data. */
export class Rng {
  private state: number;
  /** The second value of the last Box–Muller pair of `pairedNormal`, not yet used. */
  private spareNormal: number | null = null;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  static forName(seed: number, name: string): Rng {
    return new Rng((hashString(name) ^ Math.imul(seed >>> 0, 0x9e3779b1)) >>> 0);
  }
  /** A stream that is a pure function of integers, e.g. (seed, case index, stream). */
  static fromParts(...parts: number[]): Rng {
    return new Rng(hash32(...parts));
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [0, bound). */
  int(bound: number): number {
    return Math.floor(this.next() * bound);
  }
  /** Integer in [low, high], both included. */
  intBetween(low: number, high: number): number {
    return low + Math.floor(this.next() * (high - low + 1));
  }
  /** Uniform in [low, high). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }
  /** True with the given probability. */
  chance(probability: number): boolean {
    return this.next() < probability;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
  /** Standard normal (Box-Muller, one value per pair of draws). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  /** Standard normal (Box–Muller, both values of each pair used: half the draws of `normal`). */
  pairedNormal(): number {
    if (this.spareNormal !== null) {
      const spare = this.spareNormal;
      this.spareNormal = null;
      return spare;
    }
    const radius = Math.sqrt(-2 * Math.log(1 - this.next()));
    const angle = 2 * Math.PI * this.next();
    this.spareNormal = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }
  /** `pairedNormal` with mean and sd, clamped to [low, high]. */
  clampedNormal(mean: number, sd: number, low: number, high: number): number {
    return Math.min(high, Math.max(low, mean + sd * this.pairedNormal()));
  }
}
