// Server-side evaluation on ciphertexts. Inputs are packed x ‖ x per sample (see
// models.ts), so a left rotation by k < width inside a block is cyclic over the features.
//
// Logistic (depth 1): t = ct ⊙ w; rescale; sum the width slots of each block with
//   log2(width) rotations; + b. Score of sample i lands in slot i · block.
// MLP (depth 2), Halevi–Shoup diagonals: with r_k = rot(ct, k),
//   h = Σ_k r_k ⊙ diag_k(W1ᵀ) + b1    (one plaintext multiply level)
//   g = Σ_k r_k ⊙ diag_k(diag(w2) W1ᵀ) + w2 ⊙ b1   (the same rotations, layer 2 folded in)
//   score = Σ_j (h ⊙ g)_j + b2 = Σ_j w2_j h_j² + b2   (one ciphertext multiply level)
// Folding w2 into one factor of the square saves the third level a separate layer-2
// multiply would need, so the MLP fits the 2 rescales of [60, 40, 40, 60].
// Every intermediate is tracked by a scope and freed before returning.

import type { HeModel } from "../../models/index.js";
import type { HeRuntime } from "./runtime.js";
import { type CipherText, type GaloisKeys, must, type PlainText, type RelinKeys, SealScope } from "./seal.js";
import { galoisStepsFor, modelWidth, type SlotLayout, slotLayout } from "./slotLayout.js";

/** Homomorphic operations a model performs per ciphertext (for the planner and the bench). */
export interface HeOpCounts {
  /** Rotations at the top level (fresh ciphertext). */
  rotationsTop: number;
  /** Rotations after rescaling (fewer primes: cheaper). */
  rotationsLow: number;
  multiplyPlain: number;
  /** Ciphertext × ciphertext multiplies, each followed by relinearisation. */
  multiplyRelin: number;
  rescale: number;
  add: number;
  /** Plaintexts encoded on the fly (weights, biases). */
  encodes: number;
  /** Rescales used (multiplicative depth consumed). */
  depth: number;
}

export function opCounts(model: HeModel): HeOpCounts {
  const n = modelWidth(model);
  const logN = Math.log2(n);
  if (model.kind === "logistic")
    return {
      rotationsTop: 0,
      rotationsLow: logN,
      multiplyPlain: 1,
      multiplyRelin: 0,
      rescale: 1,
      add: logN + 1,
      encodes: 2,
      depth: 1,
    };
  return {
    rotationsTop: n - 1,
    rotationsLow: logN,
    multiplyPlain: 2 * n,
    multiplyRelin: 1,
    rescale: 3,
    add: 2 * (n - 1) + 2 + logN + 1,
    encodes: 2 * n + 3,
    depth: 2,
  };
}

export interface EvalKeys {
  galoisKeys: GaloisKeys;
  relinKeys?: RelinKeys;
}

/** The layout a model uses under a runtime. */
export function layoutFor(rt: HeRuntime, model: HeModel): SlotLayout {
  return slotLayout(modelWidth(model), rt.slots);
}

/** Encode `values` repeated in every block at offsets [0, values.length), zero elsewhere. */
function blockPlain(rt: HeRuntime, s: SealScope, layout: SlotLayout, values: readonly number[], scale: number, ct?: CipherText) {
  const v = new Float64Array(rt.slots);
  for (let b = 0; b < layout.samplesPerCiphertext; b++)
    for (let j = 0; j < values.length; j++) v[b * layout.block + j] = values[j];
  const pt = s.track(must(rt.encoder.encode(v, scale), "encode"));
  if (ct) {
    const pid = s.track(ct.parmsId);
    rt.evaluator.plainModSwitchTo(pt, pid, pt);
  }
  return pt;
}

