// Release notes from local folders: the real Debian changelogs under /usr/share/doc (every
// package installs one), and a temp folder with the awkward cases (a corrupt .gz, a link loop,
// an upstream NEWS file, an entry without a trailer).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import { isDebianChangelog, parseDebianChangelog, readReleaseNotes, scanReleaseNotes } from "../../src/apps/news/releaseNotes.js";
import { DOC_DIR } from "../../src/data/index.js";

const BASH_CHANGELOG = join(DOC_DIR, "bash", "changelog.Debian.gz");

test("the installed packages' changelogs: thousands of dated, titled entries", (t) => {
  const started = performance.now();
  const scan = scanReleaseNotes(DOC_DIR);
  const ms = performance.now() - started;
  const packages = new Set(scan.items.map((item) => item.sourceTitle));
  t.diagnostic(
    `${scan.items.length} items from ${scan.files.length} files of ${packages.size} packages in ${ms.toFixed(0)} ms; ${scan.notes.length} notes`,
  );
  assert.ok(scan.items.length >= 5000, `only ${scan.items.length} items`);
  assert.ok(packages.has("bash") && packages.has("coreutils") && packages.has("dpkg"));
  const ids = new Set<string>();
  for (const item of scan.items) {
    assert.ok(Number.isFinite(item.published), `${item.source}: ${item.title}`);
    assert.ok(item.title.trim() !== "" && item.text.trim() !== "", `${item.source}: ${item.title}`);
    assert.match(item.id, /^[0-9a-f]{16}$/);
    assert.ok(!ids.has(item.id), `duplicate id ${item.id} (${item.source} ${item.title})`);
    ids.add(item.id);
    assert.ok(item.source.startsWith(`${DOC_DIR}/`));
    assert.equal(item.lang, "en");
  }
  // dpkg is a native package: its Debian-format changelog is changelog.gz
  assert.ok(scan.files.includes(join(DOC_DIR, "dpkg", "changelog.gz")));
  // upstream free-form notes are not read
  assert.ok(!scan.files.some((file) => file.endsWith("/NEWS.gz") || file.endsWith("/coreutils/changelog.gz")));
  // a link to another package's folder (libstdc++-12-dev -> gcc-12-base on Debian 12) is not read twice
  const realFiles = scan.files.map((file) => realpathSync(file));
  assert.equal(new Set(realFiles).size, realFiles.length);
});

test("bash's changelog: the first entry is the installed source version; a known entry parsed exactly", () => {
  assert.ok(
    existsSync(BASH_CHANGELOG),
    `${BASH_CHANGELOG} missing: reinstall bash (check /etc/dpkg/dpkg.cfg.d/ for doc excludes)`,
  );
  const items = readReleaseNotes(join(DOC_DIR, "bash")).filter((item) => item.source === BASH_CHANGELOG);
  // a point release may add entries on top, so the head is checked against dpkg's own record
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${field} syntax
  const sourceVersion = execFileSync("dpkg-query", ["-W", "-f=${source:Version}", "bash"], { encoding: "utf8" }).trim();
  assert.equal(items[0].title, `bash ${sourceVersion}`);
  const entry = items.find((item) => item.title === "bash 5.2-3");
  assert.ok(entry, "bash 5.2-3 (Debian 12's bash history) not found");
  assert.deepEqual(
    { ...entry, id: undefined },
    {
      id: undefined,
      source: BASH_CHANGELOG,
      sourceTitle: "bash", // a file directly in the folder read: the header's package
      title: "bash 5.2-3",
      text:
        "Apply upstream patches 003 - 015. Repack to get rid of non-source PDF (Bastian Germann). Closes: #1024598. " +
        "d/watch: Update to v4 and add repack options. d/copyright: Convert to machine-readable format, adding missing info. " +
        "Closes: #1024602. Enable all hardening flags (Christian Göttsche). Closes: #1021082. Fix build on musl (Helmut Grohne). Closes: #1023053.",
      published: Date.parse("Sat, 31 Dec 2022 11:32:01 +0100"),
      lang: "en",
    },
  );
  assert.match(entry.id, /^[0-9a-f]{16}$/);
  const next = items[items.indexOf(entry) - 1];
  assert.deepEqual([next.title, next.text], ["bash 5.2.15-1", "New patch release."]);
});

