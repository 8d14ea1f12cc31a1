// The automaton core of constrained decoding: a deterministic automaton over UTF-8 bytes.
// Every constraint (terminology, section grammar, JSON schema) is one of these; the token
// masks are compiled from it (tokenMask.ts), so a constraint never sees tokens.
//
// Contract every automaton here keeps: from every live state some accepting state is
// reachable. Then the token mask of a live state is never empty (every byte has a
// single-byte token in a byte-level BPE), so decoding can always finish. `intersect` may
// break the contract (two constraints can agree on a prefix and then on nothing);
// `constrainedMask` reports such a dead end as a ConstraintDeadEndError.

/** A deterministic automaton over bytes. States are immutable values. */
export interface ByteAutomaton<S> {
  readonly start: S;
  /** The state after `byte` (0–255), or undefined when no accepted text continues this way. */
  step(state: S, byte: number): S | undefined;
  /** Whether the text read so far is a complete accepted text (eos may come now). */
  accepting(state: S): boolean;
  /**
   * A key equal for two states exactly when they behave the same (optional). Given, the
   * token masks are memoised per key; omitted, each mask is computed afresh.
   */
  key?(state: S): string;
  /**
   * The fewest bytes that take `state` to an accepting state: 0 when it accepts (optional).
   * Every byte is a single-byte token in a byte-level BPE, so that many tokens always suffice:
   * with it, a mask can steer a generation to finish within its token budget (budget.ts).
   */
  minBytesToAccept?(state: S): number;
}

/** Runs `automaton` over `bytes` from `state` (default: the start); undefined when it dies. */
export function runBytes<S>(automaton: ByteAutomaton<S>, bytes: Iterable<number>, state: S = automaton.start): S | undefined {
  let s: S | undefined = state;
  for (const b of bytes) {
    s = automaton.step(s, b);
    if (s === undefined) return undefined;
  }
  return s;
}

const utf8 = new TextEncoder();

/** Whether `automaton` accepts `text` (as UTF-8 bytes) as a complete text. */
export function acceptsText<S>(automaton: ByteAutomaton<S>, text: string): boolean {
  const s = runBytes(automaton, utf8.encode(text));
  return s !== undefined && automaton.accepting(s);
}

/** Whether `text` is a prefix of some text `automaton` accepts. */
export function acceptsPrefix<S>(automaton: ByteAutomaton<S>, text: string): boolean {
  return runBytes(automaton, utf8.encode(text)) !== undefined;
}

/**
 * The product automaton: accepts the texts both accept (e.g. terminology ∩ sections). Keyed
 * when both are keyed. May hold dead ends where neither alone has one (see the file comment).
 */
export function intersect<A, B>(a: ByteAutomaton<A>, b: ByteAutomaton<B>): ByteAutomaton<readonly [A, B]> {
  const keyA = a.key?.bind(a);
  const keyB = b.key?.bind(b);
  return {
    start: [a.start, b.start],
    step([sa, sb], byte) {
      const na = a.step(sa, byte);
      if (na === undefined) return undefined;
      const nb = b.step(sb, byte);
      return nb === undefined ? undefined : [na, nb];
    },
    accepting: ([sa, sb]) => a.accepting(sa) && b.accepting(sb),
    // the length prefix makes the pair key unambiguous whatever the parts' keys contain
    key:
      keyA && keyB
        ? ([sa, sb]) => {
            const ka = keyA(sa);
            return `${ka.length}:${ka}${keyB(sb)}`;
          }
        : undefined,
  };
}
