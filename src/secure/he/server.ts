// The server side of encrypted inference: models, evaluation keys held by id, and the
// request handler. Its view of SEAL has no encryptor and no decryption: it loads Galois
// and relinearisation keys and ciphertexts, evaluates, and serialises results. It never
// receives, creates or stores a secret key (test/secure/he.test.ts checks the source).

import { createHash } from "node:crypto";
import type { HeModel } from "../../models/index.js";
import { issueLines, safeParseInput } from "../../runtime/index.js";
import type { HeInferResponse } from "./client.js";
import { loadChecked } from "./codec.js";
import { type EvalKeys, evaluateModel, layoutFor } from "./evaluate.js";
import { ckks8192, type HeParams } from "./params.js";
import { inferRequestSchema } from "./request.js";
import { galoisElement, type HeRuntime, heRuntime } from "./runtime.js";
import { type CipherText, SealScope } from "./seal.js";

/** A request the server refuses: HTTP status, a stable code, and what to do instead. */
export class HeRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "HeRequestError";
  }
}

interface HeldKeys extends EvalKeys {
  steps: number[];
}

export interface HeServerOptions {
  params?: HeParams;
  /** Evaluation-key sets held at once (each is a few MB of WASM memory). */
  keyCacheSize?: number;
}

export class HeServer {
  private readonly keys = new Map<string, HeldKeys>();
  private readonly keyCacheSize: number;

  private constructor(
    readonly rt: HeRuntime,
    readonly models: ReadonlyMap<string, HeModel>,
    opts: HeServerOptions,
  ) {
    this.keyCacheSize = opts.keyCacheSize ?? 4;
  }

  static async create(models: readonly HeModel[], opts: HeServerOptions = {}): Promise<HeServer> {
    const rt = await heRuntime(opts.params ?? ckks8192);
    return new HeServer(rt, new Map(models.map((m) => [m.name, m])), opts);
  }

  /** Evaluation-key sets currently held. */
  get heldKeySets(): number {
    return this.keys.size;
  }

  /**
   * Validate, evaluate, serialise. Throws HeRequestError for anything the client got wrong.
   * `owner` (a tenant id) namespaces the held evaluation keys: a key id works only for the
   * owner whose request sent the keys.
   */
  infer(body: unknown, options: { owner?: string } = {}): HeInferResponse {
    const parsed = safeParseInput(inferRequestSchema, body);
    if (!parsed.success)
      throw new HeRequestError(400, "invalid_request", issueLines(parsed.error, body, { root: "the request body" }));
    const req = parsed.data;
    const model = this.models.get(req.model);
    if (!model)
      throw new HeRequestError(
        404,
        "model_not_found",
        `unknown model "${req.model}"; available: ${[...this.models.keys()].join(", ")}`,
      );
    const params = this.rt.params.name;
    if (req.params !== undefined && req.params !== params)
      throw new HeRequestError(400, "params_mismatch", `this server evaluates with parameters "${params}", got "${req.params}"`);
    const started = performance.now();
    const { keyId, keys } = this.evalKeys(options.owner ?? "", req.keyId, req.galoisKeys, req.relinKeys);
    if (model.kind === "mlp" && !keys.relinKeys)
      throw new HeRequestError(400, "missing_relin_keys", `model "${model.name}" multiplies ciphertexts: send relinKeys`);
    const layout = layoutFor(this.rt, model);
    const missing = [1, 2, 4, 8, 16, 32, 64].filter((st) => st < layout.width && !keys.steps.includes(st));
    if (missing.length > 0)
      throw new HeRequestError(
        400,
        "missing_galois_keys",
        `model "${model.name}" rotates by ${missing.join(", ")}: generate Galois keys for steps < ${layout.width}`,
      );
    const s = new SealScope();
    try {
      const out = req.ciphertexts.map((b64, i) => {
        const ct = this.loadCiphertext(s, `ciphertexts[${i}]`, b64);
        const result = s.track(evaluateModel(this.rt, model, ct, keys));
        return result.save();
      });
      return {
        model: model.name,
        params,
        keyId,
        ciphertexts: out,
        count: req.count,
        computeMs: performance.now() - started,
      };
    } finally {
      s.dispose();
    }
  }

