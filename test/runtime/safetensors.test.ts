// Tests for the safetensors reader/writer: exact round trips (examples and properties), the
// byte layout checked by hand, every validation rule, a fuzz property (decode returns or throws
// SafetensorsError, nothing else), an independent reader/writer in Python's standard library,
// and atomic writes.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import {
  decodeSafetensors,
  encodeSafetensors,
  float16ToFloat32,
  float32ToFloat16,
  readSafetensors,
  type SafeDType,
  type SafeTensor,
  SafetensorsError,
  safeDTypes,
  writeSafetensors,
} from "../../src/runtime/safetensors.js";

const itemBytes: Record<SafeDType, number> = { F32: 4, F64: 8, F16: 2, I64: 8, I32: 4, U8: 1, BOOL: 1 };

/** A typed array of `dtype` over `raw` (copied), starting `pad` elements into a larger buffer. */
function tensorFromBytes(dtype: SafeDType, shape: number[], raw: Uint8Array, pad = 0): SafeTensor {
  const size = itemBytes[dtype];
  const buffer = new ArrayBuffer(raw.length + pad * 8);
  new Uint8Array(buffer, pad * 8).set(raw);
  const n = raw.length / size;
  const offset = pad * 8;
  const data = {
    F32: () => new Float32Array(buffer, offset, n),
    F64: () => new Float64Array(buffer, offset, n),
    F16: () => new Uint16Array(buffer, offset, n),
    I64: () => new BigInt64Array(buffer, offset, n),
    I32: () => new Int32Array(buffer, offset, n),
    U8: () => new Uint8Array(buffer, offset, n),
    BOOL: () => new Uint8Array(buffer, offset, n),
  }[dtype]();
  return { dtype, shape, data };
}

