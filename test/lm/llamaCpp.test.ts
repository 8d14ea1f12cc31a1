// The shipped chat model exported to GGUF and run by llama.cpp (node-llama-cpp's prebuilt
// CPU binaries): the same greedy tokens and next-token probabilities as our engine, the same
// token ids from llama.cpp's own tokenizer, a file a second reader (@huggingface/gguf) reads,
// and a server that refuses a truncated GGUF with the reason while serving the rest.

import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync, statSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { gguf as readWithHf } from "@huggingface/gguf";
import OpenAI from "openai";
import {
  folderChatTemplate,
  LlamaCppModel,
  loadMoeLm,
  type MoeLmFiles,
  MoeLmModel,
  writeMoeLmGguf,
} from "../../src/models/index.js";
import { readGgufHeader } from "../../src/runtime/index.js";
import { buildApp } from "../../src/serve/app.js";
import { serverConfigSchema } from "../../src/serve/config.js";
import { createPlatform } from "../../src/serve/platform.js";

const PROMPTS = [
  // English
  "The Debian package manager",
  "To configure the network interface, edit",
  "A fortune: ",
  "<|user|>Tell me a joke<|eos|><|assistant|>",
  "<|user|>What is APT?<|eos|><|assistant|>",
  "In the beginning",
  "The kernel module",
  "Backups should be",
  // Chinese
  "春眠不觉晓",
  "床前明月光",
  "<|user|>请背诵一首诗<|eos|><|assistant|>",
  "白日依山尽",
  "软件包管理",
  "人生",
  // code
  "export function parse(",
  "const schema = z.object({",
  "import { z } from",
  "if (value === undefined) {",
  "class ZodError extends",
  "  return {\n    success:",
];
const STEPS = 64;

const softmax = (logits: Float32Array) => {
  let max = Number.NEGATIVE_INFINITY;
  for (const x of logits) max = Math.max(max, x);
  let z = 0;
  for (const x of logits) z += Math.exp(x - max);
  return Float64Array.from(logits, (x) => Math.exp(x - max) / z);
};
const argmax = (xs: ArrayLike<number>) => {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
};

