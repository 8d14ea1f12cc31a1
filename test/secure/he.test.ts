// CKKS through node-seal, for real (no mocks): round trips, serialisation, the shipped
// encrypted models against their plaintext functions on held-out patients, a server that
// cannot decrypt, the planner, and the CLI's key files.

import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { heDecrypt, heEncrypt, heInfer, heKeygen, publicKeysFile, secretKeyFile } from "../../src/cli/he.js";
import { ehrSplit } from "../../src/data/synthEhrRisk.js";
import { plainScore, standardise } from "../../src/models/ehrRisk.js";
import {
  checkSealBase64,
  ckks8192,
  createContext,
  HeClient,
  HeServer,
  loadSeal,
  loadShippedModels,
  modelCard,
  planModel,
  publicKeys,
  withSeal,
} from "../../src/secure/he/index.js";

const models = loadShippedModels();
const client = await HeClient.create();
const keys = client.keygen();
const { heldOut } = ehrSplit();

test("parameters are 128-bit secure and SEAL refuses a set over the HE-standard bound", async () => {
  const seal = await loadSeal();
  assert.ok(ckks8192.coeffModulusBits.reduce((a, b) => a + b) <= 218);
  assert.throws(() => createContext(seal, { ...ckks8192, name: "too-big", coeffModulusBits: [60, 60, 60, 60] }));
});

test("encrypt → decrypt round trip keeps values within 1e-6", async () => {
  const v = Float64Array.from({ length: client.rt.slots }, (_, i) => Math.sin(i) * 10);
  const [ct] = await client.encryptVectors(keys.publicKey, [v]);
  const [back] = await client.decryptVectors(keys.secretKey, [ct]);
  let err = 0;
  for (let i = 0; i < v.length; i++) err = Math.max(err, Math.abs(back[i] - v[i]));
  assert.ok(err < 1e-6, `round-trip error ${err}`);
});

test("keys and ciphertexts survive save → load → save; truncated buffers are refused before SEAL", async () => {
  const { seal, context } = client.rt;
  await withSeal((s) => {
    const gk = s.track(seal.GaloisKeys());
    gk.load(context, keys.galoisKeys);
    assert.ok(gk.size >= 3);
    const rk = s.track(seal.RelinKeys());
    rk.load(context, keys.relinKeys);
    const sk = s.track(seal.SecretKey());
    sk.load(context, keys.secretKey);
    assert.equal(sk.save().length > 0, true);
  });
  const [ct] = await client.encryptVectors(keys.publicKey, [Float64Array.of(1.5, -2.25)]);
  const resaved = await withSeal((s) => {
    const c = s.track(seal.CipherText());
    c.load(context, ct);
    return c.save();
  });
  const [back] = await client.decryptVectors(keys.secretKey, [resaved]);
  assert.ok(Math.abs(back[0] - 1.5) < 1e-6 && Math.abs(back[1] + 2.25) < 1e-6);
  assert.equal(checkSealBase64(ct), undefined);
  assert.match(checkSealBase64(ct.slice(0, 4000)) ?? "", /declares .* bytes/);
  assert.match(checkSealBase64("not base64!") ?? "", /base64/);
  assert.match(checkSealBase64(btoa("x".repeat(40))) ?? "", /magic/);
});

for (const m of models) {
  test(`encrypted ${m.name} matches plaintext within 1e-3 and has the same held-out accuracy`, async () => {
    const server = await HeServer.create(models);
    try {
      const card = modelCard(m);
      const cts = await client.encryptFeatures(keys.publicKey, card, heldOut.x);
      const resp = server.infer({ model: m.name, ...publicKeys(keys), ciphertexts: cts, count: heldOut.x.length });
      const { scores, probabilities } = await client.decryptScores(keys.secretKey, card, resp.ciphertexts, heldOut.x.length);
      let maxErr = 0;
      let plainOk = 0;
      let encOk = 0;
      heldOut.x.forEach((row, i) => {
        const p = plainScore(m, standardise(m, row));
        maxErr = Math.max(maxErr, Math.abs(p - scores[i]));
        if ((p > 0 ? 1 : 0) === heldOut.y[i]) plainOk++;
        if ((scores[i] > 0 ? 1 : 0) === heldOut.y[i]) encOk++;
      });
      assert.ok(maxErr <= 1e-3, `max abs error ${maxErr}`);
      assert.equal(encOk, plainOk, "encrypted and plaintext accuracies differ");
      assert.ok(plainOk / heldOut.x.length > 0.75, `held-out accuracy ${plainOk / heldOut.x.length} is too low`);
      assert.ok(probabilities.every((p) => p > 0 && p < 1));
    } finally {
      server.close();
    }
  });
}