/** A file from a header (object or raw JSON text) and data bytes, padded like the writer unless told not to. */
function fileWith(header: unknown, data: Uint8Array | number[] = [], opts: { pad?: boolean; length?: bigint } = {}): Uint8Array {
  const json = Buffer.from(typeof header === "string" ? header : JSON.stringify(header), "utf8");
  const padding = (opts.pad ?? true) ? (8 - (json.length % 8)) % 8 : 0;
  const h = Buffer.concat([json, Buffer.alloc(padding, " ")]);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, opts.length ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function headerOf(bytes: Uint8Array): { length: number; text: string } {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { length, text: Buffer.from(bytes.subarray(8, 8 + length)).toString("utf8") };
}

const allDTypes: Record<string, SafeTensor> = {
  f32: { dtype: "F32", shape: [2, 3], data: new Float32Array([1.5, -2, 0, -0, Number.POSITIVE_INFINITY, Number.NaN]) },
  f64: { dtype: "F64", shape: [3], data: new Float64Array([Math.PI, -1e-300, Number.MAX_VALUE]) },
  f16: { dtype: "F16", shape: [2], data: new Uint16Array([0x3c00, 0xfbff]) },
  i64: { dtype: "I64", shape: [2, 2], data: new BigInt64Array([0n, -1n, 2n ** 63n - 1n, -(2n ** 63n)]) },
  i32: { dtype: "I32", shape: [4], data: new Int32Array([0, -1, 2 ** 31 - 1, -(2 ** 31)]) },
  u8: { dtype: "U8", shape: [1, 3, 1], data: new Uint8Array([0, 128, 255]) },
  bool: { dtype: "BOOL", shape: [3], data: new Uint8Array([1, 0, 1]) },
  scalar: { dtype: "F64", shape: [], data: new Float64Array([42.25]) },
  empty: { dtype: "F32", shape: [0], data: new Float32Array(0) },
  emptyMatrix: { dtype: "I64", shape: [2, 0, 3], data: new BigInt64Array(0) },
  scalarI64: { dtype: "I64", shape: [], data: new BigInt64Array([-7n]) },
};

test("round trip of every dtype, scalar and zero-size shapes, and metadata", () => {
  const metadata = { format: "pt", "ünïcode ✓": 'välue "quoted"\n', empty: "" };
  const bytes = encodeSafetensors(allDTypes, metadata);
  const out = decodeSafetensors(bytes);
  assert.deepEqual(out.tensors, allDTypes); // typed arrays compare byte for byte: NaN, -0 included
  assert.deepEqual(out.metadata, metadata);
  assert.deepEqual(Object.keys(out.tensors), Object.keys(allDTypes));
  for (const [name, t] of Object.entries(out.tensors)) {
    assert.notEqual(t.data.buffer, bytes.buffer, `${name} must be a copy, not a view of the file`);
    assert.equal(t.data.byteOffset % t.data.BYTES_PER_ELEMENT, 0, `${name} aligned`);
  }
  assert.deepEqual(decodeSafetensors(encodeSafetensors({})), { tensors: {}, metadata: {} });
  assert.deepEqual(decodeSafetensors(encodeSafetensors({}, {})).metadata, {});
});

test("byte layout matches a hand-built file", () => {
  const bytes = encodeSafetensors(
    {
      w: { dtype: "F32", shape: [2], data: new Float32Array([1, -2]) },
      n: { dtype: "I32", shape: [], data: new Int32Array([-2]) },
      m: { dtype: "BOOL", shape: [1, 1], data: new Uint8Array([1]) },
    },
    { format: "pt" },
  );
  const json =
    '{"__metadata__":{"format":"pt"},' +
    '"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
    '"n":{"dtype":"I32","shape":[],"data_offsets":[8,12]},' +
    '"m":{"dtype":"BOOL","shape":[1,1],"data_offsets":[12,13]}}';
  const padded = json.length + ((8 - (json.length % 8)) % 8);
  const expected = [
    ...[padded, 0, 0, 0, 0, 0, 0, 0], // u64 LE header length (< 256 here)
    ...Buffer.from(json.padEnd(padded, " "), "ascii"),
    ...[0x00, 0x00, 0x80, 0x3f], // 1.0f
    ...[0x00, 0x00, 0x00, 0xc0], // -2.0f
    ...[0xfe, 0xff, 0xff, 0xff], // int32 -2
    0x01, // true
  ];
  assert.ok(padded < 256);
  assert.equal(padded % 8, 0);
  assert.ok(padded > json.length, "this header needs padding, so the test exercises it");
  assert.deepEqual([...bytes], expected);
});

test("decoding returns tensors in data-offset order, reads unpadded headers and unaligned data", () => {
  // "b" comes first in the JSON but second in the buffer; the header is not padded, so the
  // F64 starts at file offset 8 + N + 4, not a multiple of 8.
  const data = new Uint8Array(12);
  const dv = new DataView(data.buffer);
  dv.setInt32(0, 7, true);
  dv.setFloat64(4, -0.125, true);
  const header = '{"b":{"dtype":"F64","shape":[],"data_offsets":[4,12]},"a":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}';
  const file = fileWith(header, data, { pad: false });
  assert.notEqual((8 + Buffer.byteLength(header) + 4) % 8, 0);
  // and view the file itself at an odd offset inside a larger buffer
  const host = new Uint8Array(file.length + 3);
  host.set(file, 3);
  const out = decodeSafetensors(host.subarray(3));
  assert.deepEqual(Object.keys(out.tensors), ["a", "b"]);
  assert.deepEqual(out.tensors.a, { dtype: "I32", shape: [1], data: new Int32Array([7]) });
  assert.deepEqual(out.tensors.b, { dtype: "F64", shape: [], data: new Float64Array([-0.125]) });
});

test("decoding rejects every malformed input with SafetensorsError naming the file", () => {
  const f32 = (offsets: unknown, shape: unknown = [1]) => ({ dtype: "F32", shape, data_offsets: offsets });
  const cases: [string, Uint8Array, RegExp][] = [
    ["too short", new Uint8Array(5), /5 bytes, too short/],
    [
      "header past end",
      fileWith("{}", [], { length: 100n }),
      /header length 100 runs past the end of the file \(16 bytes, so at most 8\)/,
    ],
    ["absurd header length", fileWith("{}", [], { length: 2n ** 63n }), /exceeds the 100000000-byte limit/],
    ["max u64 header length", fileWith("{}", [], { length: 2n ** 64n - 1n }), /exceeds the 100000000-byte limit/],
    ["empty header", fileWith("", [], { pad: false }), /must be a JSON object starting with "\{"/],
    [
      "invalid UTF-8",
      (() => {
        const f = fileWith("{ }", [], { pad: false });
        f[9] = 0xff;
        return f;
      })(),
      /not valid UTF-8/,
    ],
    ["byte order mark", fileWith("\ufeff{}"), /must be a JSON object starting with/],
    ["invalid JSON", fileWith('{"a":'), /not valid JSON/],
    ["array header", fileWith("[1, 2]"), /JSON object starting with "\{", got "\[1, 2\]/],
    ["trailing JSON", fileWith("{} {}"), /not valid JSON/],
    ["entry not an object", fileWith({ a: 1 }), /tensor "a": expected \{"dtype", "shape", "data_offsets"\}, got 1/],
    ["missing field", fileWith({ a: { dtype: "F32", shape: [] } }), /tensor "a": missing "data_offsets"/],
    ["extra field", fileWith({ a: { ...f32([0, 4]), offsets: 1 } }, [0, 0, 0, 0]), /unexpected field "offsets"/],
    [
      "unknown dtype",
      fileWith({ a: { ...f32([0, 4]), dtype: "Q9" } }, [0, 0, 0, 0]),
      /unknown dtype "Q9"; this reader handles F32, F64, F16, I64, I32, U8, BOOL/,
    ],
    ["BF16", fileWith({ a: { ...f32([0, 2]), dtype: "BF16" } }, [0, 0]), /unsupported dtype "BF16"; this reader handles F32/],
    ["dtype not a string", fileWith({ a: { ...f32([0, 4]), dtype: 4 } }, [0, 0, 0, 0]), /unknown dtype 4/],
    [
      "negative dim",
      fileWith({ a: f32([0, 4], [-1]) }, [0, 0, 0, 0]),
      /shape must be an array of non-negative integers, got \[-1\]/,
    ],
    ["fractional dim", fileWith({ a: f32([0, 4], [1.5]) }, [0, 0, 0, 0]), /shape must be an array of non-negative integers/],
    ["string dim", fileWith({ a: f32([0, 4], ["1"]) }, [0, 0, 0, 0]), /shape must be an array of non-negative integers/],
    ["shape not an array", fileWith({ a: f32([0, 4], 1) }, [0, 0, 0, 0]), /shape must be an array/],
    ["huge shape", fileWith({ a: f32([0, 0], [2 ** 40, 2 ** 40]) }), /needs too many bytes/],
    ["offsets arity", fileWith({ a: f32([0]) }), /data_offsets must be \[begin, end\]/],
    ["offsets negative", fileWith({ a: f32([-4, 0]) }), /data_offsets must be \[begin, end\] with non-negative integers/],
    ["offsets fractional", fileWith({ a: f32([0, 4.5]) }, [0, 0, 0, 0]), /data_offsets must be/],
    ["begin after end", fileWith({ a: f32([4, 0]) }, [0, 0, 0, 0]), /begin after end/],
    [
      "offsets out of bounds",
      fileWith({ a: f32([0, 8], [2]) }, [0, 0, 0, 0]),
      /data_offsets \[0, 8\] run past the 4-byte data buffer/,
    ],
    [
      "size mismatch",
      fileWith({ a: f32([0, 4], [2]) }, [0, 0, 0, 0]),
      /shape \[2\] of F32 needs 8 bytes but data_offsets \[0, 4\] span 4/,
    ],
    [
      "overlap",
      fileWith({ a: f32([0, 4]), b: f32([2, 6]) }, [0, 0, 0, 0, 0, 0]),
      /tensor "b" at data_offsets \[2, 6\] overlaps tensor "a" \(ending at 4\) \(expected it to begin at 4/,
    ],
    ["same offsets", fileWith({ a: f32([0, 4]), b: f32([0, 4]) }, [0, 0, 0, 0]), /overlaps/],
    [
      "zero-size inside",
      fileWith({ a: f32([0, 4]), z: f32([2, 2], [0]) }, [0, 0, 0, 0]),
      /tensor "z" at data_offsets \[2, 2\] overlaps/,
    ],
    ["gap", fileWith({ a: f32([0, 4]), b: f32([6, 10]) }, new Uint8Array(10)), /leaves a gap of 2 bytes after tensor "a"/],
    ["leading gap", fileWith({ a: f32([4, 8]) }, new Uint8Array(8)), /gap of 4 bytes after the start of the data buffer/],
    ["trailing bytes", fileWith({ a: f32([0, 4]) }, new Uint8Array(6)), /2 unclaimed trailing bytes/],
    ["bytes but no tensors", fileWith({}, [1]), /tensors cover 0 bytes of the 1-byte data buffer/],
    ["metadata not an object", fileWith({ __metadata__: ["x"] }), /"__metadata__" must be an object of strings, got \["x"\]/],
    ["metadata null", fileWith({ __metadata__: null }), /"__metadata__" must be an object/],
    ["metadata value", fileWith({ __metadata__: { k: 1 } }), /"__metadata__" value for "k" must be a string, got 1/],
    [
      "BOOL byte 2",
      fileWith({ m: { dtype: "BOOL", shape: [2], data_offsets: [0, 2] } }, [1, 2]),
      /BOOL data must hold only bytes 0 and 1/,
    ],
  ];
  for (const [label, bytes, message] of cases) {
    assert.throws(
      () => decodeSafetensors(bytes, "bad.safetensors"),
      (e: unknown) => {
        assert.ok(e instanceof SafetensorsError, `${label}: expected SafetensorsError, got ${String(e)}`);
        assert.equal(e.name, "SafetensorsError");
        assert.ok(e.message.startsWith("bad.safetensors: "), `${label}: message names the file: ${e.message}`);
        assert.match(e.message, message, label);
        return true;
      },
      label,
    );
  }
  assert.throws(() => decodeSafetensors(new Uint8Array(0)), /^SafetensorsError: <safetensors bytes>: file is 0 bytes/);
});

test("encoding rejects tensors it cannot write", () => {
  const bad: [string, Record<string, SafeTensor>, Record<string, string> | undefined, RegExp][] = [
    [
      "wrong array type",
      { a: { dtype: "F64", shape: [1], data: new Float32Array(1) } },
      undefined,
      /tensor "a": dtype F64 needs its data in a Float64Array, got Float32Array/,
    ],
    ["I64 as Int32Array", { a: { dtype: "I64", shape: [1], data: new Int32Array(1) } }, undefined, /BigInt64Array/],
    [
      "shape/data mismatch",
      { a: { dtype: "U8", shape: [2, 2], data: new Uint8Array(3) } },
      undefined,
      /shape \[2,2\] has 4 elements but data has 3/,
    ],
    ["negative dim", { a: { dtype: "U8", shape: [-1], data: new Uint8Array(0) } }, undefined, /non-negative integers/],
    [
      "BOOL value",
      { a: { dtype: "BOOL", shape: [1], data: new Uint8Array([2]) } },
      undefined,
      /BOOL data must hold only 0 and 1/,
    ],
    ["reserved name", { __metadata__: { dtype: "U8", shape: [0], data: new Uint8Array(0) } }, undefined, /reserved for metadata/],
    ["metadata value", {}, { k: 1 as unknown as string }, /metadata "k" must be a string/],
    [
      "bad dtype",
      { a: { dtype: "BF16" as SafeDType, shape: [0], data: new Uint8Array(0) } },
      undefined,
      /dtype "BF16" is not one of F32, F64, F16, I64, I32, U8, BOOL/,
    ],
  ];
  for (const [label, tensors, metadata, message] of bad) {
    assert.throws(
      () => encodeSafetensors(tensors, metadata),
      (e: unknown) => e instanceof SafetensorsError && message.test(e.message),
      label,
    );
  }
});

// ---------------------------------------------------------------------------------------------
// Properties

const tensorArb: fc.Arbitrary<SafeTensor> = fc.constantFrom(...safeDTypes).chain((dtype) =>
  fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }).chain((shape) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const len = n * itemBytes[dtype];
    const raw =
      dtype === "BOOL"
        ? fc.uint8Array({ min: 0, max: 1, minLength: n, maxLength: n })
        : fc.uint8Array({ minLength: len, maxLength: len });
    return fc.tuple(raw, fc.nat(2)).map(([bytes, pad]) => tensorFromBytes(dtype, shape, bytes, pad));
  }),
);
const nameArb = fc.string({ unit: "binary", maxLength: 12 }).filter((s) => s !== "__metadata__");
const tensorsArb = fc.dictionary(nameArb, tensorArb, { maxKeys: 6, noNullPrototype: true });
const metadataArb = fc.option(
  fc.dictionary(fc.string({ unit: "binary", maxLength: 8 }), fc.string({ unit: "binary", maxLength: 16 }), {
    maxKeys: 4,
    noNullPrototype: true,
  }),
  {
    nil: undefined,
  },
);

