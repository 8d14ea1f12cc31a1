// `aigc he keygen|encrypt|infer|decrypt|plan` and `aigc bench he`: encrypted inference
// from the command line. The secret key stays in the keys folder (mode 0600, the folder 0700
// when keygen makes it, a warning if git would commit it); requests carry only the public
// evaluation keys and ciphertexts.

import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { ehrSplit } from "../data/index.js";
import { type HeModel, plainScore, standardise } from "../models/index.js";
import { type IssueLineOptions, issueLines, safeParseInput } from "../runtime/index.js";
import {
  base64Bytes,
  calibrateOpCosts,
  ckks8192,
  HeClient,
  type HeInferRequest,
  type HeInferResponse,
  type HeKeySet,
  type HeOpCosts,
  type HePlan,
  HeServer,
  loadShippedModel,
  loadShippedModels,
  modelCard,
  planModel,
} from "../secure/index.js";
import { writeSecretFile } from "./secretFile.js";

export const secretKeyFile = "secret-key.json";
export const publicKeysFile = "public-keys.json";

const secretFileSchema = z.object({ params: z.string(), secretKey: z.string() });
const publicFileSchema = z.object({
  params: z.string(),
  publicKey: z.string(),
  relinKeys: z.string(),
  galoisKeys: z.string(),
  galoisSteps: z.array(z.number().int()),
});

async function readJson(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw new Error(`cannot read ${what} ${path}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${what} ${path} is not valid JSON`);
  }
}

function parseWith<T>(schema: z.ZodType<T>, value: unknown, what: string, options: IssueLineOptions = {}): T {
  const r = safeParseInput(schema, value);
  if (!r.success) throw new Error(`${what}: ${issueLines(r.error, value, { root: "", ...options })}`);
  return r.data;
}

/**
 * Generate keys into `dir`: the secret key (0600; `dir` 0700 when this creates it) and the
 * public/evaluation keys in separate files. `warn` hears when git would commit the secret key.
 */
export async function heKeygen(
  dir: string,
  options: { warn?: (message: string) => void } = {},
): Promise<{ secretPath: string; publicPath: string; keys: HeKeySet; exposure: string | undefined }> {
  const client = await HeClient.create();
  const keys = client.keygen();
  const secretPath = join(dir, secretKeyFile);
  const publicPath = join(dir, publicKeysFile);
  const secret = JSON.stringify({ params: keys.params, secretKey: keys.secretKey });
  const { exposure } = await writeSecretFile(secretPath, secret, options.warn);
  const { secretKey: _s, ...pub } = keys;
  await writeFile(publicPath, JSON.stringify(pub), { mode: 0o644 });
  return { secretPath, publicPath, keys, exposure };
}

const featureRowsSchema = z
  .array(
    z.union([z.array(z.number().finite()), z.record(z.string(), z.number().finite())], {
      error: "expected an array of numbers, or an object of numbers by feature name",
    }),
    { error: "expected an array of rows (each an array of numbers, or an object of numbers by feature name)" },
  )
  .min(1, "expected at least one row");

/** `[0, 2]` → `row 0, value 2`; `[1, "age"]` → `row 1, feature "age"`. */
const rowPath = (path: readonly PropertyKey[]): string => {
  const [row, field] = path;
  const where = typeof row === "number" ? `row ${row}` : String(row);
  if (field === undefined) return where;
  return `${where}, ${typeof field === "number" ? `value ${field}` : `feature ${JSON.stringify(String(field))}`}`;
};

/** Feature rows as arrays in the model's order (objects are read by feature name). */
export function featureRows(value: unknown, model: HeModel): number[][] {
  const rows = parseWith(featureRowsSchema, value, "features file", { name: rowPath });
  return rows.map((r, i) => {
    if (Array.isArray(r)) {
      if (r.length !== model.features.length)
        throw new Error(
          `features file: row ${i}: expected ${model.features.length} values (${model.features.join(", ")}), got ${r.length}`,
        );
      return r;
    }
    return model.features.map((f) => {
      const v = r[f];
      if (v === undefined)
        throw new Error(`features file: row ${i}: missing feature "${f}" (expected ${model.features.join(", ")})`);
      return v;
    });
  });
}

/** Encrypt a features file for a model into a request file (public keys only). */
export async function heEncrypt(options: { keys: string; input: string; out: string; model: string }): Promise<HeInferRequest> {
  const pub = parseWith(publicFileSchema, await readJson(join(options.keys, publicKeysFile), "public keys"), "public keys");
  const model = loadShippedModel(options.model);
  const rows = featureRows(await readJson(options.input, "features file"), model);
  const client = await HeClient.create();
  const ciphertexts = await client.encryptFeatures(pub.publicKey, modelCard(model), rows);
  const req: HeInferRequest = {
    model: model.name,
    params: pub.params,
    galoisKeys: pub.galoisKeys,
    relinKeys: pub.relinKeys,
    ciphertexts,
    count: rows.length,
  };
  await writeFile(options.out, JSON.stringify(req));
  return req;
}

