// Any valid UTF-8 text: the constraint that keeps a byte-level model from writing a broken
// character. A byte-level BPE model can sample a continuation byte with no lead, or a lead
// byte followed by ASCII; both decode as U+FFFD. Masked by this automaton, a lead byte may
// only be followed by its continuations, and eos only comes at a character boundary.

import type { ByteAutomaton } from "./automaton.js";
import { utf8AtBoundary, utf8Start, utf8Step } from "./utf8.js";

export const utf8TextAutomaton: ByteAutomaton<number> = {
  start: utf8Start,
  step: (state, byte) => {
    const next = utf8Step(state, byte);
    return next < 0 ? undefined : next;
  },
  accepting: utf8AtBoundary,
  // The continuation bytes the current character still needs.
  minBytesToAccept: (state) => (state >> 3) & 3,
  // What follows depends on the bytes still expected and their range, not on the character read.
  key: (state) => String(state & 0x1f),
};
