// The GGUF file format (version 3), the one llama.cpp, Ollama, LM Studio and node-llama-cpp
// load, written and read exactly.
//
// Layout of a file (every integer little-endian):
//   "GGUF" · version u32 = 3 · tensor count u64 · metadata count u64
//   metadata:     key (string) · value type u32 · value
//                 (string = u64 byte length + UTF-8; array = item type u32 + u64 count + items)
//   tensor infos: name (string) · n_dims u32 · ne[0..n_dims) u64 · ggml type u32 · offset u64
//   padding to `general.alignment` (32 by default), then the data section: each tensor at
//   its offset (a multiple of the alignment) from the section's start.
// ggml's first dimension ne[0] is the contiguous one: a row-major [out, in] matrix is {in, out}.
//
// Quantized types work on blocks of 32 consecutive elements along ne[0]:
//   Q8_0: fp16 scale d = max|x| / 127, then 32 int8 q = round(x / d)           (34 bytes)
//   Q4_0: fp16 scale d = x_m / -8 (x_m the element of largest magnitude, sign kept), then
//         16 bytes: element j in the low nibble of byte j, element j + 16 in the high one,
//         q = min(15, trunc(x / d + 8.5)), x ≈ (q - 8) · d                          (18 bytes)
// The reader validates everything it reads and throws GgufError naming the file and the fault.

import { randomBytes } from "node:crypto";
import { closeSync, fstatSync, openSync, readSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { float16ToFloat32, float32ToFloat16 } from "./safetensors.js";

export class GgufError extends Error {
  override name = "GgufError";
}

/** Tensor element types this module writes and reads (ggml_type numbers). */
export const GGML_TYPES = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8 } as const;
export type GgmlType = keyof typeof GGML_TYPES;
const TYPE_BY_NUMBER = new Map(Object.entries(GGML_TYPES).map(([k, v]) => [v, k as GgmlType]));

/** Elements per block and bytes per block of each type. */
const LAYOUT: Record<GgmlType, { block: number; bytes: number }> = {
  F32: { block: 1, bytes: 4 },
  F16: { block: 1, bytes: 2 },
  Q4_0: { block: 32, bytes: 18 },
  Q8_0: { block: 32, bytes: 34 },
};

/** Bytes of a tensor of `elements` elements stored as `type`. */
export function ggmlBytes(type: GgmlType, elements: number): number {
  const { block, bytes } = LAYOUT[type];
  if (elements % block !== 0) throw new GgufError(`${type} needs a multiple of ${block} elements, got ${elements}`);
  return (elements / block) * bytes;
}

// ---------------------------------------------------------------- metadata values

/** GGUF value types (gguf_type numbers). */
const VALUE_TYPES = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
} as const;
type ScalarType = Exclude<keyof typeof VALUE_TYPES, "array">;

/** A metadata value with its GGUF type (JavaScript numbers do not say which integer width). */
export type GgufValue =
  | { type: Exclude<ScalarType, "string" | "bool">; value: number }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "array"; itemType: Exclude<ScalarType, "string" | "bool">; value: number[] }
  | { type: "array"; itemType: "string"; value: string[] }
  | { type: "array"; itemType: "bool"; value: boolean[] };

export const gguf = {
  u32: (value: number): GgufValue => ({ type: "uint32", value }),
  i32: (value: number): GgufValue => ({ type: "int32", value }),
  f32: (value: number): GgufValue => ({ type: "float32", value }),
  bool: (value: boolean): GgufValue => ({ type: "bool", value }),
  str: (value: string): GgufValue => ({ type: "string", value }),
  strings: (value: string[]): GgufValue => ({ type: "array", itemType: "string", value }),
  i32s: (value: number[]): GgufValue => ({ type: "array", itemType: "int32", value }),
  f32s: (value: number[]): GgufValue => ({ type: "array", itemType: "float32", value }),
};

/** A tensor to write: float32 values, row-major with ne[0] contiguous, stored as `type`. */
export interface GgufTensorInput {
  name: string;
  /** ggml dims, ne[0] first (the contiguous one). */
  dims: number[];
  type: GgmlType;
  data: Float32Array;
}

