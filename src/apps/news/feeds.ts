// News from RSS 2.0 and Atom feeds (RSS 1.0 / 0.9x too, as rss-parser reads them): parse a feed
// into NewsItems, fetch one over HTTP with conditional GET, poll many at once.
//
// Feeds come from servers we do not control, so a feed is checked before it is parsed and every
// failure is a FeedError naming the feed and the reason:
//   - a body over maxFeedBytes (default 5 MiB) is refused; fetchFeed stops reading it there;
//   - a DOCTYPE declaring entities (billion laughs, XXE) is refused unparsed;
//   - a document that is not XML, or whose root is not <rss>, <feed> or <rdf:RDF>, is refused
//     naming what it is (an HTML page, JSON, <root>);
//   - an item's text over maxItemChars (default 65,536) is cut at a sentence boundary, not
//     dropped: the head of an article is what a summary draws on, and one oversized item must
//     not cost the feed's other items;
//   - an item without a parseable date takes the feed's date (lastBuildDate / pubDate / Atom
//     updated); when the feed has none either, the item is skipped with a reason, never dated
//     "now" (a poll time is not a publication time, and it would move on every poll).

import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { TextNode } from "node-html-parser";
import Parser from "rss-parser";
import type { NewsItem } from "./types.js";

export const DEFAULT_MAX_FEED_BYTES = 5 * 1024 * 1024;
export const DEFAULT_MAX_ITEM_CHARS = 64 * 1024;
export const DEFAULT_FEED_TIMEOUT_MS = 10_000;
export const DEFAULT_POLL_CONCURRENCY = 4;

/** A feed that could not be fetched or read: which one, and why. */
export class FeedError extends Error {
  /** The feed's URL (or whatever `source` parseFeed was given). */
  readonly source: string;
  readonly reason: string;
  /** The HTTP status, when the server answered with a non-2xx one. */
  readonly status?: number;

  constructor(source: string, reason: string, status?: number) {
    super(`${source}: ${reason}`);
    this.name = "FeedError";
    this.source = source;
    this.reason = reason;
    if (status !== undefined) this.status = status;
  }
}

export interface FeedLimits {
  /** A feed body over this many bytes (UTF-8) is refused. Default 5 MiB. */
  maxFeedBytes?: number;
  /** An item's text over this many characters is cut at a sentence boundary. Default 65,536. */
  maxItemChars?: number;
}

/** An item parseFeed left out, and why. */
export interface SkippedItem {
  title: string;
  reason: string;
}

export interface ParsedFeed {
  title: string;
  items: NewsItem[];
  skipped: SkippedItem[];
}

// rss-parser computes a `contentSnippet` for every item with the regex /<(?:.|\n)*?>/, which is
// quadratic on text with many "<" and no ">" (128K "&lt;" took 21 s): a hostile feed well under
// the byte cap could stall the process. We never read the snippet, so it is made constant-time
// here, in rss-parser's own module object (which its parser looks the function up on).
const rssParserUtils = createRequire(import.meta.url)("rss-parser/lib/utils.js") as { getSnippet?: unknown };
if (typeof rssParserUtils.getSnippet !== "function") {
  throw new Error("rss-parser/lib/utils.js has no getSnippet: this module expects rss-parser 3.13");
}
rssParserUtils.getSnippet = () => "";

type RawItem = Record<string, unknown>;
type RawFeed = Record<string, unknown> & { items?: RawItem[] };

/**
 * rss-parser's Atom entry reader calls `new Date(published).toISOString()`, which throws on an
 * invalid date and so fails the whole feed. Here such an entry is read again without its dates
 * (it then takes the feed's date, or is skipped).
 */
