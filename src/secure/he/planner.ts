// The planner: before running, say what a model will cost under a parameter set —
// per-ciphertext latency (op counts × per-op costs measured now, with node-seal, at the
// same ring degree), ciphertext and key sizes, and the multiplicative depth left over.

import type { HeModel } from "../../models/index.js";
import { HeClient } from "./client.js";
import { evaluateModel, type HeOpCounts, layoutFor, opCounts } from "./evaluate.js";
import { type HeParams, heStandardMaxBits128, multiplicativeDepth, totalModulusBits } from "./params.js";
import { type CipherText, must, SealScope } from "./seal.js";

/** Milliseconds per CKKS operation, measured in this process. */
export interface HeOpCosts {
  polyModulusDegree: number;
  rotationTopMs: number;
  rotationLowMs: number;
  multiplyPlainMs: number;
  /** multiply + relinearize + rescale, as one step. */
  multiplyRelinRescaleMs: number;
  rescaleMs: number;
  addMs: number;
  encodeMs: number;
  keygenMs: number;
  encryptMs: number;
  decryptMs: number;
}

export interface HeSizes {
  /** base64 characters as sent in JSON. */
  requestCiphertextChars: number;
  responseCiphertextChars: number;
  publicKeyChars: number;
  relinKeyChars: number;
  galoisKeyChars: number;
  secretKeyChars: number;
}

export interface HePlan {
  model: string;
  kind: HeModel["kind"];
  params: HeParams;
  security: { level: "128-bit classical (HE Standard, SEAL tc128)"; modulusBits: number; maxModulusBits: number };
  slots: number;
  samplesPerCiphertext: number;
  depth: { required: number; available: number; remaining: number };
  ops: HeOpCounts;
  costs: HeOpCosts;
  /** Σ op count × op cost, per ciphertext (up to samplesPerCiphertext samples). */
  predictedServerMs: number;
  sizes: HeSizes;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function timeIt(reps: number, fn: () => void): number {
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    ts.push(performance.now() - t0);
  }
  return median(ts);
}

