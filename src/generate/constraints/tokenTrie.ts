// The vocabulary's byte strings as a trie in flat arrays, so a mask is one depth-first walk
// that steps the automaton once per trie edge and skips every subtree whose prefix is dead.

import type { TokenVocabulary } from "./vocabulary.js";

export class TokenTrie {
  /** Edges of node n: indices [edgeStart[n], edgeStart[n + 1]) of edgeByte / edgeTarget. */
  readonly edgeStart: Int32Array;
  readonly edgeByte: Uint8Array;
  readonly edgeTarget: Int32Array;
  /** Tokens ending at node n: tokenIds[tokenStart[n] .. tokenStart[n + 1]). */
  readonly tokenStart: Int32Array;
  readonly tokenIds: Int32Array;
  readonly nodes: number;

  constructor(vocabulary: TokenVocabulary) {
    // build with maps, then flatten in breadth-first order
    const children: Map<number, number>[] = [new Map()];
    const ending: number[][] = [[]];
    for (let id = 0; id < vocabulary.size; id++) {
      const bytes = vocabulary.bytes(id);
      if (bytes === null || bytes.length === 0) continue;
      let node = 0;
      for (const b of bytes) {
        let next = children[node].get(b);
        if (next === undefined) {
          next = children.length;
          children.push(new Map());
          ending.push([]);
          children[node].set(b, next);
        }
        node = next;
      }
      ending[node].push(id);
    }
    const n = children.length;
    this.nodes = n;
    this.edgeStart = new Int32Array(n + 1);
    this.edgeByte = new Uint8Array(n - 1);
    this.edgeTarget = new Int32Array(n - 1);
    this.tokenStart = new Int32Array(n + 1);
    const tokens: number[] = [];
    let e = 0;
    for (let node = 0; node < n; node++) {
      this.edgeStart[node] = e;
      for (const [b, child] of [...children[node]].sort((x, y) => x[0] - y[0])) {
        this.edgeByte[e] = b;
        this.edgeTarget[e] = child;
        e++;
      }
      this.tokenStart[node] = tokens.length;
      tokens.push(...ending[node]);
    }
    this.edgeStart[n] = e;
    this.tokenStart[n] = tokens.length;
    this.tokenIds = Int32Array.from(tokens);
  }
}

const tries = new WeakMap<TokenVocabulary, TokenTrie>();

/** The trie of a vocabulary, built once per vocabulary object. */
export function tokenTrieOf(vocabulary: TokenVocabulary): TokenTrie {
  let trie = tries.get(vocabulary);
  if (trie === undefined) {
    trie = new TokenTrie(vocabulary);
    tries.set(vocabulary, trie);
  }
  return trie;
}