const SAMPLE = `hello (2.10-3) unstable; urgency=medium

  [ Santiago Vila ]
  * Update standards version to 4.6.2.
  * Sub-items:
    - first thing,
      continued here
    - second thing

 -- Santiago Vila <sanvila@debian.org>  Sun, 18 Dec 2022 19:30:00 +0100

hello (2.10-2) unstable; urgency=low

  * No trailer on this one

hello (2.10-1) unstable; urgency=low

  * New upstream release

 -- Santiago Vila <sanvila@debian.org>  Wed, 1 Jan 2020 12:00:00 +0000 (UTC)

Old Changelog:
hello (1.0) unstable; urgency=low
  * never read
 -- Someone <x@y>  Mon, 1 Jan 1996 00:00:00 +0000
`;

test("parseDebianChangelog: bullets as sentences, contributor lines dropped, entries without a trailer noted", () => {
  const { items, notes } = parseDebianChangelog(SAMPLE, { source: "/x/changelog" });
  assert.deepEqual(
    items.map((item) => [item.title, item.text, new Date(item.published).toISOString(), item.sourceTitle]),
    [
      [
        "hello 2.10-3",
        "Update standards version to 4.6.2. Sub-items: first thing, continued here. second thing.",
        "2022-12-18T18:30:00.000Z",
        "hello",
      ],
      ["hello 2.10-1", "New upstream release.", "2020-01-01T12:00:00.000Z", "hello"],
    ],
  );
  assert.deepEqual(notes, [
    { path: "/x/changelog", reason: "entry hello 2.10-2 skipped: no trailer line (' -- name <email>  date')" },
  ]);
  assert.equal(parseDebianChangelog(SAMPLE, { source: "s", maxItems: 1 }).items.length, 1);
  assert.deepEqual(
    parseDebianChangelog(SAMPLE, { source: "s", since: Date.UTC(2021, 0, 1) }).items.map((item) => item.title),
    ["hello 2.10-3"],
  );
  assert.ok(isDebianChangelog(SAMPLE));
  assert.ok(!isDebianChangelog("GNU hello NEWS -- history of user-visible changes.\n\n* Noteworthy changes in release 2.10"));
});

test("a folder with a corrupt .gz, a link loop, a link out, an upstream NEWS: skipped with notes, never thrown", () => {
  const root = mkdtempSync(join(tmpdir(), "news-release-notes-"));
  const outside = mkdtempSync(join(tmpdir(), "news-release-notes-outside-"));
  try {
    mkdirSync(join(root, "hello"));
    writeFileSync(join(root, "hello", "changelog.Debian.gz"), gzipSync(SAMPLE));
    writeFileSync(join(root, "hello", "NEWS"), "GNU hello NEWS\n\n* Noteworthy changes in release 2.10 (2014-11-16)\n");
    mkdirSync(join(root, "broken"));
    writeFileSync(
      join(root, "broken", "changelog.Debian.gz"),
      Buffer.concat([gzipSync(SAMPLE).subarray(0, 40), Buffer.from("garbage")]),
    );
    symlinkSync(root, join(root, "hello", "loop")); // a folder link back up: not followed
    symlinkSync(join(root, "hello"), join(root, "hello-link")); // another package's folder: read once, as hello
    mkdirSync(join(outside, "extra"));
    writeFileSync(join(outside, "extra", "changelog"), SAMPLE.replace(/hello/g, "extra"));
    symlinkSync(outside, join(root, "zz-outside")); // out of the folder: followed once

    const notes: string[] = [];
    const scan = scanReleaseNotes(root, { onNote: (note) => notes.push(`${note.path}: ${note.reason}`) });
    assert.deepEqual(scan.files, [join(root, "hello", "changelog.Debian.gz"), join(root, "zz-outside", "extra", "changelog")]);
    assert.deepEqual(
      scan.items.map((item) => `${item.sourceTitle}: ${item.title}`),
      ["hello: hello 2.10-3", "hello: hello 2.10-1", "zz-outside: extra 2.10-3", "zz-outside: extra 2.10-1"],
    );
    assert.equal(notes.length, 3);
    assert.match(notes[0], /broken\/changelog\.Debian\.gz: not a readable gzip file/);
    assert.match(notes[1], /entry hello 2\.10-2 skipped/);
    assert.deepEqual(
      scan.notes.map((note) => `${note.path}: ${note.reason}`),
      notes,
    );

    // deterministic, and the limits hold
    assert.deepEqual(readReleaseNotes(root), scan.items);
    assert.equal(readReleaseNotes(root, { maxFiles: 1 }).length, 2);
    assert.equal(readReleaseNotes(root, { maxItemsPerFile: 1 }).length, 2);
    assert.throws(() => readReleaseNotes(join(root, "nope")), /no folder of release notes at/);
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  }
});
