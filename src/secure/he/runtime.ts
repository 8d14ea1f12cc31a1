// A loaded parameter set: the SEAL library, the context, a CKKS encoder and an evaluator,
// created once per parameter set and shared (they hold no key material). No node: imports.

import { createContext, type HeParams, scaleOf, slotCount } from "./params.js";
import { type CKKSEncoder, type Context, type Evaluator, loadSeal, type Seal } from "./seal.js";

export interface HeRuntime {
  readonly seal: Seal;
  readonly params: HeParams;
  readonly context: Context;
  readonly encoder: CKKSEncoder;
  readonly evaluator: Evaluator;
  readonly slots: number;
  readonly scale: number;
}

const runtimes = new Map<string, Promise<HeRuntime>>();

/** The shared runtime for a parameter set (created on first use). */
export function heRuntime(params: HeParams): Promise<HeRuntime> {
  const key = JSON.stringify(params);
  let r = runtimes.get(key);
  if (!r) {
    r = (async () => {
      const seal = await loadSeal();
      const context = createContext(seal, params);
      const encoder = seal.CKKSEncoder(context);
      if (encoder.slotCount !== slotCount(params))
        throw new Error(`CKKS encoder has ${encoder.slotCount} slots, expected ${slotCount(params)}`);
      return {
        seal,
        params,
        context,
        encoder,
        evaluator: seal.Evaluator(context),
        slots: encoder.slotCount,
        scale: scaleOf(params),
      };
    })();
    runtimes.set(key, r);
  }
  return r;
}

/** Galois element of a left rotation by `step` slots in CKKS: 3^step mod 2N. */
export function galoisElement(step: number, polyModulusDegree: number): number {
  const m = 2 * polyModulusDegree;
  const s = ((step % (m / 4)) + m / 4) % (m / 4);
  let e = 1;
  for (let i = 0; i < s; i++) e = (e * 3) % m;
  return e;
}
