// Checks on serialised SEAL objects before SEAL sees them. SEAL's loader aborts the WASM
// instance on some truncated inputs instead of throwing, so the server checks the
// 16-byte SEAL header (magic, version, compression, declared size) and the exact byte
// length first, and only hands well-formed buffers to SEAL. No node: imports (atob is
// global in Node 20 and in browsers).

const sealMagic = 0xa15e;
const headerBytes = 16;
const base64Pattern = /^[A-Za-z0-9+/]*={0,2}$/;

/** Why a base64 string is not a well-formed serialised SEAL object, or undefined if it is. */
export function checkSealBase64(b64: string): string | undefined {
  if (b64.length === 0) return "is empty";
  if (b64.length % 4 !== 0 || !base64Pattern.test(b64)) return "is not valid base64";
  const padding = b64.endsWith("==") ? 2 : b64.endsWith("=") ? 1 : 0;
  const byteLength = (b64.length / 4) * 3 - padding;
  if (byteLength < headerBytes) return `is ${byteLength} bytes, shorter than a SEAL header (${headerBytes} bytes)`;
  const head = atob(b64.slice(0, 24)); // 18 bytes: the whole header
  const byte = (i: number) => head.charCodeAt(i);
  if ((byte(0) | (byte(1) << 8)) !== sealMagic) return "is not a serialised SEAL object (bad magic number)";
  if (byte(2) !== headerBytes) return "has an unexpected SEAL header size";
  if (byte(3) !== 4) return `was written by SEAL ${byte(3)}.x; this server runs SEAL 4.x`;
  if (byte(5) > 2) return "declares an unknown compression mode";
  let declared = 0;
  for (let i = 7; i >= 0; i--) declared = declared * 256 + byte(8 + i);
  if (declared !== byteLength) return `declares ${declared} bytes but carries ${byteLength} (truncated or padded)`;
  return undefined;
}

/** Decoded byte length of a base64 string (for reporting payload sizes). */
export function base64Bytes(b64: string): number {
  const padding = b64.endsWith("==") ? 2 : b64.endsWith("=") ? 1 : 0;
  return (b64.length / 4) * 3 - padding;
}

/** Load a base64 SEAL object after checking its header; errors name the field. */
export function loadChecked(field: string, b64: string, load: (b64: string) => void): void {
  const why = checkSealBase64(b64);
  if (why) throw new Error(`${field} ${why}`);
  try {
    load(b64);
  } catch (e) {
    throw new Error(
      `${field} could not be loaded: ${e instanceof Error ? e.message : String(e)} (keys or ciphertext from other parameters?)`,
    );
  }
}
