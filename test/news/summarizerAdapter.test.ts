// The news-summarizer adapter: its training records (every target faithful to its item, the
// held-out packages never among them) and the shipped adapter writing summaries of held-out
// release notes through the real server, each one passing the same check as any model's.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { injectFetch, openAiChatBackend } from "../../src/apps/index.js";
import { checkFaithful } from "../../src/apps/news/faithfulness.js";
import { readReleaseNotes } from "../../src/apps/news/releaseNotes.js";
import { summarizeItem } from "../../src/apps/news/summarize.js";
import { isHeldOutItem, summarizerRecords } from "../../src/apps/news/summarizerData.js";
import type { NewsItem } from "../../src/apps/news/types.js";
import { newsWriterModel, SHIPPED_NEWS_ADAPTER } from "../../src/cli/news.js";
import { buildApp, createPlatform, type Platform, serverConfigSchema } from "../../src/serve/index.js";

let items: NewsItem[];
let platform: Platform;
let app: FastifyInstance;

before(async () => {
  items = readReleaseNotes("/usr/share/doc", { maxFiles: 400 });
  platform = await createPlatform(serverConfigSchema.parse({}), { threads: 1 });
  app = await buildApp({ platform });
});

after(async () => {
  await app?.close();
  await platform?.close();
});

test("training records: prompts and answers in summarizeItem's form, every target faithful, no held-out package", () => {
  const records = summarizerRecords(items);
  assert.ok(records.length > 500, `${records.length} records`);
  const heldOut = new Set(items.filter(isHeldOutItem).map((i) => i.title.split(" ")[0]));
  assert.ok(heldOut.size > 0, "some packages are held out");
  for (const { messages } of records) {
    const [user, assistant] = messages;
    const title = /\nTitle: (.*)\n/.exec(user.content)![1];
    assert.ok(!heldOut.has(title.split(" ")[0]), `${title} is a held-out package`);
    const answer = /^Headline: (.*)\nSummary: (.*)$/s.exec(assistant.content);
    assert.ok(answer, assistant.content);
    const source = user.content.slice(user.content.indexOf("\nTitle: "));
    assert.deepEqual(checkFaithful(`${answer[1]}. ${answer[2]}`, source).unsupported, [], assistant.content);
  }
});

test("the shipped adapter is the news writer, and writes checked summaries of packages it never saw", async () => {
  assert.equal(await newsWriterModel(serverConfigSchema.parse({}), platform), SHIPPED_NEWS_ADAPTER.name);
  const backend = openAiChatBackend({
    baseUrl: "http://in-process",
    model: SHIPPED_NEWS_ADAPTER.name,
    fetch: injectFetch(app, undefined),
  });
  const heldOut = items.filter((i) => isHeldOutItem(i) && i.text.length > 60).slice(0, 12);
  assert.equal(heldOut.length, 12);
  let model = 0;
  for (const item of heldOut) {
    const s = await summarizeItem(item, { backend, length: "medium", lang: "en" });
    const source = `${item.title}\n${item.text}`;
    assert.ok(checkFaithful(s.headline, source).ok && checkFaithful(s.summary, source).ok, `${s.method}: ${s.summary}`);
    assert.ok(s.summary.length < item.text.length);
    if (s.method === "model") model++;
  }
  // The base model writes none of these (bench/news-faithfulness.ts: 1% of 500); the adapter some.
  assert.ok(model >= 1, `the adapter wrote ${model} of 12`);
});