test("the server cannot decrypt: it holds no secret key, and an unrelated key decrypts to garbage", async () => {
  // The server side never touches a secret key or a decryptor.
  for (const f of ["server.ts", "evaluate.ts", "request.ts", "runtime.ts"]) {
    const text = await readFile(new URL(`../../src/secure/he/${f}`, import.meta.url), "utf8");
    const src = text.replace(/^\s*\/\/.*$/gm, ""); // code, not comments
    assert.doesNotMatch(src, /Decryptor|SecretKey|secretKey/, `${f} mentions secret-key material`);
  }
  const server = await HeServer.create(models);
  try {
    const m = models[0];
    const card = modelCard(m);
    const rows = heldOut.x.slice(0, 32);
    const cts = await client.encryptFeatures(keys.publicKey, card, rows);
    const request = { model: m.name, ...publicKeys(keys), ciphertexts: cts };
    assert.equal("secretKey" in request, false);
    const resp = server.infer(request);
    const expected = rows.map((r) => plainScore(m, standardise(m, r)));
    const right = (await client.decryptScores(keys.secretKey, card, resp.ciphertexts, rows.length)).scores;
    const attacker = client.keygen(); // a fresh, unrelated key pair: all the server could make
    const wrong = (await client.decryptScores(attacker.secretKey, card, resp.ciphertexts, rows.length)).scores;
    const inputWrong = (await client.decryptVectors(attacker.secretKey, cts))[0];
    const maxErr = (xs: number[]) => Math.max(...xs.map((x, i) => Math.abs(x - expected[i])));
    assert.ok(maxErr(right) < 1e-3);
    assert.ok(maxErr(wrong) > 1e3, `an unrelated key came within ${maxErr(wrong)} of the scores`);
    assert.ok(Math.abs(inputWrong[0] - standardise(m, rows[0])[0]) > 1e3, "an unrelated key revealed an input feature");
  } finally {
    server.close();
  }
});

test("the planner reports depth, sizes and a latency that matches the measured server compute", async () => {
  const mlp = models.find((m) => m.kind === "mlp")!;
  const plan = await planModel(mlp);
  assert.deepEqual(plan.depth, { required: 2, available: 2, remaining: 0 });
  assert.equal(plan.samplesPerCiphertext, 256);
  assert.ok(plan.sizes.galoisKeyChars > plan.sizes.requestCiphertextChars);
  assert.ok(plan.sizes.responseCiphertextChars < plan.sizes.requestCiphertextChars);
  const server = await HeServer.create(models);
  try {
    const cts = await client.encryptFeatures(keys.publicKey, modelCard(mlp), heldOut.x.slice(0, 10));
    const first = server.infer({ model: mlp.name, ...publicKeys(keys), ciphertexts: cts });
    const warm = server.infer({ model: mlp.name, keyId: first.keyId, ciphertexts: cts });
    const ratio = warm.computeMs / plan.predictedServerMs;
    assert.ok(ratio > 0.3 && ratio < 3, `measured ${warm.computeMs} ms vs predicted ${plan.predictedServerMs} ms`);
  } finally {
    server.close();
  }
});

test("CLI: keygen keeps the secret key private; encrypt → infer → decrypt gives the plaintext scores", async () => {
  const dir = await mkdtemp(join(tmpdir(), "aigc-he-"));
  try {
    const keysDir = join(dir, "keys");
    await heKeygen(keysDir);
    assert.equal((await stat(join(keysDir, secretKeyFile))).mode & 0o777, 0o600);
    const pub = JSON.parse(await readFile(join(keysDir, publicKeysFile), "utf8")) as Record<string, unknown>;
    assert.equal("secretKey" in pub, false);
    const mlp = models.find((m) => m.kind === "mlp")!;
    const rows = heldOut.x.slice(0, 5);
    const named = rows.map((r) => Object.fromEntries(mlp.features.map((f, j) => [f, r[j]])));
    await writeFile(join(dir, "features.json"), JSON.stringify(named));
    await heEncrypt({ keys: keysDir, input: join(dir, "features.json"), out: join(dir, "req.json"), model: mlp.name });
    const req = await readFile(join(dir, "req.json"), "utf8");
    assert.doesNotMatch(req, /secretKey/);
    await heInfer({ request: join(dir, "req.json"), out: join(dir, "resp.json") });
    const out = await heDecrypt({ keys: keysDir, input: join(dir, "resp.json") });
    assert.equal(out.scores.length, 5);
    out.scores.forEach((s, i) => {
      assert.ok(Math.abs(s - plainScore(mlp, standardise(mlp, rows[i]))) < 1e-3);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
