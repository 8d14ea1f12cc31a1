// Feeds end to end: RSS 2.0 and Atom fixtures parsed, served by a real HTTP server on loopback
// (conditional GET with ETag and Last-Modified), and the hostile cases a feed reader meets:
// entity bombs, a 50 MB item, a server that never answers or trickles, an HTML page, a 404.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import {
  FeedError,
  FeedPoller,
  fetchFeed,
  htmlToText,
  type PollResult,
  parseFeed,
  pollFeeds,
} from "../../src/apps/news/feeds.js";

const fixture = (name: string) => readFileSync(new URL(`fixtures/${name}`, import.meta.url), "utf8");
const RSS = fixture("feed-rss2.xml");
const ATOM = fixture("feed-atom.xml");
const NO_TAG = /<[A-Za-z/!?]/;

const BILLION_LAUGHS = `<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<rss version="2.0"><channel><title>lol</title><item><title>&lol3;</title></item></channel></rss>`;

const XXE = `<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>x</title><item><title>&xxe;</title><pubDate>Mon, 09 Jun 2025 10:00:00 GMT</pubDate></item></channel></rss>`;

async function rejectsWithFeedError(promise: Promise<unknown>, reason: RegExp): Promise<FeedError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof FeedError, `expected a FeedError, got ${error}`);
    assert.match(error.reason, reason);
    return error;
  }
  assert.fail(`expected a FeedError matching ${reason}`);
}