  /** Free every held key (for shutdown and tests). */
  close(): void {
    for (const k of this.keys.values()) freeKeys(k);
    this.keys.clear();
  }

  private evalKeys(owner: string, keyId?: string, galois?: string, relin?: string): { keyId: string; keys: HeldKeys } {
    if (galois === undefined) {
      const held = keyId ? this.keys.get(heldKeyName(owner, keyId)) : undefined;
      if (!held || !keyId)
        throw new HeRequestError(
          400,
          "unknown_key_id",
          `keyId ${keyId} is not (or no longer) held by this server for this caller: send galoisKeys and relinKeys again`,
        );
      this.touch(heldKeyName(owner, keyId), held);
      return { keyId, keys: held };
    }
    const id = createHash("sha256")
      .update(`${this.rt.params.name}\n${galois}\n${relin ?? ""}`)
      .digest("hex");
    const name = heldKeyName(owner, id);
    const held = this.keys.get(name);
    if (held) {
      this.touch(name, held);
      return { keyId: id, keys: held };
    }
    const { seal, context } = this.rt;
    const galoisKeys = seal.GaloisKeys();
    const relinKeys = relin !== undefined ? seal.RelinKeys() : undefined;
    try {
      this.loadKey("galoisKeys", galois, (b) => galoisKeys.load(context, b));
      if (relinKeys && relin !== undefined) this.loadKey("relinKeys", relin, (b) => relinKeys.load(context, b));
    } catch (e) {
      galoisKeys.delete();
      relinKeys?.delete();
      throw e;
    }
    const n = this.rt.params.polyModulusDegree;
    const steps = [1, 2, 4, 8, 16, 32, 64, 128].filter((st) => galoisKeys.hasKey(galoisElement(st, n)));
    const keys: HeldKeys = { galoisKeys, relinKeys, steps };
    this.keys.set(name, keys);
    while (this.keys.size > this.keyCacheSize) {
      const [oldest, k] = this.keys.entries().next().value!;
      this.keys.delete(oldest);
      freeKeys(k);
    }
    return { keyId: id, keys };
  }

  private touch(id: string, heldKeys: HeldKeys): void {
    this.keys.delete(id);
    this.keys.set(id, heldKeys);
  }

  private loadKey(field: string, b64: string, load: (b: string) => void): void {
    try {
      loadChecked(field, b64, load);
    } catch (e) {
      throw new HeRequestError(400, "invalid_key", e instanceof Error ? e.message : String(e));
    }
  }

  private loadCiphertext(scope: SealScope, field: string, b64: string): CipherText {
    const { seal, context } = this.rt;
    const ct = scope.track(seal.CipherText());
    try {
      loadChecked(field, b64, (b) => ct.load(context, b));
    } catch (e) {
      throw new HeRequestError(400, "invalid_ciphertext", e instanceof Error ? e.message : String(e));
    }
    const bad = (why: string) => new HeRequestError(400, "invalid_ciphertext", `${field} ${why}`);
    if (ct.size !== 2) throw bad(`has ${ct.size} polynomials; a fresh ciphertext has 2`);
    if (!ct.isNttForm) throw bad("is not in NTT form (not a CKKS ciphertext)");
    const pid = scope.track(ct.parmsId);
    const first = scope.track(context.firstParmsId);
    if (!sameIds(pid.values, first.values))
      throw bad("is not at the top level of these parameters: send freshly encrypted inputs");
    if (Math.abs(Math.log2(ct.scale) - this.rt.params.scaleBits) > 0.01)
      throw bad(`has scale 2^${Math.log2(ct.scale).toFixed(2)}; expected 2^${this.rt.params.scaleBits}`);
    return ct;
  }
}

/** Where an owner's key set is held: owners never share an entry. */
const heldKeyName = (owner: string, keyId: string): string => `${owner}\n${keyId}`;

function sameIds(a: BigUint64Array, b: BigUint64Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function freeKeys(k: HeldKeys): void {
  k.galoisKeys.delete();
  k.relinKeys?.delete();
}
