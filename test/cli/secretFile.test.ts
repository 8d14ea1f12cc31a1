// Secret files the CLI writes, on real files in temporary git repositories: mode 0600, the
// folder 0700 when it is created, and a warning when git would commit the file (inside a work
// tree that does not ignore it, or tracked), none when it is ignored or outside any work tree;
// without git, a .git above is enough to warn. `aigc he keygen` itself goes through it.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { heKeygen } from "../../src/cli/he.js";
import { gitExposure, writeSecretFile } from "../../src/cli/secretFile.js";

const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function tempDir(): string {
  const d = realpathSync(mkdtempSync(join(tmpdir(), "aigc-secret-")));
  roots.push(d);
  return d;
}

function gitRepo(): string {
  const d = tempDir();
  execFileSync("git", ["init", "-q", d]);
  return d;
}

const mode = (path: string) => statSync(path).mode & 0o777;

/** Collects warnings instead of printing them. */
function collector(): { warn: (m: string) => void; warnings: string[] } {
  const warnings: string[] = [];
  return { warn: (m) => warnings.push(m), warnings };
}

test("a secret in a work tree that does not ignore it: 0600 file, 0700 folders, a warning naming the fix", async () => {
  const repo = gitRepo();
  const path = join(repo, "keys", "nested", "secret-key.json");
  const { warn, warnings } = collector();
  const r = await writeSecretFile(path, '{"secretKey":"x"}', warn);
  assert.equal(readFileSync(path, "utf8"), '{"secretKey":"x"}');
  assert.equal(mode(path), 0o600);
  assert.equal(mode(join(repo, "keys")), 0o700);
  assert.equal(mode(join(repo, "keys", "nested")), 0o700);
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0], r.exposure);
  assert.match(
    warnings[0],
    /inside the git work tree .* and not ignored: `git add \.` would commit it; add keys\/nested\/ to \.gitignore/,
  );
  // What the warning says is true: git would add it.
  execFileSync("git", ["-C", repo, "add", "."]);
  assert.match(
    execFileSync("git", ["-C", repo, "status", "--porcelain"], { encoding: "utf8" }),
    /keys\/nested\/secret-key\.json/,
  );
});

test("ignored, or outside any work tree: no warning; an existing folder keeps its mode", async () => {
  const repo = gitRepo();
  writeFileSync(join(repo, ".gitignore"), "/keys/\n");
  mkdirSync(join(repo, "keys"), { mode: 0o755 });
  const { warn, warnings } = collector();
  await writeSecretFile(join(repo, "keys", "secret-key.json"), "s", warn);
  assert.equal(mode(join(repo, "keys", "secret-key.json")), 0o600);
  assert.equal(mode(join(repo, "keys")), 0o755, "a folder that existed is left as it was");
  const outside = tempDir();
  await writeSecretFile(join(outside, "k", "secret.json"), "s", warn);
  assert.deepEqual(warnings, []);
});

test("overwriting a world-readable file leaves it 0600 and replaces it whole", async () => {
  const dir = tempDir();
  const path = join(dir, "secret.json");
  writeFileSync(path, "old content, longer than the new", { mode: 0o644 });
  await writeSecretFile(path, "new", () => {});
  assert.equal(mode(path), 0o600);
  assert.equal(readFileSync(path, "utf8"), "new");
});

test("a tracked secret is reported as tracked, even when .gitignore now lists it", async () => {
  const repo = gitRepo();
  mkdirSync(join(repo, "keys"));
  writeFileSync(join(repo, "keys", "secret-key.json"), "old");
  execFileSync("git", ["-C", repo, "add", "keys/secret-key.json"]);
  writeFileSync(join(repo, ".gitignore"), "keys/\n");
  const { warn, warnings } = collector();
  await writeSecretFile(join(repo, "keys", "secret-key.json"), "new", warn);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /is tracked by git in .*: .*git rm --cached keys\/secret-key\.json/);
});

test("without git installed, a .git folder above is enough to warn", () => {
  const repo = tempDir();
  mkdirSync(join(repo, ".git"));
  mkdirSync(join(repo, "keys"));
  const noGit = () => "no-git" as const;
  assert.match(
    gitExposure(join(repo, "keys", "secret-key.json"), noGit) ?? "",
    /inside the git work tree .* \(git is not installed/,
  );
  assert.equal(gitExposure(join(tempDir(), "secret-key.json"), noGit), undefined);
});

test("aigc he keygen --out keys/ inside a work tree: secret 0600 in a 0700 folder, a warning; public keys readable", async () => {
  const repo = gitRepo();
  const { warn, warnings } = collector();
  const r = await heKeygen(join(repo, "keys"), { warn });
  assert.equal(mode(r.secretPath), 0o600);
  assert.equal(mode(join(repo, "keys")), 0o700);
  assert.equal(mode(r.publicPath) & 0o044, 0o044, "public keys are meant to be shared");
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /secret-key\.json is inside the git work tree/);
  const secret = JSON.parse(readFileSync(r.secretPath, "utf8")) as { secretKey: string };
  assert.ok(secret.secretKey.length > 0);
});

test("this checkout's .gitignore keeps keys/, data/ and runs/ out, and src/data/ in", () => {
  const ignored = (path: string) => {
    try {
      execFileSync("git", ["check-ignore", "-q", "--no-index", path]);
      return true;
    } catch {
      return false;
    }
  };
  for (const path of ["keys/secret-key.json", "data/ct/x.dcm", "runs/lm-tiny/model.onnx", "examples/keys/secret-key.json"])
    assert.ok(ignored(path), `${path} is ignored`);
  for (const path of ["src/data/new.ts", "test/data/fixtures/new.json", "keys.ts"])
    assert.ok(!ignored(path), `${path} is not ignored`);
});
