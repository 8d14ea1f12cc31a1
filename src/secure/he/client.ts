// The client SDK: key generation, encryption of standardised features, decryption of
// scores. It holds the secret key; the server never does. No node: imports, so the same
// module bundles for the browser (node-seal's "browser" entry loads the web WASM build).

import { type HeModel, sigmoid, standardise } from "../../models/index.js";
import { loadChecked } from "./codec.js";
import { ckks8192, type HeParams } from "./params.js";
import { type HeRuntime, heRuntime } from "./runtime.js";
import { must, withSeal } from "./seal.js";
import { galoisStepsFor, modelWidth, packSamples, type SlotLayout, slotLayout, unpackScores } from "./slotLayout.js";

/** What the client keeps: the secret key never leaves it. All values are base64 SEAL objects. */
export interface HeKeySet {
  params: string;
  secretKey: string;
  publicKey: string;
  relinKeys: string;
  galoisKeys: string;
  galoisSteps: number[];
}

/** What the server may see: evaluation keys only (and the public key, which it never needs). */
export type HePublicKeys = Omit<HeKeySet, "secretKey">;

/** The public part of a model the client needs to encrypt for it (no weights). */
export interface HeModelCard {
  name: string;
  kind: HeModel["kind"];
  features: string[];
  featureMean: number[];
  featureStd: number[];
  /** Slot-layout width (power of two ≥ input and hidden widths). */
  width: number;
}

export const modelCard = (model: HeModel & { name: string }): HeModelCard => ({
  name: model.name,
  kind: model.kind,
  features: model.features,
  featureMean: model.featureMean,
  featureStd: model.featureStd,
  width: modelWidth(model),
});

/** The request body of POST /v1/secure/infer. */
export interface HeInferRequest {
  model: string;
  params: string;
  galoisKeys?: string;
  relinKeys?: string;
  /** A key id from an earlier response: the server still holds those evaluation keys. */
  keyId?: string;
  ciphertexts: string[];
  /** Number of samples packed into the ciphertexts (for the client's own bookkeeping). */
  count: number;
}

export interface HeInferResponse {
  model: string;
  params: string;
  keyId: string;
  ciphertexts: string[];
  /** The request's sample count, echoed. */
  count?: number;
  computeMs: number;
}

export const publicKeys = (keys: HeKeySet): HePublicKeys => {
  const { secretKey: _secret, ...rest } = keys;
  return rest;
};

export class HeClient {
  private constructor(readonly rt: HeRuntime) {}

  static async create(params: HeParams = ckks8192): Promise<HeClient> {
    return new HeClient(await heRuntime(params));
  }

  get params(): HeParams {
    return this.rt.params;
  }

  /** Fresh keys; Galois keys for the rotations a model of `width` needs (default 8: the shipped models). */
  keygen(width = 8): HeKeySet {
    const { seal, context } = this.rt;
    const steps = galoisStepsFor(width);
    const kg = seal.KeyGenerator(context);
    try {
      const sk = kg.secretKey();
      // The *Serializable variants store a PRNG seed for half of each key: about half the bytes.
      const pk = kg.createPublicKeySerializable();
      const rk = kg.createRelinKeysSerializable();
      const gk = kg.createGaloisKeysSerializable(Int32Array.from(steps));
      try {
        return {
          params: this.rt.params.name,
          secretKey: sk.save(),
          publicKey: pk.save(),
          relinKeys: rk.save(),
          galoisKeys: gk.save(),
          galoisSteps: steps,
        };
      } finally {
        gk.delete();
        rk.delete();
        pk.delete();
        sk.delete();
      }
    } finally {
      kg.delete();
    }
  }

  /** Encrypt slot vectors (each at most `slots` long) under a public key. */
  encryptVectors(publicKey: string, vectors: readonly Float64Array[]): Promise<string[]> {
    const { seal, context, encoder, scale } = this.rt;
    return withSeal((s) => {
      const pk = s.track(seal.PublicKey());
      loadChecked("publicKey", publicKey, (b) => pk.load(context, b));
      const encryptor = s.track(seal.Encryptor(context, pk));
      return vectors.map((v) => {
        const pt = s.track(must(encoder.encode(Float64Array.from(v), scale), "encode"));
        const ct = s.track(must(encryptor.encrypt(pt), "encrypt"));
        return ct.save();
      });
    });
  }

  /** Standardise raw feature rows with the model card and encrypt them, packed. */
  async encryptFeatures(publicKey: string, card: HeModelCard, rows: readonly (readonly number[])[]): Promise<string[]> {
    const layout = this.layout(card.width);
    const std = rows.map((x) => standardise(card, x));
    return this.encryptVectors(publicKey, packSamples(std, layout, this.rt.slots));
  }

  /** Decrypt ciphertexts to slot vectors. */
  decryptVectors(secretKey: string, ciphertexts: readonly string[]): Promise<Float64Array[]> {
    const { seal, context, encoder } = this.rt;
    return withSeal((s) => {
      const sk = s.track(seal.SecretKey());
      loadChecked("secretKey", secretKey, (b) => sk.load(context, b));
      const decryptor = s.track(seal.Decryptor(context, sk));
      return ciphertexts.map((b64, i) => {
        const ct = s.track(seal.CipherText());
        loadChecked(`ciphertexts[${i}]`, b64, (b) => ct.load(context, b));
        const pt = s.track(must(decryptor.decrypt(ct), "decrypt"));
        return Float64Array.from(encoder.decode(pt));
      });
    });
  }

  /** Decrypt a response: one score (logit) per sample and its probability (sigmoid, applied here). */
  async decryptScores(
    secretKey: string,
    card: Pick<HeModelCard, "width">,
    ciphertexts: readonly string[],
    count: number,
  ): Promise<{ scores: number[]; probabilities: number[] }> {
    const scores = unpackScores(await this.decryptVectors(secretKey, ciphertexts), this.layout(card.width), count);
    return { scores, probabilities: scores.map(sigmoid) };
  }

  layout(width: number): SlotLayout {
    return slotLayout(width, this.rt.slots);
  }
}
