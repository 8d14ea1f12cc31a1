// The SEAL library (Microsoft SEAL 4.1 compiled to WebAssembly by node-seal), loaded once,
// and a scope that frees every WASM object it tracked. SEAL objects live in the WASM heap,
// not the JS heap: a forgotten `.delete()` grows the heap for good, so every function that
// creates SEAL objects runs them inside `withSeal` (or a `SealScope` it disposes in finally).
// No node: imports here: the client bundles this file for the browser too.

import SEALModule from "node-seal";
import type { SEALLibrary } from "node-seal/implementation/seal.js";

export type Seal = SEALLibrary;
export type { CipherText } from "node-seal/implementation/cipher-text.js";
export type { CKKSEncoder } from "node-seal/implementation/ckks-encoder.js";
export type { Context } from "node-seal/implementation/context.js";
export type { Evaluator } from "node-seal/implementation/evaluator.js";
export type { GaloisKeys } from "node-seal/implementation/galois-keys.js";
export type { PlainText } from "node-seal/implementation/plain-text.js";
export type { RelinKeys } from "node-seal/implementation/relin-keys.js";

type SealFactory = () => Promise<Seal>;
// node-seal's Node entry is a UMD bundle typed as an ES module: under NodeNext the
// default import is the factory at run time but the module namespace to the type checker;
// a bundler's ES entry gives { default: factory }. Accept both shapes.
const sealModule = SEALModule as unknown as SealFactory | { default: SealFactory };
const sealFactory: SealFactory = typeof sealModule === "function" ? sealModule : sealModule.default;

let loading: Promise<Seal> | undefined;

/** The SEAL library, instantiated once per process (about 50 ms the first time). */
export function loadSeal(): Promise<Seal> {
  if (!loading) loading = sealFactory();
  return loading;
}

/** Anything backed by a WASM object. */
export interface Deletable {
  delete(): void;
}

/** Tracks SEAL objects and deletes them all, newest first, on `dispose()`. */
export class SealScope {
  private readonly owned: Deletable[] = [];
  /** Track `handle` (freed when the scope is disposed) and return it. */
  track<T extends Deletable>(handle: T): T {
    this.owned.push(handle);
    return handle;
  }
  /** Stop tracking `handle`: the caller now owns it (e.g. a result that outlives the scope). */
  release<T extends Deletable>(handle: T): T {
    const i = this.owned.lastIndexOf(handle);
    if (i >= 0) this.owned.splice(i, 1);
    return handle;
  }
  get size(): number {
    return this.owned.length;
  }
  dispose(): void {
    while (this.owned.length > 0) {
      const x = this.owned.pop()!;
      try {
        x.delete();
      } catch {
        // Already freed by SEAL itself (e.g. moved): nothing left to free.
      }
    }
  }
}

/** Run `fn` with a fresh scope; every tracked object is freed when it returns or throws. */
export async function withSeal<T>(fn: (scope: SealScope) => T | Promise<T>): Promise<T> {
  const scope = new SealScope();
  try {
    return await fn(scope);
  } finally {
    scope.dispose();
  }
}

/** The result of a SEAL call that returns a value when no destination is given. */
// biome-ignore lint/suspicious/noConfusingVoidType: node-seal types these results as `T | void`.
export function must<T>(result: T | undefined | void, what: string): T {
  if (result === undefined || result === null) throw new Error(`SEAL ${what} returned nothing`);
  return result as T;
}

/** A thrown SEAL error (node-seal throws plain objects or Errors) as a message. */
export function sealMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === "string") return error;
  return String(error);
}