describe("the chat model on llama.cpp (F32 GGUF)", () => {
  const dir = mkdtempSync(join(tmpdir(), "llama-cpp-test-"));
  const path = join(dir, "chat.f32.gguf");
  let files: MoeLmFiles;
  let llama: LlamaCppModel;
  before(async () => {
    files = await loadMoeLm("assets/chat");
    const report = writeMoeLmGguf(
      {
        cfg: files.config.model,
        store: files.store,
        tokenizer: files.tokenizer,
        chatTemplate: folderChatTemplate("assets/chat"),
      },
      path,
      { type: "f32" },
    );
    assert.equal(report.paddedExperts, 64, "the image and code groups are padded to the text group's 64 experts");
    llama = await LlamaCppModel.load(path, { threads: 2, maxRows: PROMPTS.length });
  });
  after(async () => {
    await llama?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`decodes ${PROMPTS.length} prompts greedily to the same ${STEPS} tokens, probabilities within 1e-3`, async () => {
    const ours = await MoeLmModel.create(files.config.model, files.store, files.tokenizer, { threads: 2 });
    const prompts = PROMPTS.map((p) => files.tokenizer.encode(p));
    const rows = prompts.map((_, r) => r);
    const a = await ours.open(rows.length);
    const b = await llama.open(rows.length);
    let feedA = prompts;
    let feedB = prompts;
    let worst = 0;
    for (let step = 0; step < STEPS; step++) {
      const [la, lb] = await Promise.all([a.feed(rows, feedA), b.feed(rows, feedB)]);
      for (const r of rows) {
        const pa = softmax(la[r]);
        const pb = softmax(lb[r]);
        for (let v = 0; v < pa.length; v++) worst = Math.max(worst, Math.abs(pa[v] - pb[v]));
      }
      const nextA = la.map(argmax);
      const nextB = lb.map(argmax);
      assert.deepEqual(nextB, nextA, `step ${step}: llama.cpp's greedy tokens differ from ours`);
      feedA = nextA.map((t) => [t]);
      feedB = nextB.map((t) => [t]);
    }
    await a.close();
    await b.close();
    assert.ok(worst < 1e-3, `largest next-token probability difference ${worst.toExponential(2)}`);
  });

  it("tokenizes with llama.cpp's own tokenizer to our ids", async () => {
    const { getLlama } = await import("node-llama-cpp");
    const binding = await getLlama({ gpu: false, build: "never", skipDownload: true });
    const model = await binding.loadModel({ modelPath: path, gpuLayers: 0, vocabOnly: true });
    const texts = [
      ...PROMPTS,
      "Multiple   spaces,\ttabs\nand newlines\n\n\nhere.",
      "Numbers 1234567 and 3.14159, don't we'll they're",
      "混合 English 和中文，标点！？",
      "emoji 🙂 and accents café naïve",
    ];
    try {
      for (const text of texts) {
        const theirs = [...model.tokenize(text, true)].map(Number);
        assert.deepEqual(theirs, files.tokenizer.encode(text), JSON.stringify(text));
        assert.equal(model.detokenize(model.tokenize(text, true), true), text);
      }
    } finally {
      await model.dispose();
    }
  });

  it("is read by a second reader (@huggingface/gguf) with the same metadata and tensors", async () => {
    const ours = readGgufHeader(path);
    const { metadata, tensorInfos } = await readWithHf(path, { allowLocalFile: true });
    const m = metadata as Record<string, unknown>;
    assert.equal(m["general.architecture"], "glm4moe");
    assert.equal(Number(m["glm4moe.expert_count"]), 192);
    assert.equal(Number(m["glm4moe.expert_group_count"]), 3);
    assert.equal(Number(m["glm4moe.expert_group_used_count"]), 2);
    assert.equal(Number(m["glm4moe.leading_dense_block_count"]), 1);
    assert.equal((m["tokenizer.ggml.tokens"] as string[]).length, files.tokenizer.vocabSize);
    assert.equal(m["tokenizer.chat_template"], folderChatTemplate("assets/chat"));
    assert.deepEqual(
      tensorInfos.map((t) => [t.name, t.shape.map(Number).join("x")]),
      ours.tensors.map((t) => [t.name, t.dims.join("x")]),
    );
  });

  it("serves it as the llama-cpp provider; a truncated GGUF is refused with the reason and the rest keep serving", async () => {
    const broken = join(dir, "broken.gguf");
    copyFileSync(path, broken);
    truncateSync(broken, Math.floor(statSync(path).size / 2));
    const warnings: string[] = [];
    const config = serverConfigSchema.parse({
      models: {
        default: "aigc-chat",
        local: {
          "aigc-chat": { dir: "assets/chat" },
          "aigc-chat-llama": { dir: "assets/chat", runtime: "llama-cpp", gguf: path },
          broken: { dir: "assets/chat", runtime: "llama-cpp", gguf: broken },
        },
      },
    });
    const platform = await createPlatform(config, { threads: 1, logger: { warn: (m) => warnings.push(m), info: () => {} } });
    const app = await buildApp({ platform });
    const baseUrl = await app.listen({ host: "127.0.0.1", port: 0 });
    const openai = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: "none", maxRetries: 0 });
    try {
      assert.match(warnings.join("\n"), /model 'broken' not loaded: .*truncated: tensor/);
      const ask = (model: string) =>
        openai.chat.completions.create({
          model,
          messages: [{ role: "user", content: "Tell me a joke" }],
          max_tokens: 24,
          temperature: 0,
        });
      await assert.rejects(ask("broken"), (e: Error & { status?: number }) => {
        assert.equal(e.status, 400);
        assert.match(e.message, /could not be loaded at start: .*truncated/);
        return true;
      });
      // Same answer as our engine's: greedy, with the model's repetition penalty applied by llama.cpp on its raw logits.
      const [viaLlama, viaOrt] = await Promise.all([ask("aigc-chat-llama"), ask("aigc-chat")]);
      assert.ok((viaLlama.choices[0].message.content ?? "").length > 0);
      assert.equal(viaLlama.choices[0].message.content, viaOrt.choices[0].message.content);
      const streamed = await openai.chat.completions.create({
        model: "aigc-chat-llama",
        messages: [{ role: "user", content: "Tell me a joke" }],
        max_tokens: 24,
        temperature: 0,
        stream: true,
      });
      let text = "";
      for await (const chunk of streamed) text += chunk.choices[0]?.delta.content ?? "";
      assert.equal(text, viaLlama.choices[0].message.content);
      const health = (await (await fetch(`${baseUrl}/health`)).json()) as { llamaCpp: { failed: Record<string, string> } };
      assert.match(health.llamaCpp.failed.broken, /truncated/);
    } finally {
      await app.close();
      await platform.close();
    }
  });
});
