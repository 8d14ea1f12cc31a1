// The towers: output shapes and unit norm, patchify's layout, bidirectional attention,
// padding that changes nothing, HU windowing; the model folder: a save/load round trip
// gives identical embeddings, and broken folders fail with a clear error.

import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { trainBpe } from "../../src/data/bpe.js";
import { Graph, op, toOnnx } from "../../src/graph/index.js";
import {
  ALIGNER_KIND,
  Aligner,
  AlignerConfig,
  AlignerFileError,
  alignerImageTower,
  alignerLogitScale,
  alignerTextTower,
  idsInput,
  loadAligner,
  pixelsInput,
  saveAligner,
} from "../../src/models/aligner.js";
import { CHEST_WINDOWS, preprocessHu } from "../../src/models/imageEncoder.js";
import { TEXT_SPECIAL_TOKENS } from "../../src/models/textEncoder.js";
import { Scope } from "../../src/nn/scope.js";
import { convStemEmbedding, maxPool, meanPool, patchify } from "../../src/nn/vision.js";
import { Evaluator } from "../../src/runtime/evaluator.js";
import { ParamStore } from "../../src/runtime/params.js";
import { compile } from "../../src/runtime/session.js";

const reports = [
  "FINDINGS:\nA 12 mm nodule in the right upper lobe.\n\nIMPRESSION:\nRight upper lobe nodule.",
  "FINDINGS:\nModerate left pleural effusion.\n\nIMPRESSION:\nLeft effusion.",
  "FINDINGS:\nThe lungs are clear.\n\nIMPRESSION:\nNo acute findings.",
];
const tokenizer = trainBpe(reports, { vocabSize: 300, specialTokens: TEXT_SPECIAL_TOKENS, reservedImageTokens: 0 });

const config = AlignerConfig.parse({
  embedDim: 512,
  image: { imageSize: 32, windows: CHEST_WINDOWS, patch: 8, dim: 32, heads: 4, layers: 2, hidden: 64, pool: "cls" },
  text: { vocab: tokenizer.vocabSize, maxLen: 48, dim: 32, heads: 4, layers: 2, hidden: 64, pool: "mean" },
  temperature: 0.1,
  learnableTemperature: true,
});

function freshAligner(seed = 3): Aligner {
  const g = new Graph();
  alignerImageTower(g, config, pixelsInput(g, config, 1));
  alignerTextTower(g, config, idsInput(g, config, 1));
  alignerLogitScale(g, config);
  return new Aligner({ kind: ALIGNER_KIND, model: config, training: {} }, ParamStore.fromGraph(g, seed), tokenizer, 1);
}

/** A 64×64 slice: air outside a soft-tissue disc, with a small dense blob. */
function slice(shift: number) {
  const hu = new Int16Array(64 * 64);
  for (let y = 0; y < 64; y++)
    for (let x = 0; x < 64; x++) {
      const r = Math.hypot(x - 32, y - 32);
      hu[y * 64 + x] = r < 28 ? (Math.hypot(x - 20 - shift, y - 24) < 5 ? 60 : -850) : -1000;
    }
  return { hu, width: 64, height: 64 };
}

const norms = (rows: Float32Array, e: number) =>
  Array.from({ length: rows.length / e }, (_, i) => Math.hypot(...rows.subarray(i * e, (i + 1) * e)));

test("both towers give [n, 512] unit-norm embeddings (more rows than one batch, too)", async () => {
  const aligner = freshAligner();
  const images = await aligner.embedSlices(Array.from({ length: 70 }, (_, i) => slice(i % 9)));
  assert.equal(images.length, 70 * 512);
  for (const n of norms(images, 512)) assert.ok(Math.abs(n - 1) < 1e-5, `image norm ${n}`);
  const texts = await aligner.embedTexts(reports);
  assert.equal(texts.length, 3 * 512);
  for (const n of norms(texts, 512)) assert.ok(Math.abs(n - 1) < 1e-5, `text norm ${n}`);
  // Different inputs, different embeddings.
  assert.notDeepEqual(images.subarray(0, 512), images.subarray(512, 1024));
  assert.notDeepEqual(texts.subarray(0, 512), texts.subarray(512, 1024));
});

test("patchify cuts row-major P×P patches, channels first within a patch", async () => {
  const g = new Graph();
  const x = g.input("x", "float32", [1, 2, 4, 4]);
  const p = patchify(x, 2);
  assert.deepEqual(p.shape, [1, 4, 8]);
  const m = await compile(toOnnx({ outputs: { p }, name: "patchify" }), { threads: 1 });
  const data = Float32Array.from({ length: 32 }, (_, i) => i);
  const out = (await m.run({ x: { dtype: "float32", shape: [1, 2, 4, 4], data } })).p.data as Float32Array;
  // Patch 1 = rows 0-1, columns 2-3: channel 0 [2, 3, 6, 7], channel 1 [18, 19, 22, 23].
  assert.deepEqual([...out.subarray(8, 16)], [2, 3, 6, 7, 18, 19, 22, 23]);
  assert.deepEqual(patchify(g.input("y", "float32", [2, 8, 8]), 4).shape, [2, 4, 16]);
  assert.throws(() => patchify(g.input("z", "float32", [1, 6, 6]), 4), /not a multiple of patch size 4/);
});

