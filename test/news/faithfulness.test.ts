// The faithfulness check on release-note text: what it reads as a fact (names, versions,
// numbers, dates), how it matches them against a source (normalised spellings, token
// boundaries), and three properties: a summary copied from its source passes, one with an
// invented version / number / date fails, and no string makes it throw. The examples are
// lines of real Debian changelogs (openssl, curl, tzdata, bash); the properties also run on
// the changelogs installed under /usr/share/doc where there are any.

import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { gunzipSync } from "node:zlib";
import fc from "fast-check";
import { checkFaithful, extractFacts, type Fact } from "../../src/apps/news/faithfulness.js";
import { splitSentences } from "../../src/apps/news/summarize.js";

const OPENSSL = `openssl (3.0.19-1~deb12u2) bookworm-security; urgency=medium
  * CVE-2026-28387 ("Potential use-after-free in DANE client code")
  * CVE-2026-28389 ("Possible NULL dereference when processing CMS
    KeyAgreeRecipientInfo")
  * CVE-2026-31789 ("Heap buffer overflow in hexadecimal conversion")
 -- Sebastian Andrzej Siewior <sebastian@breakpoint.cc>  Fri, 03 Apr 2026 14:29:32 +0200`;

const CURL = `curl (7.88.1-10+deb12u14) bookworm; urgency=medium
  * d/p/0001-http_chunks-reset...: New patch to fix memory leak:
    - Thanks to Daniel Stenberg and dheerajsangamkar for reporting the issue
      and writing a patch
  * Import patch for CVE-2025-0167.
   - When asked to use a \`.netrc\` file for credentials **and** to follow HTTP
     redirects, curl could leak the password used for the first host to the
     followed-to host under certain circumstances.
 -- Samuel Henrique <samueloph@debian.org>  Sat, 19 Jul 2025 21:04:59 +0200`;

const TZDATA = `tzdata (2025b-0+deb12u1) bookworm; urgency=medium
  * New upstream version 2025b:
    - New America/Coyhaique zone for Aysén Region in Chile, which moves
      from -04/-03 to -03. It will not change its clocks on 2025-04-05.
    - Improve historical data for Iran
  * Kazakhstan unifies on UTC+5 beginning 2024-03-01.
 -- Aurelien Jarno <aurel32@debian.org>  Wed, 26 Mar 2025 21:52:28 +0100`;

const BASH = `bash (5.2-3) unstable; urgency=medium
  * Apply upstream patches 003 - 015.
  * Repack to get rid of non-source PDF (Bastian Germann). Closes: #1024598.
  * Enable all hardening flags (Christian Göttsche). Closes: #1021082.
  * Fix build on musl (Helmut Grohne). Closes: #1023053.
  * 2:1.0-3+deb12u1 is the version with an epoch; v4.5 has a prefix; 1,234 files, 50% of them, 10 MB.
 -- Matthias Klose <doko@debian.org>  Sat, 31 Dec 2022 11:32:01 +0100`;

const EXAMPLES = [OPENSSL, CURL, TZDATA, BASH];

const factsOf = (text: string, kind?: Fact["kind"]) =>
  extractFacts(text)
    .filter((f) => kind === undefined || f.kind === kind)
    .map((f) => f.text);
const unsupportedOf = (summary: string, source: string) => checkFaithful(summary, source).unsupported.map((f) => f.text);

test("versions: dotted, Debian revisions with epoch, v-prefixed, tzdata's", () => {
  assert.deepEqual(factsOf(OPENSSL.split("\n")[0], "version"), ["3.0.19-1~deb12u2"]);
  assert.deepEqual(factsOf("Version 2:1.0-3+deb12u1 and v4.5 and v2, then 1.2.3.", "version"), [
    "2:1.0-3+deb12u1",
    "v4.5",
    "v2",
    "1.2.3",
  ]);
  assert.deepEqual(factsOf("New upstream version 2025b:", "version"), ["2025b"]);
});

test("numbers: integers, decimals, thousands, percentages, units, times, number words", () => {
  const facts = extractFacts("1,234 files, 1.5 seconds, 50% faster, 10 MB, 2x, 14:29:32, seven bugs, the 3rd try.");
  assert.deepEqual(
    facts.map((f) => [f.kind, f.text, f.normalized]),
    [
      ["number", "1,234", "1234"],
      ["number", "1.5 seconds", "1.5 s"],
      ["number", "50%", "50 %"],
      ["number", "10 MB", "10 mb"],
      ["number", "2x", "2 x"],
      ["number", "14:29:32", "14:29:32"],
      ["number", "seven", "7"],
      ["number", "3rd", "3rd"],
    ],
  );
});

