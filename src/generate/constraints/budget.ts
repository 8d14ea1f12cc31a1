// A constraint that also keeps to a token budget: among the tokens the automaton allows, only
// those after which the text can still be completed in the tokens left, with one more for eos
// (a token that leaves the text complete needs no more room). Every byte is a single-byte
// token, so the fewest bytes to completion (the automaton's `minBytesToAccept`) is a number of
// tokens that always suffices. So "complete within the tokens left" holds at every step: as
// the budget runs low the mask narrows to the ways of closing a JSON value, which then admits
// only eos; free text (complete at every character) runs to the limit as it would unmasked,
// never ending inside a character. When even the shortest completion no longer fits (a budget
// too small from the start), the plain mask applies and the generation ends honestly at the
// limit, unfinished.

import type { LogitsMask } from "../sampling.js";
import { ConstraintViolationError } from "./constrainedMask.js";
import { notAllowedCost, type TokenMasker } from "./tokenMask.js";

/**
 * The `logitsMask` of ONE generation of at most `limit` tokens (eos included) under `masker`'s
 * automaton, which must have `minBytesToAccept`. Replays from the start when `generated` is not
 * the previous call's tokens plus one.
 */
export function budgetedMask<S>(masker: TokenMasker<S>, limit: number): LogitsMask {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be an integer ≥ 1, got ${limit}`);
  if (masker.automaton.minBytesToAccept === undefined) throw new TypeError("budgetedMask needs automaton.minBytesToAccept");
  const { eosId } = masker.vocabulary;
  let tokens: number[] = [];
  let state = masker.automaton.start;

  const advance = (s: S, token: number, at: number): S => {
    const next = masker.advance(s, token);
    if (next === undefined) throw new ConstraintViolationError(`generated token ${at} (id ${token}) breaks the constraint`);
    return next;
  };

  return (_row, generated) => {
    const extends1 = generated.length === tokens.length + 1 && tokens.every((t, i) => generated[i] === t);
    if (extends1) {
      state = advance(state, generated[generated.length - 1], tokens.length);
      tokens.push(generated[generated.length - 1]);
    } else if (generated.length !== tokens.length || !tokens.every((t, i) => generated[i] === t)) {
      state = masker.automaton.start;
      generated.forEach((t, i) => {
        state = advance(state, t, i);
      });
      tokens = [...generated];
    }
    // After this token, `left` tokens remain, one of them for eos.
    const left = limit - generated.length - 1;
    const costs = masker.completionCosts(state);
    const mask = new Uint8Array(costs.length);
    let any = false;
    for (let t = 0; t < costs.length; t++) {
      const cost = costs[t];
      if (cost === notAllowedCost) continue;
      if (t === eosId || cost === 0 || cost + 1 <= left) {
        mask[t] = 1;
        any = true;
      }
    }
    return any ? mask : masker.mask(state);
  };
}