export interface GgufTensorInfo {
  name: string;
  dims: number[];
  type: GgmlType;
  /** Offset in the file (not the data section). */
  fileOffset: number;
  bytes: number;
}

export interface GgufFile {
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
}

// ---------------------------------------------------------------- quantization

/** Quantize float32 values (a multiple of 32) to Q8_0 blocks. */
export function quantizeQ8_0(x: Float32Array): Uint8Array {
  const blocks = ggmlBytes("Q8_0", x.length) / 34;
  const out = new Uint8Array(blocks * 34);
  const view = new DataView(out.buffer);
  const scale = new Float32Array(1);
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]));
    const d = amax / 127;
    const id = d ? 1 / d : 0;
    scale[0] = d;
    view.setUint16(b * 34, float32ToFloat16(scale)[0], true);
    for (let j = 0; j < 32; j++) {
      const v = x[b * 32 + j] * id;
      view.setInt8(b * 34 + 2 + j, Math.sign(v) * Math.round(Math.abs(v))); // C roundf: halves away from zero
    }
  }
  return out;
}

/** Quantize float32 values (a multiple of 32) to Q4_0 blocks. */
export function quantizeQ4_0(x: Float32Array): Uint8Array {
  const blocks = ggmlBytes("Q4_0", x.length) / 18;
  const out = new Uint8Array(blocks * 18);
  const view = new DataView(out.buffer);
  const scale = new Float32Array(1);
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = x[b * 32 + j];
      if (Math.abs(v) > amax) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = max / -8;
    const id = d ? 1 / d : 0;
    scale[0] = d;
    view.setUint16(b * 18, float32ToFloat16(scale)[0], true);
    for (let j = 0; j < 16; j++) {
      const lo = Math.min(15, Math.trunc(x[b * 32 + j] * id + 8.5));
      const hi = Math.min(15, Math.trunc(x[b * 32 + 16 + j] * id + 8.5));
      out[b * 18 + 2 + j] = lo | (hi << 4);
    }
  }
  return out;
}

function halfAt(view: DataView, offset: number): number {
  return float16ToFloat32(Uint16Array.of(view.getUint16(offset, true)))[0];
}

