// The safetensors file format (Hugging Face), read and written exactly.
//
// Layout of a file:
//   [0, 8)          N, the header length: unsigned 64-bit little-endian
//   [8, 8 + N)      the header: UTF-8 JSON object, padded with spaces so 8 + N is a multiple of 8
//                     { "__metadata__"?: { [key: string]: string },
//                       [tensor: string]: { dtype, shape: number[], data_offsets: [begin, end] } }
//   [8 + N, EOF)    the byte buffer: every tensor's elements, row-major, little-endian,
//                   at [begin, end) relative to the buffer start; the tensors cover the
//                   buffer exactly, with no holes, overlaps or trailing bytes.
//
// The writer lays tensors out contiguously in the order given (`Object.entries` order) and
// puts "__metadata__" first. The reader validates everything, and throws SafetensorsError
// naming the file, what is wrong and what was expected; it returns tensors in offset order,
// as aligned copies (never views into the file's bytes).

import { randomBytes } from "node:crypto";
import { open, readFile, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

export type SafeDType = "F32" | "F64" | "F16" | "I64" | "I32" | "U8" | "BOOL";

export interface SafeTensor {
  dtype: SafeDType;
  shape: number[];
  /** F16 elements are IEEE half-precision bit patterns in a Uint16Array (see float16ToFloat32). */
  data: Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array;
}

export interface SafetensorsContents {
  tensors: Record<string, SafeTensor>;
  metadata: Record<string, string>;
}

export class SafetensorsError extends Error {
  override name = "SafetensorsError";
}

type TensorData = SafeTensor["data"];

interface DTypeInfo {
  /** Bytes per element. */
  bytes: number;
  /** The typed array class that holds this dtype's elements. */
  arrayName: string;
  /** A typed array over a whole (aligned) buffer of `bytes * n` bytes. */
  view: (buffer: ArrayBuffer) => TensorData;
  isArray: (data: TensorData) => boolean;
}

const dtypes: Record<SafeDType, DTypeInfo> = {
  F32: { bytes: 4, arrayName: "Float32Array", view: (b) => new Float32Array(b), isArray: (d) => d instanceof Float32Array },
  F64: { bytes: 8, arrayName: "Float64Array", view: (b) => new Float64Array(b), isArray: (d) => d instanceof Float64Array },
  F16: { bytes: 2, arrayName: "Uint16Array", view: (b) => new Uint16Array(b), isArray: (d) => d instanceof Uint16Array },
  I64: { bytes: 8, arrayName: "BigInt64Array", view: (b) => new BigInt64Array(b), isArray: (d) => d instanceof BigInt64Array },
  I32: { bytes: 4, arrayName: "Int32Array", view: (b) => new Int32Array(b), isArray: (d) => d instanceof Int32Array },
  U8: { bytes: 1, arrayName: "Uint8Array", view: (b) => new Uint8Array(b), isArray: (d) => d instanceof Uint8Array },
  BOOL: { bytes: 1, arrayName: "Uint8Array", view: (b) => new Uint8Array(b), isArray: (d) => d instanceof Uint8Array },
};

/** The dtypes this module reads and writes. */
export const safeDTypes = Object.keys(dtypes) as readonly SafeDType[];

/** Dtypes of the format that this module does not handle (named so the error can say so). */
const unsupportedDTypes = new Set(["BF16", "F8_E4M3", "F8_E5M2", "I8", "I16", "U16", "U32", "U64"]);

const metadataKey = "__metadata__";
const tensorFields = ["dtype", "shape", "data_offsets"];
/** Headers larger than this are refused before any parsing. */
export const maxHeaderBytes = 100_000_000;

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reverse the bytes of each `size`-byte element in place (only needed on big-endian hosts). */
function swapBytes(bytes: Uint8Array, size: number): void {
  if (littleEndianHost || size === 1) return;
  for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
}

// Half precision (IEEE 754 binary16) <-> float32, for weights shipped at half the size.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Round each float32 to the nearest binary16 (ties to even); overflow becomes ±Infinity. */
export function float32ToFloat16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    f32[0] = values[i];
    const x = u32[0];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0); // Inf or NaN
      continue;
    }
    const e = exp - 127 + 15;
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      // Subnormal half (or zero): shift the mantissa with its implicit bit in.
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - e;
      let half = mant >>> shift;
      const rest = mant & ((1 << shift) - 1);
      const halfway = 1 << (shift - 1);
      if (rest > halfway || (rest === halfway && half & 1)) half++;
      out[i] = sign | half;
      continue;
    }
    let half = (e << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++; // may carry into the exponent: still correct
    out[i] = sign | half;
  }
  return out;
}

/** Exact widening of binary16 bit patterns to float32. */
export function float16ToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) out[i] = sign * mant * 2 ** -24;
    else if (exp === 0x1f) out[i] = mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
    else out[i] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return out;
}