test("property: encode then decode is the identity, with an aligned space-padded header", () => {
  fc.assert(
    fc.property(tensorsArb, metadataArb, (tensors, metadata) => {
      const bytes = encodeSafetensors(tensors, metadata);
      const { length, text } = headerOf(bytes);
      assert.equal(length % 8, 0);
      assert.match(text, /^\{.*\} *$/s);
      assert.ok(text.length - text.trimEnd().length < 8);
      const out = decodeSafetensors(bytes);
      assert.deepEqual(out.tensors, tensors);
      assert.deepEqual(Object.keys(out.tensors), Object.keys(tensors));
      assert.deepEqual(out.metadata, metadata ?? {});
      // bytes are deterministic: decoding and re-encoding gives the same file
      assert.deepEqual(encodeSafetensors(out.tensors, metadata), bytes);
    }),
    { numRuns: 300 },
  );
});

/** Decode must return (and then round-trip) or throw SafetensorsError; anything else fails the property. */
function decodesOrRejects(bytes: Uint8Array): void {
  let out: ReturnType<typeof decodeSafetensors>;
  try {
    out = decodeSafetensors(bytes, "fuzz.safetensors");
  } catch (e) {
    if (!(e instanceof SafetensorsError)) throw e;
    assert.ok(e.message.startsWith("fuzz.safetensors: "), e.message);
    return;
  }
  const again = decodeSafetensors(encodeSafetensors(out.tensors, out.metadata));
  assert.deepEqual(again, out);
}

