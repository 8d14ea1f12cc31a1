// A small seeded generator: every case is a pure function of (seed, index, stream), so
// cases can be made in any order, in parallel, and each part (anatomy, findings, EHR,
// wording) draws from its own stream and changing one never shifts the others.

/** 32-bit integer hash (a round of murmur3's finaliser over a running state). */
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

/** Uniform [0,1) numbers, plus the draws the generator needs. */
export class Rng {
  private state: number;

  constructor(...seedParts: number[]) {
    this.state = hash32(...seedParts);
  }

  /** mulberry32 */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** integer in [low, high], both included */
  int(low: number, high: number): number {
    return low + Math.floor(this.next() * (high - low + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /** the second value of the last Box–Muller pair, not yet used */
  private spareNormal: number | null = null;

  /** standard normal (Box–Muller, both values of each pair used) */
  normal(): number {
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

  /** normal with mean and sd, clamped to [low, high] */
  clampedNormal(mean: number, sd: number, low: number, high: number): number {
    return Math.min(high, Math.max(low, mean + sd * this.normal()));
  }
}

/** Independent streams of one case. */
export const streams = { plan: 1, anatomy: 2, lesions: 3, noise: 4, ehr: 5, wording: 6 } as const;
