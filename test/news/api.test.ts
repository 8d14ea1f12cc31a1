// The news app over HTTP, on the real platform (the shipped chat model writes the summaries
// through the server's own OpenAI API) and real Debian release notes: readers, digests (JSON
// and the e-mail edition), feedback, admin-only feeds, bad input, and the page in Chromium.

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { chromium } from "playwright-core";
import { Newsroom, newsApp } from "../../src/apps/index.js";
import { checkFaithful } from "../../src/apps/news/faithfulness.js";
import { buildApp, createPlatform, hashApiKey, type Platform, serverConfigSchema } from "../../src/serve/index.js";

const tenantKey = "sk-aigc-news-tenant-0000000000000000";
const adminKey = "sk-aigc-news-admin-11111111111111111";
const auth = (key: string) => ({ authorization: `Bearer ${key}` });

let platform: Platform;
let app: FastifyInstance;
let newsroom: Newsroom;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "news-api-"));
  const config = serverConfigSchema.parse({
    tenants: {
      auth: true,
      tenants: [{ id: "team", name: "Team", keyHashes: [hashApiKey(tenantKey)] }],
      adminKeyHashes: [hashApiKey(adminKey)],
    },
  });
  platform = await createPlatform(config, { threads: 1 });
  newsroom = Newsroom.open({ db: join(dir, "news.db") });
  newsroom.ingest("/usr/share/doc", { maxFiles: 150 });
  app = await buildApp({ platform, apps: [newsApp({ newsroom, model: "aigc-chat" })] });
});

after(async () => {
  await app?.close();
  newsroom?.close();
  await platform?.close();
  rmSync(dir, { recursive: true, force: true });
});

const post = (url: string, payload: unknown, key = tenantKey) =>
  app.inject({
    method: "POST",
    url,
    headers: { ...auth(key), "content-type": "application/json" },
    payload: JSON.stringify(payload),
  });
const get = (url: string, key = tenantKey) => app.inject({ method: "GET", url, headers: auth(key) });

describe("readers and digests", () => {
  test("a reader is added, listed, and gets a digest of faithful summaries shorter than their items", async () => {
    const added = await post("/v1/news/readers", {
      id: "alice",
      interests: "security fixes, CVE, openssl, curl",
      length: "short",
      digestSize: 3,
    });
    assert.equal(added.statusCode, 200, added.body);
    assert.equal(added.json().lang, "en");
    const list = await get("/v1/news/readers");
    assert.deepEqual(
      list.json().data.map((r: { id: string }) => r.id),
      ["alice"],
    );
    const res = await get("/v1/news/digest?reader=alice");
    assert.equal(res.statusCode, 200, res.body);
    const digest = res.json();
    assert.equal(digest.items.length, 3);
    for (const item of digest.items) {
      const source = newsroom.store.item(item.item);
      assert.ok(source, `digest item ${item.item} is in the store`);
      const check = checkFaithful(`${item.headline}. ${item.summary}`, `${source.title}. ${source.text}`);
      assert.deepEqual(check.unsupported, [], `${item.method} summary "${item.summary}" holds facts its item lacks`);
      assert.ok(
        item.summary.length > 0 && item.summary.length <= source.text.length,
        `summary of ${item.item} is no longer than its item`,
      );
      assert.ok(["model", "extractive"].includes(item.method));
    }
    // The summaries are the tenant's requests: the platform served chat completions for them.
    const shown = newsroom.store.impressionsSince(0).filter((s) => s.reader === "alice");
    assert.equal(shown.length, 3);
  });

  test("feedback is recorded, and the next digest leaves out what was read", async () => {
    const first = (await get("/v1/news/digest?reader=alice")).json();
    const read = first.items[0].item;
    const ok = await post("/v1/news/feedback", { reader: "alice", item: read, kind: "click" });
    assert.equal(ok.statusCode, 200, ok.body);
    const less = await post("/v1/news/feedback", { reader: "alice", item: first.items[1].item, kind: "less" });
    assert.equal(less.statusCode, 200, less.body);
    const next = (await get("/v1/news/digest?reader=alice")).json();
    const ids = next.items.map((i: { item: string }) => i.item);
    assert.ok(!ids.includes(read) && !ids.includes(first.items[1].item), "items with feedback are not shown again");
    assert.ok(newsroom.store.getBandit("ours"), "the ranker's state is stored");
  });

  test("the e-mail edition is self-contained HTML with the digest's headlines", async () => {
    const res = await get("/v1/news/digest?reader=alice&format=html&size=2");
    assert.equal(res.statusCode, 200);
    assert.match(res.headers["content-type"] as string, /text\/html/);
    assert.doesNotMatch(res.body, /<script|<link|src=/i);
    assert.match(res.body, /Your digest/);
  });
});

