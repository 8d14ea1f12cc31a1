// Text corpora for tokenizer and LM training: English, Chinese and code.
// Nothing is downloaded at run time: prose comes from Debian packages, code from a pinned
// npm dependency that ships its TypeScript sources.
//
//   en   — Debian `fortunes` (via `loadFortunes`, which leaves out the fortunes-zh files)
//   zh   — Debian `fortunes-zh`: tang300 (唐诗三百首), song100 (宋词一百首), chinese (Debian tips, proverbs)
//   code — the TypeScript sources of `zod` (a direct, exactly pinned dependency, so the corpus
//          is the same in a checkout, in `dist/` and in an installed package)

import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { CHINESE_FORTUNE_FILES, FORTUNES_DIR, loadFortunes } from "./corpus.js";

export { CHINESE_FORTUNE_FILES };

/** ANSI escape sequences (`ESC [ 33 m`, and the malformed `ESC [ ;` that fortunes-zh also holds). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC is what an ANSI escape starts with
const ANSI_ESCAPE = /\x1b\[[0-9;]*[A-Za-z]?/g;

/** A run of box-drawing characters: the ruled tables of the Debian Reference, mostly padding. */
const TABLE_RULE = /[\u2500-\u257f]{3}/;

function checkMaxChars(maxChars: number): void {
  if (!Number.isInteger(maxChars) || maxChars < 1) throw new RangeError(`maxChars must be a positive integer, got ${maxChars}`);
}

/** The first `maxChars` UTF-16 code units of `text`, never ending in half a surrogate pair. */
function truncate(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const end = maxChars > 0 && /[\uD800-\uDBFF]/.test(text[maxChars - 1] ?? "") ? maxChars - 1 : maxChars;
  return text.slice(0, end);
}

function cookiesOf(path: string): string[] {
  return readFileSync(path, "utf8")
    .replace(/\r/g, "")
    .replace(ANSI_ESCAPE, "")
    .split(/^%\n/m)
    .map((cookie) => cookie.trimEnd())
    .filter((cookie) => cookie.length > 0 && !TABLE_RULE.test(cookie));
}

/**
 * Chinese text from Debian's `fortunes-zh`: the cookies of tang300, song100 and chinese
 * taken round-robin (so a small corpus still holds poetry and modern prose), colour escapes
 * removed, cookies holding ruled tables (box-drawing runs) skipped, cookies separated by blank lines, up to `maxChars` UTF-16 code units.
 */
export function loadChineseFortunes(maxChars = 400_000, dir = FORTUNES_DIR): string {
  checkMaxChars(maxChars);
  const paths = CHINESE_FORTUNE_FILES.map((name) => join(dir, name));
  const missing = paths.filter((path) => !existsSync(path));
  if (missing.length > 0) {
    throw new Error(
      `no Chinese corpus: ${missing.join(", ")} not found; install it with \`apt-get install -y fortunes-zh\` (Debian package)`,
    );
  }
  const files = paths.map(cookiesOf);
  const parts: string[] = [];
  let length = 0;
  for (let i = 0; length < maxChars && files.some((cookies) => i < cookies.length); i++) {
    for (const cookies of files) {
      const cookie = cookies[i];
      if (cookie === undefined) continue;
      parts.push(cookie);
      length += cookie.length + 2;
    }
  }
  const text = parts.join("\n\n");
  if (text.length === 0) throw new Error(`the Chinese corpus in ${dir} is empty (Debian package fortunes-zh)`);
  return truncate(text, maxChars);
}

/** English text from Debian's `fortunes` (`loadFortunes`), up to `maxChars` UTF-16 code units. */
export function loadEnglishFortunes(maxChars = 400_000, dir = FORTUNES_DIR): string {
  checkMaxChars(maxChars);
  return truncate(loadFortunes(Number.POSITIVE_INFINITY, dir), maxChars);
}

/** The folder of TypeScript sources that `zod` (a pinned runtime dependency) ships. */
export function zodSourceDir(): string {
  let packageJson: string;
  try {
    packageJson = createRequire(import.meta.url).resolve("zod/package.json");
  } catch {
    throw new Error("no code corpus: the npm package `zod` is not installed; run `npm install` in the project");
  }
  return join(dirname(packageJson), "src");
}

function typeScriptFiles(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        // locale tables are natural-language strings, not code
        if (name !== "locales") walk(path);
      } else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) {
        found.push(path);
      }
    }
  };
  walk(root);
  return found;
}

/**
 * Source code: the `.ts` files under `root` (default: zod's shipped sources) in path order,
 * locale folders skipped, each file preceded by a `// file: <path>` line, up to `maxChars`.
 */
export function loadCodeCorpus(maxChars = 400_000, root = zodSourceDir()): string {
  checkMaxChars(maxChars);
  if (!existsSync(root)) throw new Error(`no code corpus at ${root}: expected a folder of TypeScript sources`);
  const parts: string[] = [];
  let length = 0;
  for (const path of typeScriptFiles(root)) {
    if (length >= maxChars) break;
    const body = `// file: ${relative(root, path)}\n${readFileSync(path, "utf8").replace(/\r/g, "")}`;
    parts.push(body);
    length += body.length + 1;
  }
  const text = parts.join("\n");
  if (text.length === 0) throw new Error(`no TypeScript files under ${root}`);
  return truncate(text, maxChars);
}

/** How many characters (UTF-16 code units) of each language to load. */
export interface MixedCorpusSizes {
  en: number;
  zh: number;
  code: number;
}

/** English prose, Chinese prose and poetry, and TypeScript code, for tokenizer and LM training. */
export interface MixedCorpus {
  en: string;
  zh: string;
  code: string;
}

/** The three corpora at the given sizes (characters each). */
export function mixedCorpus(sizes: MixedCorpusSizes): MixedCorpus {
  return {
    en: loadEnglishFortunes(sizes.en),
    zh: loadChineseFortunes(sizes.zh),
    code: loadCodeCorpus(sizes.code),
  };
}