test("the conv stem matches a plain-loop reference: 3×3 stride-2 convolutions with bias and ReLU, then a linear map per cell", async () => {
  const g = new Graph();
  const images = g.input("images", "float32", [2, 2, 8, 8]);
  const channels = [3, 4];
  const tokens = convStemEmbedding(new Scope(g).child("stem"), images, { channels, dim: 5 });
  assert.deepEqual(tokens.shape, [2, 4, 5]); // 8x8 halved twice: a 2x2 grid of cells
  const store = ParamStore.fromGraph(g, 7);
  for (const [name, v] of store.values)
    if (name.endsWith("bias")) for (let i = 0; i < v.data.length; i++) v.data[i] = 0.1 * (i - 1);
  const data = Float32Array.from({ length: 2 * 2 * 8 * 8 }, (_, i) => Math.sin(i * 0.37));
  const out = (
    await (await Evaluator.create({ tokens }, store, 1)).run({ images: { dtype: "float32", shape: [2, 2, 8, 8], data } })
  ).tokens.data as Float32Array;

  // Reference: NCHW arrays, zero padding 1 on each side.
  let x = { c: 2, h: 8, w: 8, data: Array.from(data) };
  const conv = (inp: typeof x, batch: number, i: number) => {
    const w = store.get(`stem.conv.${i}.weight`).data;
    const b = store.get(`stem.conv.${i}.bias`).data;
    const co = channels[i];
    const h = inp.h / 2;
    const wd = inp.w / 2;
    const res: number[] = [];
    for (let n = 0; n < batch; n++)
      for (let o = 0; o < co; o++)
        for (let y = 0; y < h; y++)
          for (let xx = 0; xx < wd; xx++) {
            let sum = b[o];
            for (let c = 0; c < inp.c; c++)
              for (let ky = 0; ky < 3; ky++)
                for (let kx = 0; kx < 3; kx++) {
                  const iy = 2 * y + ky - 1;
                  const ix = 2 * xx + kx - 1;
                  if (iy < 0 || ix < 0 || iy >= inp.h || ix >= inp.w) continue;
                  sum += w[((o * inp.c + c) * 3 + ky) * 3 + kx] * inp.data[((n * inp.c + c) * inp.h + iy) * inp.w + ix];
                }
            res.push(Math.max(0, sum));
          }
    return { c: co, h, w: wd, data: res };
  };
  x = conv(conv(x, 2, 0), 2, 1); // [2, 4, 2, 2]
  const pw = store.get("stem.proj.weight").data; // [C, D]
  const pb = store.get("stem.proj.bias").data;
  for (let n = 0; n < 2; n++)
    for (let cell = 0; cell < 4; cell++)
      for (let d = 0; d < 5; d++) {
        let sum = pb[d];
        for (let c = 0; c < 4; c++) sum += x.data[(n * 4 + c) * 4 + cell] * pw[c * 5 + d];
        const got = out[(n * 4 + cell) * 5 + d];
        assert.ok(Math.abs(got - sum) < 1e-5, `token ${n}/${cell}/${d}: ${got} vs ${sum}`);
      }
  assert.throws(
    () => AlignerConfig.parse({ ...config, image: { ...config.image, stem: { convChannels: [8, 16] } } }),
    /patch must be 2\^convChannels.length/,
  );
});

test("text attention is bidirectional, and padding changes nothing", async () => {
  const aligner = freshAligner();
  const g = new Graph();
  const ids = idsInput(g, config, 2);
  const { tokens } = alignerTextTower(g, config, ids);
  const evaluator = await Evaluator.create({ first: op.slice(tokens, 1, 0, 2) }, aligner.store, 1);
  const run = async (rows: number[][]) => {
    const data = new BigInt64Array(2 * config.text.maxLen);
    for (const [i, row] of rows.entries()) for (const [t, id] of row.entries()) data[i * config.text.maxLen + t] = BigInt(id);
    return (await evaluator.run({ ids: { dtype: "int64", shape: [2, config.text.maxLen], data } })).first.data as Float32Array;
  };
  // Changing the last token changes the first tokens' outputs: no causal mask.
  const out = await run([
    [1, 50, 60, 70],
    [1, 50, 60, 71],
  ]);
  const d = config.text.dim;
  assert.notDeepEqual(out.subarray(0, 2 * d), out.subarray(2 * d, 4 * d));
  // Making the <|pad|> embedding huge leaves every text's embedding as it was: padding is masked.
  const before = await aligner.embedTexts(reports);
  const table = aligner.store.get("text_model.embeddings.token_embedding.weight");
  for (let k = 0; k < d; k++) table.data[k] = 50;
  const after = await aligner.embedTexts(reports);
  for (let i = 0; i < before.length; i++) assert.ok(Math.abs(before[i] - after[i]) < 1e-5, `embedding moved at ${i}`);
});

