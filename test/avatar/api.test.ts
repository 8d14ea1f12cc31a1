// Properties of the avatar's input handling: the sentence splitter loses no text and never
// splits inside a decimal number; any JSON body sent to the speak and emotion routes gets a
// 200 or a 4xx naming the problem, never a 5xx, and the server keeps answering.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import { type AvatarServiceSet, avatarApp, loadAvatarServices } from "../../src/apps/avatar/index.js";
import { splitSentences } from "../../src/apps/avatar/sentences.js";
import { buildApp } from "../../src/serve/app.js";

let app: FastifyInstance;
let services: AvatarServiceSet;

before(async () => {
  services = await loadAvatarServices();
  app = await buildApp({ apps: [avatarApp(services)] });
});

after(async () => {
  await app?.close();
  await services?.close();
});

const squash = (s: string) => s.replace(/\s+/g, "");

test("splitSentences keeps every character but whitespace, in order, finished or streaming", () => {
  const piece = fc.constantFrom("Hello", " ", "world", ".", "!", "?", "。", "你好", "\n", "3.5", "e.g", ";", "”", "é");
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 40 }), fc.boolean(), (parts, streaming) => {
      const text = parts.join("");
      const { sentences, rest } = splitSentences(text, { streaming });
      assert.equal(squash(sentences.join("") + rest), squash(text));
      for (const s of sentences) assert.ok(s.length > 0 && s === s.trim());
    }),
  );
});

test("splitSentences ends sentences at . ! ? and CJK marks, not inside numbers, and waits while streaming", () => {
  assert.deepEqual(splitSentences("It costs 3.5 dollars. Cheap! 你好。再见"), {
    sentences: ["It costs 3.5 dollars.", "Cheap!", "你好。"],
    rest: "再见",
  });
  assert.deepEqual(splitSentences("Pi is 3.", { streaming: true }), { sentences: [], rest: "Pi is 3." });
  assert.deepEqual(splitSentences("Pi is 3."), { sentences: ["Pi is 3."], rest: "" });
});

test("any JSON body to the speak and emotion routes gets a 200 or a clear 4xx, and the server keeps serving", async () => {
  const body = fc.oneof(
    fc.record(
      {
        text: fc.oneof(fc.string({ maxLength: 24 }), fc.integer(), fc.constant(null)),
        lang: fc.oneof(fc.constantFrom("auto", "en", "zh", "fr", ""), fc.integer()),
        voice: fc.oneof(fc.constantFrom("m3", "f2", "zz", "../x", ""), fc.boolean()),
        wordsPerMinute: fc.oneof(fc.integer({ min: -10, max: 1000 }), fc.double()),
        emotion: fc.boolean(),
      },
      { requiredKeys: [] },
    ),
    fc.jsonValue({ maxDepth: 2 }),
  );
  await fc.assert(
    fc.asyncProperty(fc.constantFrom("/v1/avatar/speak", "/v1/avatar/emotion"), body, async (url, payload) => {
      const r = await app.inject({
        method: "POST",
        url,
        payload: JSON.stringify(payload),
        headers: { "content-type": "application/json" },
      });
      assert.ok(r.statusCode === 200 || (r.statusCode >= 400 && r.statusCode < 500), `${r.statusCode} ${r.body}`);
      if (r.statusCode !== 200) assert.ok(r.json().error.message.length > 0);
    }),
    { numRuns: 60 },
  );
  const ok = await app.inject({ method: "POST", url: "/v1/avatar/emotion", payload: { text: "What a lovely day!" } });
  assert.equal(ok.statusCode, 200);
  assert.equal(ok.json().emotion, "happy");
});