describe("bad input", () => {
  test("readers: a bad id, empty interests or an unknown length are 400s naming the field", async () => {
    for (const [body, field] of [
      [{ id: "a b", interests: "x" }, "id"],
      [{ id: "a", interests: "  " }, "interests"],
      [{ id: "a", interests: "x", length: "huge" }, "length"],
      [{ id: "a", interests: "x", extra: 1 }, ""],
    ] as const) {
      const res = await post("/v1/news/readers", body);
      assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
      assert.equal(res.json().error.type, "invalid_request_error");
      if (field) assert.equal(res.json().error.param, field);
    }
    const malformed = await app.inject({
      method: "POST",
      url: "/v1/news/readers",
      headers: { ...auth(tenantKey), "content-type": "application/json" },
      payload: "{",
    });
    assert.equal(malformed.statusCode, 400);
  });

  test("unknown reader or item: 404; a bad kind or query: 400; the server keeps serving", async () => {
    assert.equal((await get("/v1/news/digest?reader=nobody")).statusCode, 404);
    assert.equal((await get("/v1/news/digest")).statusCode, 400);
    assert.equal((await get("/v1/news/digest?reader=alice&size=0")).statusCode, 400);
    assert.equal((await post("/v1/news/feedback", { reader: "alice", item: "no-such-item", kind: "click" })).statusCode, 404);
    assert.equal((await post("/v1/news/feedback", { reader: "nobody", item: "x", kind: "click" })).statusCode, 404);
    assert.equal((await post("/v1/news/feedback", { reader: "alice", item: "x", kind: "like" })).statusCode, 400);
    assert.equal((await get("/v1/news/readers")).statusCode, 200);
  });

  test("keys: no key is 401; feeds and polling are the admin's; a non-http feed URL is 400", async () => {
    assert.equal((await app.inject({ method: "GET", url: "/v1/news/readers" })).statusCode, 401);
    assert.equal((await post("/v1/news/feeds", { url: "http://127.0.0.1:9/feed.xml" })).statusCode, 403);
    assert.equal((await post("/v1/news/feeds", { url: "file:///etc/passwd" }, adminKey)).statusCode, 400);
    const added = await post("/v1/news/feeds", { url: "http://127.0.0.1:9/feed.xml" }, adminKey);
    assert.equal(added.statusCode, 200, added.body);
    // Nothing listens on port 9: the poll reports the failure for that feed, and answers.
    const polled = await post("/v1/news/poll", {}, adminKey);
    assert.equal(polled.statusCode, 200, polled.body);
    assert.equal(polled.json().data[0].ok, false);
  });
});

const chromiumPath = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));

test("Chromium: the page adds a reader, shows the digest, and records 'less like this'", {
  skip: chromiumPath ? false : "Debian chromium is not installed",
}, async () => {
  const address = await app.listen({ host: "127.0.0.1", port: 0 });
  const browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox"] });
  try {
    const page = await browser.newPage();
    await page.addInitScript((key) => localStorage.setItem("aigc-api-key", key), tenantKey);
    await page.goto(`${address}/news`);
    await page.fill("#rid", "bob");
    await page.fill("#interests", "python packaging, compilers, gcc");
    await page.selectOption("#length", "short");
    await page.click("#add button[type=submit]");
    await page.waitForFunction(() => (window as unknown as { __digest?: { done: boolean } }).__digest?.done === true, null, {
      timeout: 120_000,
    });
    const state = await page.evaluate(() => (window as unknown as { __digest: { items?: number; error?: string } }).__digest);
    assert.equal(state.error, undefined);
    assert.equal(state.items, 10);
    assert.equal(await page.locator(".card").count(), 10);
    await page.locator(".card button", { hasText: "Less like this" }).first().click();
    await page.waitForFunction(() => document.getElementById("status")?.textContent?.startsWith("noted: less"));
    assert.equal(newsroom.store.feedbackFor("bob").filter((f) => f.kind === "less").length, 1);
    // "Read more" shows the item's whole text and counts as a click.
    await page.locator(".card").nth(1).locator("button", { hasText: "Read more" }).click();
    await page.locator(".card .full").first().waitFor();
    const id = await page.locator(".card").nth(1).getAttribute("data-item");
    assert.equal(await page.locator(".card .full").first().textContent(), newsroom.store.item(id!)?.text);
    await page.waitForFunction(() => document.getElementById("status")?.textContent?.startsWith("noted: click"));
    assert.equal(newsroom.store.feedbackFor("bob").filter((f) => f.kind === "click").length, 1);
  } finally {
    await browser.close();
  }
});
