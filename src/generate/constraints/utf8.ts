// Incremental UTF-8 validation for byte automata, in one number so states stay hashable:
//   state = (codePoint << 5) | (continuationBytesLeft << 3) | nextByteRange
// At a character boundary continuationBytesLeft is 0 and codePoint is the last character
// read (0 at the start). nextByteRange narrows the 2nd byte of E0/ED/F0/F4 sequences so
// overlong forms, surrogates and code points above U+10FFFF are rejected, as TextDecoder's
// fatal mode does.

/** The state before any byte. */
export const utf8Start = 0;

const rangeLow = [0x80, 0xa0, 0x80, 0x90, 0x80];
const rangeHigh = [0xbf, 0xbf, 0x9f, 0xbf, 0x8f];

/** The state after `byte`, or -1 when the bytes are not UTF-8. */
export function utf8Step(state: number, byte: number): number {
  const left = (state >> 3) & 3;
  if (left > 0) {
    const range = state & 7;
    if (byte < rangeLow[range] || byte > rangeHigh[range]) return -1;
    const cp = ((state >> 5) << 6) | (byte & 0x3f);
    return (cp << 5) | ((left - 1) << 3);
  }
  if (byte < 0x80) return byte << 5;
  if (byte < 0xc2) return -1; // a continuation byte without a lead, or an overlong 2-byte lead
  if (byte < 0xe0) return ((byte & 0x1f) << 5) | (1 << 3);
  if (byte < 0xf0) {
    const range = byte === 0xe0 ? 1 : byte === 0xed ? 2 : 0;
    return ((byte & 0x0f) << 5) | (2 << 3) | range;
  }
  if (byte < 0xf5) {
    const range = byte === 0xf0 ? 3 : byte === 0xf4 ? 4 : 0;
    return ((byte & 0x07) << 5) | (3 << 3) | range;
  }
  return -1;
}

/** Whether the state is at a character boundary. */
export const utf8AtBoundary = (state: number): boolean => (state & 0x18) === 0;

/** The last whole character read (meaningful at a boundary). */
export const utf8CodePoint = (state: number): number => state >> 5;
