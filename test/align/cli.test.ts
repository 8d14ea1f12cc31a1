// The aligner commands end to end on a tiny model: train, eval retrieval on synthetic
// pairs and on a folder written like `aigc data synth-ct`, embed, and the errors a user sees.

import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { registerAlignCommands } from "../../src/cli/align.js";
import { synthChestSet, writeSynthCase } from "../../src/data/synth/index.js";
import { runAigc } from "../helpers/cli.js";

const aigc = (...args: string[]) => runAigc(registerAlignCommands, ...args);

test("train align, eval retrieval (--seed/--n and --data), embed", async () => {
  const dir = await mkdtemp(join(tmpdir(), "aigc-align-cli-"));
  try {
    const model = join(dir, "model");
    const trained = JSON.parse(
      await aigc("train", "align", "--recipe", "direct", "--preset", "tiny", "--out", model, "--threads", "2", "--json"),
    );
    assert.equal(trained.recipe, "direct");
    assert.equal(trained.heldOut.n, 48);

    const synthetic = JSON.parse(await aigc("eval", "retrieval", "--model", model, "--seed", "5", "--n", "20", "--json"));
    assert.equal(synthetic.n, 20);
    for (const k of ["r1", "r5", "r10"]) assert.ok(synthetic.i2t[k] >= 0 && synthetic.i2t[k] <= 1);
    assert.ok(synthetic.i2t.r10 >= synthetic.i2t.r1);

    // The same cases written to disk (DICOM + JSON) give the same figures as in memory.
    const cases = synthChestSet(5, 20);
    const folder = join(dir, "cases");
    for (const c of cases) writeSynthCase(folder, c);
    const fromFiles = JSON.parse(await aigc("eval", "retrieval", "--model", model, "--data", folder, "--json"));
    assert.deepEqual(
      { i2t: fromFiles.i2t, t2i: fromFiles.t2i, n: fromFiles.n },
      { i2t: synthetic.i2t, t2i: synthetic.t2i, n: 20 },
    );

    const text = JSON.parse(await aigc("embed", "--model", model, "--text", "FINDINGS:\nThe lungs are clear.", "--json"));
    assert.equal(text.kind, "text");
    assert.equal(text.embedding.length, 512);
    assert.ok(Math.abs(Math.hypot(...text.embedding) - 1) < 1e-5);
    const image = JSON.parse(await aigc("embed", "--model", model, "--image", join(folder, `${cases[0].id}.dcm`), "--json"));
    assert.equal(image.kind, "image");
    assert.equal(image.dim, 512);

    await assert.rejects(
      aigc("embed", "--model", model, "--image", join(folder, `${cases[0].id}.png`)),
      /needs Hounsfield units, give the case's DICOM/,
    );
    await assert.rejects(aigc("embed", "--model", model), /exactly one of --image FILE or --text STR/);
    await assert.rejects(
      aigc("eval", "retrieval", "--model", join(dir, "nothing"), "--n", "4"),
      /no aligner in .*nothing: expected .*config\.json/,
    );
    await assert.rejects(
      aigc("eval", "retrieval", "--model", model, "--data", join(dir, "nothing")),
      /--data .*: no such folder/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
