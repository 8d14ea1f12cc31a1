// Token masks from a byte automaton: token t is allowed in state s iff stepping s through all
// of t's bytes stays alive; eos is allowed iff s is accepting; other special tokens never.
// One mask = one depth-first walk of the vocabulary trie, pruned at dead prefixes; masks of
// keyed automata are memoised per state key (bounded, oldest dropped first). For automata
// that know their shortest completion, `completionCosts` says what each token leaves to write.

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

/** `completionCosts` of a token the state does not allow. */
export const notAllowedCost = 0xffff;

/** Compiles an automaton's states to token masks over one vocabulary. */
export class TokenMasker<S> {
  private readonly trie: TokenTrie;
  private readonly memo: Map<string, Uint8Array> | null;
  private readonly costMemo: Map<string, Uint16Array> | null;
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
    this.costMemo = memoize && automaton.key ? new Map() : null;
    this.memoEntries = memoEntries;
  }

  /**
   * For each token, the fewest bytes still to write after it to reach an accepting state
   * (capped at 0xfffe); `notAllowedCost` for a token `state` does not allow. Eos costs 0 when
   * `state` accepts. Needs `automaton.minBytesToAccept`. Shared when memoised: do not mutate.
   */
  completionCosts(state: S): Uint16Array {
    if (this.automaton.minBytesToAccept === undefined) throw new TypeError("completionCosts needs automaton.minBytesToAccept");
    return this.memoised(this.costMemo, state, () => this.computeCosts(state));
  }

  private computeCosts(state: S): Uint16Array {
    const { automaton, vocabulary } = this;
    const minBytes = automaton.minBytesToAccept!.bind(automaton);
    const { tokenStart, tokenIds } = this.trie;
    const costs = new Uint16Array(vocabulary.size).fill(notAllowedCost);
    if (vocabulary.eosId !== undefined && automaton.accepting(state)) costs[vocabulary.eosId] = 0;
    this.walk(state, (child, next) => {
      if (tokenStart[child + 1] === tokenStart[child]) return;
      const cost = Math.min(notAllowedCost - 1, minBytes(next));
      for (let t = tokenStart[child]; t < tokenStart[child + 1]; t++) costs[tokenIds[t]] = cost;
    });
    return costs;
  }

  /** The tokens allowed in `state` (1 = allowed), length vocabulary.size. Shared when memoised: do not mutate. */
  mask(state: S): Uint8Array {
    return this.memoised(this.memo, state, () => this.compute(state), this.stats);
  }

  /** `compute()` once per state key while the memo holds it (oldest entry dropped first). */
  private memoised<T>(memo: Map<string, T> | null, state: S, compute: () => T, stats?: { memoHits: number }): T {
    const { automaton } = this;
    if (memo === null || automaton.key === undefined) return compute();
    const key = automaton.key(state);
    const hit = memo.get(key);
    if (hit !== undefined) {
      if (stats) stats.memoHits++;
      return hit;
    }
    const value = compute();
    if (memo.size >= this.memoEntries) memo.delete(memo.keys().next().value as string);
    memo.set(key, value);
    return value;
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
    const { automaton, vocabulary } = this;
    const { tokenStart, tokenIds } = this.trie;
    const mask = new Uint8Array(vocabulary.size);
    if (vocabulary.eosId !== undefined && automaton.accepting(state)) mask[vocabulary.eosId] = 1;
    this.walk(state, (child) => {
      for (let t = tokenStart[child]; t < tokenStart[child + 1]; t++) mask[tokenIds[t]] = 1;
    });
    return mask;
  }

  /**
   * Depth-first walk of the vocabulary trie from `state`, pruned where the automaton dies:
   * `visit(node, stateAfterItsBytes)` for every live node but the root.
   */
  private walk(state: S, visit: (node: number, next: S) => void): void {
    const { automaton } = this;
    const { edgeStart, edgeByte, edgeTarget } = this.trie;
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
        visit(child, next);
        if (edgeStart[child + 1] > edgeStart[child]) {
          nodes.push(child);
          states.push(next);
        }
      }
    }
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
