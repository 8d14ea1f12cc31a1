// The benchmark commands run and report in the documented shape (speed itself is
// measured by `aigc bench engine`, not asserted here).

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { debianPython, engineBenchDefaults, measureTorchStep, runEngineBench } from "../../src/cli/bench/engine.js";

const torchAvailable = spawnSync(debianPython(), ["-c", "import torch"], { encoding: "utf8" }).status === 0;

test("aigc bench engine --json ends with { stepMs, torchStepMs, ratio } (anchor skipped)", () => {
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", "src/cli/main.ts", "bench", "engine", "--json", "--steps", "1", "--no-torch"],
    {
      encoding: "utf8",
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const last = JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "");
  assert.deepEqual(Object.keys(last), ["stepMs", "torchStepMs", "ratio"]);
  assert.ok(last.stepMs > 0);
  assert.equal(last.torchStepMs, null);
  assert.equal(last.ratio, null);
});

test("the PyTorch anchor trains the identical model (same parameter count)", {
  skip: torchAvailable ? false : "python3-torch not installed",
}, async () => {
  const o = { ...engineBenchDefaults, steps: 1, warmup: 0 };
  const torch = measureTorchStep(o);
  assert.ok(torch.torchStepMs !== null && torch.torchStepMs > 0, torch.note);
  const ours = await runEngineBench({ ...o, noTorch: true });
  assert.equal(torch.info?.params, ours.params);
});
