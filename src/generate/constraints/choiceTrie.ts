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

  /** The bytes that may start an alternative. */
  firstBytes(): number[] {
    return [...this.children[0].keys()];
  }
}
