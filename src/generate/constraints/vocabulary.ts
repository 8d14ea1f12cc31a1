// What constraints need from a tokenizer: the raw UTF-8 bytes of every token id. A token may
// hold part of a multi-byte character (half of "肺"); special tokens hold no text.

import type { BpeTokenizer } from "../../data/index.js";

/** A model's vocabulary as bytes. */
export interface TokenVocabulary {
  /** Number of token ids (the logits' length). */
  readonly size: number;
  /** The bytes token `id` stands for, or null for a special token (no text; never allowed by a mask). */
  bytes(id: number): Uint8Array | null;
  /** The end-of-sequence token: allowed exactly in accepting states. */
  readonly eosId?: number;
}

/** A tokenizer that is not byte-level BPE as this module reads it. */
export class VocabularyError extends Error {
  override name = "VocabularyError";
}

// GPT-2's bytes-to-unicode alphabet, the spelling of byte-level BPE tokens ("Ġ" = space):
// printable bytes stand for themselves, the other 68 are shifted to U+0100… in byte order.
// It is the format's public definition (Hugging Face tokenizers' ByteLevel), so a loaded
// tokenizer.json spells tokens the same way.
const charToByte: ReadonlyMap<string, number> = (() => {
  const printable = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const map = new Map<string, number>();
  let shifted = 0;
  for (let b = 0; b < 256; b++) map.set(String.fromCharCode(printable(b) ? b : 256 + shifted++), b);
  return map;
})();

/** The bytes of a token spelled in the byte-level alphabet; throws VocabularyError on another character. */
export function byteLevelBytes(token: string, id: number): Uint8Array {
  const bytes = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) {
    const b = charToByte.get(token[i]);
    if (b === undefined) {
      throw new VocabularyError(
        `token ${JSON.stringify(token)} (id ${id}) is not byte-level: ${JSON.stringify(token[i])} is none of the 256 byte characters`,
      );
    }
    bytes[i] = b;
  }
  return bytes;
}

type BpeLike = Pick<BpeTokenizer, "vocabSize" | "tokenOf" | "idOf" | "specialIds">;

/**
 * The vocabulary of a byte-level BPE tokenizer. Added tokens (specials, image tokens) hold no
 * bytes. `eosToken` (default "<|eos|>") names the eos token; pass null for none.
 */
export function vocabularyFromBpe(tokenizer: BpeLike, eosToken: string | null = "<|eos|>"): TokenVocabulary {
  const added = new Set(tokenizer.specialIds);
  const bytes: (Uint8Array | null)[] = [];
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    const token = tokenizer.tokenOf(id);
    if (token === undefined)
      throw new VocabularyError(`the tokenizer has no token for id ${id} < vocabSize ${tokenizer.vocabSize}`);
    bytes.push(added.has(id) ? null : byteLevelBytes(token, id));
  }
  let eosId: number | undefined;
  if (eosToken !== null) {
    eosId = tokenizer.idOf(eosToken);
    if (eosId === undefined || !added.has(eosId)) {
      throw new VocabularyError(
        `the tokenizer has no special token ${JSON.stringify(eosToken)}; pass the eos token's name, or null for none`,
      );
    }
  }
  return { size: bytes.length, bytes: (id) => bytes[id] ?? null, eosId };
}