/** Run the server-side evaluation locally on a request file. */
export async function heInfer(options: { model?: string; request: string; out: string }): Promise<HeInferResponse> {
  const body = (await readJson(options.request, "request")) as Record<string, unknown>;
  if (options.model) body.model = options.model;
  const server = await HeServer.create(loadShippedModels());
  try {
    const resp = server.infer(body);
    await writeFile(options.out, JSON.stringify(resp));
    return resp;
  } finally {
    server.close();
  }
}

const responseSchema = z.object({
  model: z.string(),
  ciphertexts: z.array(z.string()).min(1),
  count: z.number().int().min(0).optional(),
});

/** Decrypt a response file with the secret key in `keys`. */
export async function heDecrypt(options: { keys: string; input: string; count?: number }) {
  const sec = parseWith(secretFileSchema, await readJson(join(options.keys, secretKeyFile), "secret key"), "secret key");
  const resp = parseWith(responseSchema, await readJson(options.input, "response"), "response");
  const model = loadShippedModel(resp.model);
  const client = await HeClient.create();
  const layout = client.layout(modelCard(model).width);
  const count = options.count ?? resp.count ?? resp.ciphertexts.length * layout.samplesPerCiphertext;
  const r = await client.decryptScores(sec.secretKey, modelCard(model), resp.ciphertexts, count);
  return { model: model.name, ...r, classes: r.scores.map((s) => (s > 0 ? 1 : 0)) };
}

export async function hePlan(model: string): Promise<HePlan> {
  return planModel(loadShippedModel(model));
}

export function formatPlan(plan: HePlan): string {
  const kb = (chars: number) => `${(chars / 1024).toFixed(0)} KiB`;
  return [
    `model            ${plan.model} (${plan.kind})`,
    `parameters       ${plan.params.name}: N=${plan.params.polyModulusDegree}, q=[${plan.params.coeffModulusBits.join(", ")}] = ${plan.security.modulusBits} bits (≤ ${plan.security.maxModulusBits} for 128-bit security), scale 2^${plan.params.scaleBits}`,
    `slots            ${plan.slots}: ${plan.samplesPerCiphertext} samples per ciphertext`,
    `depth            needs ${plan.depth.required} of ${plan.depth.available}: ${plan.depth.remaining} multiplicative level(s) remain`,
    `operations       ${plan.ops.rotationsTop + plan.ops.rotationsLow} rotations, ${plan.ops.multiplyPlain} plain multiplies, ${plan.ops.multiplyRelin} ciphertext multiplies, ${plan.ops.rescale} rescales, ${plan.ops.encodes} encodes`,
    `expected latency ${plan.predictedServerMs.toFixed(1)} ms server compute per ciphertext; client: encrypt ${plan.costs.encryptMs.toFixed(1)} ms, decrypt ${plan.costs.decryptMs.toFixed(1)} ms, keygen ${plan.costs.keygenMs.toFixed(0)} ms`,
    `sizes (JSON)     request ciphertext ${kb(plan.sizes.requestCiphertextChars)}, response ciphertext ${kb(plan.sizes.responseCiphertextChars)}, ` +
      `Galois keys ${kb(plan.sizes.galoisKeyChars)}, relin keys ${kb(plan.sizes.relinKeyChars)}, public key ${kb(plan.sizes.publicKeyChars)} (base64)`,
  ].join("\n");
}

export interface HeBenchModelResult {
  model: string;
  samples: number;
  ciphertexts: number;
  encryptMs: number;
  serverComputeMs: number;
  serverComputeMsPerCiphertext: number;
  predictedServerMsPerCiphertext: number;
  decryptMs: number;
  requestBytes: number;
  responseBytes: number;
  maxAbsError: number;
  plainAccuracy: number;
  encryptedAccuracy: number;
}

export interface HeBenchResult {
  params: typeof ckks8192;
  keygenMs: number;
  keyBytes: { publicKey: number; relinKeys: number; galoisKeys: number; secretKey: number };
  opCosts: HeOpCosts;
  models: HeBenchModelResult[];
  /** node-seal's published CKKS costs at N = 8192 and ours / theirs per operation. */
  published: typeof nodeSealPublished & { ratio: Record<keyof typeof nodeSealPublished.ms, number> };
}

/**
 * node-seal's published CKKS operation costs at N = 8192 (log q = 218), from BENCHMARK.md in
 * its repository (SEAL 4.1.2, node-seal 5.1.5, Node 22, Apple M1 Pro; the "Node" column,
 * converted from microseconds). A different machine: compare ratios, not absolute times.
 */
export const nodeSealPublished = {
  source: "node-seal BENCHMARK.md (SEAL 4.1.2 / node-seal 5.1.5 / Node 22 / Apple M1 Pro), n=8192, log(q)=218",
  ms: {
    rotation: 4.339, // EvaluateRotate
    multiplyRelinRescale: 1.0 + 4.299 + 0.948, // EvaluateMulCt + EvaluateRelinInplace + EvaluateRescaleInplace
    multiplyPlain: 0.489, // EvaluateMulPt
    encode: 0.675, // EncodeDouble
    encrypt: 4.289, // EncryptPublic
    decrypt: 0.277, // Decrypt
  },
};

