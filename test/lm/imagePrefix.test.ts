// The MoE LM's image prefix (multimodal models): projected features added at the first S
// positions, routed to the image experts. The KV-cache decoder with a prefix matches the
// whole-sequence forward, the prefix changes what follows, a row without one is the text
// model, and the continuous batcher carries prefixes per request.

import assert from "node:assert/strict";
import { test } from "node:test";
import { ContinuousBatcher, generate, type StreamChunk } from "../../src/generate/index.js";
import { MoeLmConfig } from "../../src/models/moeLm.js";
import { moeLmInferenceGraph } from "../../src/models/moeLmInference.js";
import { MoeLmModel } from "../../src/models/moeLmModel.js";
import { defaultMoeConfig } from "../../src/nn/index.js";
import { ParamStore } from "../../src/runtime/params.js";
import { Rng } from "../../src/runtime/rng.js";

const slots = 4;
const features = 12;
const cfg = MoeLmConfig.parse({
  vocab: 300,
  maxSeq: 48,
  dim: 32,
  heads: 4,
  layers: 2,
  denseLayers: 1,
  denseHidden: 64,
  tieEmbeddings: true,
  ropeTheta: 10000,
  normEps: 1e-6,
  moe: { ...defaultMoeConfig, expertHidden: 8 },
  image: { slots, features },
});
const store = ParamStore.fromGraph(moeLmInferenceGraph(cfg).g, 5);
// Stronger projection weights than the init, so the prefix visibly moves the logits.
const proj = store.get("model.image_proj.weight");
const rng = Rng.forName(1, "proj");
for (let i = 0; i < proj.data.length; i++) proj.data[i] = rng.normal() * 0.5;
const tokenizer = {
  encode: (s: string) => Array.from(s, (c) => c.charCodeAt(0) % 300),
  decode: (ids: readonly number[]) => ids.join(","),
};
const model = await MoeLmModel.create(cfg, store, tokenizer, { threads: 1 });
const image = (seed: number) => Float32Array.from({ length: slots * features }, (_, i) => Math.sin(seed * 7.1 + i * 0.37));
const placeholders = [290, 291, 292, 293]; // the S image-slot tokens that start a multimodal prompt
const prompt = [...placeholders, 10, 20, 30, 40, 50];

/** Reference: greedy decoding of `prompt` with a prefix, one row, by hand. */
async function greedyWithPrefix(img: Float32Array, n: number): Promise<number[]> {
  const session = await model.open(1);
  session.setPrefix!(0, img);
  let [logits] = await session.feed([0], [prompt]);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const next = logits.indexOf(Math.max(...logits));
    out.push(next);
    [logits] = await session.feed([0], [[next]]);
  }
  await session.close();
  return out;
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

test("with a prefix, the KV-cache decoder gives the whole-sequence forward's logits", async () => {
  const whole = await model.allLogits([prompt, prompt], [image(1), undefined]);
  const v = cfg.vocab;
  const session = await model.open(2);
  session.setPrefix!(0, image(1));
  const [withImage, without] = await session.feed([0, 1], [prompt, prompt]);
  const t = prompt.length;
  assert.ok(maxDiff(withImage, whole.subarray((t - 1) * v, t * v)) < 1e-4);
  assert.ok(maxDiff(without, whole.subarray((2 * t - 1) * v, 2 * t * v)) < 1e-4);
  assert.ok(maxDiff(withImage, without) > 1e-2, "the image changes the next-token logits");
  // Decode steps after the prefill feed no image (S = 0) and still see it through the cache.
  const [next] = await session.feed([0], [[60]]);
  const longer = await model.allLogits([[...prompt, 60]], [image(1)]);
  assert.ok(maxDiff(next, longer.subarray(t * v, (t + 1) * v)) < 1e-4);
  await session.close();
});

test("different images give different continuations; the batcher carries each request's prefix", async () => {
  const batcher = new ContinuousBatcher(model, { maxBatch: 4, maxWaitMs: 0 });
  const collect = async (s: AsyncIterable<StreamChunk>) => {
    const out: number[] = [];
    for await (const c of s) out.push(c.token);
    return out;
  };
  const opts = { maxTokens: 8, temperature: 0, ignoreEos: true };
  const [a, b, c] = await Promise.all([
    collect(batcher.submit(prompt, opts, { prefix: image(1) })),
    collect(batcher.submit(prompt, opts, { prefix: image(2) })),
    collect(batcher.submit(prompt, opts)),
  ]);
  const [plain] = await generate(model, [prompt], opts);
  assert.deepEqual(c, plain.tokens, "no prefix: the text model");
  assert.deepEqual(a, await greedyWithPrefix(image(1), 8));
  assert.deepEqual(b, await greedyWithPrefix(image(2), 8));
  // A wrong-sized prefix fails that request only.
  await assert.rejects(collect(batcher.submit(prompt, opts, { prefix: new Float32Array(3) })), /expected 4 x 12 features/);
  assert.deepEqual(await collect(batcher.submit(prompt, opts, { prefix: image(1) })), a, "same image, same greedy output");
  await batcher.close();
});
