// Log probabilities of sampled tokens, for the OpenAI `logprobs` fields: the chosen token's
// log probability and the most likely alternatives, all under one distribution (the caller
// passes the logits the token was drawn from: see `sampledLogits`).

/** One token and its log probability. */
export interface TokenLogprob {
  id: number;
  logprob: number;
}

/** The chosen token's log probability and the `top` most likely tokens, most likely first. */
export interface SampledLogprobs {
  logprob: number;
  top: TokenLogprob[];
}

/**
 * Log-softmax (in float64) of `logits` at `token`, and the `topCount` most likely tokens (ties:
 * lower id first). Tokens with logit -Infinity (masked, filtered) have probability 0 and are
 * never among the alternatives, so `top` may be shorter than `topCount`. Log probabilities are
 * clamped to ≤ 0 (a certain token may round to a hair above).
 */
export function logprobsOf(logits: Float32Array, token: number, topCount: number): SampledLogprobs {
  if (!Number.isInteger(topCount) || topCount < 0) throw new RangeError(`topCount must be an integer ≥ 0, got ${topCount}`);
  if (!Number.isInteger(token) || token < 0 || token >= logits.length) {
    throw new RangeError(`token ${token} is outside the logits [0, ${logits.length})`);
  }
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  if (!Number.isFinite(max)) {
    // +Infinity: the mass is split evenly over the infinite logits (as `softmax` does).
    if (max === Number.POSITIVE_INFINITY) return certainLogprobs(logits, token, topCount);
    throw new RangeError("logprobsOf: every logit is -Infinity");
  }
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const logZ = max + Math.log(sum);
  const logprob = (i: number): number => Math.min(0, logits[i] - logZ);
  return { logprob: logprob(token), top: topIds(logits, topCount).map((id) => ({ id, logprob: logprob(id) })) };
}

function certainLogprobs(logits: Float32Array, token: number, topCount: number): SampledLogprobs {
  let count = 0;
  for (const x of logits) if (x === Number.POSITIVE_INFINITY) count++;
  const lp = (i: number): number => (logits[i] === Number.POSITIVE_INFINITY ? -Math.log(count) : Number.NEGATIVE_INFINITY);
  const top = topIds(logits, topCount).filter((id) => logits[id] === Number.POSITIVE_INFINITY);
  return { logprob: lp(token), top: top.map((id) => ({ id, logprob: lp(id) })) };
}

/** Ids of the `k` highest finite-or-+Infinity logits, highest first, ties by lower id (k ≪ V: insertion into a short list). */
function topIds(logits: Float32Array, k: number): number[] {
  const ids: number[] = [];
  if (k === 0) return ids;
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i];
    if (x === Number.NEGATIVE_INFINITY || Number.isNaN(x)) continue;
    if (ids.length === k && x <= logits[ids[k - 1]]) continue;
    let at = ids.length === k ? k - 1 : ids.length;
    while (at > 0 && logits[ids[at - 1]] < x) at--;
    ids.splice(at, 0, i);
    if (ids.length > k) ids.pop();
  }
  return ids;
}
