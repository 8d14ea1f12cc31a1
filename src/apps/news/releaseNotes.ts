// News from local folders of release notes: Debian changelogs, the format of every package's
// /usr/share/doc/<package>/changelog.Debian.gz (and NEWS.Debian.gz, binNMU
// changelog.Debian.<arch>.gz, a native package's changelog.gz), one NewsItem per entry:
//
//   bash (5.2.15-1) unstable; urgency=medium          ← header: package, version
//
//     * New patch release.                             ← bullets (and "- " / "+ " sub-bullets,
//                                                        NEWS.Debian's paragraphs) → the text
//    -- Matthias Klose <doko@debian.org>  Sat, 31 Dec 2022 16:40:30 +0100   ← trailer: the date
//
// Files are recognised by content (the first line is a changelog header), not by name alone, so
// upstream NEWS / ChangeLog files (free-form: GNU ChangeLogs, Markdown, "* Noteworthy changes in
// release 9.1", each project its own way) are left out: no heading rule reads them reliably.

import { lstatSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { basename, join, relative, sep } from "node:path";
import { constants, gunzipSync } from "node:zlib";
import { DEFAULT_MAX_ITEM_CHARS, detectLang, stableId, truncateText } from "./feeds.js";
import type { NewsItem } from "./types.js";

/** Something readReleaseNotes passed over rather than failing: a file it could not read, an entry without a date. */
export interface ReleaseNotesNote {
  path: string;
  reason: string;
}

export interface ReleaseNotesOptions {
  /** The newest this many entries of each file. Default: all. */
  maxItemsPerFile?: number;
  /** Only entries published at or after this (ms since the epoch). */
  since?: number;
  /** At most this many changelog files (in path order). Default: all. */
  maxFiles?: number;
  /** An entry's text over this many characters is cut at a sentence boundary. Default 65,536. */
  maxItemChars?: number;
  /** Folder levels below `folder` searched for files. Default 3. */
  maxDepth?: number;
  /** Told of each file or entry skipped, and why. */
  onNote?: (note: ReleaseNotesNote) => void;
}

export interface ReleaseNotesScan {
  items: NewsItem[];
  /** The changelog files read (those in Debian changelog format). */
  files: string[];
  notes: ReleaseNotesNote[];
}

/** Changelog-like names: changelog, changelog.Debian, changelog.Debian.amd64, NEWS.Debian, NEWS, each maybe .gz. */
const NOTES_FILE = /^(changelog|news)(\.[\w-]+){0,2}?(\.gz)?$/i;

// deb-changelog(5), as dpkg-parsechangelog reads it (the distribution and keywords loosely)
const HEADER = /^(\w[-+0-9a-z.]*) \(([^() \t]+)\)((?:\s+[-+0-9a-z./]+)+)\s*;(.*)$/i;
const TRAILER = /^ -- (.*?)\s*<([^>]*)>\s*(.*?)\s*$/;
/** Lines after which a file is not in the format any more. */
const END_OF_CHANGELOG = /^(old changelog:|local variables:|;;\s*local variables)/i;
/** "[ Name ]": whose changes follow, in a team upload. */
const CONTRIBUTOR = /^\s*\[\s*[^\]]*\]\s*$/;
const BULLET = /^\s*[*+-]\s+/;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** True when `text` starts (after blank lines) with a Debian changelog header. */
export function isDebianChangelog(text: string): boolean {
  const first = /^\s*([^\n]*)/.exec(text)?.[1] ?? "";
  return HEADER.test(first.replace(/\r$/, ""));
}

export interface ParseChangelogOptions {
  /** Each item's source (the file's path) and part of its id. */
  source: string;
  /** Each item's sourceTitle; default the package named in each header. */
  sourceTitle?: string;
  maxItems?: number;
  since?: number;
  maxItemChars?: number;
}