const validFileArb = fc.tuple(tensorsArb, metadataArb).map(([t, m]) => encodeSafetensors(t, m));

/** Replace parts of a valid file's header with arbitrary JSON, keeping the length field right. */
const headerMutationArb = fc
  .tuple(
    validFileArb,
    fc.array(
      fc.tuple(
        fc.nat(),
        fc.constantFrom("dtype", "shape", "data_offsets", "extra", "delete", "entry", "metadata", "shift", "shift"),
        fc.oneof(
          fc.jsonValue({ maxDepth: 2 }),
          fc.constantFrom("F16", "BF16", "F32", "I64", "BOOL", "__metadata__"),
          fc.array(fc.integer({ min: -2, max: 70 }), { maxLength: 3 }),
          fc.tuple(fc.nat(70), fc.nat(70)),
        ),
      ),
      { minLength: 1, maxLength: 3 },
    ),
    fc.integer({ min: -4, max: 4 }),
  )
  .map(([file, edits, dataDelta]) => {
    const { length, text } = headerOf(file);
    const header = JSON.parse(text) as Record<string, Record<string, unknown>>;
    const names = Object.keys(header);
    for (const [pick, kind, value] of edits) {
      const name = names.length > 0 ? names[pick % names.length] : "x";
      if (kind === "metadata") header.__metadata__ = value as Record<string, unknown>;
      else if (kind === "entry") header[name] = value as Record<string, unknown>;
      else if (kind === "delete") delete header[name];
      else if (kind === "shift") {
        // move a tensor by a few bytes, keeping its size: overlaps, gaps and out-of-bounds offsets
        const offsets = header[name]?.data_offsets;
        const d = (pick % 9) - 4;
        if (Array.isArray(offsets)) header[name].data_offsets = offsets.map((o) => (typeof o === "number" ? o + d : o));
      } else if (typeof header[name] === "object" && header[name] !== null) header[name][kind] = value;
    }
    let data = file.subarray(8 + length);
    if (dataDelta < 0) data = data.subarray(0, Math.max(0, data.length + dataDelta));
    else if (dataDelta > 0) data = new Uint8Array([...data, ...new Array<number>(dataDelta).fill(dataDelta)]);
    return fileWith(header, data, { pad: dataDelta % 2 === 0 });
  });

