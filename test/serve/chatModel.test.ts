// The default chat model as a new user meets it: `aigc serve` on the embedded defaults, the
// official `openai` client, the shipped assets/chat (ONNX Runtime, no mock). Its chat template
// is applied (the answer ends at its end-of-turn token, never echoes role tokens), the
// sampling comes from its generation_config.json, no answer holds a broken character, a
// streamed answer equals the whole one, and the files other runtimes need are there.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import type OpenAI from "openai";
import { CHAT_TEMPLATE_JINJA } from "../../src/data/index.js";
import { shippedModel } from "../../src/serve/config.js";
import { type DefaultServer, listenOnDefaults } from "../helpers/defaultServer.js";

let server: DefaultServer;
let openai: OpenAI;

before(async () => {
  server = await listenOnDefaults();
  openai = server.openai;
});

after(async () => {
  await server?.close();
});

test("the defaults serve the chat model first, the tiny base model beside it", async () => {
  assert.equal(shippedModel.name, "aigc-chat");
  const models = (await openai.models.list()).data.map((m) => m.id);
  assert.ok(models.includes("aigc-chat") && models.includes("aigc-lm-tiny"), models.join(", "));
});

test("a question gets an answer that ends at the end of its turn", async () => {
  const r = await openai.chat.completions.create({
    model: "aigc-chat",
    messages: [{ role: "user", content: "What is a named pipe?" }],
    max_tokens: 120,
    seed: 1,
  });
  const answer = r.choices[0].message.content ?? "";
  assert.ok(answer.trim().length > 0);
  assert.equal(r.choices[0].finish_reason, "stop", `ended at its turn's end: ${answer}`);
  assert.ok(!/<\|(user|assistant|system|eos)\|>|^User:|\nUser:/.test(answer), answer);
  assert.ok(r.usage && r.usage.completion_tokens > 0 && r.usage.completion_tokens < 120);
});

test("sampled answers never hold a broken character (English and Chinese, temperature 1.5)", async () => {
  const questions = ["Tell me a joke.", "Explain file permissions.", "你好", "续写：春眠不觉晓，", "请背诵《静夜思》。"];
  const answers = await Promise.all(
    questions.map((q, i) =>
      openai.chat.completions.create({
        model: "aigc-chat",
        messages: [{ role: "user", content: q }],
        max_tokens: 40,
        temperature: 1.5,
        n: 8,
        seed: 100 + i,
      }),
    ),
  );
  const texts = answers.flatMap((a) => a.choices.map((c) => c.message.content ?? ""));
  assert.equal(texts.length, 40);
  for (const t of texts) assert.ok(!t.includes("\uFFFD"), JSON.stringify(t));
});

test("a streamed answer is the whole answer, in pieces", async () => {
  const request = {
    model: "aigc-chat",
    messages: [{ role: "user" as const, content: "Tell me about the shell prompt." }],
    max_tokens: 60,
    seed: 7,
  };
  const whole = await openai.chat.completions.create(request);
  const stream = await openai.chat.completions.create({ ...request, stream: true });
  let text = "";
  for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
  assert.equal(text, whole.choices[0].message.content);
});

test("the model folder carries its chat template and sampling for other runtimes", () => {
  const config = JSON.parse(readFileSync("assets/chat/tokenizer_config.json", "utf8"));
  assert.equal(config.chat_template, CHAT_TEMPLATE_JINJA);
  assert.equal(config.eos_token, "<|eos|>");
  const generation = JSON.parse(readFileSync("assets/chat/generation_config.json", "utf8"));
  assert.ok(generation.temperature > 0 && generation.top_p <= 1);
});