describe("parseFeed", () => {
  test("an RSS 2.0 feed: fields mapped, HTML stripped, undated item takes the feed's date, empty item skipped", async () => {
    const source = "https://compilers.example.org/feed.xml";
    const feed = await parseFeed(RSS, source);
    assert.equal(feed.title, "Compiler Weekly & Friends");
    assert.deepEqual(
      feed.items.map((item) => item.title),
      [
        "Toolchain 4.2 released with faster incremental builds",
        "Packaging survey: results",
        "Meetup notes (undated post)",
        "Link only: a talk on linkers",
      ],
    );
    const [release, survey, meetup, linkOnly] = feed.items;
    for (const item of feed.items) {
      assert.match(item.id, /^[0-9a-f]{16}$/);
      assert.equal(item.source, source);
      assert.equal(item.sourceTitle, "Compiler Weekly & Friends");
      assert.equal(item.lang, "en"); // <language>en-us</language>
      assert.doesNotMatch(item.text, NO_TAG);
    }
    // content:encoded preferred over description; script, style and comment gone; entities decoded
    assert.equal(
      release.text,
      "Toolchain 4.2 is out. Incremental builds are up to 40% faster on large workspaces, thanks to a new dependency cache. New --jobs=auto default Fewer rebuilds after header edits Read the full notes — and the upgrade guide … on the site.",
    );
    assert.equal(release.published, Date.UTC(2025, 5, 9, 12, 30));
    assert.equal(release.link, "https://compilers.example.org/2025/06/toolchain-4-2");
    // an entity-escaped description, relative link resolved against the channel's link
    assert.equal(survey.text, 'Of 1,204 answers, 62% ship "vendored" dependencies & 38% do not.');
    assert.equal(survey.link, "https://compilers.example.org/2025/06/survey");
    assert.equal(meetup.published, Date.parse("Tue, 10 Jun 2025 08:00:00 GMT"), "the feed's lastBuildDate");
    // a title-only item: the title is its text; a javascript: link is dropped
    assert.equal(linkOnly.text, linkOnly.title);
    assert.equal(linkOnly.link, undefined);
    assert.deepEqual(feed.skipped, [{ title: "", reason: "the item has neither a title nor any text" }]);
    // ids are stable across parses and differ by source
    assert.deepEqual(
      (await parseFeed(RSS, source)).items.map((item) => item.id),
      feed.items.map((item) => item.id),
    );
    assert.notEqual((await parseFeed(RSS, "https://mirror.example.com/feed.xml")).items[0].id, release.id);
  });

  test("an Atom feed: xml:lang, html and xhtml content, an entry with a bad date takes the feed's", async () => {
    const feed = await parseFeed(ATOM, "https://distro.example.net/atom.xml");
    assert.equal(feed.title, "Distribution Release Notes");
    const [point, mirrors, maintenance] = feed.items;
    assert.equal(point.title, "Point release 12.11");
    assert.equal(point.published, Date.UTC(2025, 4, 17, 10));
    assert.equal(point.link, "https://distro.example.net/news/12.11");
    assert.match(point.text, /^The eleventh update of the stable release is out\. .* no need to reinstall\.$/);
    assert.equal(mirrors.title, "Mirror changes");
    assert.equal(mirrors.text, "Two mirrors in South America join the network. One retires.");
    assert.equal(mirrors.published, Date.UTC(2025, 5, 1, 6, 30));
    assert.equal(
      maintenance.published,
      Date.UTC(2025, 5, 8, 12),
      "<published>sometime next week</published>: the feed's <updated>",
    );
    assert.ok(feed.items.every((item) => item.lang === "en")); // xml:lang="en-GB"
  });

  test("language: detected from the text when the feed does not say", async () => {
    const xml = `<rss version="2.0"><channel><title>新闻</title><item><title>编译器发布新版本</title><pubDate>Mon, 09 Jun 2025 10:00:00 GMT</pubDate>
      <description>新版本的增量构建速度提高了百分之四十。</description></item>
      <item><title>English item</title><pubDate>Mon, 09 Jun 2025 10:00:00 GMT</pubDate><description>Plain words.</description></item></channel></rss>`;
    const feed = await parseFeed(xml, "https://news.example.cn/rss");
    assert.deepEqual(
      feed.items.map((item) => item.lang),
      ["zh", "en"],
    );
  });

  test("no date on the item nor on the feed: skipped with a reason, not dated now", async () => {
    const xml = `<rss version="2.0"><channel><title>t</title><item><title>When?</title><description>Nobody knows.</description></item></channel></rss>`;
    const feed = await parseFeed(xml, "https://x.example/rss");
    assert.deepEqual(feed.items, []);
    assert.deepEqual(feed.skipped, [{ title: "When?", reason: "no parseable date on the item, nor on the feed" }]);
  });

  test("entity declarations are refused before parsing (billion laughs, XXE)", async () => {
    for (const xml of [BILLION_LAUGHS, XXE]) {
      const error = await rejectsWithFeedError(parseFeed(xml, "https://evil.example/rss"), /declares XML entities/);
      assert.equal(error.source, "https://evil.example/rss");
    }
  });

  test("not a feed: an HTML page, JSON, plain text, another XML root, broken XML, each named", async () => {
    const html = "<!DOCTYPE html>\n<html><head><title>Welcome to Example</title></head><body><p>Hi</p></body></html>";
    await rejectsWithFeedError(parseFeed(html, "s"), /^an HTML page \("Welcome to Example"\), not an RSS or Atom feed$/);
    await rejectsWithFeedError(parseFeed('{"items": []}', "s"), /^JSON or other non-XML text/);
    await rejectsWithFeedError(parseFeed("Service Unavailable", "s"), /^not XML: it starts with "Service Unavailable"/);
    await rejectsWithFeedError(parseFeed('<?xml version="1.0"?><opml version="2.0"/>', "s"), /root element is <opml>/);
    await rejectsWithFeedError(
      parseFeed('<rss version="2.0"><channel><title>t</title>', "s"),
      /^unreadable feed XML: Unclosed root tag/,
    );
    await rejectsWithFeedError(parseFeed("", "s"), /empty/);
  });

  test("an item over maxItemChars is cut at a sentence end; the feed's other items stay", async () => {
    const sentence = "The quick compiler emits a fast binary. ";
    const long = sentence.repeat(5000); // 200,000 characters
    const xml = `<rss version="2.0"><channel><title>t</title><lastBuildDate>Mon, 09 Jun 2025 10:00:00 GMT</lastBuildDate>
      <item><title>Long</title><description>${long}</description></item><item><title>Short</title><description>Brief.</description></item></channel></rss>`;
    const feed = await parseFeed(xml, "s", { maxItemChars: 1000 });
    assert.equal(feed.items.length, 2);
    assert.ok(feed.items[0].text.length <= 1000 && feed.items[0].text.length > 900, `${feed.items[0].text.length}`);
    assert.ok(feed.items[0].text.endsWith("binary."));
    assert.equal(feed.items[1].text, "Brief.");
    await rejectsWithFeedError(parseFeed(xml, "s", { maxFeedBytes: 100_000 }), /over the 100000-byte limit/);
  });

  test("many '<' without '>' (quadratic in rss-parser's own snippet regex) parse in linear time", async () => {
    const xml = `<rss version="2.0"><channel><title>t</title><item><title>a</title><pubDate>Mon, 09 Jun 2025 10:00:00 GMT</pubDate><description>${"&lt;".repeat(200_000)}</description></item></channel></rss>`;
    const started = performance.now();
    const feed = await parseFeed(xml, "s");
    assert.ok(performance.now() - started < 2000, `${performance.now() - started} ms`);
    assert.doesNotMatch(feed.items[0].text, NO_TAG);
  });
});