class LenientParser extends Parser {
  constructor() {
    super();
    const self = this as unknown as { parseItemAtom: (entry: Record<string, unknown>) => RawItem };
    const parseItemAtom = self.parseItemAtom.bind(this);
    self.parseItemAtom = (entry) => {
      try {
        return parseItemAtom(entry);
      } catch (error) {
        if (!(error instanceof RangeError)) throw error;
        const { published: _published, updated: _updated, ...undated } = entry;
        return parseItemAtom(undated);
      }
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Text: HTML to plain text, cutting, language

const BLOCK_TAGS = new Set(
  "address article aside blockquote br dd div dl dt figcaption figure footer h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section table tbody td tfoot th thead tr ul".split(
    " ",
  ),
);
/** Elements whose content is not text a reader sees. */
const HIDDEN_TAGS = new Set(["script", "style", "noscript", "template", "head", "iframe", "object", "svg", "math"]);

/** One linear pass over HTML: tags, comments and hidden elements out, block tags as spaces; entities left as they are. */
function stripMarkup(html: string): string {
  const lower = html.toLowerCase();
  const out: string[] = [];
  let textStart = 0;
  let i = 0;
  const flush = (end: number) => {
    if (end > textStart) out.push(html.slice(textStart, end));
  };
  while (i < html.length) {
    if (html.charCodeAt(i) !== 0x3c /* < */ || !/[A-Za-z/!?]/.test(html[i + 1] ?? "")) {
      i++;
      continue;
    }
    flush(i);
    if (lower.startsWith("<!--", i)) {
      const end = lower.indexOf("-->", i + 4);
      i = end < 0 ? html.length : end + 3;
    } else if (lower.startsWith("<![cdata[", i)) {
      const end = lower.indexOf("]]>", i + 9);
      out.push(html.slice(i + 9, end < 0 ? html.length : end));
      i = end < 0 ? html.length : end + 3;
    } else {
      // a tag ends at the first ">" (quoted ">" in attribute values are rare, and honouring
      // quotes costs a rescan per unclosed quote); an unclosed tag at the end is dropped
      const end = html.indexOf(">", i + 1);
      const name = /^<\/?([a-z][a-z0-9-]*)/.exec(lower.slice(i, Math.min(i + 40, html.length)))?.[1] ?? "";
      const closing = html[i + 1] === "/";
      i = end < 0 ? html.length : end + 1;
      if (!closing && HIDDEN_TAGS.has(name) && html[end - 1] !== "/") {
        const close = lower.indexOf(`</${name}`, i);
        const closeEnd = close < 0 ? -1 : lower.indexOf(">", close);
        i = closeEnd < 0 ? html.length : closeEnd + 1;
      }
      out.push(BLOCK_TAGS.has(name) ? " " : "");
    }
    textStart = i;
  }
  flush(html.length);
  return out.join("");
}

const INLINE_TAGS =
  "a abbr b big center cite code del dfn em font i img ins kbd mark q s samp small span strike strong sub sup time u var wbr";
/**
 * HTML tags left in decoded text: a feed that escapes its HTML twice ("&amp;lt;p&amp;gt;").
 * Known tag names only, so "x<y && y>z" stays. Linear: [^<>] stops at the next "<".
 */
const LEFTOVER_TAG = new RegExp(
  `<!--[^<>]*-->|</?(?:${[...BLOCK_TAGS, ...INLINE_TAGS.split(" ")].join("|")})(?=[\\s/>])[^<>]*>`,
  "gi",
);

/** HTML entities decoded, all of HTML5's (node-html-parser's text nodes decode with the `entities` package). */
function decodeEntities(text: string): string {
  return text.includes("&") ? new TextNode(text).text : text;
}

/**
 * Plain text of an HTML fragment: tags, comments, scripts and styles removed, entities decoded,
 * whitespace and control characters collapsed to single spaces. What is left never contains "<"
 * followed by a letter, "/", "!" or "?" (nothing a browser would read as a tag): a literal one,
 * as in "a<b", gets a space after it.
 */
export function htmlToText(html: string): string {
  const text = decodeEntities(stripMarkup(html)).replace(LEFTOVER_TAG, " ");
  return (
    text
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are not text
      .replace(/[\u0000-\u001f\u007f-\u009f\s]+/g, " ")
      .replace(/<(?=[A-Za-z/!?])/g, "< ")
      .trim()
  );
}

const SENTENCE_END = /[.!?。！？](?:["'”’)\]]*)(?=\s|$)/g;

/**
 * `text` cut to at most `maxChars` characters: at the last sentence end in the second half of the
 * allowance, else at the last space there (with "…"), else mid-word (with "…"). Never splits a
 * surrogate pair.
 */
export function truncateText(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const cut = text.slice(0, maxChars);
  let sentenceEnd = -1;
  for (const match of cut.matchAll(SENTENCE_END)) sentenceEnd = match.index + match[0].length;
  if (sentenceEnd >= maxChars / 2) return cut.slice(0, sentenceEnd);
  const room = cut.slice(0, maxChars - 1);
  const space = room.lastIndexOf(" ");
  if (space >= maxChars / 2) return `${room.slice(0, space)}…`;
  return `${/[\uD800-\uDBFF]$/.test(room) ? room.slice(0, -1) : room}…`;
}

/**
 * A language tag for `text` by script: mostly kana → "ja", Hangul → "ko", Han → "zh", else "en".
 * Only a fallback for feeds that do not say their language.
 */
export function detectLang(text: string): string {
  const sample = text.slice(0, 4000);
  if (!/[\u2e80-\ud7af\uf900-\ufaff]/.test(sample)) return "en"; // no CJK at all: the common case, decided fast
  const letters = sample.match(/\p{L}/gu)?.length ?? 0;
  const kana = sample.match(/[\p{sc=Hiragana}\p{sc=Katakana}]/gu)?.length ?? 0;
  const hangul = sample.match(/\p{sc=Hangul}/gu)?.length ?? 0;
  const han = sample.match(/\p{sc=Han}/gu)?.length ?? 0;
  if (kana / letters > 0.1) return "ja";
  if (hangul / letters > 0.3) return "ko";
  if (han / letters > 0.3) return "zh";
  return "en";
}

/** The primary subtag of a language tag ("en-US" → "en", "zh_CN" → "zh"); undefined when it is none. */
function primaryLang(tag: unknown): string | undefined {
  if (typeof tag !== "string") return undefined;
  const primary = tag.trim().toLowerCase().split(/[-_]/)[0];
  return /^[a-z]{2,3}$/.test(primary) ? primary : undefined;
}

/** A stable 16-hex-digit id: sha256 of the source and the item's own key. */
export function stableId(source: string, key: string): string {
  return createHash("sha256").update(`${source}\n${key}`).digest("hex").slice(0, 16);
}

// ---------------------------------------------------------------------------------------------
// Parsing

const FEED_ROOTS = new Set(["rss", "feed", "rdf:rdf"]);

/** The document's root element name (lowercased), after the XML declaration, comments, PIs and DOCTYPE; null when it starts with something else. */
function rootElement(xml: string): string | null {
  let i = 0;
  for (;;) {
    while (i < xml.length && /\s/.test(xml[i])) i++;
    if (xml.startsWith("<?", i)) i = skipPast(xml, "?>", i);
    else if (xml.startsWith("<!--", i)) i = skipPast(xml, "-->", i);
    else if (/^<!doctype/i.test(xml.slice(i, i + 9))) i = skipDoctype(xml, i);
    else break;
  }
  const match = /^<([A-Za-z_][\w:.-]*)/.exec(xml.slice(i, i + 200));
  return match ? match[1].toLowerCase() : null;
}

function skipPast(xml: string, end: string, from: number): number {
  const at = xml.indexOf(end, from);
  return at < 0 ? xml.length : at + end.length;
}

/** Past a DOCTYPE, its internal subset ("[…]") included. */
function skipDoctype(xml: string, from: number): number {
  const bracket = xml.indexOf("[", from);
  const close = xml.indexOf(">", from);
  if (bracket >= 0 && (close < 0 || bracket < close)) return skipPast(xml, ">", skipPast(xml, "]", bracket));
  return close < 0 ? xml.length : close + 1;
}

/** Why `xml` is not to be parsed as a feed, or null when it may be. */
function refusal(xml: string, maxFeedBytes: number): string | null {
  const bytes = Buffer.byteLength(xml, "utf8");
  if (bytes > maxFeedBytes) return `the feed is ${bytes} bytes, over the ${maxFeedBytes}-byte limit`;
  // Entities can only be declared in a DOCTYPE; with both present the document may expand
  // (billion laughs) or reach outside itself (XXE). A feed has no need of either.
  if (/<!DOCTYPE/i.test(xml) && /<!ENTITY/i.test(xml))
    return "the document declares XML entities (<!DOCTYPE … <!ENTITY …>), refused unparsed";
  const body = xml.replace(/^\uFEFF/, "").trimStart();
  if (body === "") return "the document is empty";
  if (!body.startsWith("<")) {
    const what = /^[{[]/.test(body) ? "JSON or other non-XML text" : "not XML";
    return `${what}: it starts with ${JSON.stringify(body.slice(0, 40))}`;
  }
  const root = rootElement(body);
  if (root === null) return `not XML: it starts with ${JSON.stringify(body.slice(0, 40))}`;
  if (root === "html") {
    const title = /<title[^>]*>([^<]{0,200})/i.exec(body.slice(0, 100_000))?.[1]?.trim();
    return `an HTML page${title ? ` ("${title}")` : ""}, not an RSS or Atom feed`;
  }
  if (!FEED_ROOTS.has(root)) return `not an RSS or Atom feed: the root element is <${root}>`;
  return null;
}

/** A field rss-parser gives as a string, or as {_: text, $: attributes} when the element had attributes. */
function asString(value: unknown): string {
  if (typeof value === "string") return value;
  if (value && typeof value === "object" && typeof (value as { _?: unknown })._ === "string") return (value as { _: string })._;
  return "";
}

function parseDate(...values: unknown[]): number | undefined {
  for (const value of values) {
    const text = asString(value).trim();
    if (!text) continue;
    const time = Date.parse(text);
    if (Number.isFinite(time)) return time;
  }
  return undefined;
}

/** An absolute http(s) link, resolved against `base`; undefined for anything else (javascript:, data:, …). */
function httpLink(link: unknown, base: string | undefined): string | undefined {
  const text = asString(link).trim();
  if (!text) return undefined;
  try {
    const url = new URL(text, base);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : undefined;
  } catch {
    return undefined;
  }
}

function httpBase(...candidates: unknown[]): string | undefined {
  for (const candidate of candidates) {
    const text = asString(candidate).trim();
    if (/^https?:\/\//i.test(text) && URL.canParse(text)) return text;
  }
  return undefined;
}

const MAX_TITLE_CHARS = 300;

function toNewsItem(
  raw: RawItem,
  feed: { source: string; title: string; lang?: string; published?: number; base?: string },
  maxItemChars: number,
): NewsItem | SkippedItem {
  // the fullest body the item has: content:encoded, then RSS description / Atom content, then Atom summary
  const body = [raw["content:encoded"], raw.content, raw.summary].map(asString).find((value) => value.trim() !== "") ?? "";
  // HTML heavier than 8 characters of markup per character of text is cut before stripping,
  // so an item far over maxItemChars costs no more than one at it
  const html = body.length > maxItemChars * 8 ? body.slice(0, maxItemChars * 8) : body;
  let text = truncateText(htmlToText(html), maxItemChars);
  let title = truncateText(htmlToText(asString(raw.title)), MAX_TITLE_CHARS);
  if (!title && !text) return { title: "", reason: "the item has neither a title nor any text" };
  if (!title) title = truncateText(text, 80);
  if (!text) text = title; // a title-only feed (many link aggregators): the title is the news
  const ownDate = parseDate(raw.isoDate, raw.pubDate, raw.date, raw["dc:date"]);
  const published = ownDate ?? feed.published;
  if (published === undefined) return { title, reason: "no parseable date on the item, nor on the feed" };
  const link = httpLink(raw.link, feed.base);
  // guid / Atom id, else link, else title + the item's own date (not the feed's, which moves)
  const key = asString(raw.guid).trim() || asString(raw.id).trim() || link || `${title}\n${ownDate ?? ""}`;
  const item: NewsItem = {
    id: stableId(feed.source, key),
    source: feed.source,
    sourceTitle: feed.title,
    title,
    text,
    published,
    lang: primaryLang(raw.language) ?? feed.lang ?? detectLang(`${title} ${text}`),
  };
  if (link) item.link = link;
  return item;
}

/**
 * The items of an RSS or Atom feed's XML. `source` (the feed's URL) is each item's source and
 * part of its id. Throws FeedError when the feed is refused or unreadable (see the top of this
 * file); items it cannot use (no title nor text, no date) are listed in `skipped`.
 */
export async function parseFeed(xml: string, source: string, limits: FeedLimits = {}): Promise<ParsedFeed> {
  const maxFeedBytes = checkLimit("maxFeedBytes", limits.maxFeedBytes ?? DEFAULT_MAX_FEED_BYTES);
  const maxItemChars = checkLimit("maxItemChars", limits.maxItemChars ?? DEFAULT_MAX_ITEM_CHARS);
  if (typeof xml !== "string") throw new FeedError(source, "the feed is not text");
  const refused = refusal(xml, maxFeedBytes);
  if (refused) throw new FeedError(source, refused);
  let raw: RawFeed;
  try {
    raw = (await new LenientParser().parseString(xhtmlAsHtml(xml))) as unknown as RawFeed;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new FeedError(source, `unreadable feed XML: ${message.split("\n")[0]}`);
  }
  const title = truncateText(htmlToText(asString(raw.title)), MAX_TITLE_CHARS) || source;
  const feedLang = primaryLang(raw.language) ?? primaryLang(rootAttribute(xml, "xml:lang"));
  const feed = {
    source,
    title,
    lang: feedLang,
    published: parseDate(raw.lastBuildDate, raw.pubDate, raw.updated),
    base: httpBase(raw.link, source),
  };
  const items: NewsItem[] = [];
  const skipped: SkippedItem[] = [];
  for (const rawItem of Array.isArray(raw.items) ? raw.items : []) {
    const result = toNewsItem(rawItem ?? {}, feed, maxItemChars);
    if ("id" in result) items.push(result);
    else skipped.push(result);
  }
  return { title, items, skipped };
}

const XHTML_OPENER = /<(content|summary|title|subtitle)\b([^<>]*?)\btype\s*=\s*["']xhtml["']([^<>]*)>/g;

/**
 * Atom `type="xhtml"` content rewritten as `type="html"` (its markup escaped). xml2js keeps an
 * element's text apart from its children, so rss-parser rebuilds xhtml with the words out of
 * order ("Two mirrors in join the network.South America"); escaped HTML it passes through whole.
 * One forward pass with indexOf: linear however many openers lack a closing tag.
 */
function xhtmlAsHtml(xml: string): string {
  if (!/type\s*=\s*["']xhtml["']/.test(xml)) return xml;
  const out: string[] = [];
  let done = 0;
  XHTML_OPENER.lastIndex = 0;
  for (let match = XHTML_OPENER.exec(xml); match !== null; match = XHTML_OPENER.exec(xml)) {
    const [opener, name, before, after] = match;
    if (opener.endsWith("/>")) continue;
    const innerStart = match.index + opener.length;
    const close = xml.indexOf(`</${name}>`, innerStart);
    if (close < 0) break;
    const inner = xml.slice(innerStart, close).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
    out.push(xml.slice(done, match.index), `<${name}${before}type="html"${after}>`, inner);
    done = close;
    XHTML_OPENER.lastIndex = close;
  }
  out.push(xml.slice(done));
  return out.join("");
}

/** An attribute of the root element (Atom's xml:lang, which rss-parser does not keep). */
function rootAttribute(xml: string, name: string): string | undefined {
  const root = /<(?:feed|rss|rdf:RDF)\b([^>]{0,2000})>/.exec(xml.slice(0, 20_000))?.[1];
  if (!root) return undefined;
  const escaped = name.replace(/[.:]/g, "\\$&");
  return new RegExp(`\\s${escaped}\\s*=\\s*["']([^"']*)["']`).exec(root)?.[1];
}

function checkLimit(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// Fetching

/** A feed to fetch, with the validators of its last answer for a conditional GET. */
export interface FeedRequest {
  url: string;
  etag?: string;
  lastModified?: string;
}

export interface FetchFeedOptions extends FeedLimits {
  /** The whole exchange (connect, headers, body) must finish within this. Default 10,000 ms. */
  timeoutMs?: number;
  /** The fetch to use (default Node's global fetch). */
  fetch?: typeof fetch;
}

export type FetchFeedResult =
  | { status: "not-modified" }
  | { status: "ok"; etag?: string; lastModified?: string; title: string; items: NewsItem[]; skipped: SkippedItem[] };

const ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1";

/**
 * Fetches and parses one feed. Sends If-None-Match / If-Modified-Since when `feed` has an etag /
 * lastModified, and returns { status: "not-modified" } on a 304. Reads the body as a stream and
 * stops (aborting the request) once it passes maxFeedBytes; the whole exchange is bounded by
 * timeoutMs, so a server that never answers, or trickles, times out. Throws only FeedError.
 */
export async function fetchFeed(feed: FeedRequest, options: FetchFeedOptions = {}): Promise<FetchFeedResult> {
  const { url } = feed;
  const timeoutMs = checkLimit("timeoutMs", options.timeoutMs ?? DEFAULT_FEED_TIMEOUT_MS);
  const maxFeedBytes = checkLimit("maxFeedBytes", options.maxFeedBytes ?? DEFAULT_MAX_FEED_BYTES);
  const doFetch = options.fetch ?? fetch;
  if (!/^https?:\/\//i.test(url) || !URL.canParse(url)) throw new FeedError(url, "not an http(s) URL");
  const headers: Record<string, string> = { accept: ACCEPT, "user-agent": "aigc-studio-news/0.1 (feed reader)" };
  if (feed.etag) headers["if-none-match"] = feed.etag;
  if (feed.lastModified) headers["if-modified-since"] = feed.lastModified;
  const tooLarge = new AbortController();
  const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), tooLarge.signal]);
  try {
    const response = await doFetch(url, { headers, signal, redirect: "follow" });
    if (response.status === 304) {
      await response.body?.cancel();
      return { status: "not-modified" };
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new FeedError(
        url,
        `the server answered HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`,
        response.status,
      );
    }
    const declared = Number(response.headers.get("content-length"));
    if (Number.isFinite(declared) && declared > maxFeedBytes) {
      tooLarge.abort();
      throw new FeedError(url, `the feed is ${declared} bytes (Content-Length), over the ${maxFeedBytes}-byte limit`);
    }
    const bytes = await readCapped(response, maxFeedBytes, () => tooLarge.abort());
    if (bytes === null) throw new FeedError(url, `the feed is over the ${maxFeedBytes}-byte limit (stopped reading there)`);
    const xml = decode(url, bytes, response.headers.get("content-type"));
    const parsed = await parseFeed(xml, url, { maxFeedBytes, maxItemChars: options.maxItemChars });
    const result: FetchFeedResult = { status: "ok", title: parsed.title, items: parsed.items, skipped: parsed.skipped };
    const etag = response.headers.get("etag");
    const lastModified = response.headers.get("last-modified");
    if (etag) result.etag = etag;
    if (lastModified) result.lastModified = lastModified;
    return result;
  } catch (error) {
    if (error instanceof FeedError) throw error;
    if (signal.aborted && !tooLarge.signal.aborted)
      throw new FeedError(url, `no complete answer within ${timeoutMs} ms (timed out)`);
    throw new FeedError(url, `the request failed: ${describeFetchError(error)}`);
  }
}

/** The body, read chunk by chunk; null (and `abort()` called) as soon as it passes `maxBytes`. */
async function readCapped(response: Response, maxBytes: number, abort: () => void): Promise<Uint8Array | null> {
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      abort();
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
}

/** The body as text: the charset of Content-Type, else of the XML declaration, else UTF-8 (a BOM wins over both). */
function decode(url: string, bytes: Uint8Array, contentType: string | null): string {
  const head = Buffer.from(bytes.subarray(0, 200)).toString("latin1");
  const label =
    /;\s*charset\s*=\s*"?([\w.:-]+)/i.exec(contentType ?? "")?.[1] ??
    /^\s*<\?xml[^>]*\bencoding\s*=\s*["']([\w.:-]+)["']/i.exec(head)?.[1] ??
    "utf-8";
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(label); // strips a UTF-8 BOM; TextDecoder also honours UTF-16 BOMs for utf-16 labels
  } catch {
    throw new FeedError(url, `the feed's character encoding "${label}" is not one this reader knows`);
  }
  return decoder.decode(bytes);
}

function describeFetchError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // undici puts the reason (ECONNREFUSED, ENOTFOUND, a TLS error) in `cause`
  const cause = (error as { cause?: unknown }).cause;
  const detail = cause instanceof Error ? ((cause as { code?: string }).code ?? cause.message) : undefined;
  return detail ? `${error.message} (${detail})` : error.message;
}

// ---------------------------------------------------------------------------------------------
// Polling

export type PollResult = { url: string; ok: true; result: FetchFeedResult } | { url: string; ok: false; error: FeedError };

export interface PollOptions extends FetchFeedOptions {
  /** Feeds fetched at once. Default 4. */
  concurrency?: number;
}

/** Fetches every feed, `concurrency` at a time; one result per feed, in the order given, each failure its own. */
export async function pollFeeds(feeds: readonly FeedRequest[], options: PollOptions = {}): Promise<PollResult[]> {
  const concurrency = checkLimit("concurrency", options.concurrency ?? DEFAULT_POLL_CONCURRENCY);
  const results: PollResult[] = new Array(feeds.length);
  let next = 0;
  const worker = async () => {
    while (next < feeds.length) {
      const index = next++;
      const feed = feeds[index];
      try {
        results[index] = { url: feed.url, ok: true, result: await fetchFeed(feed, options) };
      } catch (error) {
        const feedError = error instanceof FeedError ? error : new FeedError(feed.url, String(error));
        results[index] = { url: feed.url, ok: false, error: feedError };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, feeds.length) }, worker));
  return results;
}

export interface FeedPollerOptions extends PollOptions {
  /** Time between polls. */
  intervalMs: number;
  /** Called with each round's results. */
  onResults: (results: PollResult[]) => void | Promise<void>;
  /** Called when onResults throws (default: console.error). */
  onError?: (error: unknown) => void;
}

/**
 * Polls feeds every intervalMs (first at start()), remembering each feed's ETag / Last-Modified
 * so later rounds are conditional GETs. A round still running when the next is due is not
 * doubled: that tick is skipped. The timer is unref()'d: it never keeps the process alive.
 */
export class FeedPoller {
  private readonly feeds: FeedRequest[];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<PollResult[]> | undefined;

  constructor(
    feeds: readonly FeedRequest[],
    private readonly options: FeedPollerOptions,
  ) {
    checkLimit("intervalMs", options.intervalMs);
    this.feeds = feeds.map((feed) => ({ ...feed }));
  }

  /** Starts polling: a round now, then one every intervalMs. */
  start(): this {
    if (this.timer) return this;
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs);
    this.timer.unref();
    void this.tick();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One round now (or the one under way), with results passed to onResults too. */
  pollNow(): Promise<PollResult[]> {
    this.running ??= this.round().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    await this.pollNow();
  }

  private async round(): Promise<PollResult[]> {
    const results = await pollFeeds(this.feeds, this.options);
    results.forEach((result, i) => {
      if (!result.ok || result.result.status !== "ok") return;
      this.feeds[i].etag = result.result.etag;
      this.feeds[i].lastModified = result.result.lastModified;
    });
    try {
      await this.options.onResults(results);
    } catch (error) {
      (this.options.onError ?? console.error)(error);
    }
    return results;
  }
}
