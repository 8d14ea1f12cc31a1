// The bridge to `generate`: a LogitsMask that keeps one automaton state per row, advances
// it by the row's newly sampled token, and replays the row from the start whenever
// `generated` is not the last seen tokens plus one (a new request on a recycled row, a
// second `generate` call sharing the hook).

import type { LogitsMask } from "../sampling.js";
import type { ByteAutomaton } from "./automaton.js";
import { TokenMasker, type TokenMaskOptions } from "./tokenMask.js";
import type { TokenVocabulary } from "./vocabulary.js";

/** A generated token the constraint does not allow (the mask was not applied to that row). */
export class ConstraintViolationError extends Error {
  override name = "ConstraintViolationError";
}

/** A state that no token can leave and that is not accepting (only intersections can reach one). */
export class ConstraintDeadEndError extends Error {
  override name = "ConstraintDeadEndError";
}

interface RowState<S> {
  tokens: number[];
  state: S;
}

/**
 * The `logitsMask` option of `generate` for an automaton (or a prepared TokenMasker, whose
 * memo is then shared by every request that uses it).
 */
export function constrainedMask<S>(masker: TokenMasker<S>): LogitsMask;
export function constrainedMask<S>(
  automaton: ByteAutomaton<S>,
  vocabulary: TokenVocabulary,
  options?: TokenMaskOptions,
): LogitsMask;
export function constrainedMask<S>(
  source: TokenMasker<S> | ByteAutomaton<S>,
  vocabulary?: TokenVocabulary,
  options?: TokenMaskOptions,
): LogitsMask {
  let masker: TokenMasker<S>;
  if (source instanceof TokenMasker) masker = source;
  else if (vocabulary !== undefined) masker = new TokenMasker(source, vocabulary, options);
  else throw new TypeError("constrainedMask(automaton, vocabulary): the vocabulary is missing");
  const rows = new Map<number, RowState<S>>();

  const replay = (row: number, generated: readonly number[]): RowState<S> => {
    let state: S | undefined = masker.automaton.start;
    for (let i = 0; i < generated.length; i++) {
      state = masker.advance(state, generated[i]);
      if (state === undefined) {
        throw new ConstraintViolationError(
          `row ${row}: generated token ${i} (id ${generated[i]}) breaks the constraint; was the mask applied to this row?`,
        );
      }
    }
    return { tokens: [...generated], state };
  };

  return (row, generated) => {
    let current = rows.get(row);
    const extendsCurrent =
      current !== undefined &&
      generated.length === current.tokens.length + 1 &&
      current.tokens.every((t, i) => generated[i] === t);
    if (current !== undefined && extendsCurrent) {
      const token = generated[generated.length - 1];
      const next = masker.advance(current.state, token);
      if (next === undefined) {
        throw new ConstraintViolationError(
          `row ${row}: generated token ${generated.length - 1} (id ${token}) breaks the constraint; was the mask applied to this row?`,
        );
      }
      current.tokens.push(token);
      current.state = next;
    } else if (
      current === undefined ||
      generated.length !== current.tokens.length ||
      !current.tokens.every((t, i) => generated[i] === t)
    ) {
      current = replay(row, generated);
      rows.set(row, current);
    }
    const mask = masker.mask(current.state);
    if (mask.indexOf(1) < 0) {
      throw new ConstraintDeadEndError(
        `row ${row}: after ${generated.length} tokens no token is allowed and the text is not complete; ` +
          "the intersected constraints admit no common continuation here (loosen one of them)",
      );
    }
    return mask;
  };
}
