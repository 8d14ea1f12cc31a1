// The wire format of POST /v1/secure/infer, validated with zod. No node: imports (the
// client side is browser-safe): the server words a failed parse (runtime's issueLines).

import { z } from "zod";

/** Limits a request must respect (also the body limit's basis). */
export const inferLimits = Object.freeze({
  maxCiphertexts: 16,
  /** base64 characters per field: a fresh N=8192 ciphertext is ~0.45 MB, Galois keys for 3 steps ~2.8 MB. */
  maxCiphertextChars: 2_000_000,
  maxKeyChars: 24_000_000,
  maxModelName: 100,
});

const b64 = (max: number) =>
  z
    .string({ error: "expected a base64 string" })
    .min(1, "expected a base64 string")
    .max(max, `expected at most ${max} base64 characters`);

export const inferRequestSchema = z
  .object(
    {
      model: z.string().min(1).max(inferLimits.maxModelName),
      /** The parameter set the keys and ciphertexts were made with (default: the server's). */
      params: z.string().min(1).max(100).optional(),
      galoisKeys: b64(inferLimits.maxKeyChars).optional(),
      relinKeys: b64(inferLimits.maxKeyChars).optional(),
      /** Accepted for compatibility and ignored: evaluation never needs the public key. */
      publicKey: b64(inferLimits.maxKeyChars).optional(),
      keyId: z
        .string()
        .regex(/^[0-9a-f]{64}$/, "expected 64 hex characters (the keyId of an earlier response)")
        .optional(),
      ciphertexts: z
        .array(b64(inferLimits.maxCiphertextChars), { error: "expected an array of base64 ciphertexts" })
        .min(1, "expected at least one ciphertext")
        .max(inferLimits.maxCiphertexts, `expected at most ${inferLimits.maxCiphertexts} ciphertexts`),
      count: z.number().int().min(0).optional(),
      /** Rotation steps the Galois keys cover (informational; the server checks the keys themselves). */
      galoisSteps: z.array(z.number().int()).max(64).optional(),
    },
    { error: "expected a JSON object { model, ciphertexts, galoisKeys or keyId, … } (aigc he encrypt writes one)" },
  )
  .strict()
  .refine((r) => r.keyId !== undefined || r.galoisKeys !== undefined, {
    message: "send galoisKeys (and relinKeys for the MLP), or the keyId of keys sent earlier",
    path: ["galoisKeys"],
  });
export type InferRequestBody = z.infer<typeof inferRequestSchema>;