function isDType(s: unknown): s is SafeDType {
  return typeof s === "string" && Object.hasOwn(dtypes, s);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/** Number of elements of `shape`, or undefined when it is not a safe integer. */
function elementCount(shape: readonly number[]): number | undefined {
  if (shape.includes(0)) return 0;
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (n > Number.MAX_SAFE_INTEGER) return undefined;
  }
  return n;
}

/** A short printable form of any value, for error messages (never throws). */
function describe(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = Object.prototype.toString.call(v);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** Serialize tensors (in `Object.entries` order) and optional string metadata to safetensors bytes. */
export function encodeSafetensors(tensors: Record<string, SafeTensor>, metadata?: Record<string, string>): Uint8Array {
  const fail: (msg: string) => never = (msg) => {
    throw new SafetensorsError(`cannot encode safetensors: ${msg}`);
  };
  const headerParts: string[] = [];
  if (metadata !== undefined) {
    if (!isPlainObject(metadata)) fail(`metadata must be an object of strings, got ${describe(metadata)}`);
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") fail(`metadata "${k}" must be a string, got ${typeof v} ${describe(v)}`);
    }
    if (Object.keys(metadata).length > 0) headerParts.push(`${JSON.stringify(metadataKey)}:${JSON.stringify(metadata)}`);
  }

  const entries = Object.entries(tensors);
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    const where = `tensor "${name}"`;
    if (!isPlainObject(t)) fail(`${where}: expected { dtype, shape, data }, got ${describe(t)}`);
    if (name === metadataKey) fail(`"${metadataKey}" is reserved for metadata and cannot name a tensor`);
    if (!isDType(t.dtype)) fail(`${where}: dtype ${describe(t.dtype)} is not one of ${safeDTypes.join(", ")}`);
    const info = dtypes[t.dtype];
    if (!Array.isArray(t.shape) || !t.shape.every(isCount)) {
      fail(`${where}: shape must be an array of non-negative integers, got ${describe(t.shape)}`);
    }
    if (!info.isArray(t.data)) {
      fail(`${where}: dtype ${t.dtype} needs its data in a ${info.arrayName}, got ${t.data?.constructor?.name ?? typeof t.data}`);
    }
    const count = elementCount(t.shape);
    if (count !== t.data.length) {
      fail(`${where}: shape [${t.shape}] has ${count ?? "too many"} elements but data has ${t.data.length}`);
    }
    const raw = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    if (t.dtype === "BOOL" && raw.some((b) => b > 1)) fail(`${where}: BOOL data must hold only 0 and 1`);
    const begin = offset;
    offset += raw.length;
    chunks.push(raw);
    headerParts.push(
      `${JSON.stringify(name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(",")}],"data_offsets":[${begin},${offset}]}`,
    );
  }

  const json = new TextEncoder().encode(`{${headerParts.join(",")}}`);
  const headerLength = Math.ceil(json.length / 8) * 8; // pad so the byte buffer starts 8-byte aligned
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const [i, raw] of chunks.entries()) {
    out.set(raw, at);
    swapBytes(out.subarray(at, at + raw.length), dtypes[entries[i][1].dtype].bytes);
    at += raw.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Decoding

interface HeaderEntry {
  name: string;
  dtype: SafeDType;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Parse safetensors bytes. Every problem with the input throws SafetensorsError whose message
 * starts with `source` (a file name, for messages) and says what was expected.
 */
export function decodeSafetensors(bytes: Uint8Array, source = "<safetensors bytes>"): SafetensorsContents {
  const fail: (msg: string) => never = (msg) => {
    throw new SafetensorsError(`${source}: ${msg}`);
  };
  if (!(bytes instanceof Uint8Array)) fail(`expected a Uint8Array of file contents, got ${typeof bytes}`);

  // [0, 8): header length
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, too short for the 8-byte header length; not a safetensors file`);
  const headerLength64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength64 > BigInt(maxHeaderBytes)) {
    fail(`header length ${headerLength64} exceeds the ${maxHeaderBytes}-byte limit; the file is corrupt or not safetensors`);
  }
  const headerLength = Number(headerLength64);
  if (8 + headerLength > bytes.length) {
    fail(
      `header length ${headerLength} runs past the end of the file (${bytes.length} bytes, so at most ${bytes.length - 8}); the file is truncated or not safetensors`,
    );
  }
  const dataLength = bytes.length - 8 - headerLength;

  // [8, 8 + N): JSON header
  let text = "";
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch {
    fail("header is not valid UTF-8");
  }
  if (!text.startsWith("{")) fail(`header must be a JSON object starting with "{", got ${describe(text.slice(0, 20))}`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!isPlainObject(header)) fail(`header must be a JSON object, got ${describe(header)}`);

  // __metadata__: string -> string
  const metadataEntries: [string, string][] = [];
  if (Object.hasOwn(header, metadataKey)) {
    const m = header[metadataKey];
    if (!isPlainObject(m)) fail(`"${metadataKey}" must be an object of strings, got ${describe(m)}`);
    for (const [k, v] of Object.entries(m)) {
      if (typeof v !== "string") fail(`"${metadataKey}" value for "${k}" must be a string, got ${describe(v)}`);
      metadataEntries.push([k, v]);
    }
  }

  // Tensor entries
  const entries: HeaderEntry[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === metadataKey) continue;
    const where = `tensor "${name}"`;
    if (!isPlainObject(info)) fail(`${where}: expected {"dtype", "shape", "data_offsets"}, got ${describe(info)}`);
    for (const field of tensorFields) {
      if (!Object.hasOwn(info, field)) fail(`${where}: missing "${field}" (expected fields: ${tensorFields.join(", ")})`);
    }
    for (const field of Object.keys(info)) {
      if (!tensorFields.includes(field))
        fail(`${where}: unexpected field "${field}" (expected only: ${tensorFields.join(", ")})`);
    }
    const { dtype, shape, data_offsets: offsets } = info;
    if (!isDType(dtype)) {
      const known = typeof dtype === "string" && unsupportedDTypes.has(dtype);
      const hint = known ? "unsupported" : "unknown";
      const fix = known ? " (convert the tensor to one of these before saving, e.g. BF16 to F32)" : "";
      fail(`${where}: ${hint} dtype ${describe(dtype)}; this reader handles ${safeDTypes.join(", ")}${fix}`);
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      fail(`${where}: shape must be an array of non-negative integers, got ${describe(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      fail(`${where}: data_offsets must be [begin, end] with non-negative integers, got ${describe(offsets)}`);
    }
    const [begin, end] = offsets;
    if (begin > end) fail(`${where}: data_offsets [${begin}, ${end}] has begin after end`);
    if (end > dataLength) fail(`${where}: data_offsets [${begin}, ${end}] run past the ${dataLength}-byte data buffer`);
    const count = elementCount(shape);
    const expected = count === undefined ? undefined : count * dtypes[dtype].bytes;
    if (expected !== end - begin) {
      fail(
        `${where}: shape [${shape}] of ${dtype} needs ${expected ?? "too many"} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
      );
    }
    entries.push({ name, dtype, shape: [...shape], begin, end });
  }

  // The tensors must tile the byte buffer exactly.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let previous = "the start of the data buffer";
  for (const e of entries) {
    if (e.begin !== cursor) {
      const problem = e.begin < cursor ? "overlaps" : `leaves a gap of ${e.begin - cursor} bytes after`;
      fail(
        `tensor "${e.name}" at data_offsets [${e.begin}, ${e.end}] ${problem} ${previous} (expected it to begin at ${cursor}; tensors must cover the data buffer contiguously)`,
      );
    }
    cursor = e.end;
    if (e.end > e.begin) previous = `tensor "${e.name}" (ending at ${e.end})`;
  }
  if (cursor !== dataLength) {
    fail(
      `tensors cover ${cursor} bytes of the ${dataLength}-byte data buffer; expected them to cover it exactly (the file has ${dataLength - cursor} unclaimed trailing bytes)`,
    );
  }

  const data = bytes.subarray(8 + headerLength);
  const tensors = Object.fromEntries(
    entries.map((e): [string, SafeTensor] => {
      const buffer = new ArrayBuffer(e.end - e.begin); // a fresh buffer: always aligned for the element type
      const copy = new Uint8Array(buffer);
      copy.set(data.subarray(e.begin, e.end));
      swapBytes(copy, dtypes[e.dtype].bytes);
      if (e.dtype === "BOOL" && copy.some((b) => b > 1)) fail(`tensor "${e.name}": BOOL data must hold only bytes 0 and 1`);
      return [e.name, { dtype: e.dtype, shape: e.shape, data: dtypes[e.dtype].view(buffer) }];
    }),
  );
  return { tensors, metadata: Object.fromEntries(metadataEntries) };
}

// ---------------------------------------------------------------------------------------------
// Files

/**
 * Write a safetensors file atomically: the bytes go to a temporary file in the same directory,
 * which is flushed to disk and then renamed over `path`, so readers see the old file or the
 * whole new one, never a partial write.
 */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, SafeTensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  const bytes = encodeSafetensors(tensors, metadata);
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    const fh = await open(tmp, "wx");
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  // Persist the rename itself; directories cannot be opened for sync on every platform.
  try {
    const dh = await open(dir, "r");
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch {
    // best effort
  }
}

/** Read and validate a safetensors file; problems with its contents throw SafetensorsError naming `path`. */
export async function readSafetensors(path: string): Promise<SafetensorsContents> {
  return decodeSafetensors(await readFile(path), path);
}
