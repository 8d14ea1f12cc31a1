// The one atomic model-folder writer: files land together, kept entries survive, and a write
// that fails leaves the old folder as it was (and no temporary folder behind).

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { jsonFile, writeModelFolder } from "../../src/runtime/modelFolder.js";
import { readSafetensors } from "../../src/runtime/safetensors.js";

test("writeModelFolder writes every file, keeps what it is told to keep, and fails without a trace", async () => {
  const root = await mkdtemp(join(tmpdir(), "aigc-model-folder-"));
  const dir = join(root, "model");
  try {
    await mkdir(join(dir, "checkpoint"), { recursive: true });
    await writeFile(join(dir, "RECIPE.md"), "recipe\n");
    await writeFile(join(dir, "checkpoint", "trainer.json"), "{}\n");
    await writeFile(join(dir, "stale.json"), "{}\n");
    const tensors = { w: { dtype: "F32" as const, shape: [2], data: Float32Array.of(1, 2) } };
    await writeModelFolder(
      dir,
      { "config.json": jsonFile({ kind: "x" }), "model.safetensors": { tensors } },
      { keep: ["RECIPE.md"] },
    );
    assert.deepEqual((await readdir(dir)).sort(), ["RECIPE.md", "config.json", "model.safetensors"]);
    assert.deepEqual(JSON.parse(await readFile(join(dir, "config.json"), "utf8")), { kind: "x" });
    assert.deepEqual(Array.from((await readSafetensors(join(dir, "model.safetensors"))).tensors.w.data as Float32Array), [1, 2]);

    await mkdir(join(dir, "checkpoint"));
    await writeFile(join(dir, "checkpoint", "trainer.json"), "{}\n");
    await writeModelFolder(dir, { "model.onnx": new Uint8Array([1, 2, 3]) }, { keep: "others" });
    assert.deepEqual((await readdir(dir)).sort(), ["RECIPE.md", "checkpoint", "config.json", "model.onnx", "model.safetensors"]);
    assert.equal(await readFile(join(dir, "checkpoint", "trainer.json"), "utf8"), "{}\n");

    const failing = () => {
      throw new Error("disk full");
    };
    await assert.rejects(
      writeModelFolder(dir, { "config.json": "{}", "tokenizer.json": failing }, { keep: "others" }),
      /disk full/,
    );
    assert.deepEqual(JSON.parse(await readFile(join(dir, "config.json"), "utf8")), { kind: "x" });
    assert.deepEqual((await readdir(root)).sort(), ["model"]);
    assert.ok(!existsSync(`${dir}.partial-${process.pid}`));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