test("dates: ISO, month-day-year, day-month-year, RFC 2822, month and year, Chinese; all as ISO", () => {
  const facts = extractFacts(
    "2023-05-01, May 1, 2023, 1 May 2023, Fri, 03 Apr 2026 14:29:32 +0200, in Sept 2024, 2023年5月1日, 2023-13-45",
  ).filter((f) => f.kind === "date");
  assert.deepEqual(
    facts.map((f) => f.normalized),
    ["2023-05-01", "2023-05-01", "2023-05-01", "2026-04-03", "2024-09", "2023-05-01"],
    "2023-13-45 is no date",
  );
});

test("names: identifiers, CamelCase, capitalised uncommon words; common words are none", () => {
  assert.deepEqual(factsOf(OPENSSL, "name"), [
    "bookworm-security",
    "CVE-2026-28387",
    "DANE",
    "CVE-2026-28389",
    "NULL",
    "CMS",
    "KeyAgreeRecipientInfo",
    "CVE-2026-31789",
    "Sebastian",
    "Andrzej",
    "Siewior",
    "breakpoint.cc",
  ]);
  assert.deepEqual(factsOf("Use libssl3 via --no-verify, see #1034567 and PKCS12_get_friendlyname() on x86_64.", "name"), [
    "libssl3",
    "--no-verify",
    "#1034567",
    "PKCS12_get_friendlyname",
    "x86_64",
  ]);
  // Common words are no names, capitalised or not, at a sentence start or in a Title Case headline.
  assert.deepEqual(factsOf("The Security Update Fixes a Heap Overflow. Use-after-free bugs are fixed.", "name"), []);
  assert.deepEqual(factsOf("OpenSSL's fix for node-html-parser and America/Coyhaique.", "name"), [
    "OpenSSL",
    "node-html-parser",
    "America/Coyhaique",
  ]);
});

test("a summary copying the changelog's facts passes", () => {
  for (const [summary, source] of [
    ["OpenSSL 3.0.19 fixes CVE-2026-28387, a use-after-free in DANE client code.", OPENSSL],
    ["Siewior's upload of openssl 3.0.19-1~deb12u2 on April 3, 2026 fixes CVEs in DANE and CMS code.", OPENSSL],
    ["curl 7.88.1 fixes a memory leak reported by Daniel Stenberg; it also patches CVE-2025-0167.", CURL],
    ["tzdata 2025b adds the America/Coyhaique zone; Kazakhstan moves to UTC+5 on March 1, 2024.", TZDATA],
    ["bash 5.2 closes #1024598 and #1021082, released on 2022-12-31.", BASH],
  ] as const)
    assert.deepEqual(unsupportedOf(summary, source), [], summary);
});

test("normalised matching: dates in any spelling, thousands, epochs, upstream versions, case, number words", () => {
  const source = "Released 2023-05-01: 1,234 files and 10 MB; version 2:1.0-3+deb12u1; OpenSSL; seven bugs; 50 percent.";
  for (const summary of [
    "On May 1, 2023.",
    "On 1 May 2023.",
    "In May 2023.",
    "In 2023.",
    "1234 files.",
    "1,234 files.",
    "10MB.",
    "Version 1.0-3.",
    "Version 1.0.",
    "Version 2:1.0-3+deb12u1.",
    "openssl and OPENSSL.",
    "7 bugs.",
    "50%.",
  ])
    assert.deepEqual(unsupportedOf(summary, source), [], summary);
  // A unit written against its number, on either side.
  assert.deepEqual(unsupportedOf("10 MB on 32bits arch, 5 min", "10MB on 32bits arch, 5 minutes"), []);
  assert.deepEqual(unsupportedOf("10 GB", "10MB"), ["10 GB"]);
  assert.deepEqual(unsupportedOf("seven bugs and three fixes", "7 bugs"), ["three"]);
  // A count the source does not state is a number it does not hold (it lists three CVEs).
  assert.deepEqual(unsupportedOf("It fixes three CVEs.", OPENSSL), ["three"]);
});

