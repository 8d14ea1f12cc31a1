// A headline and a 1–3 sentence summary of one news item, written by a chat model behind an
// OpenAI-compatible API and kept only when it passes a post-check; otherwise built from the
// item's own sentences.
//
// The loop: ask the model (seed and temperature change on each attempt), check the answer,
// keep it or record why not and ask again, up to maxAttempts; then fall back to an extractive
// summary (the item's lead sentences, the title as headline), which is faithful by
// construction and is checked all the same. A backend that fails (timeout, HTTP 500, a
// malformed body) is noted in `errors` and ends the model's attempts at once: providers and
// the platform's router already retry transient failures, and retrying here would multiply a
// timeout across every item of a digest. The exception is a prompt over the model's context
// (HTTP 400 context_length_exceeded): the next attempt carries half as much of the text.
//
// The check (reviewDraft) wants, of the headline and the summary:
//   - every name, version, number and date in the item (faithfulness.ts), checked against the
//     whole item (title + text), not only the part the prompt carried: a fact from later in the
//     item is still true of the item, and the check is about truth, not about what the model saw;
//   - valid text: no U+FFFD, no control characters, no chat-template tokens;
//   - a non-empty, one-line headline of at most 120 characters;
//   - a non-empty summary of at most the requested sentences (1 / 2 / 3), none repeated, within
//     the length's character cap, and shorter than the item's text;
//   - on topic, when it is written in the item's language: at least half of its content words
//     (words of 3+ letters but English function words) occur in the item. Without this any
//     fluent text without names or numbers ("The kernel is a great tool.") would pass as faithful.
// Written in another language (the reader's), the word test is skipped. The script is checked
// both ways: a reader of Chinese, Japanese or Korean gets a summary in that script, anyone else
// one that is not mostly CJK.

import { checkFaithful, type Fact } from "./faithfulness.js";
import type { NewsItem, SummaryLength } from "./types.js";

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface ChatRequest {
  messages: ChatMessage[];
  maxTokens: number;
  temperature: number;
  seed: number;
}

/** One chat completion: the assistant's text. Throws when none came back. */
export type ChatBackend = (request: ChatRequest) => Promise<string>;

export interface OpenAiChatBackendOptions {
  /** The server: `http://127.0.0.1:8080`, `https://api.openai.com` (a trailing `/v1` is accepted too). */
  baseUrl: string;
  /** Sent as `Authorization: Bearer …`. */
  apiKey?: string;
  model: string;
  /** Default: the global fetch. */
  fetch?: typeof globalThis.fetch;
  /** Give up on a request after this long. Default 60 s. */
  timeoutMs?: number;
}

/**
 * A ChatBackend over `POST <baseUrl>/v1/chat/completions` in OpenAI's request shape, so any
 * OpenAI-compatible server can answer: this project's `aigc serve`, vLLM, llama.cpp's server,
 * OpenAI. `max_tokens` is sent (not `max_completion_tokens`): every such server reads it.
 */