/** The entries of a Debian changelog, newest first (file order); entries without a date or any text are noted and left out. */
export function parseDebianChangelog(
  text: string,
  options: ParseChangelogOptions,
): { items: NewsItem[]; notes: ReleaseNotesNote[] } {
  const { source, maxItems = Number.POSITIVE_INFINITY, since = Number.NEGATIVE_INFINITY } = options;
  const maxItemChars = options.maxItemChars ?? DEFAULT_MAX_ITEM_CHARS;
  const items: NewsItem[] = [];
  const notes: ReleaseNotesNote[] = [];
  const ids = new Set<string>();
  let entry: { pkg: string; version: string; lines: string[] } | null = null;

  const finish = (trailerDate: string | null) => {
    if (!entry) return;
    const { pkg, version, lines } = entry;
    entry = null;
    const title = `${pkg} ${version}`;
    const published = trailerDate === null ? Number.NaN : parseChangelogDate(trailerDate);
    if (!Number.isFinite(published)) {
      const why = trailerDate === null ? "no trailer line (' -- name <email>  date')" : `an unreadable date "${trailerDate}"`;
      notes.push({ path: source, reason: `entry ${title} skipped: ${why}` });
      return;
    }
    const body = truncateText(entryText(lines), maxItemChars);
    if (!body) {
      notes.push({ path: source, reason: `entry ${title} skipped: no text` });
      return;
    }
    if (published < since || items.length >= maxItems) return;
    // a version may repeat in an old changelog; the date tells the two apart, a count the rest
    let id = stableId(source, `${version}\n${published}`);
    for (let n = 2; ids.has(id); n++) id = stableId(source, `${version}\n${published}\n${n}`);
    ids.add(id);
    items.push({ id, source, sourceTitle: options.sourceTitle ?? pkg, title, text: body, published, lang: detectLang(body) });
  };

  for (const rawLine of text.split("\n")) {
    if (items.length >= maxItems) break;
    const line = rawLine.replace(/\r$/, "");
    const header = HEADER.exec(line);
    if (header) {
      if (entry) finish(null);
      entry = { pkg: header[1], version: header[2], lines: [] };
      continue;
    }
    if (END_OF_CHANGELOG.test(line)) break;
    if (!entry) continue; // between entries: blank lines, stray text
    const trailer = TRAILER.exec(line);
    if (trailer) finish(trailer[3]);
    else entry.lines.push(line);
  }
  if (entry) finish(null);
  return { items, notes };
}

/** An RFC 2822 date as changelogs write it; some add "(CET)" or misspell the weekday, which Date.parse does not mind. */
function parseChangelogDate(date: string): number {
  const time = Date.parse(date);
  if (Number.isFinite(time)) return time;
  return Date.parse(date.replace(/\s*\([^)]*\)\s*$/, "").replace(/^[A-Za-z]+,?\s*/, ""));
}

/**
 * An entry's body as prose: each bullet (with its continuation lines), sub-bullet or paragraph
 * one sentence, ended with "." unless it already ends in punctuation; "[ Name ]" lines dropped.
 */
