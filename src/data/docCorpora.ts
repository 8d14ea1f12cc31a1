// Real documentation as LM corpora, from Debian packages (nothing is downloaded):
//
//   debian-reference-en — the Debian Reference as plain text (GPL-2+)
//   debian-handbook     — the Debian Administrator's Handbook as HTML, in en-US and zh-CN
//                         (GPL-2+ or CC-BY-SA-3.0)
//
// Both become sections: a title and its prose paragraphs (hard-wrapped lines joined),
// with command examples kept verbatim. The sections feed pretraining text and the
// question/answer pairs of `instructions.ts`.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { type HTMLElement, parse } from "node-html-parser";

export const DEBIAN_REFERENCE_TXT = "/usr/share/debian-reference/debian-reference.en.txt.gz";
export const DEBIAN_HANDBOOK_DIR = "/usr/share/doc/debian-handbook/html";

/** One section of a document: its title (numbering removed) and its blocks of text. */
export interface DocSection {
  title: string;
  /** Prose paragraphs, each on one line. */
  paragraphs: string[];
  /** Verbatim blocks (commands, file contents) in the order met, between the paragraphs. */
  blocks: { kind: "prose" | "code"; text: string }[];
}

const SECTION_HEADING = /^(?:Chapter \d+\.|Appendix [A-Z]\.|(?:\d+|[A-Z])(?:\.\d+)*\.) (\S.*)$/;

function missing(path: string, pkg: string): Error {
  return new Error(`no documentation corpus at ${path}: install it with \`apt-get install -y ${pkg}\` (Debian package)`);
}

/** A paragraph of prose: it reads as sentences, not as a table or a list of commands. */
function isProse(text: string): boolean {
  return text.length >= 40 && /[.!?。？！:：]$/.test(text) && /\p{L}{3,}/u.test(text) && !/[─═│┌]/.test(text);
}

function pushBlock(section: DocSection, kind: "prose" | "code", text: string): void {
  const trimmed = text.trim();
  if (trimmed === "") return;
  section.blocks.push({ kind, text: trimmed });
  if (kind === "prose" && isProse(trimmed)) section.paragraphs.push(trimmed);
}

/**
 * The Debian Reference's sections. Body paragraphs are indented by four spaces in the text
 * edition; deeper indentation (commands, tables) is kept as verbatim blocks.
 */
export function loadDebianReference(path = DEBIAN_REFERENCE_TXT): DocSection[] {
  if (!existsSync(path)) throw missing(path, "debian-reference-en");
  const lines = gunzipSync(readFileSync(path))
    .toString("utf8")
    .replace(/\r/g, "")
    .replace(/\u00a0/g, " ")
    .split("\n");
  // The table of contents lists every heading once; the body starts at the second "Preface".
  const bodyStart = lines.indexOf("Preface", lines.indexOf("Preface") + 1);
  const sections: DocSection[] = [];
  let section: DocSection | undefined;
  let prose: string[] = [];
  let code: string[] = [];
  const flush = () => {
    if (section) {
      pushBlock(section, "prose", prose.join(" "));
      pushBlock(section, "code", code.join("\n"));
    }
    prose = [];
    code = [];
  };
  for (const line of lines.slice(Math.max(0, bodyStart))) {
    const heading = SECTION_HEADING.exec(line);
    if (heading || line === "Preface") {
      flush();
      section = { title: heading ? heading[1].trim() : "Preface", paragraphs: [], blocks: [] };
      sections.push(section);
    } else if (line.trim() === "") {
      flush();
    } else if (/^ {4}\S/.test(line)) {
      if (code.length > 0) flush();
      prose.push(line.trim());
    } else {
      if (prose.length > 0) flush();
      code.push(line.replace(/^ {4}/, ""));
    }
  }
  flush();
  return sections.filter((s) => s.blocks.length > 0);
}

const collapse = (text: string) => text.replace(/\s+/g, " ").trim();

/** Text of an element with entities decoded and whitespace collapsed. */
const textOf = (el: HTMLElement) => collapse(el.textContent);

function handbookSections(html: string): DocSection[] {
  const root = parse(html);
  const sections: DocSection[] = [];
  let section: DocSection | undefined;
  // Titles, paragraphs and program listings, in document order.
  for (const el of root.querySelectorAll("h1.title, h2.title, h3.title, h4.title, div.para, pre")) {
    if (el.tagName === "PRE") {
      if (section) pushBlock(section, "code", el.textContent);
    } else if (el.tagName === "DIV") {
      // A paragraph holding a listing (seen apart, as `pre`): its prose is the text around it.
      const listings = "pre, div.example, div.informalexample";
      let prose = el;
      if (el.querySelector(listings)) {
        prose = parse(el.toString());
        for (const listing of prose.querySelectorAll(listings)) listing.remove();
      }
      if (section) pushBlock(section, "prose", textOf(prose));
    } else {
      const title = textOf(el).replace(/^(\d+|[A-Z])(\.\d+)*\.\s*/, "");
      if (title === "") continue;
      section = { title, paragraphs: [], blocks: [] };
      sections.push(section);
    }
  }
  return sections.filter((s) => s.blocks.length > 0);
}

/** The Debian Administrator's Handbook in one language (`en-US`, `zh-CN`, …), chapter files in name order. */
export function loadDebianHandbook(lang: string, dir = DEBIAN_HANDBOOK_DIR): DocSection[] {
  const langDir = join(dir, lang);
  if (!existsSync(langDir)) throw missing(langDir, "debian-handbook");
  const files = readdirSync(langDir)
    .filter((f) => f.endsWith(".html") && f !== "index.html")
    .sort();
  return files.flatMap((f) => handbookSections(readFileSync(join(langDir, f), "utf8")));
}

/** Sections as plain text: a title line, then the blocks separated by blank lines. */
export function sectionsText(sections: readonly DocSection[]): string {
  return sections.map((s) => [s.title, ...s.blocks.map((b) => b.text)].join("\n\n")).join("\n\n");
}