test("token boundaries: a fact inside a longer source token is not in the source", () => {
  assert.deepEqual(unsupportedOf("version 1.2", "version 1.23"), ["1.2"]);
  assert.deepEqual(unsupportedOf("version 1.2", "version 1.2.3"), ["1.2"]);
  assert.deepEqual(unsupportedOf("version 2.3", "version 1.2.3"), ["2.3"]);
  assert.deepEqual(unsupportedOf("in 2023", "fixes CVE-2023-1234"), ["2023"]);
  assert.deepEqual(unsupportedOf("fixes 1234", "fixes CVE-2023-1234"), ["1234"]);
  assert.deepEqual(unsupportedOf("uses Libssl", "uses libssl3"), ["Libssl"]);
  assert.deepEqual(unsupportedOf("at 14:29", "at 14:29:32"), ["14:29"]);
  assert.deepEqual(unsupportedOf("5 hours", "5 minutes"), ["5 hours"]);
  assert.deepEqual(unsupportedOf("on May 2, 2023", "on 2023-05-01"), ["May 2, 2023"]);
  // …but punctuation after a fact is no part of it.
  assert.deepEqual(unsupportedOf("version 1.2", "It is version 1.2. Then"), []);
  assert.deepEqual(unsupportedOf("CVE-2023-1234", "(CVE-2023-1234)"), []);
});

test("invented facts are named: a version, a CVE, a date, a name", () => {
  const check = checkFaithful("Mozilla's openssl 3.0.20 fixes CVE-2026-99999 on May 5, 2026.", OPENSSL);
  assert.equal(check.ok, false);
  assert.deepEqual(
    check.unsupported.map((f) => `${f.kind}:${f.text}`),
    ["name:Mozilla", "version:3.0.20", "name:CVE-2026-99999", "date:May 5, 2026"],
  );
});

// ---------------------------------------------------------------------------------------------
// Properties

/** Real changelogs where installed (a few, their first entries), else the examples above. */
function realChangelogs(): string[] {
  const root = "/usr/share/doc";
  if (!existsSync(root)) return EXAMPLES;
  const texts: string[] = [];
  for (const pkg of readdirSync(root).sort()) {
    const path = join(root, pkg, "changelog.Debian.gz");
    if (!existsSync(path)) continue;
    try {
      texts.push(gunzipSync(readFileSync(path)).toString("utf8").slice(0, 3000));
    } catch {}
    if (texts.length >= 40) break;
  }
  return texts.length > 0 ? [...EXAMPLES, ...texts] : EXAMPLES;
}
const CHANGELOGS = realChangelogs();

/** Release-note-like text built from pieces that hold every kind of fact. */
const pieceArb = fc.oneof(
  fc.constantFrom(
    "openssl",
    "OpenSSL",
    "Debian",
    "fixes",
    "the",
    "New upstream release",
    "CVE-2026-28387",
    "libssl3",
    "--no-verify",
    "#1024598",
    "KeyAgreeRecipientInfo",
    "use-after-free",
    "node-html-parser",
    "May",
    "Sept",
    "Fri,",
    "MB",
    "percent",
    "(",
    ")",
    ",",
    ".",
    ":",
    ";",
    "-",
    "/",
    "~",
    "+",
    "\n",
    "  * ",
    "年",
    "月",
    "日",
  ),
  fc.integer({ min: 0, max: 3000 }).map(String),
  fc.tuple(fc.nat(40), fc.nat(40), fc.nat(40)).map(([a, b, c]) => `${a}.${b}.${c}`),
  fc.tuple(fc.nat(9), fc.nat(20), fc.nat(9)).map(([a, b, c]) => `${a}:${b}.0-${c}+deb12u1`),
  fc
    .tuple(fc.integer({ min: 1990, max: 2030 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 28 }))
    .map(([y, m, d]) => `${y}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`),
  fc.string({ maxLength: 6 }),
);
const generatedSourceArb = fc
  .array(fc.tuple(pieceArb, fc.constantFrom(" ", "", " ", "\n", ". ")), { minLength: 1, maxLength: 60 })
  .map((parts) => parts.map(([p, sep]) => p + sep).join(""));
const sourceArb = fc.oneof(fc.constantFrom(...CHANGELOGS), generatedSourceArb);

