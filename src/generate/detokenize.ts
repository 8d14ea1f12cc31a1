// Incremental detokenization: the text of a growing token sequence without decoding the
// whole sequence every step (which would make a long generation quadratic). The idea is vLLM's
// prefix and read offsets: decode a short window twice, with and without the new tokens,
// and take what the new tokens add; commit it once it ends on a whole character (a byte-level
// tokenizer can split one UTF-8 character over several tokens, which decode as U+FFFD until
// the last byte arrives). It assumes what byte-level BPE and character decoders satisfy:
// the text of a sequence starts with the text of any prefix that ends on a whole character.
// Where a window shows otherwise (a decoder that merges across tokens), it decodes everything.

const REPLACEMENT = "\uFFFD";

export class IncrementalDetokenizer {
  private readonly tokens: number[] = [];
  /** Text of tokens[0, readOffset): ends on a whole character. */
  private committed = "";
  /** Window start: tokens before it are only in `committed`. */
  private prefixOffset = 0;
  private readOffset = 0;

  constructor(private readonly decode: (ids: number[]) => string) {}

  /** Add one token; returns the text of every token so far. */
  push(token: number): string {
    this.tokens.push(token);
    const prefixText = this.decode(this.tokens.slice(this.prefixOffset, this.readOffset));
    const windowText = this.decode(this.tokens.slice(this.prefixOffset));
    if (!windowText.startsWith(prefixText)) {
      // Not a prefix-stable decoder: decode everything, start a fresh window here.
      const all = this.decode(this.tokens);
      if (!all.endsWith(REPLACEMENT)) this.commitAll(all);
      return all;
    }
    const added = windowText.slice(prefixText.length);
    if (added.endsWith(REPLACEMENT)) return this.committed + added; // a character still incomplete
    this.committed += added;
    this.prefixOffset = this.readOffset;
    this.readOffset = this.tokens.length;
    return this.committed;
  }

  private commitAll(text: string): void {
    this.committed = text;
    this.prefixOffset = this.tokens.length;
    this.readOffset = this.tokens.length;
  }
}
