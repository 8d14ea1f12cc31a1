// Files the CLI writes that must stay private (the CKKS secret key; any key file): mode 0600
// from the first byte (written to a fresh 0600 file, then renamed over the target), their
// folder 0700 when this creates it, and a warning when they land inside a git work tree that
// does not ignore them, where `git add .` would commit them.

import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";

/** What `writeSecretFile` found about the file's place. */
export interface SecretFileWritten {
  readonly path: string;
  /** Why the file is exposed to version control; undefined when it is not. */
  readonly exposure: string | undefined;
}

/**
 * Write `data` to `path` readable by its owner only. A folder this creates is 0700; one that
 * exists is left as it is (it may be shared on purpose). `warn` hears about exposure to git.
 */
export async function writeSecretFile(
  path: string,
  data: string | Uint8Array,
  warn: (message: string) => void = (m) => console.error(`aigc: warning: ${m}`),
): Promise<SecretFileWritten> {
  const dir = dirname(resolve(path));
  const firstCreated = await mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode passes through the umask; the folders it made are set exactly.
  if (firstCreated) for (let d = dir; d.startsWith(firstCreated); d = dirname(d)) await chmod(d, 0o700);
  const temp = join(dir, `.${process.pid}.${Date.now()}.tmp`);
  try {
    await writeFile(temp, data, { mode: 0o600, flag: "wx" });
    await chmod(temp, 0o600);
    await rename(temp, path);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
  const exposure = gitExposure(path);
  if (exposure) warn(exposure);
  return { path, exposure };
}

type Git = (args: readonly string[], cwd: string) => { status: number; stdout: string } | "no-git";

const runGit: Git = (args, cwd) => {
  try {
    const stdout = execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 5000 });
    return { status: 0, stdout };
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { status?: number | null; stdout?: string };
    if (err.code === "ENOENT") return "no-git";
    return { status: err.status ?? 1, stdout: err.stdout ?? "" };
  }
};

/** The nearest folder at or above `dir` holding `.git` (a work tree's root), if any. */
function gitRootAbove(dir: string): string | undefined {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, ".git"))) return d;
    if (dirname(d) === d) return undefined;
  }
}

/**
 * Why `path` would end up in git: tracked, or inside a work tree that does not ignore it.
 * Undefined when it is outside any work tree, or ignored. Without git installed, a `.git`
 * above it is enough to warn (whether it is ignored cannot be checked).
 */
export function gitExposure(path: string, git: Git = runGit): string | undefined {
  const file = resolve(path);
  const dir = dirname(file);
  const top = git(["rev-parse", "--show-toplevel"], dir);
  if (top === "no-git") {
    const root = gitRootAbove(dir);
    return root
      ? `${path} is inside the git work tree ${root} (git is not installed, so whether it is ignored was not checked): keep it out of commits, or write it outside the work tree`
      : undefined;
  }
  if (top.status !== 0) {
    // Not a work tree, or one git refuses to read (e.g. owned by another user): .git decides.
    const root = gitRootAbove(dir);
    return root
      ? `${path} is inside what looks like the git work tree ${root} (git could not read it, so whether it is ignored was not checked): keep it out of commits`
      : undefined;
  }
  const root = top.stdout.trim();
  const inTree = relative(root, file);
  const tracked = git(["ls-files", "--error-unmatch", "--", file], dir);
  if (tracked !== "no-git" && tracked.status === 0)
    return `${path} is tracked by git in ${root}: the secret is in its history once committed; remove it (git rm --cached ${inTree}) and ignore it`;
  const ignored = git(["check-ignore", "-q", "--", file], dir);
  if (ignored !== "no-git" && ignored.status === 0) return undefined;
  return `${path} is inside the git work tree ${root} and not ignored: \`git add .\` would commit it; add ${dirname(inTree) === "." ? inTree : `${dirname(inTree)}/`} to .gitignore, or write it outside the work tree`;
}
