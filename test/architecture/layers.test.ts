// The layering lint (`npm run lint:deps`, .dependency-cruiser.cjs): the real tree passes, and a
// copy of src/ with an upward import and an import that reaches past a folder's index.ts fails,
// naming both.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const lint = join(repo, "tools", "lintDeps.mjs");

function lintDeps(baseDir: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [lint, baseDir], { cwd: repo }, (err, stdout, stderr) => {
      resolve({ code: err ? Number(err.code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

test("src/ follows the layers, imports other folders through their index.ts and has no cycles", async () => {
  const r = await lintDeps(repo);
  assert.equal(r.code, 0, r.output);
  assert.match(r.output, /no layering violations/);
});

test("an upward import and a reach past an index are both reported", async () => {
  const dir = await mkdtemp(join(tmpdir(), "aigc-layers-"));
  try {
    await cp(join(repo, "src"), join(dir, "src"), { recursive: true });
    await writeFile(join(dir, "src/graph/planted.ts"), 'export { loadConfig } from "../serve/index.js";\n');
    await writeFile(
      join(dir, "src/train/planted.ts"),
      'import { Rng } from "../runtime/rng.js";\n\nexport const rng = new Rng(1);\n',
    );
    const r = await lintDeps(dir);
    assert.equal(r.code, 1, r.output);
    assert.match(r.output, /layer-graph: src\/graph\/planted\.ts -> src\/serve\/index\.ts/);
    assert.match(r.output, /through-index: src\/train\/planted\.ts -> src\/runtime\/rng\.ts/);
    assert.match(r.output, /2 import\(s\) break the layering/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
