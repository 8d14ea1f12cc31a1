// The GGUF writer and reader: round trips of metadata and every tensor type, quantization
// error bounds, and clear errors for truncated or corrupt files (fast-check over the bytes).

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import {
  dequantize,
  GgufError,
  gguf,
  quantizeQ4_0,
  quantizeQ8_0,
  readGgufHeader,
  readGgufTensor,
  writeGguf,
} from "../../src/runtime/gguf.js";

const dir = mkdtempSync(join(tmpdir(), "gguf-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const values = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) * 3);

describe("GGUF files", () => {
  const path = join(dir, "t.gguf");
  const a = values(64 * 3, 1);
  writeGguf(
    path,
    [
      ["general.architecture", gguf.str("test")],
      ["test.count", gguf.u32(7)],
      ["test.eps", gguf.f32(1e-6)],
      ["test.flag", gguf.bool(true)],
      ["test.words", gguf.strings(["a", "Ġb", "中文", ""])],
      ["test.ids", gguf.i32s([-1, 0, 5])],
    ],
    [
      { name: "a.f32", dims: [64, 3], type: "F32", data: a },
      { name: "a.f16", dims: [64, 3], type: "F16", data: a },
      { name: "a.q8", dims: [64, 3], type: "Q8_0", data: a },
      { name: "a.q4", dims: [64, 3], type: "Q4_0", data: a },
      { name: "v", dims: [5], type: "F32", data: values(5, 2) },
    ],
  );

  it("reads back the metadata with its types", () => {
    const file = readGgufHeader(path);
    assert.equal(file.version, 3);
    assert.deepEqual(file.metadata.get("test.count"), { type: "uint32", value: 7 });
    assert.equal(file.metadata.get("test.flag")?.value, true);
    assert.deepEqual(file.metadata.get("test.words")?.value, ["a", "Ġb", "中文", ""]);
    assert.deepEqual(file.metadata.get("test.ids")?.value, [-1, 0, 5]);
    assert.ok(Math.abs((file.metadata.get("test.eps")?.value as number) - 1e-6) < 1e-12);
    assert.deepEqual(
      file.tensors.map((t) => [t.name, t.type, t.dims.join("x")]),
      [
        ["a.f32", "F32", "64x3"],
        ["a.f16", "F16", "64x3"],
        ["a.q8", "Q8_0", "64x3"],
        ["a.q4", "Q4_0", "64x3"],
        ["v", "F32", "5"],
      ],
    );
    for (const t of file.tensors) assert.equal(t.fileOffset % 32, 0, `${t.name} is aligned`);
  });

  it("keeps F32 exactly and F16, Q8_0, Q4_0 within their rounding", () => {
    const file = readGgufHeader(path);
    const read = (name: string) => readGgufTensor(path, file.tensors.find((t) => t.name === name)!);
    assert.deepEqual(read("a.f32"), a);
    const maxErr = (x: Float32Array, scale: (block: number) => number) => {
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(x[i] - a[i]) / scale(Math.floor(i / 32)));
      return worst;
    };
    const amax = (b: number) => Math.max(...a.subarray(b * 32, b * 32 + 32).map(Math.abs));
    assert.ok(maxErr(read("a.f16"), () => 1) < 2e-3);
    // half a step, plus the scale rounded to fp16 (up to 127 steps × 2^-11)
    assert.ok(maxErr(read("a.q8"), (b) => amax(b) / 127) <= 0.5 + 127 * 2 ** -11, "Q8_0: within half a step");
    assert.ok(maxErr(read("a.q4"), (b) => amax(b) / 8) <= 1 + 1e-2, "Q4_0: within one step");
  });

  it("quantizes as ggml's reference does (block layout, nibble order, zero blocks)", () => {
    const x = new Float32Array(32);
    x[0] = -8;
    x[16] = 4;
    const q4 = quantizeQ4_0(x);
    // d = -8 / -8 = 1: element 0 -> q 0 (low nibble of byte 0), element 16 -> q 12 (high nibble)
    assert.equal(q4[2], 0 | (12 << 4));
    assert.deepEqual(Array.from(dequantize("Q4_0", q4, 32)).slice(0, 17), [-8, ...new Array(15).fill(0), 4]);
    assert.deepEqual(dequantize("Q8_0", quantizeQ8_0(new Float32Array(32)), 32), new Float32Array(32));
  });

  it("refuses writing what GGUF cannot hold", () => {
    assert.throws(
      () => writeGguf(join(dir, "bad.gguf"), [], [{ name: "x", dims: [31, 2], type: "Q8_0", data: new Float32Array(62) }]),
      /multiple of 32/,
    );
    assert.throws(
      () => writeGguf(join(dir, "bad.gguf"), [], [{ name: "x", dims: [4], type: "F32", data: new Float32Array(3) }]),
      /4 elements/,
    );
  });

  it("names the fault of a truncated or corrupt file", () => {
    const bytes = readFileSync(path);
    const cut = join(dir, "cut.gguf");
    writeFileSync(cut, bytes);
    truncateSync(cut, bytes.length - 100);
    assert.throws(
      () => readGgufHeader(cut),
      (e: Error) =>
        e instanceof GgufError && /truncated: tensor "a\.q4" ends at byte \d+, the file has \d+ bytes/.test(e.message),
    );
    writeFileSync(cut, Buffer.concat([Buffer.from("GGUX"), bytes.subarray(4)]));
    assert.throws(() => readGgufHeader(cut), /not a GGUF file/);
    writeFileSync(cut, bytes.subarray(0, 40));
    assert.throws(() => readGgufHeader(cut), /truncated/);
  });

  it("never fails on corrupt bytes with anything but a GgufError", () => {
    const bytes = readFileSync(path);
    const headerEnd = readGgufHeader(path).tensors[0].fileOffset;
    const target = join(dir, "fuzz.gguf");
    fc.assert(
      fc.property(fc.integer({ min: 0, max: headerEnd - 1 }), fc.integer({ min: 0, max: 255 }), (at, byte) => {
        const copy = Buffer.from(bytes);
        copy[at] = byte;
        writeFileSync(target, copy);
        try {
          readGgufHeader(target);
        } catch (e) {
          assert.ok(e instanceof GgufError, `byte ${at} = ${byte}: ${(e as Error).message}`);
        }
      }),
      { numRuns: 300 },
    );
  });
});