export function openAiChatBackend(options: OpenAiChatBackendOptions): ChatBackend {
  const base = options.baseUrl.replace(/\/+$/, "");
  const url = `${base.endsWith("/v1") ? base : `${base}/v1`}/chat/completions`;
  const fetchFn = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? 60_000;
  return async ({ messages, maxTokens, temperature, seed }) => {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (options.apiKey !== undefined) headers.authorization = `Bearer ${options.apiKey}`;
    const body = { model: options.model, messages, max_tokens: maxTokens, temperature, seed, n: 1, stream: false };
    let response: Response;
    let text: string;
    try {
      response = await fetchFn(url, {
        method: "POST",
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (e) {
      const timedOut = e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError");
      throw new Error(
        timedOut ? `${url}: no answer within ${timeoutMs} ms` : `${url}: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}: ${errorMessageOf(text)}`);
    let content: unknown;
    try {
      content = (JSON.parse(text) as { choices?: { message?: { content?: unknown } }[] }).choices?.[0]?.message?.content;
    } catch {
      throw new Error(`${url}: the answer is not JSON: ${text.slice(0, 200)}`);
    }
    if (typeof content !== "string") throw new Error(`${url}: the answer holds no choices[0].message.content`);
    return content;
  };
}

/** OpenAI's `{ error: { message } }`, or the start of whatever else came back. */
function errorMessageOf(body: string): string {
  try {
    const message = (JSON.parse(body) as { error?: { message?: unknown } }).error?.message;
    if (typeof message === "string") return message;
  } catch {}
  return body.slice(0, 200);
}

// ---------------------------------------------------------------------------------------------
// Sentences

/** Abbreviations whose period ends no sentence. */
const abbreviations = new Set(
  "e.g i.e etc vs cf approx incl no nr dr mr mrs ms st jr sr jan feb mar apr jun jul aug sep sept oct nov dec".split(" "),
);

/**
 * A text's sentences: split after . ! ? (and their CJK forms) where whitespace follows, not
 * after an abbreviation or an initial; line breaks inside a sentence are spaces. Release notes'
 * bullets (as readReleaseNotes writes them) end in "." and so are a sentence each.
 */
export function splitSentences(text: string): string[] {
  const flat = text.replace(/\s+/g, " ").trim();
  const sentences: string[] = [];
  let start = 0;
  const ends = /[.!?]+["'’”)\]]*(?=\s)|[。！？]+["'’”)\]」』]*/g;
  for (let m = ends.exec(flat); m !== null; m = ends.exec(flat)) {
    const end = m.index + m[0].length;
    const before = /(\S+)$/.exec(flat.slice(start, m.index + 1))?.[1] ?? "";
    const word = before.replace(/^["'([]+/, "").replace(/\.$/, "");
    if (m[0].startsWith(".") && (abbreviations.has(word.toLowerCase()) || /^\p{Lu}$/u.test(word))) continue;
    const sentence = flat.slice(start, end).trim();
    if (sentence !== "") sentences.push(sentence);
    start = end;
  }
  const rest = flat.slice(start).trim();
  if (rest !== "") sentences.push(rest);
  return sentences;
}

// ---------------------------------------------------------------------------------------------
// Summaries

export const sentencesOf: Record<SummaryLength, number> = { short: 1, medium: 2, long: 3 };
/** The most characters a summary of each length may have: a sentence is no paragraph. */
export const summaryCharCap: Record<SummaryLength, number> = { short: 240, medium: 400, long: 560 };
const maxTokensOf: Record<SummaryLength, number> = { short: 96, medium: 144, long: 192 };
export const maxHeadlineChars = 120;
/**
 * Characters of the item's text the prompt carries by default, cut at a sentence boundary:
 * enough for a 1–3 sentence summary, and small enough for the shipped model's 512-token context.
 */
export const defaultPromptChars = 900;

export interface SummaryRejection {
  /** The model's answer as it came. */
  text: string;
  /** Its facts that the item does not hold. */
  unsupported: Fact[];
  /** Every reason it was turned down. */
  reasons: string[];
}

export interface ItemSummary {
  headline: string;
  summary: string;
  method: "model" | "extractive";
  /** Who wrote the headline of a model summary: the model, or (its own failed the check) the item's title. */
  headlineFrom?: "model" | "title";
  /** Model calls made (failed ones included); 0 with no backend. */
  attempts: number;
  rejected: SummaryRejection[];
  /** The language it is written in: the reader's (model) or the item's (extractive). */
  lang: string;
  /** Backend failures (timeouts, HTTP errors): after one, the summary is extractive. */
  errors: string[];
}

export interface SummarizeOptions {
  /** No backend: extractive at once. */
  backend?: ChatBackend;
  length: SummaryLength;
  /** The reader's language. */
  lang: string;
  /** Model answers tried before the extractive fallback. Default 3. */
  maxAttempts?: number;
  /** Characters of the item's text the prompt carries. Default defaultPromptChars. */
  promptChars?: number;
  /** Added to each attempt's seed (which is derived from the item's id). Default 0. */
  seed?: number;
}

/** A headline and a summary of `item` in the reader's length, checked against the item (see the header). */
export async function summarizeItem(item: NewsItem, options: SummarizeOptions): Promise<ItemSummary> {
  const maxAttempts = options.maxAttempts ?? 3;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new RangeError(`maxAttempts must be ≥ 1, got ${maxAttempts}`);
  const source = sourceOf(item);
  const rejected: SummaryRejection[] = [];
  const errors: string[] = [];
  let attempts = 0;
  if (options.backend) {
    let promptChars = options.promptChars ?? defaultPromptChars;
    let messages: ChatMessage[] = [{ role: "user", content: summaryPrompt(item, options, promptChars) }];
    const seedBase = hash31(item.id) + (options.seed ?? 0);
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      attempts++;
      let answer: string;
      try {
        answer = await options.backend({
          messages,
          maxTokens: maxTokensOf[options.length],
          // The first answer as likely as the model can make it; later ones more varied.
          temperature: Math.min(1.2, 0.3 + 0.35 * attempt),
          seed: (seedBase + attempt) % 2 ** 31,
        });
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        errors.push(message);
        // The one failure that asking again can mend: a prompt over the model's context.
        if (contextTooLong.test(message) && promptChars > minPromptChars) {
          promptChars = Math.max(minPromptChars, Math.floor(promptChars / 2));
          messages = [{ role: "user", content: summaryPrompt(item, options, promptChars) }];
          continue;
        }
        break;
      }
      const answered = parseAnswer(answer, item);
      // A headline that names what the item does not is replaced by the item's own title (a
      // release note's title is its package and version): the summary is still the model's.
      const ownHeadline = headlineProblems(answered.headline, source).length === 0;
      const draft = ownHeadline ? answered : { ...answered, headline: cleanTitle(item.title) };
      const review = reviewDraft(draft, item, options, source);
      if (review.reasons.length === 0)
        return {
          ...draft,
          method: "model",
          headlineFrom: ownHeadline ? "model" : "title",
          attempts,
          rejected,
          lang: options.lang,
          errors,
        };
      rejected.push({ text: answer, unsupported: review.unsupported, reasons: review.reasons });
    }
  }
  const fallback = extractiveSummary(item, options.length);
  // Faithful by construction (copied words only); a failure here is a bug in the copying or
  // in the check, and must not reach a reader unnoticed.
  const check = reviewFacts(fallback, source);
  if (check.length > 0)
    throw new Error(
      `the extractive summary of item ${item.id} failed its own check: ${check.map((f) => f.text).join(", ")} — ${fallback.summary}`,
    );
  return { ...fallback, method: "extractive", attempts, rejected, lang: item.lang, errors };
}

/** What a summary may draw on: the item's title and its whole text. */
const sourceOf = (item: NewsItem) => `${item.title}\n${item.text}`;

const languageNames: Record<string, string> = {
  en: "English",
  zh: "Chinese",
  ja: "Japanese",
  ko: "Korean",
  de: "German",
  fr: "French",
  es: "Spanish",
  it: "Italian",
  pt: "Portuguese",
  ru: "Russian",
};
const primaryTag = (tag: string) => tag.toLowerCase().split(/[-_]/)[0];
const languageName = (tag: string) => (Object.hasOwn(languageNames, primaryTag(tag)) ? languageNames[primaryTag(tag)] : tag);

/** What OpenAI, vLLM and this project's server say of a prompt over the context (400 `context_length_exceeded`). */
const contextTooLong = /context length|context_length_exceeded|maximum context|prompt is too long|too many tokens/i;
/** The least of the item's text a shortened prompt still carries. */
const minPromptChars = 200;

/** What the model is asked for one item (also what a summarizer adapter is trained on). */
export function summaryPrompt(
  item: NewsItem,
  options: Pick<SummarizeOptions, "length" | "lang">,
  promptChars = defaultPromptChars,
): string {
  const n = sentencesOf[options.length];
  const size = n === 1 ? "one sentence" : `at most ${n === 2 ? "two" : "three"} sentences`;
  const inLanguage = primaryTag(options.lang) === primaryTag(item.lang) ? "" : `, in ${languageName(options.lang)}`;
  return [
    "Summarize this news item for a reader.",
    `Write a headline of at most 12 words and a summary of ${size}${inLanguage}.`,
    "Copy every name, version, number and date exactly as the item writes it, and add no fact the item does not state.",
    "Answer in exactly this form:",
    "Headline: <the headline>",
    "Summary: <the summary>",
    "",
    `Title: ${item.title.replace(/\s+/g, " ").trim()}`,
    `Text: ${leadWithin(item.text, promptChars)}`,
  ].join("\n");
}

/** The text's first sentences within `budget` characters (the first one cut at a word if it alone is over). */
function leadWithin(text: string, budget: number): string {
  const sentences = splitSentences(text);
  let lead = "";
  for (const s of sentences) {
    const next = lead === "" ? s : `${lead} ${s}`;
    if (next.length > budget) break;
    lead = next;
  }
  return lead !== "" ? lead : cutAtWord(sentences[0] ?? "", budget);
}

/** The labelled parts of an answer; without labels its first line is the headline if there are several. */
function parseAnswer(answer: string, item: NewsItem): { headline: string; summary: string } {
  // Reasoning models behind an OpenAI API may prepend their thinking.
  const text = answer.replace(/<think>[\s\S]*?<\/think>/g, "").trim();
  const labels = [...text.matchAll(/(?:^|\n)[\s*#_]*(headline|summary)[\s*_]*[:：]/gi)];
  const part = (name: string): string | undefined => {
    const at = labels.findIndex((m) => m[1].toLowerCase() === name);
    if (at === -1) return undefined;
    const from = labels[at].index + labels[at][0].length;
    const to = labels[at + 1]?.index ?? text.length;
    return cleanLine(text.slice(from, to));
  };
  const headline = part("headline");
  const summary = part("summary");
  if (headline !== undefined || summary !== undefined)
    return { headline: headline ?? cleanTitle(item.title), summary: summary ?? "" };
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  if (lines.length >= 2) return { headline: cleanLine(lines[0]), summary: cleanLine(lines.slice(1).join(" ")) };
  return { headline: cleanTitle(item.title), summary: cleanLine(text) };
}

/** Markdown emphasis and surrounding quotes off, whitespace collapsed. */
const cleanLine = (text: string) =>
  text
    .replace(/\*\*|__/g, "")
    .replace(/\s+/g, " ")
    .trim()
    .replace(/^["“']+(.*?)["”']+$/, "$1")
    .trim();

interface Review {
  reasons: string[];
  unsupported: Fact[];
}

function reviewDraft(
  draft: { headline: string; summary: string },
  item: NewsItem,
  options: SummarizeOptions,
  source: string,
): Review {
  const reasons: string[] = [];
  const { headline, summary } = draft;
  for (const [what, text] of [
    ["headline", headline],
    ["summary", summary],
  ] as const) {
    if (text.includes("\uFFFD")) reasons.push(`the ${what} holds U+FFFD (a broken character)`);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is looked for
    if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(text)) reasons.push(`the ${what} holds a control character`);
    if (/<\|[a-z]+\|>/.test(text)) reasons.push(`the ${what} holds a chat-template token`);
  }
  if (headline === "") reasons.push("the headline is empty");
  if (headline.length > maxHeadlineChars)
    reasons.push(`the headline has ${headline.length} characters, over ${maxHeadlineChars}`);
  if (summary === "") reasons.push("the summary is empty");
  const sentences = splitSentences(summary);
  const most = sentencesOf[options.length];
  if (sentences.length > most) reasons.push(`${sentences.length} sentences, at most ${most} asked for`);
  const seen = new Set<string>();
  for (const s of sentences) {
    const key = s
      .toLowerCase()
      .replace(/[\s\p{P}]+/gu, " ")
      .trim();
    if (seen.has(key)) reasons.push(`a repeated sentence: "${s}"`);
    seen.add(key);
  }
  if (summary.length > summaryCharCap[options.length])
    reasons.push(`${summary.length} characters, over the ${summaryCharCap[options.length]} a ${options.length} summary may have`);
  if (summary.length >= item.text.length)
    reasons.push(`not shorter than the item's text (${summary.length} ≥ ${item.text.length} characters)`);
  const unsupported = reviewFacts(draft, source);
  if (unsupported.length > 0) reasons.push(`not in the item: ${unsupported.map((f) => `${f.kind} "${f.text}"`).join(", ")}`);
  // The script must be the reader's: CJK for a reader of Chinese, Japanese or Korean, not
  // mostly CJK for anyone else (the shipped model was trained on Chinese too, and drifts into it).
  const cjkShare = (summary.match(cjkGlobal)?.length ?? 0) / Math.max(1, summary.match(/\p{L}/gu)?.length ?? 0);
  const readsCjk = /^(zh|ja|ko)$/.test(primaryTag(options.lang));
  if (readsCjk ? cjkShare === 0 : cjkShare > 0.3) reasons.push(`not written in ${languageName(options.lang)}`);
  else if (primaryTag(options.lang) === primaryTag(item.lang)) {
    const offTopic = offTopicWords(summary, source);
    if (offTopic !== undefined) reasons.push(offTopic);
  }
  return { reasons, unsupported };
}

/** Why a model's headline cannot stand: empty, too long, broken text, or a fact the item does not hold. */
function headlineProblems(headline: string, source: string): string[] {
  const problems: string[] = [];
  if (headline === "" || headline.length > maxHeadlineChars) problems.push("length");
  if (/\uFFFD|<\|[a-z]+\|>/.test(headline)) problems.push("broken text");
  if (!checkFaithful(headline, source).ok) problems.push("facts");
  return problems;
}

/** The headline's and the summary's facts that the source does not hold (each once). */
function reviewFacts(draft: { headline: string; summary: string }, source: string): Fact[] {
  const unsupported = [...checkFaithful(draft.headline, source).unsupported, ...checkFaithful(draft.summary, source).unsupported];
  const byKey = new Map(unsupported.map((f) => [`${f.kind}:${f.normalized}`, f]));
  return [...byKey.values()];
}

/**
 * English function words: what any sentence has, whatever it is about. Every other word of 3+
 * letters is a content word, whose presence in the item the topic test counts.
 */
const functionWords = new Set(
  `the and but nor yet for from with without about into onto over under after before between through during than then that
  this these those there here its are was were been being does did done have has had having will would shall should can could
  may might must not yes all any some each every both either neither more most less least much many few other such same own
  very too also just only even still now she they you him her them his their our who whom whose which what when where why
  how because while until since though although whether out off again further once via per let lets etc one two way ways
  thing things like well get gets got make makes made use used uses using can't it's don't`.split(/\s+/),
);

/** Lower case, possessive off, a plural or tense ending off: `fixes` = `fixed` = `fix`, `including` = `include`. */
const stemOfWord = (word: string) =>
  word
    .toLowerCase()
    .replace(/['’]s$/, "")
    .replace(/(?<=.{3})(ing|ed|es|s|e)$/, "");

const cjk = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const cjkGlobal = new RegExp(cjk.source, "gu");
/** Words of 3+ letters that are no function word, stemmed; CJK text is left out (no spaces to find its words by). */
const contentWords = (text: string) =>
  (text.match(/(?:(?![\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}])\p{L}){3,}/gu) ?? [])
    .filter((w) => !functionWords.has(w.toLowerCase()))
    .map(stemOfWord);

/**
 * Why a summary is off the item's topic, or undefined when at least half of its content words
 * (each occurrence counted) are words of the item. A summary of a release note reuses the
 * note's words — the package, what was fixed, where; one that does not is about something else.
 */
function offTopicWords(summary: string, source: string): string | undefined {
  const words = contentWords(summary);
  const inSource = new Set(contentWords(source));
  if (words.length === 0)
    return inSource.size === 0 || cjk.test(summary) ? undefined : "no content word at all: it says nothing specific";
  const shared = words.filter((w) => inSource.has(w)).length;
  return shared * 2 >= words.length
    ? undefined
    : `off topic: ${shared} of its ${words.length} content words are in the item (at least half must be)`;
}

// ---------------------------------------------------------------------------------------------
// The extractive fallback

/** The title as a headline: whitespace collapsed, at most maxHeadlineChars (cut at a word). */
export function cleanTitle(title: string): string {
  const flat = title
    .replace(/\s+/g, " ")
    .trim()
    .replace(/[\s;:,|–—-]+$/, "");
  return cutAtWord(flat, maxHeadlineChars);
}

/**
 * The item's lead sentences (repeats dropped) up to the length's sentence count and character
 * cap, shorter than the item's text. Too long, it is shortened losing as little as it can: the
 * last sentences go, then the last sentence's final period, then parentheticals, then words
 * from the end (marked "…"). Words are only ever dropped, never cut, so no fact is made.
 */
export function extractiveSummary(item: NewsItem, length: SummaryLength): { headline: string; summary: string } {
  const sentences = [...new Set(splitSentences(item.text))];
  const headline = cleanTitle(item.title) || cutAtWord(sentences[0] ?? "", maxHeadlineChars);
  const room = Math.min(summaryCharCap[length], item.text.length - 1);
  const chosen = sentences.slice(0, sentencesOf[length]);
  while (chosen.length > 1 && chosen.join(" ").length > room) chosen.pop();
  let summary = chosen.join(" ");
  if (summary.length > room) summary = summary.replace(/\.$/, "");
  if (summary.length > room) summary = summary.replace(/\s*(\([^()]*\)|\[[^[\]]*\])/g, "").trim();
  if (summary.length > room) summary = cutAtWord(summary, room);
  // A text of one word has no shorter summary: it is its own.
  if (summary.length >= item.text.length) summary = item.text.trim();
  return { headline, summary };
}

/** At most `most` characters, ending at a whole word (then "…"); the first word whole even if longer. */
function cutAtWord(text: string, most: number): string {
  if (text.length <= most) return text;
  const words = text.split(" ");
  let kept = words[0];
  for (const w of words.slice(1)) {
    if (`${kept} ${w}`.replace(/[\s,;:–—-]+$/, "").length + 1 > most) break;
    kept = `${kept} ${w}`;
  }
  return `${kept.replace(/[\s,;:–—-]+$/, "")}…`;
}

/** A 31-bit hash of a string (FNV-1a), for per-item seeds that do not change between runs. */
function hash31(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0) % 2 ** 31;
}