/** Widen stored tensor bytes of `type` back to float32. */
export function dequantize(type: GgmlType, bytes: Uint8Array, elements: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(elements);
  switch (type) {
    case "F32":
      for (let i = 0; i < elements; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    case "F16":
      for (let i = 0; i < elements; i++) out[i] = halfAt(view, i * 2);
      return out;
    case "Q8_0":
      for (let b = 0; b < elements / 32; b++) {
        const d = halfAt(view, b * 34);
        for (let j = 0; j < 32; j++) out[b * 32 + j] = view.getInt8(b * 34 + 2 + j) * d;
      }
      return out;
    case "Q4_0":
      for (let b = 0; b < elements / 32; b++) {
        const d = halfAt(view, b * 18);
        for (let j = 0; j < 16; j++) {
          const q = bytes[b * 18 + 2 + j];
          out[b * 32 + j] = ((q & 15) - 8) * d;
          out[b * 32 + 16 + j] = ((q >> 4) - 8) * d;
        }
      }
      return out;
  }
}

function encodeTensor(t: GgufTensorInput): Uint8Array {
  switch (t.type) {
    case "F32":
      return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    case "F16": {
      const half = float32ToFloat16(t.data);
      return new Uint8Array(half.buffer, half.byteOffset, half.byteLength);
    }
    case "Q8_0":
      return quantizeQ8_0(t.data);
    case "Q4_0":
      return quantizeQ4_0(t.data);
  }
}

// ---------------------------------------------------------------- writing

/** A growable little-endian byte buffer for the header. */
class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    bigger.set(this.buf.subarray(0, this.length));
    this.buf = bigger;
    this.view = new DataView(bigger.buffer);
  }
  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }
  u64(v: number): void {
    this.reserve(8);
    this.view.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }
  scalar(type: Exclude<ScalarType, "string">, v: number | boolean): void {
    const sizes = {
      uint8: 1,
      int8: 1,
      bool: 1,
      uint16: 2,
      int16: 2,
      uint32: 4,
      int32: 4,
      float32: 4,
      uint64: 8,
      int64: 8,
      float64: 8,
    };
    this.reserve(sizes[type]);
    const at = this.length;
    const n = Number(v);
    const set = {
      uint8: () => this.view.setUint8(at, n),
      int8: () => this.view.setInt8(at, n),
      bool: () => this.view.setUint8(at, n ? 1 : 0),
      uint16: () => this.view.setUint16(at, n, true),
      int16: () => this.view.setInt16(at, n, true),
      uint32: () => this.view.setUint32(at, n, true),
      int32: () => this.view.setInt32(at, n, true),
      float32: () => this.view.setFloat32(at, n, true),
      uint64: () => this.view.setBigUint64(at, BigInt(n), true),
      int64: () => this.view.setBigInt64(at, BigInt(n), true),
      float64: () => this.view.setFloat64(at, n, true),
    };
    set[type]();
    this.length += sizes[type];
  }
  string(s: string): void {
    const bytes = new TextEncoder().encode(s);
    this.u64(bytes.length);
    this.reserve(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }
  pad(alignment: number): void {
    const n = (alignment - (this.length % alignment)) % alignment;
    this.reserve(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

function writeValue(w: ByteWriter, v: GgufValue): void {
  w.u32(VALUE_TYPES[v.type]);
  if (v.type === "string") {
    w.string(v.value);
    return;
  }
  if (v.type !== "array") {
    w.scalar(v.type, v.value);
    return;
  }
  w.u32(VALUE_TYPES[v.itemType]);
  w.u64(v.value.length);
  for (const item of v.value) {
    if (v.itemType === "string") w.string(item as string);
    else w.scalar(v.itemType, item as number | boolean);
  }
}

/**
 * Write a GGUF v3 file atomically (a temporary file renamed over `path`): metadata in the order
 * given, tensors in the order given, each aligned to `general.alignment` (32 unless set).
 */
export function writeGguf(path: string, metadata: [string, GgufValue][], tensors: GgufTensorInput[]): void {
  const alignmentEntry = metadata.find(([k]) => k === "general.alignment")?.[1];
  const alignment = alignmentEntry && alignmentEntry.type === "uint32" ? alignmentEntry.value : 32;
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) throw new GgufError(`tensor "${t.name}" is given twice`);
    names.add(t.name);
    const elements = t.dims.reduce((a, b) => a * b, 1);
    if (elements !== t.data.length)
      throw new GgufError(`tensor "${t.name}": dims {${t.dims}} hold ${elements} elements, data has ${t.data.length}`);
    if (LAYOUT[t.type].block > 1 && t.dims[0] % LAYOUT[t.type].block !== 0)
      throw new GgufError(`tensor "${t.name}": ${t.type} needs ne[0] a multiple of 32, got ${t.dims[0]}`);
  }
  const header = new ByteWriter();
  header.u32(0x46554747); // "GGUF"
  header.u32(3);
  header.u64(tensors.length);
  header.u64(metadata.length);
  for (const [key, value] of metadata) {
    header.string(key);
    writeValue(header, value);
  }
  let offset = 0;
  const align = (n: number) => Math.ceil(n / alignment) * alignment;
  for (const t of tensors) {
    header.string(t.name);
    header.u32(t.dims.length);
    for (const d of t.dims) header.u64(d);
    header.u32(GGML_TYPES[t.type]);
    header.u64(offset);
    offset = align(offset + ggmlBytes(t.type, t.data.length));
  }
  header.pad(alignment);

  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString("hex")}.tmp`);
  const fd = openSync(tmp, "w");
  try {
    writeSync(fd, header.bytes());
    const zeros = new Uint8Array(alignment);
    for (const t of tensors) {
      const bytes = encodeTensor(t);
      writeSync(fd, bytes);
      const pad = (alignment - (bytes.length % alignment)) % alignment;
      if (pad) writeSync(fd, zeros, 0, pad);
    }
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {}
    try {
      unlinkSync(tmp);
    } catch {}
    throw e;
  }
}

// ---------------------------------------------------------------- reading

/** Reads a file's header through a small window (files may be far larger than the header). */
class HeaderReader {
  private buf = new Uint8Array(0);
  private start = 0; // file offset of buf[0]
  pos = 0; // file offset

  constructor(
    private readonly fd: number,
    readonly size: number,
    private readonly path: string,
  ) {}

  private need(n: number, what: string): DataView {
    if (this.pos + n > this.size)
      throw new GgufError(`${this.path}: truncated: ${what} at byte ${this.pos} needs ${n} bytes, the file has ${this.size}`);
    if (this.pos < this.start || this.pos + n > this.start + this.buf.length) {
      this.buf = new Uint8Array(Math.max(n, 1 << 20));
      this.start = this.pos;
      readSync(this.fd, this.buf, 0, Math.min(this.buf.length, this.size - this.pos), this.pos);
    }
    const view = new DataView(this.buf.buffer, this.pos - this.start, n);
    this.pos += n;
    return view;
  }
  u32(what: string): number {
    return this.need(4, what).getUint32(0, true);
  }
  u64(what: string): number {
    const v = this.need(8, what).getBigUint64(0, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new GgufError(`${this.path}: ${what} is ${v}, beyond any real file`);
    return Number(v);
  }
  scalar(type: Exclude<ScalarType, "string">, what: string): number | boolean {
    switch (type) {
      case "uint8":
        return this.need(1, what).getUint8(0);
      case "int8":
        return this.need(1, what).getInt8(0);
      case "bool":
        return this.need(1, what).getUint8(0) !== 0;
      case "uint16":
        return this.need(2, what).getUint16(0, true);
      case "int16":
        return this.need(2, what).getInt16(0, true);
      case "uint32":
        return this.need(4, what).getUint32(0, true);
      case "int32":
        return this.need(4, what).getInt32(0, true);
      case "float32":
        return this.need(4, what).getFloat32(0, true);
      case "uint64":
        return this.u64(what);
      case "int64":
        return Number(this.need(8, what).getBigInt64(0, true));
      case "float64":
        return this.need(8, what).getFloat64(0, true);
    }
  }
  string(what: string): string {
    const n = this.u64(`${what} length`);
    const view = this.need(n, what);
    return new TextDecoder("utf-8", { fatal: false }).decode(new Uint8Array(view.buffer, view.byteOffset, n));
  }
}

const VALUE_TYPE_BY_NUMBER = new Map(Object.entries(VALUE_TYPES).map(([k, v]) => [v, k as keyof typeof VALUE_TYPES]));

function readValue(r: HeaderReader, key: string, path: string): GgufValue {
  const typeNumber = r.u32(`type of "${key}"`);
  const type = VALUE_TYPE_BY_NUMBER.get(typeNumber as never);
  if (type === undefined) throw new GgufError(`${path}: metadata "${key}" has unknown value type ${typeNumber}`);
  if (type === "string") return { type, value: r.string(`"${key}"`) };
  if (type !== "array") return { type, value: r.scalar(type, `"${key}"`) } as GgufValue;
  const itemNumber = r.u32(`item type of "${key}"`);
  const itemType = VALUE_TYPE_BY_NUMBER.get(itemNumber as never);
  if (itemType === undefined || itemType === "array")
    throw new GgufError(`${path}: metadata "${key}" is an array of unsupported type ${itemNumber}`);
  const count = r.u64(`length of "${key}"`);
  if (count > r.size) throw new GgufError(`${path}: metadata "${key}" claims ${count} items, more than the file's bytes`);
  const items: (string | number | boolean)[] = [];
  for (let i = 0; i < count; i++)
    items.push(itemType === "string" ? r.string(`"${key}"[${i}]`) : r.scalar(itemType, `"${key}"[${i}]`));
  return { type: "array", itemType, value: items } as GgufValue;
}