test("preprocessing windows HU into [0, 1] channels and area-averages to the model size", () => {
  const hu = Int16Array.from([-1000, -600, 40, 1000]); // a 2x2 slice
  const cfg = { imageSize: 2, windows: CHEST_WINDOWS };
  const x = preprocessHu(hu, 2, 2, cfg);
  // lung window (-600, 1500): -1000 -> 0.2333, -600 -> 0.5, 40 -> 0.9267, 1000 -> 1 (saturates)
  const want = [(-1000 + 1350) / 1500, 0.5, (40 + 1350) / 1500, 1, 0, 0, 0.5, 1];
  for (const [i, v] of x.entries()) assert.ok(Math.abs(v - want[i]) < 1e-6, `channel value ${i}: ${v} vs ${want[i]}`);
  const small = preprocessHu(hu, 2, 2, { imageSize: 1, windows: [{ center: 0, width: 4000 }] });
  assert.ok(Math.abs(small[0] - (0.5 + (-1000 - 600 + 40 + 1000) / 4 / 4000)) < 1e-6);
  assert.throws(() => preprocessHu(hu, 3, 2, cfg), /4 values do not fill a 3x2 slice/);
});

test("save and load give identical embeddings and the same temperature", async () => {
  const dir = await mkdtemp(join(tmpdir(), "aigc-aligner-"));
  try {
    const aligner = freshAligner(7);
    aligner.store.get("logit_scale").data[0] = Math.log(20);
    await saveAligner(dir, { config: aligner.config, store: aligner.store, tokenizer, metrics: { note: "untrained" } });
    const loaded = await loadAligner(dir, { threads: 1 });
    assert.deepEqual(loaded.config, aligner.config);
    const slices = [slice(0), slice(5)];
    assert.deepEqual(await loaded.embedSlices(slices), await aligner.embedSlices(slices));
    assert.deepEqual(await loaded.embedTexts(reports), await aligner.embedTexts(reports));
    assert.ok(Math.abs(loaded.inverseTemperature() - 20) < 1e-4);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a bad model folder fails with an AlignerFileError that says what is wrong", async () => {
  const dir = await mkdtemp(join(tmpdir(), "aigc-aligner-bad-"));
  try {
    await assert.rejects(
      loadAligner(join(dir, "missing")),
      (e: Error) => e instanceof AlignerFileError && /expected .*config\.json.*train align/.test(e.message),
    );
    await writeFile(join(dir, "config.json"), "{ not json");
    await assert.rejects(loadAligner(dir), /config\.json is not valid JSON/);
    await writeFile(join(dir, "config.json"), JSON.stringify({ kind: "aigc-moe-lm", model: {} }));
    await assert.rejects(loadAligner(dir), /not a valid aigc-aligner config: kind/);
    const aligner = freshAligner();
    await saveAligner(dir, { config: aligner.config, store: aligner.store, tokenizer });
    const wider = { ...aligner.config, model: { ...config, text: { ...config.text, dim: 64, hidden: 128 } } };
    await writeFile(join(dir, "config.json"), JSON.stringify(wider));
    await assert.rejects(loadAligner(dir), /tensor "text_model\..*" has shape \[.*\], the config needs \[.*64.*\]/);
    await writeFile(
      join(dir, "config.json"),
      JSON.stringify({ ...aligner.config, model: { ...config, text: { ...config.text, vocab: 999 } } }),
    );
    await assert.rejects(loadAligner(dir), /has shape|999/);
    await writeFile(join(dir, "config.json"), JSON.stringify(aligner.config));
    await writeFile(join(dir, "model.safetensors"), "garbage");
    await assert.rejects(loadAligner(dir), (e: Error) => e instanceof AlignerFileError && /model\.safetensors/.test(e.message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("mean and max pooling skip padded tokens", async () => {
  const g = new Graph();
  const x = g.input("x", "float32", [1, 3, 2]);
  const keep = g.input("keep", "float32", [1, 3]);
  const m = await compile(toOnnx({ outputs: { mean: meanPool(x, keep), max: maxPool(x, keep) }, name: "pool" }), { threads: 1 });
  const out = await m.run({
    x: { dtype: "float32", shape: [1, 3, 2], data: Float32Array.of(1, -4, 3, -2, 100, 100) },
    keep: { dtype: "float32", shape: [1, 3], data: Float32Array.of(1, 1, 0) },
  });
  assert.deepEqual([...out.mean.data], [2, -3]);
  assert.deepEqual([...out.max.data], [3, -2]);
});