test("fuzz: decode of random or corrupted bytes returns or throws SafetensorsError", { timeout: 60_000 }, () => {
  const opts = { numRuns: 400 };
  // raw random bytes, and random bytes behind a plausible header length
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), decodesOrRejects), opts);
  fc.assert(
    fc.property(fc.nat(80), fc.uint8Array({ maxLength: 80 }), (n, rest) => {
      const b = new Uint8Array(8 + rest.length);
      new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
      b.set(rest, 8);
      decodesOrRejects(b);
    }),
    opts,
  );
  // random JSON text as the header
  fc.assert(
    fc.property(fc.json(), fc.uint8Array({ maxLength: 16 }), (json, data) => decodesOrRejects(fileWith(json, data))),
    opts,
  );
  // byte flips, truncation and extension of valid files
  fc.assert(
    fc.property(
      validFileArb,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      fc.integer({ min: -8, max: 8 }),
      (file, flips, cut) => {
        let b = new Uint8Array(file);
        for (const [at, v] of flips) if (b.length > 0) b[at % b.length] = v;
        if (cut < 0) b = b.subarray(0, Math.max(0, b.length + cut));
        else if (cut > 0) b = new Uint8Array([...b, ...new Array<number>(cut).fill(0x20)]);
        decodesOrRejects(b);
      },
    ),
    opts,
  );
  // flips restricted to the 8-byte length field
  fc.assert(
    fc.property(validFileArb, fc.nat(7), fc.integer({ min: 0, max: 255 }), (file, at, v) => {
      const b = new Uint8Array(file);
      b[at] = v;
      decodesOrRejects(b);
    }),
    opts,
  );
  // structurally valid JSON with wrong fields, dtypes, shapes, offsets and metadata
  fc.assert(fc.property(headerMutationArb, decodesOrRejects), { numRuns: 1000 });
});