/** Measure per-op costs (median of `reps`) and payload sizes with fresh keys. */
export async function calibrateOpCosts(params?: HeParams, reps = 5): Promise<{ costs: HeOpCosts; sizes: HeSizes }> {
  const client = await HeClient.create(params);
  const rt = client.rt;
  const { seal, context, encoder, evaluator: ev, scale } = rt;
  let keys = client.keygen();
  const keygenMs = timeIt(Math.min(reps, 3), () => {
    keys = client.keygen();
  });
  const s = new SealScope();
  try {
    const v = Float64Array.from({ length: rt.slots }, (_, i) => Math.sin(i));
    const pk = s.track(seal.PublicKey());
    pk.load(context, keys.publicKey);
    const sk = s.track(seal.SecretKey());
    sk.load(context, keys.secretKey);
    const gk = s.track(seal.GaloisKeys());
    gk.load(context, keys.galoisKeys);
    const rk = s.track(seal.RelinKeys());
    rk.load(context, keys.relinKeys);
    const encryptor = s.track(seal.Encryptor(context, pk));
    const decryptor = s.track(seal.Decryptor(context, sk));
    const pt = s.track(must(encoder.encode(v, scale), "encode"));
    const ct = s.track(must(encryptor.encrypt(pt), "encrypt"));
    const scoped = (fn: (t: SealScope) => void) => () => {
      const t = new SealScope();
      try {
        fn(t);
      } finally {
        t.dispose();
      }
    };
    const low = s.track(must(ev.multiplyPlain(ct, pt), "multiplyPlain"));
    ev.rescaleToNext(low, low);
    const costs: HeOpCosts = {
      polyModulusDegree: rt.params.polyModulusDegree,
      keygenMs,
      encodeMs: timeIt(
        reps,
        scoped((t) => t.track(must(encoder.encode(v, scale), "encode"))),
      ),
      encryptMs: timeIt(
        reps,
        scoped((t) => t.track(must(encryptor.encrypt(pt), "encrypt"))),
      ),
      rotationTopMs: timeIt(
        reps,
        scoped((t) => t.track(must(ev.rotateVector(ct, 1, gk), "rotate"))),
      ),
      rotationLowMs: timeIt(
        reps,
        scoped((t) => t.track(must(ev.rotateVector(low, 1, gk), "rotate"))),
      ),
      multiplyPlainMs: timeIt(
        reps,
        scoped((t) => t.track(must(ev.multiplyPlain(ct, pt), "multiplyPlain"))),
      ),
      multiplyRelinRescaleMs: timeIt(
        reps,
        scoped((t) => {
          const p = t.track(must(ev.multiply(ct, ct), "multiply"));
          ev.relinearize(p, rk, p);
          ev.rescaleToNext(p, p);
        }),
      ),
      rescaleMs: timeIt(
        reps,
        scoped((t) => {
          const p = t.track(must(ev.multiplyPlain(ct, pt), "multiplyPlain"));
          ev.rescaleToNext(p, p);
        }),
      ),
      addMs: timeIt(
        reps,
        scoped((t) => t.track(must(ev.add(ct, ct), "add"))),
      ),
      decryptMs: timeIt(
        reps,
        scoped((t) => {
          const d = t.track(must(decryptor.decrypt(low), "decrypt"));
          encoder.decode(d);
        }),
      ),
    };
    // The rescale timing above includes its multiplyPlain: subtract it.
    costs.rescaleMs = Math.max(0, costs.rescaleMs - costs.multiplyPlainMs);
    const last: CipherText = s.track(must(ev.cipherModSwitchTo(ct, s.track(context.lastParmsId)), "modSwitch"));
    const sizes: HeSizes = {
      requestCiphertextChars: ct.save().length,
      responseCiphertextChars: last.save().length,
      publicKeyChars: keys.publicKey.length,
      relinKeyChars: keys.relinKeys.length,
      galoisKeyChars: keys.galoisKeys.length,
      secretKeyChars: keys.secretKey.length,
    };
    return { costs, sizes };
  } finally {
    s.dispose();
  }
}

/** Predicted server milliseconds per ciphertext: op counts × measured costs. */
export function predictServerMs(ops: HeOpCounts, costs: HeOpCosts): number {
  return (
    ops.rotationsTop * costs.rotationTopMs +
    ops.rotationsLow * costs.rotationLowMs +
    ops.multiplyPlain * costs.multiplyPlainMs +
    ops.multiplyRelin * costs.multiplyRelinRescaleMs +
    (ops.rescale - ops.multiplyRelin) * costs.rescaleMs +
    ops.add * costs.addMs +
    ops.encodes * costs.encodeMs
  );
}

/** A plan for `model`: checks the depth fits before anything runs. */
export async function planModel(
  model: HeModel,
  params?: HeParams,
  calibration?: { costs: HeOpCosts; sizes: HeSizes },
): Promise<HePlan> {
  const client = await HeClient.create(params);
  const p = client.params;
  const ops = opCounts(model);
  const available = multiplicativeDepth(p);
  const { costs, sizes } = calibration ?? (await calibrateOpCosts(p));
  const layout = layoutFor(client.rt, model);
  return {
    model: model.name,
    kind: model.kind,
    params: p,
    security: {
      level: "128-bit classical (HE Standard, SEAL tc128)",
      modulusBits: totalModulusBits(p),
      maxModulusBits: heStandardMaxBits128[p.polyModulusDegree] ?? 0,
    },
    slots: client.rt.slots,
    samplesPerCiphertext: layout.samplesPerCiphertext,
    depth: { required: ops.depth, available, remaining: available - ops.depth },
    ops,
    costs,
    predictedServerMs: predictServerMs(ops, costs),
    sizes,
  };
}

export { evaluateModel };
