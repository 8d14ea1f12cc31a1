// Where a sentence ends, for speaking text (typed, or a chat reply still streaming in) one
// sentence at a time. Browser-safe: the page and the tests use the same function.

// Latin punctuation ends a sentence only before whitespace ("3.5", "e.g" do not) or, in
// finished text, the end; CJK punctuation and line breaks always do.
const endInFinishedText = /[.!?;]+["'”’)]*(?:\s+|$)|[。！？；]+["'”’）]*|\n+/gu;
const endInStreamingText = /[.!?;]+["'”’)]*\s+|[。！？；]+["'”’）]*|\n+/gu;

/**
 * Complete sentences at the start of `text` and what is left after them. With
 * `streaming`, text may still grow, so "… 3." at its end is not yet a sentence ("3.5" may follow).
 */
export function splitSentences(text: string, options: { streaming?: boolean } = {}): { sentences: string[]; rest: string } {
  const end = new RegExp(options.streaming ? endInStreamingText : endInFinishedText);
  const sentences: string[] = [];
  let from = 0;
  for (let m = end.exec(text); m; m = end.exec(text)) {
    const s = text.slice(from, m.index + m[0].length).trim();
    if (s) sentences.push(s);
    from = m.index + m[0].length;
  }
  return { sentences, rest: text.slice(from) };
}
