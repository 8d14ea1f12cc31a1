// Token masks from a byte automaton: token t is allowed in state s iff stepping s through all
// of t's bytes stays alive; eos is allowed iff s is accepting; other special tokens never.
// One mask = one depth-first walk of the vocabulary trie, pruned at dead prefixes; masks of
// keyed automata are memoised per state key (bounded, oldest dropped first).

import type { ByteAutomaton } from "./automaton.js";
import { type TokenTrie, tokenTrieOf } from "./tokenTrie.js";
import type { TokenVocabulary } from "./vocabulary.js";

export interface TokenMaskOptions {
  /** Memoise masks per state key (needs `automaton.key`). Default true. */
  memoize?: boolean;
  /** Most memoised masks kept (each is vocabulary-size bytes). Default 4096. */
  memoEntries?: number;
}

export const tokenMaskDefaults = Object.freeze({ memoize: true, memoEntries: 4096 });

/** Compiles an automaton's states to token masks over one vocabulary. */
export class TokenMasker<S> {
  private readonly trie: TokenTrie;
  private readonly memo: Map<string, Uint8Array> | null;
  private readonly memoEntries: number;
  /** Masks computed by a trie walk, and served from the memo. */
  readonly stats = { computed: 0, memoHits: 0 };

  constructor(
    readonly automaton: ByteAutomaton<S>,
    readonly vocabulary: TokenVocabulary,
    options: TokenMaskOptions = {},
  ) {
    const { memoize, memoEntries } = { ...tokenMaskDefaults, ...options };
    if (!Number.isInteger(memoEntries) || memoEntries < 1)
      throw new RangeError(`memoEntries must be an integer ≥ 1, got ${memoEntries}`);
    this.trie = tokenTrieOf(vocabulary);
    this.memo = memoize && automaton.key ? new Map() : null;
    this.memoEntries = memoEntries;
  }

  /** The tokens allowed in `state` (1 = allowed), length vocabulary.size. Shared when memoised: do not mutate. */
  mask(state: S): Uint8Array {
    const { memo, automaton } = this;
    if (memo === null || automaton.key === undefined) return this.compute(state);
    const key = automaton.key(state);
    const hit = memo.get(key);
    if (hit !== undefined) {
      this.stats.memoHits++;
      return hit;
    }
    const mask = this.compute(state);
    if (memo.size >= this.memoEntries) memo.delete(memo.keys().next().value as string);
    memo.set(key, mask);
    return mask;
  }

  /** The state after token `id`: eos leaves it unchanged; undefined when the token is not allowed. */
  advance(state: S, id: number): S | undefined {
    const { vocabulary, automaton } = this;
    if (id === vocabulary.eosId) return automaton.accepting(state) ? state : undefined;
    const bytes = vocabulary.bytes(id);
    if (bytes === null || bytes.length === 0) return undefined;
    let s: S | undefined = state;
    for (let i = 0; i < bytes.length && s !== undefined; i++) s = automaton.step(s, bytes[i]);
    return s;
  }

  private compute(state: S): Uint8Array {
    this.stats.computed++;
    const { trie, automaton, vocabulary } = this;
    const { edgeStart, edgeByte, edgeTarget, tokenStart, tokenIds } = trie;
    const mask = new Uint8Array(vocabulary.size);
    if (vocabulary.eosId !== undefined && automaton.accepting(state)) mask[vocabulary.eosId] = 1;
    // explicit stack of (trie node, automaton state after the node's bytes)
    const nodes: number[] = [0];
    const states: S[] = [state];
    while (nodes.length > 0) {
      const node = nodes.pop()!;
      const s = states.pop()!;
      for (let e = edgeStart[node]; e < edgeStart[node + 1]; e++) {
        const next = automaton.step(s, edgeByte[e]);
        if (next === undefined) continue;
        const child = edgeTarget[e];
        for (let t = tokenStart[child]; t < tokenStart[child + 1]; t++) mask[tokenIds[t]] = 1;
        if (edgeStart[child + 1] > edgeStart[child]) {
          nodes.push(child);
          states.push(next);
        }
      }
    }
    return mask;
  }
}

/** A TokenMasker for `automaton` over `vocabulary`. */
export function tokenMaskFor<S>(
  automaton: ByteAutomaton<S>,
  vocabulary: TokenVocabulary,
  options?: TokenMaskOptions,
): TokenMasker<S> {
  return new TokenMasker(automaton, vocabulary, options);
}