function entryText(lines: string[]): string {
  const chunks: string[] = [];
  let current: string[] = [];
  const close = () => {
    const chunk = current.join(" ").replace(/\s+/g, " ").trim();
    current = [];
    if (chunk) chunks.push(/[.!?:;]["')\]]*$/.test(chunk) ? chunk : `${chunk}.`);
  };
  for (const line of lines) {
    if (line.trim() === "") {
      close();
      continue;
    }
    if (CONTRIBUTOR.test(line)) continue;
    if (BULLET.test(line)) {
      close();
      current.push(line.replace(BULLET, ""));
    } else {
      current.push(line.trim());
    }
  }
  close();
  return chunks.join(" ");
}

const HEAD_BYTES = 4096;

/** A file's text (gunzipped for .gz), or the reason it cannot be read. `headOnly` reads just enough to tell the format. */
function readNotesFile(path: string, headOnly: boolean): { text: string } | { error: string } {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (error) {
    return { error: `unreadable: ${(error as NodeJS.ErrnoException).code ?? String(error)}` };
  }
  let bytes: Buffer = raw;
  headOnly &&= raw.length > HEAD_BYTES; // a small file is read whole, so a corrupt one shows as such
  if (path.endsWith(".gz")) {
    try {
      // a partial gunzip (sync flush) of the first 4 KiB is enough for the first line
      bytes = headOnly ? gunzipSync(raw.subarray(0, HEAD_BYTES), { finishFlush: constants.Z_SYNC_FLUSH }) : gunzipSync(raw);
    } catch (error) {
      return { error: `not a readable gzip file: ${(error as Error).message}` };
    }
  } else if (headOnly) {
    bytes = raw.subarray(0, HEAD_BYTES);
  }
  if (headOnly) return { text: bytes.toString("latin1") };
  try {
    return { text: utf8.decode(bytes) };
  } catch {
    // old changelogs predate UTF-8; Latin-1 is what they were written in
    return { text: bytes.toString("latin1") };
  }
}

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The changelog-named files under `root` in path order, at most `maxDepth` levels down. Symbolic
 * links to folders inside `root` are not followed (the folder is read under its own name:
 * /usr/share/doc/libcc1-0 → gcc-12-base); links out of it are followed once, so no loop repeats.
 * A file reached twice (through links) is listed once.
 */
function notesFiles(root: string, maxDepth: number, note: (n: ReleaseNotesNote) => void): string[] {
  const realRoot = realpathSync(root);
  const visited = new Set<string>([realRoot]);
  const seenFiles = new Set<string>();
  const files: string[] = [];
  const walk = (dir: string, depth: number) => {
    let names: string[];
    try {
      names = readdirSync(dir).sort(byCodeUnit);
    } catch (error) {
      note({ path: dir, reason: `folder unreadable: ${(error as NodeJS.ErrnoException).code ?? String(error)}` });
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      let isLink: boolean;
      let stat: ReturnType<typeof statSync>;
      try {
        isLink = lstatSync(path).isSymbolicLink();
        stat = statSync(path);
      } catch {
        if (NOTES_FILE.test(name)) note({ path, reason: "a broken link or unreadable entry" });
        continue;
      }
      if (stat.isDirectory()) {
        if (depth >= maxDepth) continue;
        if (isLink) {
          const real = safeRealpath(path);
          if (real === null || real === realRoot || real.startsWith(realRoot + sep) || visited.has(real)) continue;
          visited.add(real);
        }
        walk(path, depth + 1);
      } else if (stat.isFile() && NOTES_FILE.test(name)) {
        const real = isLink ? safeRealpath(path) : path;
        if (real === null || seenFiles.has(real)) continue;
        seenFiles.add(real);
        if (isLink) seenFiles.add(path);
        files.push(path);
      }
    }
  };
  walk(root, 0);
  return files;
}

function safeRealpath(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}

/**
 * Release notes under `folder` (for /usr/share/doc: every package's changelog.Debian.gz,
 * changelog.Debian.<arch>.gz, NEWS.Debian.gz and, for a native package, changelog.gz) as
 * NewsItems, files in path order and each file's entries newest first. Each item's source is
 * the file's path and its sourceTitle the package: the first folder under `folder` (the binary
 * package), or for a file directly in `folder` the header's package. Files that cannot be read
 * (a corrupt .gz, no permission) and entries without a date are skipped with a note, not thrown.
 */
export function scanReleaseNotes(folder: string, options: ReleaseNotesOptions = {}): ReleaseNotesScan {
  const { maxItemsPerFile, since, maxItemChars, onNote } = options;
  const maxFiles = options.maxFiles ?? Number.POSITIVE_INFINITY;
  const maxDepth = options.maxDepth ?? 3;
  for (const [name, value] of Object.entries({ maxItemsPerFile, maxFiles: options.maxFiles, maxItemChars })) {
    if (value !== undefined && (!Number.isInteger(value) || value < 1))
      throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  let isFolder = false;
  try {
    isFolder = statSync(folder).isDirectory();
  } catch {}
  if (!isFolder) throw new Error(`no folder of release notes at ${folder}`);

  const scan: ReleaseNotesScan = { items: [], files: [], notes: [] };
  const note = (n: ReleaseNotesNote) => {
    scan.notes.push(n);
    onNote?.(n);
  };
  for (const path of notesFiles(folder, maxDepth, note)) {
    if (scan.files.length >= maxFiles) break;
    // changelog.Debian* / NEWS.Debian* must be in the format; a plain changelog / NEWS is a
    // native package's when it is, and upstream's (not read) when it is not
    const debianNamed = /\.debian/i.test(basename(path));
    if (!debianNamed) {
      const head = readNotesFile(path, true);
      if ("error" in head) {
        note({ path, reason: head.error });
        continue;
      }
      if (!isDebianChangelog(head.text)) continue;
    }
    const file = readNotesFile(path, false);
    if ("error" in file) {
      note({ path, reason: file.error });
      continue;
    }
    if (!isDebianChangelog(file.text)) {
      note({ path, reason: `not in Debian changelog format: it starts ${JSON.stringify(file.text.trimStart().slice(0, 60))}` });
      continue;
    }
    scan.files.push(path);
    const inPackage = relative(folder, path).split(sep);
    const parsed = parseDebianChangelog(file.text, {
      source: path,
      sourceTitle: inPackage.length > 1 ? inPackage[0] : undefined,
      maxItems: maxItemsPerFile,
      since,
      maxItemChars,
    });
    for (const item of parsed.items) scan.items.push(item);
    for (const n of parsed.notes) note(n);
  }
  return scan;
}

/** The items of scanReleaseNotes(folder, options). */
export function readReleaseNotes(folder: string, options: ReleaseNotesOptions = {}): NewsItem[] {
  return scanReleaseNotes(folder, options).items;
}