// ---------------------------------------------------------------------------------------------
// An independent reader and writer: Python's standard library (struct + json)

function findPython(): string | undefined {
  for (const exe of ["/usr/bin/python3", "python3"]) {
    const r = spawnSync(exe, ["--version"], { encoding: "utf8" });
    if (r.status === 0) return exe;
  }
  return undefined;
}
const python = findPython();

function runPython(script: string, args: string[]): string {
  const r = spawnSync(python ?? "python3", ["-c", script, ...args], { encoding: "utf8", maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `python failed:\n${r.stderr}`);
  return r.stdout;
}

const pyReader = `
import json, struct, sys
fmt = {"F32": "f", "F64": "d", "F16": "H", "I64": "q", "I32": "i", "U8": "B", "BOOL": "?"}
size = {"F32": 4, "F64": 8, "F16": 2, "I64": 8, "I32": 4, "U8": 1, "BOOL": 1}
files = []
for path in sys.argv[1:]:
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0, "header length must be a multiple of 8"
    text = raw[8:8 + n].decode("utf-8")
    assert text.startswith("{") and text.rstrip(" ").endswith("}"), "header is JSON padded with spaces"
    assert len(text) - len(text.rstrip(" ")) < 8, "at most 7 bytes of padding"
    header = json.loads(text)
    data = raw[8 + n:]
    meta = header.pop("__metadata__", {})
    tensors = {}
    end = 0
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
        dt, shape, (b, e) = info["dtype"], info["shape"], info["data_offsets"]
        assert b == end, "tensors are contiguous"
        end = e
        count = 1
        for d in shape:
            count *= d
        assert e - b == count * size[dt]
        vals = struct.unpack("<%d%s" % (count, fmt[dt]), data[b:e])
        if dt in ("F32", "F64"):
            s = 0.0
            for v in vals:
                s += v
            total = struct.pack("<d", s).hex()
        else:
            total = str(sum(int(v) for v in vals))
        tensors[name] = {"dtype": dt, "shape": shape, "sum": total}
    assert end == len(data), "tensors cover the data buffer"
    files.append({"metadata": meta, "tensors": tensors})
print(json.dumps(files))
`;

interface PySummary {
  metadata: Record<string, string>;
  tensors: Record<string, { dtype: SafeDType; shape: number[]; sum: string }>;
}

/** The same sum the Python reader prints: float64 bits as hex for floats, a decimal integer otherwise. */
function jsSum(t: SafeTensor): string {
  if (t.data instanceof BigInt64Array) return t.data.reduce((a, b) => a + b, 0n).toString();
  let s = 0;
  for (const v of t.data) s += v;
  if (t.dtype === "F32" || t.dtype === "F64") {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(s);
    return b.toString("hex");
  }
  return String(s);
}

const sameFloatBits = (a: string, b: string): boolean =>
  Object.is(Buffer.from(a, "hex").readDoubleLE(0), Buffer.from(b, "hex").readDoubleLE(0));

test("Python's struct + json reads the files this module writes", { skip: python ? false : "python3 not found" }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "safetensors-py-"));
  try {
    const cases = [{ tensors: allDTypes, metadata: { format: "pt", ünï: "✓" } as Record<string, string> | undefined }];
    for (const [tensors, metadata] of fc.sample(fc.tuple(tensorsArb, metadataArb), { numRuns: 40, seed: 7 }))
      cases.push({ tensors, metadata });
    const paths = cases.map((_, i) => join(dir, `${i}.safetensors`));
    for (const [i, c] of cases.entries()) await writeSafetensors(paths[i], c.tensors, c.metadata);
    const summaries = JSON.parse(runPython(pyReader, paths)) as PySummary[];
    assert.equal(summaries.length, cases.length);
    for (const [i, c] of cases.entries()) {
      const py = summaries[i];
      assert.deepEqual(py.metadata, c.metadata ?? {}, `file ${i} metadata`);
      assert.deepEqual(Object.keys(py.tensors).sort(), Object.keys(c.tensors).sort(), `file ${i} names`);
      for (const [name, t] of Object.entries(c.tensors)) {
        const p = py.tensors[name];
        assert.equal(p.dtype, t.dtype, `file ${i} ${name} dtype`);
        assert.deepEqual(p.shape, t.shape, `file ${i} ${name} shape`);
        const js = jsSum(t);
        const same = t.dtype === "F32" || t.dtype === "F64" ? sameFloatBits(p.sum, js) : p.sum === js;
        assert.ok(same, `file ${i} ${name}: python sum ${p.sum}, js sum ${js}`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

const pyWriter = `
import json, struct, sys
fmt = {"F32": "f", "F64": "d", "F16": "H", "I64": "q", "I32": "i", "U8": "B", "BOOL": "?"}
tensors = [
    ("w", "F32", [2, 3], [0.5, -1.25, 3.0, 1e-8, -0.0, 65504.0]),
    ("ids", "I64", [3], [-1, 2**62 + 3, -(2**63)]),
    ("mask", "BOOL", [2], [True, False]),
    ("d", "F64", [], [3.141592653589793]),
    ("k", "I32", [2], [-7, 2**31 - 1]),
    ("b", "U8", [3], [0, 7, 255]),
    ("none", "I32", [0], []),
]
header = {"__metadata__": {"format": "np", "ünï": "✓"}}
data = b""
for name, dt, shape, vals in tensors:
    b = len(data)
    data += struct.pack("<%d%s" % (len(vals), fmt[dt]), *vals)
    header[name] = {"dtype": dt, "shape": shape, "data_offsets": [b, len(data)]}
# json.dumps' own spacing, non-ASCII text, and no padding: the F64 lands at an unaligned file offset
h = json.dumps(header, ensure_ascii=False).encode("utf-8")
if (8 + len(h)) % 8 == 0:
    h += b" "
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + data)
`;

test("this module reads a file written by Python's struct + json", { skip: python ? false : "python3 not found" }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "safetensors-py-"));
  try {
    const path = join(dir, "py.safetensors");
    runPython(pyWriter, [path]);
    const out = await readSafetensors(path);
    assert.deepEqual(out.metadata, { format: "np", ünï: "✓" });
    assert.deepEqual(Object.keys(out.tensors), ["w", "ids", "mask", "d", "k", "b", "none"]);
    assert.deepEqual(out.tensors, {
      w: { dtype: "F32", shape: [2, 3], data: new Float32Array([0.5, -1.25, 3, 1e-8, -0, 65504]) },
      ids: { dtype: "I64", shape: [3], data: new BigInt64Array([-1n, 2n ** 62n + 3n, -(2n ** 63n)]) },
      mask: { dtype: "BOOL", shape: [2], data: new Uint8Array([1, 0]) },
      d: { dtype: "F64", shape: [], data: new Float64Array([Math.PI]) },
      k: { dtype: "I32", shape: [2], data: new Int32Array([-7, 2 ** 31 - 1]) },
      b: { dtype: "U8", shape: [3], data: new Uint8Array([0, 7, 255]) },
      none: { dtype: "I32", shape: [0], data: new Int32Array(0) },
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

const hasSafetensorsPackage = python !== undefined && spawnSync(python, ["-c", "import safetensors.numpy"]).status === 0;

test("the safetensors Python package reads our files", {
  skip: hasSafetensorsPackage ? false : "python safetensors package not installed",
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), "safetensors-hf-"));
  try {
    const path = join(dir, "a.safetensors");
    const tensors = { ...allDTypes };
    await writeSafetensors(path, tensors, { format: "np" });
    const script = `
import json, sys
from safetensors.numpy import load_file
print(json.dumps({k: [list(v.shape), str(v.dtype), v.tobytes().hex()] for k, v in load_file(sys.argv[1]).items()}))`;
    const loaded = JSON.parse(runPython(script, [path])) as Record<string, [number[], string, string]>;
    for (const [name, t] of Object.entries(tensors)) {
      assert.deepEqual(loaded[name][0], t.shape, name);
      assert.equal(loaded[name][2], Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString("hex"), name);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------
// Files

test("writeSafetensors is atomic: no temp file left, overwrites replace, failures leave the old file", async () => {
  const dir = await mkdtemp(join(tmpdir(), "safetensors-write-"));
  try {
    const path = join(dir, "model.safetensors");
    await writeSafetensors(path, allDTypes, { step: "1" });
    assert.deepEqual(await readdir(dir), ["model.safetensors"]);
    assert.deepEqual(await readSafetensors(path), { tensors: allDTypes, metadata: { step: "1" } });

    const next = { only: { dtype: "U8", shape: [2], data: new Uint8Array([9, 8]) } } satisfies Record<string, SafeTensor>;
    await writeSafetensors(path, next, { step: "2" });
    assert.deepEqual(await readdir(dir), ["model.safetensors"]);
    assert.deepEqual(await readSafetensors(path), { tensors: next, metadata: { step: "2" } });

    // a tensor that cannot be encoded: nothing is written, the old file stays
    const before = await readFile(path);
    await assert.rejects(
      writeSafetensors(path, { bad: { dtype: "F32", shape: [2], data: new Float32Array(1) } }),
      SafetensorsError,
    );
    assert.deepEqual(await readFile(path), before);
    assert.deepEqual(await readdir(dir), ["model.safetensors"]);

    // concurrent writers: the file ends up whole, as one of them wrote it
    const writers = [1, 2, 3, 4].map((k) => ({ v: { dtype: "I32" as const, shape: [k], data: new Int32Array(k).fill(k) } }));
    await Promise.all(writers.map((t) => writeSafetensors(path, t)));
    const { v } = (await readSafetensors(path)).tensors;
    const k = v.shape[0];
    assert.ok(k >= 1 && k <= 4);
    assert.deepEqual(v, writers[k - 1].v);
    assert.deepEqual(await readdir(dir), ["model.safetensors"]);

    // a missing directory fails with the file-system error and creates nothing
    await assert.rejects(writeSafetensors(join(dir, "missing", "x.safetensors"), next), { code: "ENOENT" });
    assert.deepEqual(await readdir(dir), ["model.safetensors"]);

    // reading a corrupt file names it
    const corrupt = join(dir, "corrupt.safetensors");
    await writeFile(corrupt, before.subarray(0, before.length - 1));
    await assert.rejects(
      readSafetensors(corrupt),
      (e: unknown) => e instanceof SafetensorsError && e.message.startsWith(`${corrupt}: `),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

// Public types: dtype and data are checked at compile time (run tsc on this file to check).
export const typeChecks: SafeTensor[] = [
  { dtype: "F32", shape: [1], data: new Float32Array(1) },
  // @ts-expect-error BF16 is not a SafeDType
  { dtype: "BF16", shape: [1], data: new Uint8Array(2) },
  // @ts-expect-error plain arrays are not tensor data
  { dtype: "F32", shape: [1], data: [1] },
];

test("float16: every half widens exactly, and rounding float32 to half agrees with NumPy", {
  skip: python ? false : "python3 not found",
}, () => {
  const allHalves = new Uint16Array(65536).map((_, i) => i);
  const widened = float16ToFloat32(allHalves);
  // Rounding each widened half gives it back (NaN payloads aside).
  const back = float32ToFloat16(widened);
  for (let i = 0; i < 65536; i++) if (!Number.isNaN(widened[i])) assert.equal(back[i], i, `half 0x${i.toString(16)}`);
  // Random float32s over the whole half range, subnormals and ties included, against numpy.
  const rng = fc.sample(fc.float({ noNaN: true, min: -70000, max: 70000 }), { numRuns: 4000, seed: 7 });
  const values = new Float32Array([...rng, 2 ** -25, 3 * 2 ** -26, 2 ** -24 + 2 ** -35, 65504, 65520, -65520, 1 + 2 ** -11]);
  const script =
    "import sys, numpy as np; a = np.frombuffer(sys.stdin.buffer.read(), '<f4'); sys.stdout.buffer.write(a.astype('<f2').tobytes())";
  const r = spawnSync(python!, ["-c", script], { input: Buffer.from(values.buffer) });
  if (r.status !== 0) return; // numpy missing: the exhaustive round trip above still ran
  const expected = new Uint16Array(new Uint8Array(r.stdout).buffer);
  assert.deepEqual(float32ToFloat16(values), expected);
  assert.equal(float16ToFloat32(new Uint16Array([0x3555]))[0], 0.333251953125);
});