describe("htmlToText", () => {
  test("known cases", () => {
    assert.equal(htmlToText("<p>a</p><p>b</p>"), "a b");
    assert.equal(htmlToText("x&lt;y &amp;&amp; y&gt;z"), "x< y && y>z");
    assert.equal(htmlToText("&amp;lt;p&amp;gt;double&amp;lt;/p&amp;gt;"), "&lt;p&gt;double&lt;/p&gt;");
    assert.equal(htmlToText("&lt;p&gt;escaped once&lt;/p&gt;"), "escaped once");
    assert.equal(htmlToText("<script>if (a < b) alert(1)</script>ok<!-- c --><style>.x{}</style>"), "ok");
    assert.equal(htmlToText("caf&eacute; &#x263A; &#9731; &#0; &bogus;"), "café ☺ ☃ \uFFFD &bogus;");
    assert.equal(htmlToText("unclosed <a href='x"), "unclosed");
  });

  test("property: what is left never contains a tag", () => {
    const piece = fc.oneof(
      fc.constantFrom(
        "<",
        ">",
        "/",
        "!",
        "?",
        "-",
        "&",
        ";",
        "lt",
        "gt",
        "amp",
        "#60",
        "#x3c",
        "<p>",
        "</p>",
        "<b",
        "script",
        "<!--",
        "-->",
      ),
      fc.constantFrom(
        "<script>",
        "</script>",
        "<![CDATA[",
        "]]>",
        "&lt;",
        "&gt;",
        "&amp;",
        '<a href="',
        '">',
        " ",
        "\n",
        "x",
        "é",
        "中",
      ),
      fc.string({ maxLength: 4 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (pieces) => {
        const text = htmlToText(pieces.join(""));
        assert.doesNotMatch(text, NO_TAG);
        assert.equal(text, text.trim());
        assert.doesNotMatch(text, /\s\s/);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("parseFeed on hostile input (fast-check)", () => {
  /** Resolves with the feed or rejects with a FeedError; anything else (or a hang) fails the property. */
  const onlyFeedErrors = async (xml: string) => {
    try {
      const feed = await parseFeed(xml, "https://fuzz.example/feed");
      for (const item of feed.items) {
        assert.ok(Number.isFinite(item.published));
        assert.ok(item.title !== "" && item.text !== "");
        assert.doesNotMatch(item.text, NO_TAG);
        assert.doesNotMatch(item.title, NO_TAG);
      }
    } catch (error) {
      if (!(error instanceof FeedError)) throw error;
    }
  };

  test("arbitrary strings", async () => {
    await fc.assert(fc.asyncProperty(fc.string({ unit: "binary", maxLength: 300 }), onlyFeedErrors), {
      numRuns: 300,
      timeout: 2000,
    });
  });

  test("XML-ish strings built from feed tokens", async () => {
    const token = fc.constantFrom(
      '<rss version="2.0">',
      "</rss>",
      "<channel>",
      "</channel>",
      "<item>",
      "</item>",
      "<title>",
      "</title>",
      '<feed xmlns="http://www.w3.org/2005/Atom">',
      "</feed>",
      "<entry>",
      "</entry>",
      "<published>",
      "</published>",
      '<content type="xhtml">',
      "</content>",
      '<link href="x"/>',
      "<link/>",
      "<guid>",
      "</guid>",
      "<![CDATA[",
      "]]>",
      "&lt;",
      "&amp;",
      "<!DOCTYPE x>",
      '<?xml version="1.0"?>',
      "text",
      "2025-06-01T00:00:00Z",
      "not a date",
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(token, { maxLength: 60 }).map((t) => t.join("")),
        onlyFeedErrors,
      ),
      {
        numRuns: 500,
        timeout: 2000,
      },
    );
  });

  test("mutated valid feeds: slices deleted, duplicated, replaced", async () => {
    const mutation = fc.record({
      at: fc.nat(),
      length: fc.integer({ min: 0, max: 80 }),
      kind: fc.constantFrom("delete", "duplicate", "insert"),
      insert: fc.oneof(
        fc.string({ maxLength: 12 }),
        fc.constantFrom("<", ">", "&", '"', "<item>", "</item>", "<entry>", "]]>", "\u0000"),
      ),
    });
    const mutate = (xml: string, mutations: { at: number; length: number; kind: string; insert: string }[]) => {
      for (const m of mutations) {
        const at = m.at % (xml.length + 1);
        const end = Math.min(xml.length, at + m.length);
        if (m.kind === "delete") xml = xml.slice(0, at) + xml.slice(end);
        else if (m.kind === "duplicate") xml = xml.slice(0, end) + xml.slice(at, end) + xml.slice(end);
        else xml = xml.slice(0, at) + m.insert + xml.slice(at);
      }
      return xml;
    };
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(RSS, ATOM), fc.array(mutation, { minLength: 1, maxLength: 6 }), (xml, mutations) =>
        onlyFeedErrors(mutate(xml, mutations)),
      ),
      { numRuns: 600, timeout: 2000 },
    );
  });
});

describe("fetchFeed and pollFeeds over HTTP on loopback", () => {
  let server: Server;
  let base: string;
  let hugeBytesSent = 0;
  const requests: Record<string, IncomingMessage["headers"][]> = {};
  const RSS_ETAG = '"rss-v1"';
  const ATOM_MODIFIED = "Sun, 08 Jun 2025 12:00:00 GMT";

  /** Writes a 50 MB one-item feed, respecting backpressure, until done or the client goes away. */
  const serveHuge = (res: ServerResponse) => {
    res.writeHead(200, { "content-type": "application/rss+xml" }); // chunked: no Content-Length to refuse early
    const chunk = Buffer.from("All work and no play makes a very long item. ".repeat(1400)); // ~64 KB
    const total = 50 * 1024 * 1024;
    let sent = 0;
    let closed = false;
    res.on("close", () => {
      closed = true;
    });
    const pump = () => {
      while (!closed && sent < total) {
        sent += chunk.length;
        hugeBytesSent = sent;
        if (!res.write(chunk)) return void res.once("drain", pump);
      }
      if (!closed) res.end("</description></item></channel></rss>");
    };
    res.write('<?xml version="1.0"?><rss version="2.0"><channel><title>huge</title><item><title>big</title><description>');
    pump();
  };

  const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
    "/rss.xml": (req, res) => {
      if (req.headers["if-none-match"] === RSS_ETAG) return void res.writeHead(304, { etag: RSS_ETAG }).end();
      res.writeHead(200, { "content-type": "application/rss+xml; charset=utf-8", etag: RSS_ETAG }).end(RSS);
    },
    "/atom.xml": (req, res) => {
      const since = req.headers["if-modified-since"];
      if (since && Date.parse(since) >= Date.parse(ATOM_MODIFIED)) return void res.writeHead(304).end();
      res.writeHead(200, { "content-type": "application/atom+xml", "last-modified": ATOM_MODIFIED }).end(ATOM);
    },
    "/latin1.xml": (_req, res) => {
      const xml = `<?xml version="1.0" encoding="ISO-8859-1"?><rss version="2.0"><channel><title>Caf\u00e9</title><item><title>Cr\u00e8me br\u00fbl\u00e9e</title><pubDate>Mon, 09 Jun 2025 10:00:00 GMT</pubDate></item></channel></rss>`;
      res.writeHead(200, { "content-type": "text/xml" }).end(Buffer.from(xml, "latin1"));
    },
    "/lol.xml": (_req, res) => res.writeHead(200, { "content-type": "application/rss+xml" }).end(BILLION_LAUGHS),
    "/huge.xml": (_req, res) => serveHuge(res),
    "/declared-huge.xml": (_req, res) => {
      res.writeHead(200, { "content-type": "application/rss+xml", "content-length": String(60 * 1024 * 1024) });
      res.write("<rss>"); // never finishes: the declared length alone must refuse it
    },
    "/page.html": (_req, res) =>
      res
        .writeHead(200, { "content-type": "text/html" })
        .end("<!doctype html><html><head><title>Example Domain</title></head><body>Hi</body></html>"),
    "/hang": () => {}, // accepts the request, never answers
    "/trickle": (_req, res) => {
      res.writeHead(200, { "content-type": "application/rss+xml" });
      res.write('<?xml version="1.0"?><rss version="2.0"><channel><title>slow</title>');
      const timer = setInterval(() => res.write(" "), 100);
      res.on("close", () => clearInterval(timer));
    },
  };

  before(async () => {
    server = createServer((req, res) => {
      const path = new URL(req.url ?? "/", "http://x").pathname;
      const headers = requests[path] ?? [];
      requests[path] = headers;
      headers.push(req.headers);
      const route = routes[path];
      if (route) route(req, res);
      else res.writeHead(404, { "content-type": "text/plain" }).end("not found");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  test("RSS with ETag: 200 then 304 on the conditional GET", async () => {
    const url = `${base}/rss.xml`;
    const first = await fetchFeed({ url });
    assert.equal(first.status, "ok");
    if (first.status !== "ok") return;
    assert.equal(first.etag, RSS_ETAG);
    assert.equal(first.items.length, 4);
    assert.equal(first.items[0].source, url);
    const second = await fetchFeed({ url, etag: first.etag });
    assert.deepEqual(second, { status: "not-modified" });
    assert.equal(requests["/rss.xml"].at(-1)?.["if-none-match"], RSS_ETAG);
  });

  test("Atom with Last-Modified: 200 then 304 on If-Modified-Since", async () => {
    const url = `${base}/atom.xml`;
    const first = await fetchFeed({ url });
    assert.equal(first.status, "ok");
    if (first.status !== "ok") return;
    assert.equal(first.lastModified, ATOM_MODIFIED);
    assert.equal(first.title, "Distribution Release Notes");
    assert.deepEqual(await fetchFeed({ url, lastModified: first.lastModified }), { status: "not-modified" });
  });

  test("the XML declaration's encoding is honoured when Content-Type has no charset", async () => {
    const result = await fetchFeed({ url: `${base}/latin1.xml` });
    assert.equal(result.status === "ok" && result.items[0].title, "Crème brûlée");
  });

  test("a billion-laughs feed is refused", async () => {
    await rejectsWithFeedError(fetchFeed({ url: `${base}/lol.xml` }), /declares XML entities/);
  });

  test("a 50 MB item: refused at the byte cap without reading the rest", async () => {
    const started = performance.now();
    await rejectsWithFeedError(fetchFeed({ url: `${base}/huge.xml` }), /over the 5242880-byte limit \(stopped reading there\)/);
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 3000, `${elapsed} ms`);
    // what the server got out before the client hung up: the cap plus socket buffers, not 50 MB
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(hugeBytesSent < 25 * 1024 * 1024, `server sent ${hugeBytesSent} bytes`);
    await rejectsWithFeedError(
      fetchFeed({ url: `${base}/declared-huge.xml` }),
      /\(Content-Length\), over the 5242880-byte limit/,
    );
  });

  test("an HTML page and a 404 are refused with clear reasons", async () => {
    await rejectsWithFeedError(
      fetchFeed({ url: `${base}/page.html` }),
      /^an HTML page \("Example Domain"\), not an RSS or Atom feed$/,
    );
    const missing = await rejectsWithFeedError(
      fetchFeed({ url: `${base}/gone.xml` }),
      /^the server answered HTTP 404 Not Found$/,
    );
    assert.equal(missing.status, 404);
    await rejectsWithFeedError(fetchFeed({ url: "ftp://example.org/feed" }), /not an http\(s\) URL/);
  });

  test("pollFeeds: a silent server and a trickling one time out, a closed port fails, the rest succeed", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));

    const urls = ["/hang", "/rss.xml", "/trickle", "/atom.xml", "/lol.xml", "/gone.xml"].map((path) => `${base}${path}`);
    urls.push(`http://127.0.0.1:${closedPort}/feed.xml`);
    const started = performance.now();
    const results = await pollFeeds(
      urls.map((url) => ({ url })),
      { timeoutMs: 500, concurrency: 4 },
    );
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 2500, `${elapsed} ms`);
    assert.deepEqual(
      results.map((r) => r.url),
      urls,
    );
    const reason = (r: PollResult) => (r.ok ? r.result.status : r.error.reason);
    const [hang, rss, trickle, atom, lol, gone, refused] = results;
    assert.match(reason(hang), /^no complete answer within 500 ms \(timed out\)$/);
    assert.match(reason(trickle), /timed out/);
    assert.equal(reason(rss), "ok");
    assert.equal(reason(atom), "ok");
    assert.match(reason(lol), /declares XML entities/);
    assert.match(reason(gone), /HTTP 404/);
    assert.match(reason(refused), /^the request failed: fetch failed \(ECONNREFUSED\)$/);
    for (const r of results) if (!r.ok) assert.ok(r.error instanceof FeedError && r.error.source === r.url);
  });

  test("FeedPoller: polls on an interval, remembers validators (304 on the next round), stops", async () => {
    const rounds: PollResult[][] = [];
    const poller = new FeedPoller([{ url: `${base}/rss.xml` }, { url: `${base}/atom.xml` }], {
      intervalMs: 50,
      onResults: (results) => {
        rounds.push(results);
      },
    });
    poller.start();
    while (rounds.length < 3) await new Promise((resolve) => setTimeout(resolve, 20));
    poller.stop();
    const statuses = rounds.map((round) => round.map((r) => (r.ok ? r.result.status : r.error.reason)));
    assert.deepEqual(statuses[0], ["ok", "ok"]);
    assert.deepEqual(statuses[1], ["not-modified", "not-modified"]);
    const count = rounds.length;
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.ok(rounds.length <= count + 1, "no rounds after stop() but one under way");
  });
});
