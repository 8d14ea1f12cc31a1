// CKKS parameters: one documented, 128-bit-secure set, validated at the boundary.
//
// Security. The Homomorphic Encryption Standard (Albrecht et al., 2018, table 1, ternary
// secret, classical 128-bit) bounds the total coefficient-modulus size by the ring degree:
// N=4096 → 109 bits, N=8192 → 218 bits, N=16384 → 438 bits. SEAL enforces exactly these
// bounds when a context is created with `SecurityLevel.tc128`; we create every context
// that way, so a set that exceeds them is rejected by SEAL itself, not just by this comment.
//
// The default set, `ckks8192`: N = 8192 (4096 complex slots, we use the real parts),
// coefficient modulus [60, 40, 40, 60] = 200 bits ≤ 218 (128-bit secure), scale 2^40.
// The first 60-bit prime holds the result's integer part plus 20 bits of precision, the
// two 40-bit primes are consumed by the two rescales (multiplicative depth 2: enough for
// the MLP, whose layer 1 is one plaintext multiply and whose square activation is one
// ciphertext multiply), and the last 60-bit prime is SEAL's special prime for key
// switching (relinearisation, rotations). A deeper model would need N = 16384.

import { z } from "zod";
import type { Context, Seal } from "./seal.js";

export const heParamsSchema = z
  .object({
    /** A short name carried in requests so the server can refuse keys of another set. */
    name: z.string().min(1),
    /** Ring degree N (a power of two); slots = N / 2. */
    polyModulusDegree: z.number().int().min(1024).max(32768),
    /** Bit sizes of the coefficient-modulus primes; the last is the special (key-switching) prime. */
    coeffModulusBits: z.array(z.number().int().min(20).max(60)).min(2),
    /** log2 of the CKKS scale used to encode inputs and weights. */
    scaleBits: z.number().int().min(20).max(60),
  })
  .strict()
  .refine((p) => (p.polyModulusDegree & (p.polyModulusDegree - 1)) === 0, "polyModulusDegree must be a power of two");
export type HeParams = z.infer<typeof heParamsSchema>;

/** The default: N = 8192, [60, 40, 40, 60] (200 bits ≤ 218, 128-bit secure), scale 2^40, depth 2. */
export const ckks8192: HeParams = Object.freeze({
  name: "ckks8192",
  polyModulusDegree: 8192,
  coeffModulusBits: [60, 40, 40, 60],
  scaleBits: 40,
});

/** HE Standard classical 128-bit bounds on the total coefficient-modulus bits, by N. */
export const heStandardMaxBits128: Readonly<Record<number, number>> = Object.freeze({
  1024: 27,
  2048: 54,
  4096: 109,
  8192: 218,
  16384: 438,
  32768: 881,
});

export const slotCount = (params: HeParams): number => params.polyModulusDegree / 2;
export const totalModulusBits = (params: HeParams): number => params.coeffModulusBits.reduce((a, b) => a + b, 0);
/** Rescales available: every prime except the first (data) and the last (special). */
export const multiplicativeDepth = (params: HeParams): number => params.coeffModulusBits.length - 2;
export const scaleOf = (params: HeParams): number => 2 ** params.scaleBits;

/** Build a SEAL context at 128-bit security; throws if SEAL rejects the parameters. */
export function createContext(seal: Seal, params: HeParams): Context {
  const parms = seal.EncryptionParameters(seal.SchemeType.ckks);
  const bits = Int32Array.from(params.coeffModulusBits);
  const moduli = seal.CoeffModulus.Create(params.polyModulusDegree, bits);
  try {
    parms.setPolyModulusDegree(params.polyModulusDegree);
    parms.setCoeffModulus(moduli);
    const context = seal.Context(parms, true, seal.SecurityLevel.tc128);
    if (!context.parametersSet()) {
      context.delete();
      throw new Error(
        `CKKS parameters ${params.name} are not valid at 128-bit security: N=${params.polyModulusDegree} allows at most ` +
          `${heStandardMaxBits128[params.polyModulusDegree] ?? "?"} modulus bits, got ${totalModulusBits(params)}`,
      );
    }
    return context;
  } finally {
    moduli.delete();
    parms.delete();
  }
}
