// Two domains to fine-tune the shipped chat model on, read from files a Debian system already
// has, and kept out of what that model was trained on (the Debian Reference, the Debian
// Handbook, fortunes, fortunes-zh and zod's sources; see assets/chat/RECIPE.md):
//
//   debian-changelogs — release notes: the NEWS and changelog files packages install under
//                       /usr/share/doc (upstream NEWS, GNU ChangeLogs, a native package's
//                       Debian changelog), the newest entries of each. Terse technical English
//                       full of versions, option names and bug numbers.
//   licenses          — legal prose: the licence texts of /usr/share/common-licenses (package
//                       base-files, on every Debian system): GPL, LGPL, GFDL, Apache, MPL, …
//                       Long defined-term sentences, nothing like documentation or fortunes.
//
// Both are plain text, files in name order (so the held-out tail is files not trained on), at
// most 400,000 characters: a few minutes of fine-tuning on 2 cores.

import { createHash } from "node:crypto";
import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

export const DOC_DIR = "/usr/share/doc";
export const COMMON_LICENSES_DIR = "/usr/share/common-licenses";

/** A fine-tuning corpus: its name, its text, and the files it was read from (relative to its folder). */
export interface FinetuneCorpus {
  name: string;
  text: string;
  sources: string[];
}

export interface FinetuneCorpusOptions {
  /** At most this many characters (UTF-16 code units). Default 400,000. */
  maxChars?: number;
  /** The folder to read (default DOC_DIR or COMMON_LICENSES_DIR). */
  dir?: string;
}

export interface ChangelogOptions extends FinetuneCorpusOptions {
  /** At most this many characters from the head (newest entries) of each file. Default 3000. */
  maxCharsPerFile?: number;
}

/** Packages whose documentation the shipped chat model was trained on, or that ship its corpora: never read. */
export const BASE_MODEL_PACKAGES = /^(debian-reference|debian-handbook|fortune)/;

/** Release-notes file names: NEWS, changelog, ChangeLog, CHANGES, … (.md/.rst/.txt, gzipped or not). */
const RELEASE_NOTES = /^(news|changelog|changes)(\.(md|rst|txt))?(\.gz)?$/i;

/** Shorter files are pointers ("See version control history."), not notes. */
const MIN_FILE_CHARS = 200;

const utf8 = new TextDecoder("utf-8", { fatal: true });

function checkMaxChars(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
}

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** A file's text, gunzipped when its name ends in .gz; null when it is binary, not UTF-8 or unreadable. */
function readText(path: string): string | null {
  try {
    const raw = readFileSync(path);
    const bytes = path.endsWith(".gz") ? gunzipSync(raw) : raw;
    if (bytes.includes(0)) return null;
    return (
      utf8
        .decode(bytes)
        .replace(/\r\n?/g, "\n")
        // form feeds and other control characters but tab and newline
        // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
        .replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, "")
        .replace(/[ \t]+$/gm, "")
        .trim()
    );
  } catch {
    return null;
  }
}

/** The head of `text`, at most `maxChars`, ending at a paragraph break (else a line break) when one is in the second half. */
function head(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const cut = text.slice(0, maxChars);
  for (const sep of ["\n\n", "\n"]) {
    const at = cut.lastIndexOf(sep);
    if (at >= maxChars / 2) return cut.slice(0, at).trimEnd();
  }
  return /[\uD800-\uDBFF]/.test(cut[cut.length - 1]) ? cut.slice(0, -1) : cut;
}

/** Files joined as "# <title>\n<text>" with blank lines between, up to `maxChars`; the last one cut to fit. */
class CorpusBuilder {
  private parts: string[] = [];
  private length = 0;
  readonly sources: string[] = [];
  private readonly seen = new Set<string>();

  constructor(private readonly maxChars: number) {}

  get full(): boolean {
    return this.length >= this.maxChars;
  }