/** A run of whole whitespace-separated tokens of the source. */
const spanOf = (source: string, from: number, to: number): string => {
  const tokens = source.split(/\s+/).filter((t) => t !== "");
  const a = from % Math.max(1, tokens.length);
  const b = a + (to % Math.max(1, tokens.length - a));
  return tokens.slice(a, b + 1).join(" ");
};

test("property: a summary made of a copied run of the source's words passes", () => {
  fc.assert(
    fc.property(sourceArb, fc.nat(), fc.nat(), (source, from, to) => {
      const summary = spanOf(source, from, to);
      const check = checkFaithful(summary, source);
      assert.deepEqual(check.unsupported, [], `summary ${JSON.stringify(summary)}`);
    }),
    { numRuns: 400 },
  );
});

test("property: a summary made of some of the source's sentences passes", () => {
  fc.assert(
    fc.property(sourceArb, fc.array(fc.boolean(), { maxLength: 40 }), (source, keep) => {
      const sentences = splitSentences(source);
      const summary = sentences.filter((_, i) => keep[i % Math.max(1, keep.length)] ?? true).join(" ");
      assert.deepEqual(checkFaithful(summary, source).unsupported, [], `summary ${JSON.stringify(summary)}`);
    }),
    { numRuns: 300 },
  );
});

/** A fact no source here holds: its digits occur nowhere in the source. */
const inventedArb = fc.oneof(
  fc
    .tuple(fc.integer({ min: 41, max: 99 }), fc.integer({ min: 41, max: 99 }), fc.integer({ min: 41, max: 99 }))
    .map(([a, b, c]) => ({ kind: "version", text: `${a}.${b}.${c}`, digits: [`${a}.${b}.${c}`] })),
  fc.integer({ min: 31_000, max: 99_999 }).map((n) => ({ kind: "number", text: String(n), digits: [String(n)] })),
  fc.integer({ min: 31, max: 99 }).map((n) => ({ kind: "number", text: `${n}%`, digits: [String(n)] })),
  fc
    .tuple(fc.integer({ min: 2100, max: 2999 }), fc.constantFrom("March", "Oct", "December"), fc.integer({ min: 1, max: 28 }))
    .chain(([y, month, d]) =>
      fc.constantFrom(
        { kind: "date", text: `${month} ${d}, ${y}`, digits: [String(y)] },
        { kind: "date", text: `${d} ${month} ${y}`, digits: [String(y)] },
        { kind: "date", text: `${y}-0${(d % 9) + 1}-${String(d).padStart(2, "0")}`, digits: [String(y)] },
      ),
    ),
);

test("property: inserting a version, number or date that is not in the source fails", () => {
  fc.assert(
    fc.property(sourceArb, fc.nat(), fc.nat(), inventedArb, fc.nat(), (source, from, to, invented, at) => {
      fc.pre(invented.digits.every((d) => !source.includes(d)));
      const words = spanOf(source, from, to).split(" ");
      const i = at % (words.length + 1);
      const summary = [...words.slice(0, i), invented.text, ...words.slice(i)].join(" ");
      const check = checkFaithful(summary, source);
      assert.equal(check.ok, false, `summary ${JSON.stringify(summary)}`);
      assert.ok(
        check.unsupported.some((f) => invented.digits.some((d) => f.text.includes(d))),
        `${invented.text} reported in ${JSON.stringify(check.unsupported)}`,
      );
    }),
    { numRuns: 400 },
  );
});

test("property: extractFacts and checkFaithful never throw, whatever the text", () => {
  const noisy = fc.string({ unit: fc.constantFrom(..."0123456789.,:-+~/ v%#年月日MayJan \n\uFFFD\u0301ﬁİ"), maxLength: 80 });
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: "binary", maxLength: 200 }), noisy), fc.string({ unit: "binary" }), (a, b) => {
      for (const f of extractFacts(a)) assert.ok(f.text.length > 0 && ["version", "number", "date", "name"].includes(f.kind));
      checkFaithful(a, b);
      checkFaithful(b, a);
    }),
    { numRuns: 500 },
  );
});

test("a long source is checked quickly (no quadratic blow-up)", () => {
  const source = CHANGELOGS.join("\n").repeat(4);
  const summary = spanOf(source, 100, 400);
  const started = performance.now();
  for (let i = 0; i < 10; i++) checkFaithful(summary, source);
  const ms = (performance.now() - started) / 10;
  assert.ok(ms < 500, `${ms.toFixed(0)} ms a check over ${source.length} characters`);
});