/** Sum the first `width` slots of every block into the block's first slot. */
function blockSum(rt: HeRuntime, s: SealScope, ct: CipherText, width: number, keys: GaloisKeys): CipherText {
  let acc = ct;
  for (const step of galoisStepsFor(width)) {
    const r = s.track(must(rt.evaluator.rotateVector(acc, step, keys), "rotateVector"));
    const sum = s.track(must(rt.evaluator.add(acc, r), "add"));
    acc = sum;
  }
  return acc;
}

function addPlainAt(rt: HeRuntime, s: SealScope, layout: SlotLayout, ct: CipherText, values: readonly number[]): CipherText {
  const pt = blockPlain(rt, s, layout, values, ct.scale, ct);
  return s.track(must(rt.evaluator.addPlain(ct, pt), "addPlain"));
}

/**
 * Evaluate `model` on one input ciphertext. Returns a new ciphertext (owned by the caller:
 * delete it) at the lowest level, holding sample i's score in slot i · block.
 */
export function evaluateModel(rt: HeRuntime, model: HeModel, input: CipherText, keys: EvalKeys): CipherText {
  const s = new SealScope();
  try {
    const layout = layoutFor(rt, model);
    const ev = rt.evaluator;
    let out: CipherText;
    if (model.kind === "logistic") {
      const w = blockPlain(rt, s, layout, model.weights, rt.scale);
      const t = s.track(must(ev.multiplyPlain(input, w), "multiplyPlain"));
      ev.rescaleToNext(t, t);
      out = addPlainAt(rt, s, layout, blockSum(rt, s, t, layout.width, keys.galoisKeys), [model.bias]);
    } else {
      if (!keys.relinKeys) throw new Error("the MLP needs relinearisation keys");
      const n = layout.width;
      const inDim = model.features.length;
      const hidden = model.b1.length;
      const w1 = (i: number, k: number) => (i < inDim && k < hidden ? model.w1[i][k] : 0);
      const w2 = (k: number) => (k < hidden ? model.w2[k] : 0);
      // r_k = rot(ct, k), each built from an earlier one with a single power-of-two key.
      const rotations: CipherText[] = [input];
      for (let k = 1; k < n; k++) {
        const low = k & -k;
        rotations.push(s.track(must(ev.rotateVector(rotations[k - low], low, keys.galoisKeys), "rotateVector")));
      }
      let h: CipherText | undefined;
      let g: CipherText | undefined;
      for (let k = 0; k < n; k++) {
        const diagH: number[] = [];
        const diagG: number[] = [];
        for (let j = 0; j < n; j++) {
          diagH.push(w1((j + k) % n, j));
          diagG.push(w2(j) * w1((j + k) % n, j));
        }
        const th = s.track(must(ev.multiplyPlain(rotations[k], blockPlain(rt, s, layout, diagH, rt.scale)), "multiplyPlain"));
        const tg = s.track(must(ev.multiplyPlain(rotations[k], blockPlain(rt, s, layout, diagG, rt.scale)), "multiplyPlain"));
        h = h ? s.track(must(ev.add(h, th), "add")) : th;
        g = g ? s.track(must(ev.add(g, tg), "add")) : tg;
      }
      ev.rescaleToNext(h!, h!);
      ev.rescaleToNext(g!, g!);
      const hb = addPlainAt(rt, s, layout, h!, model.b1);
      const gb = addPlainAt(
        rt,
        s,
        layout,
        g!,
        model.b1.map((b, k) => b * model.w2[k]),
      );
      const p = s.track(must(ev.multiply(hb, gb), "multiply"));
      ev.relinearize(p, keys.relinKeys, p);
      ev.rescaleToNext(p, p);
      out = addPlainAt(rt, s, layout, blockSum(rt, s, p, n, keys.galoisKeys), [model.b2]);
    }
    // Drop to the last level: the response carries one prime instead of several.
    const last = s.track(rt.context.lastParmsId);
    const result = must(ev.cipherModSwitchTo(out, last), "cipherModSwitchTo");
    return result;
  } finally {
    s.dispose();
  }
}

export type { PlainText };