  /** Adds a file unless its text was added before; false when it is a duplicate. */
  add(source: string, title: string, text: string): boolean {
    const hash = createHash("sha256").update(text).digest("hex");
    if (this.seen.has(hash)) return false;
    this.seen.add(hash);
    const separator = this.parts.length > 0 ? 2 : 0;
    const heading = `# ${title}\n`;
    const room = this.maxChars - this.length - separator - heading.length;
    if (room < MIN_FILE_CHARS) {
      this.length = this.maxChars;
      return false;
    }
    const body = head(text, room);
    this.parts.push(heading + body);
    this.sources.push(source);
    this.length += separator + heading.length + body.length;
    return true;
  }

  text(): string {
    return this.parts.join("\n\n");
  }
}

/**
 * Release notes of the installed packages: for each package folder under `dir` in name order
 * (folders that are links to another package's, and the base model's packages, skipped), its
 * NEWS / changelog files (not NEWS.Debian or changelog.Debian), gzipped or plain, each cut to
 * its newest `maxCharsPerFile` characters; binary, non-UTF-8, near-empty and duplicate files
 * (the same notes shipped by several packages of one source) skipped. Each file is headed
 * "# <package>: <file>"; `sources` lists "<package>/<file>".
 */
export function debianChangelogs(options: ChangelogOptions = {}): FinetuneCorpus {
  const { maxChars = 400_000, maxCharsPerFile = 3000, dir = DOC_DIR } = options;
  checkMaxChars("maxChars", maxChars);
  checkMaxChars("maxCharsPerFile", maxCharsPerFile);
  const reinstall =
    "`apt-get install -y --reinstall bash coreutils findutils` (Debian packages; check that /etc/dpkg/dpkg.cfg.d/ does not exclude /usr/share/doc)";
  if (!existsSync(dir)) throw new Error(`no package documentation at ${dir}: install some with ${reinstall}`);
  const corpus = new CorpusBuilder(maxChars);
  for (const pkg of readdirSync(dir).sort(byCodeUnit)) {
    if (corpus.full) break;
    const folder = join(dir, pkg);
    if (BASE_MODEL_PACKAGES.test(pkg) || lstatSync(folder).isSymbolicLink() || !statSync(folder).isDirectory()) continue;
    for (const name of readdirSync(folder).sort(byCodeUnit)) {
      if (corpus.full) break;
      const path = join(folder, name);
      if (!RELEASE_NOTES.test(name) || !statSync(path).isFile()) continue;
      // a link into a base-model package's folder counts as that package
      if (BASE_MODEL_PACKAGES.test(realpathSync(path).slice(dir.length + 1))) continue;
      const text = readText(path);
      if (text === null || text.length < MIN_FILE_CHARS) continue;
      corpus.add(`${pkg}/${name}`, `${pkg}: ${name.replace(/\.gz$/, "")}`, head(text, maxCharsPerFile));
    }
  }
  if (corpus.sources.length === 0) throw new Error(`no NEWS or changelog files under ${dir}: install some with ${reinstall}`);
  return { name: "debian-changelogs", text: corpus.text(), sources: corpus.sources };
}

/**
 * The licence texts of `dir` (Debian's /usr/share/common-licenses, package base-files) in name
 * order, links (GPL → GPL-3) skipped, each headed "# <licence>", up to `maxChars`.
 */
export function licenseTexts(options: FinetuneCorpusOptions = {}): FinetuneCorpus {
  const { maxChars = 400_000, dir = COMMON_LICENSES_DIR } = options;
  checkMaxChars("maxChars", maxChars);
  const install = "`apt-get install -y --reinstall base-files` (Debian package)";
  if (!existsSync(dir)) throw new Error(`no licence texts at ${dir}: install them with ${install}`);
  const corpus = new CorpusBuilder(maxChars);
  for (const name of readdirSync(dir).sort(byCodeUnit)) {
    if (corpus.full) break;
    const path = join(dir, name);
    if (lstatSync(path).isSymbolicLink() || !statSync(path).isFile()) continue;
    const text = readText(path);
    if (text === null || text.length < MIN_FILE_CHARS) continue;
    corpus.add(name, name, text);
  }
  if (corpus.sources.length === 0) throw new Error(`no licence texts in ${dir}: install them with ${install}`);
  return { name: "licenses", text: corpus.text(), sources: corpus.sources };
}
