// Training records for a news-summarizer LoRA adapter on the shipped chat model: the prompt
// summarizeItem sends, answered in the form it parses, with the item's cleaned title as the
// headline and its lead sentences as the summary (what the fallback writes, so every fact in
// a target is in its item). The shipped model answers such prompts with Debian-handbook prose;
// the adapter teaches it the task, and the same check still guards what it writes.
//
// Packages are split by a hash of their name: a package's entries are all training or all
// held out, so the faithfulness bench scores the adapter on packages it never saw.

import { createHash } from "node:crypto";
import { extractiveSummary, summaryPrompt } from "./summarize.js";
import type { NewsItem, SummaryLength } from "./types.js";

/** One package in ten is held out (hash of the source package, the first word of the title). */
export function isHeldOutItem(item: NewsItem): boolean {
  const pkg = item.title.split(" ")[0];
  return createHash("sha256").update(pkg).digest()[0] % 10 === 0;
}

const lengths: readonly SummaryLength[] = ["short", "medium", "long"];

/** OpenAI fine-tuning chat records, one per distinct training item, lengths in turn. */
export function summarizerRecords(items: readonly NewsItem[]): { messages: { role: string; content: string }[] }[] {
  const seen = new Set<string>();
  const records: { messages: { role: string; content: string }[] }[] = [];
  for (const item of items) {
    const key = `${item.title}\n${item.text}`;
    if (isHeldOutItem(item) || seen.has(key) || item.text.length < 40) continue;
    seen.add(key);
    const length = lengths[records.length % lengths.length];
    const { headline, summary } = extractiveSummary(item, length);
    records.push({
      messages: [
        { role: "user", content: summaryPrompt(item, { length, lang: "en" }) },
        { role: "assistant", content: `Headline: ${headline}\nSummary: ${summary}` },
      ],
    });
  }
  return records;
}
