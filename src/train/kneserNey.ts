// Interpolated modified Kneser-Ney n-gram model over token ids (Chen & Goodman, 1998): the
// anchor every neural LM of this project is measured against, on the same tokens.
//
//   P(w | h) = max(c(h w) − D(c(h w)), 0) / c(h ·)  +  γ(h) · P(w | h′)       h′ = h without its first token
//   γ(h)     = (D1 · N1(h ·) + D2 · N2(h ·) + D3+ · N3+(h ·)) / c(h ·)
//
// The highest order counts occurrences; lower orders count continuations (how many distinct
// tokens precede the n-gram), which is what makes "Francisco" unlikely after an unseen word.
// Below the unigram sits the uniform distribution over the vocabulary, so no token has
// probability 0. Discounts per order come from the counts of counts:
//   Y = n1 / (n1 + 2 n2),  D1 = 1 − 2Y n2/n1,  D2 = 2 − 3Y n3/n2,  D3+ = 3 − 4Y n4/n3.

/** Counts of one order: n-gram → count, and per context the totals γ needs. */
interface OrderCounts {
  counts: Map<string, number>;
  /** context → [sum of counts, N1, N2, N3+] */
  contexts: Map<string, [number, number, number, number]>;
  discount: [number, number, number];
}

const keyOf = (tokens: ArrayLike<number>, start: number, end: number): string => {
  let key = "";
  for (let i = start; i < end; i++) key += i === start ? `${tokens[i]}` : `,${tokens[i]}`;
  return key;
};

function discounts(counts: Map<string, number>): [number, number, number] {
  const n = [0, 0, 0, 0, 0];
  for (const c of counts.values()) if (c <= 4) n[c]++;
  const [, n1, n2, n3, n4] = n;
  if (n1 === 0 || n2 === 0 || n3 === 0 || n4 === 0) return [0.5, 1, 1.5]; // too little data for the estimate
  const y = n1 / (n1 + 2 * n2);
  const clamp = (d: number, max: number) => Math.min(Math.max(d, 0.05), max);
  return [clamp(1 - (2 * y * n2) / n1, 1), clamp(2 - (3 * y * n3) / n2, 2), clamp(3 - (4 * y * n4) / n3, 3)];
}

export class KneserNeyLm {
  private constructor(
    readonly order: number,
    readonly vocab: number,
    /** orders[k] holds the (k + 1)-grams. */
    private readonly orders: OrderCounts[],
  ) {}

  /** Count the n-grams of every stream (n-grams never cross a stream boundary). */
  static train(streams: readonly ArrayLike<number>[], options: { order: number; vocab: number }): KneserNeyLm {
    const { order, vocab } = options;
    if (!Number.isInteger(order) || order < 1) throw new RangeError(`order must be a positive integer, got ${order}`);
    const top = new Map<string, number>();
    for (const s of streams) {
      for (let i = 0; i + order <= s.length; i++) {
        const key = keyOf(s, i, i + order);
        top.set(key, (top.get(key) ?? 0) + 1);
      }
    }
    const raw: Map<string, number>[] = Array.from({ length: order }, () => new Map());
    raw[order - 1] = top;
    // Continuation counts: the distinct left extensions of each lower-order n-gram. The n-gram
    // at a stream's start has no left neighbour; it counts as one continuation (as after <s>).
    for (let n = order - 1; n >= 1; n--) {
      const lower = raw[n - 1];
      for (const key of raw[n].keys()) {
        const suffix = key.slice(key.indexOf(",") + 1);
        lower.set(suffix, (lower.get(suffix) ?? 0) + 1);
      }
      for (const s of streams) {
        if (s.length >= n) {
          const key = keyOf(s, 0, n);
          lower.set(key, (lower.get(key) ?? 0) + 1);
        }
      }
    }
    const orders = raw.map((counts) => {
      const contexts = new Map<string, [number, number, number, number]>();
      for (const [key, c] of counts) {
        if (c === 0) continue;
        const cut = key.lastIndexOf(",");
        const ctx = cut < 0 ? "" : key.slice(0, cut);
        let t = contexts.get(ctx);
        if (!t) {
          t = [0, 0, 0, 0];
          contexts.set(ctx, t);
        }
        t[0] += c;
        t[Math.min(c, 3)]++; // N1, N2, N3+
      }
      return { counts, contexts, discount: discounts(counts) };
    });
    return new KneserNeyLm(order, vocab, orders);
  }

  /** P(token | history), the history's last order − 1 tokens used. */
  probability(history: ArrayLike<number>, token: number): number {
    let p = 1 / this.vocab;
    // From the unigram up: each order interpolates with the one below.
    for (let n = 1; n <= this.order; n++) {
      const start = history.length - (n - 1);
      if (start < 0) break;
      const o = this.orders[n - 1];
      const ctx = keyOf(history, start, history.length);
      const totals = o.contexts.get(ctx);
      if (!totals) break; // unseen context: the longer ones are unseen too
      const [sum, n1, n2, n3] = totals;
      const key = ctx === "" ? `${token}` : `${ctx},${token}`;
      const c = o.counts.get(key) ?? 0;
      const [d1, d2, d3] = o.discount;
      const d = c === 0 ? 0 : c === 1 ? d1 : c === 2 ? d2 : d3;
      const gamma = (d1 * n1 + d2 * n2 + d3 * n3) / sum;
      p = Math.max(c - d, 0) / sum + gamma * p;
    }
    return p;
  }

  /** Mean negative log-probability (nats/token) of every token of each sequence after its first. */
  crossEntropy(sequences: readonly ArrayLike<number>[]): number {
    let nll = 0;
    let count = 0;
    for (const seq of sequences) {
      const ids = Array.from(seq);
      for (let i = 1; i < ids.length; i++) {
        nll -= Math.log(this.probability(ids.slice(Math.max(0, i - this.order + 1), i), ids[i]));
        count++;
      }
    }
    return nll / count;
  }
}
