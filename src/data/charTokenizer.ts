// A character-level tokenizer: one id per distinct character of the training text.

export class CharTokenizer {
  private readonly index: Map<string, number>;
  constructor(readonly chars: readonly string[]) {
    this.index = new Map(chars.map((c, i) => [c, i]));
    if (this.index.size !== chars.length) throw new Error("CharTokenizer: duplicate characters in the vocabulary");
  }

  /** Vocabulary: the sorted distinct characters of `text`. */
  static fromText(text: string): CharTokenizer {
    return new CharTokenizer([...new Set(Array.from(text))].sort());
  }

  get vocabSize(): number {
    return this.chars.length;
  }

  encode(text: string): Int32Array {
    const chars = Array.from(text);
    const out = new Int32Array(chars.length);
    chars.forEach((c, i) => {
      const id = this.index.get(c);
      if (id === undefined) throw new Error(`CharTokenizer: character ${JSON.stringify(c)} is not in the vocabulary`);
      out[i] = id;
    });
    return out;
  }

  decode(ids: ArrayLike<number>): string {
    return Array.from(ids, (i) => this.chars[i] ?? "\uFFFD").join("");
  }
}