/** Our per-op cost (this run, this machine) over node-seal's published one. */
function publishedRatios(c: HeOpCosts): Record<keyof typeof nodeSealPublished.ms, number> {
  const p = nodeSealPublished.ms;
  return {
    rotation: c.rotationTopMs / p.rotation,
    multiplyRelinRescale: c.multiplyRelinRescaleMs / p.multiplyRelinRescale,
    multiplyPlain: c.multiplyPlainMs / p.multiplyPlain,
    encode: c.encodeMs / p.encode,
    encrypt: c.encryptMs / p.encrypt,
    decrypt: c.decryptMs / p.decrypt,
  };
}

/**
 * End-to-end bench on the held-out EHR patients: keygen, encrypt, server compute (warm
 * keys), decrypt; errors and accuracies vs plaintext; server compute vs op counts × the
 * per-op costs measured in this same run with node-seal at the same N.
 */
export async function runHeBench(log: (l: string) => void = () => {}): Promise<HeBenchResult> {
  const { heldOut } = ehrSplit();
  const models = loadShippedModels();
  const client = await HeClient.create();
  const t0 = performance.now();
  const keys = client.keygen();
  const keygenMs = performance.now() - t0;
  const server = await HeServer.create(models);
  log("calibrating per-op costs...");
  const calibration = await calibrateOpCosts();
  const ratios = publishedRatios(calibration.costs);
  log(
    `per-op cost vs node-seal's published (${nodeSealPublished.source}): ` +
      Object.entries(ratios)
        .map(([op, r]) => `${op} ${r.toFixed(2)}x`)
        .join(", "),
  );
  const results: HeBenchModelResult[] = [];
  try {
    // Load the evaluation keys once (as a server would for a session); later requests reuse them by keyId.
    const first = server.infer({
      model: models[0].name,
      galoisKeys: keys.galoisKeys,
      relinKeys: keys.relinKeys,
      ciphertexts: await client.encryptFeatures(keys.publicKey, modelCard(models[0]), heldOut.x.slice(0, 1)),
    });
    for (const m of models) {
      const card = modelCard(m);
      let t = performance.now();
      const cts = await client.encryptFeatures(keys.publicKey, card, heldOut.x);
      const encryptMs = performance.now() - t;
      const req: HeInferRequest = {
        model: m.name,
        params: keys.params,
        keyId: first.keyId,
        ciphertexts: cts,
        count: heldOut.x.length,
      };
      const resp = server.infer(req);
      t = performance.now();
      const { scores } = await client.decryptScores(keys.secretKey, card, resp.ciphertexts, heldOut.x.length);
      const decryptMs = performance.now() - t;
      let maxAbsError = 0;
      let plainOk = 0;
      let encOk = 0;
      heldOut.x.forEach((row, i) => {
        const p = plainScore(m, standardise(m, row));
        maxAbsError = Math.max(maxAbsError, Math.abs(p - scores[i]));
        if ((p > 0 ? 1 : 0) === heldOut.y[i]) plainOk++;
        if ((scores[i] > 0 ? 1 : 0) === heldOut.y[i]) encOk++;
      });
      const plan = await planModel(m, undefined, calibration);
      const r: HeBenchModelResult = {
        model: m.name,
        samples: heldOut.x.length,
        ciphertexts: cts.length,
        encryptMs,
        serverComputeMs: resp.computeMs,
        serverComputeMsPerCiphertext: resp.computeMs / cts.length,
        predictedServerMsPerCiphertext: plan.predictedServerMs,
        decryptMs,
        requestBytes: JSON.stringify(req).length,
        responseBytes: JSON.stringify(resp).length,
        maxAbsError,
        plainAccuracy: plainOk / heldOut.x.length,
        encryptedAccuracy: encOk / heldOut.x.length,
      };
      log(
        `${m.name}: server ${r.serverComputeMsPerCiphertext.toFixed(1)} ms/ciphertext (predicted ${r.predictedServerMsPerCiphertext.toFixed(1)}), ` +
          `maxAbsError ${r.maxAbsError.toExponential(2)}, accuracy plain ${r.plainAccuracy.toFixed(4)} / encrypted ${r.encryptedAccuracy.toFixed(4)}`,
      );
      results.push(r);
    }
  } finally {
    server.close();
  }
  return {
    params: ckks8192,
    keygenMs,
    keyBytes: {
      publicKey: base64Bytes(keys.publicKey),
      relinKeys: base64Bytes(keys.relinKeys),
      galoisKeys: base64Bytes(keys.galoisKeys),
      secretKey: base64Bytes(keys.secretKey),
    },
    opCosts: calibration.costs,
    models: results,
    published: { ...nodeSealPublished, ratio: ratios },
  };
}
