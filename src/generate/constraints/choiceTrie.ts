// A trie of byte strings, each with an outcome (the index of the alternative it spells):
// the matcher of enums, literals (true / false / null) and object keys in JSON mode, and of
// word lists in the terminology constraint.

export class ChoiceTrie {
  /** children[n]: byte → child node. Node 0 is the root. */
  private readonly children: Map<number, number>[] = [new Map()];
  /** outcome[n]: the alternative ending at node n, or -1. */
  private readonly outcome: number[] = [-1];

  constructor(alternatives: readonly Uint8Array[] = []) {
    for (const [i, bytes] of alternatives.entries()) this.add(bytes, i);
  }

  /** Adds an alternative; an alternative spelled twice keeps its first outcome. */
  add(bytes: Uint8Array, outcome: number): void {
    let node = 0;
    for (const b of bytes) {
      let next = this.children[node].get(b);
      if (next === undefined) {
        next = this.children.length;
        this.children.push(new Map());
        this.outcome.push(-1);
        this.children[node].set(b, next);
      }
      node = next;
    }
    if (this.outcome[node] < 0) this.outcome[node] = outcome;
  }

  /** The child of `node` by `byte`, or -1. */
  child(node: number, byte: number): number {
    return this.children[node].get(byte) ?? -1;
  }

  /** The alternative spelled up to `node`, or -1. */
  outcomeAt(node: number): number {
    return this.outcome[node];
  }

  isLeaf(node: number): boolean {
    return this.children[node].size === 0;
  }

  /**
   * The fewest bytes from `node` to the end of an alternative, plus `costAfter(outcome)` for
   * the alternative so ended (default 0); Infinity when none is below `node`. Outcome -1 is
   * "no alternative ends here"; every other value (keys of JSON objects use -2 for "}") is one.
   */
  minRemaining(node: number, costAfter: (outcome: number) => number = () => 0): number {
    let best = Number.POSITIVE_INFINITY;
    const nodes = [node];
    const depths = [0];
    while (nodes.length > 0) {
      const n = nodes.pop()!;
      const depth = depths.pop()!;
      if (depth >= best) continue;
      if (this.outcome[n] !== -1) best = Math.min(best, depth + costAfter(this.outcome[n]));
      for (const child of this.children[n].values()) {
        nodes.push(child);
        depths.push(depth + 1);
      }
    }
    return best;
  }

  /** The bytes that may start an alternative. */
  firstBytes(): number[] {
    return [...this.children[0].keys()];
  }
}