/** Read and validate a GGUF file's header (metadata and tensor table); tensor data stays on disk. */
export function readGgufHeader(path: string): GgufFile {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const r = new HeaderReader(fd, size, path);
    const magic = r.u32("the magic number");
    if (magic !== 0x46554747) throw new GgufError(`${path}: not a GGUF file (the first 4 bytes are not "GGUF")`);
    const version = r.u32("the version");
    if (version !== 3 && version !== 2) throw new GgufError(`${path}: GGUF version ${version}, expected 3 (or 2)`);
    const tensorCount = r.u64("the tensor count");
    const kvCount = r.u64("the metadata count");
    if (tensorCount > size || kvCount > size) throw new GgufError(`${path}: header counts exceed the file size`);
    const metadata = new Map<string, GgufValue>();
    for (let i = 0; i < kvCount; i++) {
      const key = r.string(`metadata key ${i}`);
      if (metadata.has(key)) throw new GgufError(`${path}: metadata key "${key}" appears twice`);
      metadata.set(key, readValue(r, key, path));
    }
    const alignmentEntry = metadata.get("general.alignment");
    const alignment = alignmentEntry?.type === "uint32" ? alignmentEntry.value : 32;
    if (!Number.isInteger(alignment) || alignment <= 0 || alignment % 8 !== 0)
      throw new GgufError(`${path}: general.alignment ${alignment} is not a positive multiple of 8`);
    const infos: (Omit<GgufTensorInfo, "fileOffset"> & { offset: number })[] = [];
    for (let i = 0; i < tensorCount; i++) {
      const name = r.string(`tensor name ${i}`);
      const nDims = r.u32(`dims of "${name}"`);
      if (nDims < 1 || nDims > 4) throw new GgufError(`${path}: tensor "${name}" has ${nDims} dims (1 to 4 allowed)`);
      const dims = Array.from({ length: nDims }, (_, d) => r.u64(`dim ${d} of "${name}"`));
      const typeNumber = r.u32(`type of "${name}"`);
      const type = TYPE_BY_NUMBER.get(typeNumber as never);
      if (type === undefined)
        throw new GgufError(`${path}: tensor "${name}" has ggml type ${typeNumber}, which this reader does not support`);
      const offset = r.u64(`offset of "${name}"`);
      if (offset % alignment !== 0)
        throw new GgufError(`${path}: tensor "${name}" offset ${offset} is not aligned to ${alignment}`);
      const elements = dims.reduce((a, b) => a * b, 1);
      let bytes: number;
      try {
        bytes = ggmlBytes(type, elements);
      } catch (e) {
        throw new GgufError(`${path}: tensor "${name}": ${(e as Error).message}`);
      }
      infos.push({ name, dims, type, bytes, offset });
    }
    const dataStart = Math.ceil(r.pos / alignment) * alignment;
    const tensors = infos.map(({ offset, ...t }) => {
      const fileOffset = dataStart + offset;
      if (fileOffset + t.bytes > size)
        throw new GgufError(
          `${path}: truncated: tensor "${t.name}" ends at byte ${fileOffset + t.bytes}, the file has ${size} bytes`,
        );
      return { ...t, fileOffset };
    });
    return { version, metadata, tensors, alignment };
  } finally {
    closeSync(fd);
  }
}

/** A tensor's values, widened to float32 (ne[0] contiguous). */
export function readGgufTensor(path: string, info: GgufTensorInfo): Float32Array {
  const fd = openSync(path, "r");
  try {
    const bytes = new Uint8Array(info.bytes);
    const got = readSync(fd, bytes, 0, info.bytes, info.fileOffset);
    if (got !== info.bytes)
      throw new GgufError(`${path}: truncated: tensor "${info.name}" is short by ${info.bytes - got} bytes`);
    return dequantize(
      info.type,
      bytes,
      info.dims.reduce((a, b) => a * b, 1),
    );
  } finally {
    closeSync(fd);
  }
}
