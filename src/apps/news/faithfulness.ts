// Is a summary faithful to its source? The facts a reader would act on — names, versions,
// numbers and dates — are extracted from the summary, and each must occur in the source. The
// check is lexical and deliberately strict: a fact counts as supported only when the source
// holds the same fact (after normalising how it is written), never when it holds something
// close to it. A model may paraphrase the words around the facts; it may not paraphrase the
// facts themselves.
//
// What counts as a fact:
//   - date: ISO `2023-05-01` (a time after `T` is read as part of it), `2023/05/01`,
//     `May 1, 2023`, `1 May 2023`, RFC 2822 `Fri, 03 Apr 2026` (its time and zone are read as
//     numbers), `May 2023`, `2023年5月1日`. Normalised to ISO (`2023-05-01`, `2023-05`), so any
//     spelling of a date matches any other, and a year or a month of a source date is supported.
//   - version: `1.2.3`, `v4.5`, `v2`, Debian's `2:1.0-3+deb12u1`, tzdata's `2025b`. A source
//     version also supports its upstream part (`3.0.19` for `3.0.19-1~deb12u2`) and itself
//     without its epoch or `v`: the ways people cite the same release.
//   - number: integers, decimals (`1.5`; thousands separators dropped: `1,234` = `1234`),
//     percentages (`50%` = `50 percent`), numbers with a unit (`10 MB`: the unit must follow
//     the number in the source too), times (`14:29:32`), number words two to twenty (`seven`
//     = `7`; "one" is left out, it is mostly a pronoun).
//   - name: identifiers (`CVE-2023-1234`, `libssl3`, `x86_64`, `--flag`, `#1034567`, URLs,
//     `PKCS12_get_friendlyname`, `node.js`), CamelCase and ALL-CAPS words (`OpenSSL`, `DANE`),
//     hyphenated or slashed compounds with any part that is not a common English word
//     (`node-html-parser`, `America/Coyhaique`; `use-after-free` is no name), and capitalised
//     words that are not common English words (`Debian`, `Siewior`). Wherever they stand: a
//     sentence start does not exempt an uncommon capitalised word, since that is where models
//     put invented subjects ("Mozilla fixed …"); common words ("The", "Security") are exempt
//     everywhere, which keeps Title Case headlines checkable.
//
// Matching: texts are compared after NFKC, lower-casing (so `OpenSSL` = `openssl`, a name may
// be capitalised at a sentence start) and dropping thousands separators. A fact occurs in the
// source only on token boundaries: not inside a longer word (`ssl` is not in `libssl3`) and not
// inside a longer number (`1.2` is not in `1.23`, nor in `1.2.3`; `2023` is not in
// `CVE-2023-1234`). Derived forms of the source's own facts (ISO dates, upstream versions, digits
// of number words) are appended to the source before the search, so normalised spellings match.
//
// Limits, on purpose: this checks facts, not the claims between them ("fixes CVE-1" when the
// source says CVE-1 is *not* fixed passes); names are checked word by word (a summary may
// pair a first name and a surname from two different people of the source); a lower-case
// word without a digit (`gnutls`) is no name, since most such words are ordinary English,
// so an invented one of those passes.

export type FactKind = "version" | "number" | "date" | "name";

export interface Fact {
  kind: FactKind;
  /** As written in the text. */
  text: string;
  /** The form it is compared in: ISO for dates, digits for numbers, lower case. */
  normalized: string;
}

export interface FaithfulnessCheck {
  ok: boolean;
  /** The summary's facts that the source does not hold, in the order they appear. */
  unsupported: Fact[];
}

/** A fact with what matching needs beyond Fact (the unit a number must be followed by). */
interface ExtractedFact extends Fact {
  unit?: string;
}

// ---------------------------------------------------------------------------------------------
// Characters

/** CJK scripts write words without spaces and around digits: they do not join a token. */
const cjk = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const wordChar = /[\p{L}\p{M}\p{N}_]/u;
const digit = /\p{N}/u;

/** Part of a word: letters, marks, digits, underscore, but no CJK character. */
const isWordChar = (c: string | undefined): boolean => c !== undefined && wordChar.test(c) && !cjk.test(c);
const isDigit = (c: string | undefined): boolean => c !== undefined && digit.test(c);
/**
 * Characters that join two digits into one number or version (`1.2`, `14:29`, `1.0-3`). Not the
 * comma: thousands separators are gone by then, and `1,2,3` is a list.
 */
const isNumberJoiner = (c: string | undefined): boolean => c === "." || c === ":" || c === "-";

// ---------------------------------------------------------------------------------------------
// Vocabulary

/**
 * Common English words, and the ordinary vocabulary of release notes and news: a capitalised
 * word in this list is no name. Lower case; a word's possessive or contraction ("Debian's",
 * "don't") is looked up by its stem.
 */
const commonWords = new Set(
  `a about above across act action actually add added adding adds address addressed addresses addressing after again against
  ago agree ahead aim all allow allowed allowing allows almost alone along already also alternative although always am among amount
  an analysis and announce announced announcement another answer any anyone anything anyway apart api app apply applied applies
  approach april are area argument arguments around arrive article as ask asked at attack attacker attackers attempt august
  authenticated author available avoid away back backport backported backports bad bank base based basic be became because become
  becomes been before began begin behavior behaviour behind being believe below benefit best better between beyond big bill binary
  binaries bit bits block blocks board body book both bound bounds box break breaking breaks bring broken bug bugs build building
  builds built business but buy by cache call called calling calls came can cannot car care case cases cause caused causes
  certain chance change changed changelog changes changing check checked checking checks child children choice choose chosen
  city class clean cleanup clear client clients close closed closes code codes cold come comes coming command commands comment
  comments commit common community company compatibility compatible compile compiled compiler complete completely condition
  config configuration consider contain contains content context continue control conversion convert copy core correct
  corrected correctly cost could country couple course cover crash crashes crashing create created creates critical current
  currently customer cut daily damage data date day days deal debug december decide decided default defaults define defined
  delete deleted denial depend dependency dependencies deprecated describe description design detail details detect develop
  developer developers development device devices did die difference different directory disable disabled display do document
  documentation does doing done door double down download drive driver drop dropped drops due during each early easy edit
  effect effort eight eighteen eleven else empty enable enabled enables encoding end enough ensure entry environment error
  errors especially even event events ever every everyone everything exactly example except exist existing exit expect
  experience explain exploit export exposed extra eye face fact fail failed failing fails failure fall family far fast feature
  features february feel few field fifteen fifth file files final finally find first fit five fix fixed fixes fixing flag flags
  follow following food for form format former forward found four fourteen fourth free friday friend from front full function
  functions further future game gave general get gets getting give given gives go goes going gone good got government great
  group grow guide had half hand handle handled handler handling happen hard has have having he head hear heart heap held
  help helps her here high him his history hit hold home hope host hot hour hours house how however huge human idea if image
  impact implement implementation important improve improved improvement improvements improves in include included includes
  including incorrect increase index info information initial input inside install installed installation instead integer
  interest interface internal into invalid is issue issues it item items its itself january job join july june just keep
  kernel key keys kill kind know known language large last late later latest lead learn least leave left legacy less let level
  library libraries life light like likely limit limits line lines link list little live load local locale lock log logic long
  look loop lose loss lost lot low made main maintainer major make makes making man manage manual many march market match
  matter may maybe me mean means member memory menu merge merged message messages method middle might minor minute minutes
  miss missing mode model modern module monday money month months more most move moved much must my name names national near
  need needed needs network never new news next nice night nine nineteen no non none nor normal not note notes nothing notice
  november now number numbers object october of off offer office often old on once one only open operation option options
  or order other others our out output outside over overflow own package packages page paper parent parse parser parsing part
  party pass passed past patch patched patches path pay people per perform performance period person pick place plan platform
  play please point pointer policy poor port possible possibly post potential potentially power prepare present pretty prevent
  previous previously price private probably problem problems process produce program project proper properly protect
  protection provide provided provides public pull push put quality question quick quickly quite race raise range rate rather
  reach read reading ready real really reason rebuild rebuilt receive recent recently recommend record reduce refer regression
  regressions related release released releases remain remote remove removed removes removing rename renamed replace replaced
  report reported reporting reports request requests require required requires research resolve resolved resource resources
  response rest restore result results return returned returns review right risk road role room root rule run running runs
  safe same saturday save saw say says school screen search season second section secure security see seem seen send sense
  sensitive sent september series serious server servers service services session set sets setting settings setup seven
  seventeen several shall share she short should show shows side sign signal simple since single site six sixteen size small
  so social software some someone something sometimes soon sort source space special specific speed split stable stack staff
  standard start started state statement status stay step still stop storage store story string strings strong structure
  study style subject such suggest summary sunday support supported supports sure switch system systems table take taken
  takes talk target task team technical tell ten term test tested testing tests text than thank thanks that the their them
  themselves then there these they thing things think third thirteen this those though thought thousand three through
  thursday time timeout times title to today together told too took tool tools top total toward town track trade transfer
  tree trigger true try trying tuesday turn twelve twenty two type types under understand unit unless until up update updated
  updates updating upgrade upgraded upgrades upload upon upstream us usage use used useful user users uses using usual
  usually valid validation value values variable various version versions very via view visit vulnerabilities vulnerability
  vulnerable wait walk want war warning warnings was watch water way ways we web wednesday week weeks well went were what when
  where whether which while white who whole whom whose why wide will window with within without word words work worked
  working works world would write writes writing written wrong year years yes yet you young your zero
  i ok okay mr mrs ms dr st jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thur thurs fri sat sun
  e.g i.e etc vs via eg ie aka don doesn didn isn wasn aren weren won wouldn couldn shouldn can't it's let's`.split(/\s+/),
);
// Single letters ("A", "I", initials of the summary's own making) are not names on their own.
for (const letter of "abcdefghijklmnopqrstuvwxyz") commonWords.add(letter);

const numberWords = new Map(
  Object.entries({
    two: "2",
    three: "3",
    four: "4",
    five: "5",
    six: "6",
    seven: "7",
    eight: "8",
    nine: "9",
    ten: "10",
    eleven: "11",
    twelve: "12",
    thirteen: "13",
    fourteen: "14",
    fifteen: "15",
    sixteen: "16",
    seventeen: "17",
    eighteen: "18",
    nineteen: "19",
    twenty: "20",
  }),
);

const monthNumber: Record<string, number> = {
  jan: 1,
  feb: 2,
  mar: 3,
  apr: 4,
  may: 5,
  jun: 6,
  jul: 7,
  aug: 8,
  sep: 9,
  oct: 10,
  nov: 11,
  dec: 12,
};

/**
 * Units a number may carry: the canonical name, then its spellings. A summary's "5 min" is
 * supported by the source's "5 minutes", never by "5 hours". Matched case-insensitively.
 */
const unitSpellings: Record<string, string[]> = {
  "%": ["%", "percent", "per cent"],
  s: ["seconds", "second", "secs", "sec"],
  min: ["minutes", "minute", "mins", "min"],
  h: ["hours", "hour", "hrs"],
  day: ["days", "day"],
  week: ["weeks", "week"],
  month: ["months", "month"],
  year: ["years", "year"],
  byte: ["bytes", "byte"],
  bit: ["bits"],
  ms: ["ms"],
  µs: ["µs"],
  ns: ["ns"],
  kb: ["kb"],
  mb: ["mb"],
  gb: ["gb"],
  tb: ["tb"],
  kib: ["kib"],
  mib: ["mib"],
  gib: ["gib"],
  tib: ["tib"],
  kbps: ["kbps"],
  mbps: ["mbps"],
  gbps: ["gbps"],
  hz: ["hz"],
  khz: ["khz"],
  mhz: ["mhz"],
  ghz: ["ghz"],
  px: ["px"],
  x: ["x"],
};
const canonicalUnit = new Map(
  Object.entries(unitSpellings).flatMap(([unit, spelled]) => spelled.map((s) => [s, unit] as [string, string])),
);
/** Longest first, so `mbps` is not read as `mb`. */
const unitPattern = [...canonicalUnit.keys()]
  .filter((u) => u !== "x")
  .sort((a, b) => b.length - a.length)
  .map((u) => u.replace(" ", String.raw`\s`))
  .join("|");

// ---------------------------------------------------------------------------------------------
// Patterns, tried in this order at each token start; the first that matches takes the span.

const MONTH = String.raw`(?<month>Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)(?!\p{L})\.?`;
const WEEKDAY = String.raw`(?:(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|Mon|Tues?|Wed|Thu(?:rs?)?|Fri|Sat|Sun)(?!\p{L})\.?,?\s+)?`;
/** One character of a word (isWordChar as a pattern): CJK characters are none. */
const WORD_CHAR = String.raw`(?:(?![\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}])[\p{L}\p{M}\p{N}_])`;
/**
 * A word, or a compound joined by - . / + ~ : (each part a word); a possessive stays attached.
 * It never stops before a joiner and a word character, so a token never ends where the
 * matcher would see the middle of a longer one.
 */
const WORD = String.raw`${WORD_CHAR}+(?:['’]${WORD_CHAR}+)?(?:[\-./+~:]${WORD_CHAR}+(?:['’]${WORD_CHAR}+)?)*`;
/** Not followed by more of the same token: a word character, or a joiner and a digit. */
const END = String.raw`(?!${WORD_CHAR})(?![.:\-]\p{N})`;
const YEAR = String.raw`(?<year>[12]\d{3})${END}`;
const DAY = String.raw`(?<day>\d{1,2})(?:st|nd|rd|th)?(?!\p{N})`;

interface Pattern {
  regex: RegExp;
  /** The fact for a match; null: the span is no fact but is taken; undefined: let the next pattern try. */
  read(match: RegExpExecArray): ExtractedFact | null | undefined;
}

const sticky = (source: string, flags = "") => new RegExp(source, `yu${flags}`);

const isoOf = (year: string, month: number, day?: number): string | undefined => {
  if (month < 1 || month > 12 || (day !== undefined && (day < 1 || day > 31))) return undefined;
  const mm = String(month).padStart(2, "0");
  return day === undefined ? `${year}-${mm}` : `${year}-${mm}-${String(day).padStart(2, "0")}`;
};

const dateFact = (text: string, iso: string | undefined): ExtractedFact | undefined =>
  iso === undefined ? undefined : { kind: "date", text, normalized: iso };

const monthOf = (name: string) => monthNumber[name.slice(0, 3).toLowerCase()];

/** A token's text without the punctuation that ends a sentence or a clause after it. */
const trimTrailing = (text: string) => text.replace(/[.,;:!?+~-]+$/u, "");

const patterns: Pattern[] = [
  {
    regex: /https?:\/\/[^\s<>"'`)\]}]+/uy,
    read: (m) => {
      const text = trimTrailing(m[0]);
      return { kind: "name", text, normalized: text.toLowerCase() };
    },
  },
  {
    regex: sticky(
      String.raw`(?<year>\d{4})-(?<month>\d{2})-(?<day>\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?${END}`,
    ),
    read: (m) => dateFact(m[0], isoOf(m.groups!.year, Number(m.groups!.month), Number(m.groups!.day))),
  },
  {
    regex: sticky(String.raw`(?<year>\d{4})/(?<month>\d{1,2})/(?<day>\d{1,2})${END}`),
    read: (m) => dateFact(m[0], isoOf(m.groups!.year, Number(m.groups!.month), Number(m.groups!.day))),
  },
  {
    regex: sticky(String.raw`(?<year>\d{4})\s*年\s*(?<month>\d{1,2})\s*月(?:\s*(?<day>\d{1,2})\s*[日号])?`),
    read: (m) => {
      const { year, month, day } = m.groups!;
      return dateFact(m[0], isoOf(year, Number(month), day === undefined ? undefined : Number(day)));
    },
  },
  {
    regex: sticky(String.raw`${WEEKDAY}${MONTH}\s+${DAY},?\s+${YEAR}`),
    read: (m) => dateFact(m[0], isoOf(m.groups!.year, monthOf(m.groups!.month), Number(m.groups!.day))),
  },
  {
    regex: sticky(String.raw`${WEEKDAY}${DAY}\s+(?:of\s+)?${MONTH},?\s+${YEAR}`),
    read: (m) => dateFact(m[0], isoOf(m.groups!.year, monthOf(m.groups!.month), Number(m.groups!.day))),
  },
  {
    regex: sticky(String.raw`${MONTH},?\s+${YEAR}`),
    read: (m) => dateFact(m[0], isoOf(m.groups!.year, monthOf(m.groups!.month))),
  },
  {
    // A time of day, before numbers: `14:29` is one fact, not two.
    regex: sticky(String.raw`\d{1,2}:\d{2}(?::\d{2})?${END}`),
    read: (m) => ({ kind: "number", text: m[0], normalized: m[0] }),
  },
  {
    // A plain number, with a unit or a percent sign if one follows. It fails where the
    // token goes on (`1.2.3`, `1.0-3`, `2025b`), leaving it to the version and word patterns.
    regex: sticky(
      String.raw`(?<number>\d+(?:[,\u00a0\u202f\u2009]\d{3})*(?:\.\d+)?)(?:(?<x>x)(?![\p{L}\p{N}])|\s?(?<unit>${unitPattern})(?![\p{L}\p{N}]))?${END}`,
      "i",
    ),
    read: (m) => {
      const value = dropThousands(m.groups!.number);
      const unit = m.groups!.x ?? m.groups!.unit;
      if (unit === undefined) return { kind: "number", text: m[0], normalized: value };
      const canonical = unitOf(unit);
      return { kind: "number", text: m[0], normalized: `${value} ${canonical}`, unit: canonical };
    },
  },
  {
    // Dotted versions with an optional epoch, `v` and Debian revision; `v2` alone.
    regex: sticky(String.raw`(?:\d+:)?[vV]?\d+(?:\.\d+)+(?:[A-Za-z0-9.+~-]*[A-Za-z0-9])?${END}|[vV]\d+${END}`),
    // (A plain decimal `1.5` was taken by the number pattern already.)
    read: (m) => ({ kind: "version", text: m[0], normalized: m[0].toLowerCase().replace(/^(\d+:)?v/, "$1") }),
  },
  {
    regex: sticky(String.raw`#\d+${END}`),
    read: (m) => ({ kind: "name", text: m[0], normalized: m[0] }),
  },
  {
    regex: sticky(`--?(?=[A-Za-z])${WORD}`),
    read: (m) => {
      const text = trimTrailing(m[0]);
      return { kind: "name", text, normalized: text.toLowerCase() };
    },
  },
  {
    regex: sticky(WORD),
    read: (m) => readWord(m[0]),
  },
];

const dropThousands = (text: string) => text.replace(/(?<=\d)[,\u00a0\u202f\u2009](?=\d{3}(?!\d))/g, "");

const unitOf = (unit: string): string => canonicalUnit.get(unit.toLowerCase().replace(/\s+/g, " ")) ?? unit.toLowerCase();

/** "Debian's" → "Debian", "don't" → "don"; "O'Brien" stays. */
const stemOf = (word: string) => word.replace(/['’](?:s|t|re|ve|ll|d|m)$/iu, "");

const isCommon = (word: string) => commonWords.has(stemOf(word).toLowerCase());

/** The fact a word or compound is, if any (see the header for the rules). */
function readWord(token: string): ExtractedFact | null {
  const text = trimTrailing(token);
  const lower = text.toLowerCase();
  const spelled = numberWords.get(lower);
  if (spelled !== undefined) return { kind: "number", text, normalized: spelled };
  const parts = text.split(/[-./+~:]/).filter((p) => p !== "");
  const hasDigit = /\p{N}/u.test(text);
  const hasLetter = /\p{L}/u.test(text);
  if (hasDigit && !hasLetter) return { kind: "number", text, normalized: dropThousands(lower) };
  if (hasDigit) {
    if (/^\d+(st|nd|rd|th)$/i.test(text)) return { kind: "number", text, normalized: lower };
    // `2025b`, `2025b-0+deb12u2`: a release named by digits and letters.
    if (/^\d/.test(text)) return { kind: "version", text, normalized: lower };
    return { kind: "name", text: stemOf(text), normalized: stemOf(lower) };
  }
  const isName = (part: string): boolean => {
    const stem = stemOf(part);
    if (stem.includes("_")) return true;
    if (/^\p{Ll}+\p{Lu}/u.test(stem) || /^\p{Lu}+\p{Ll}+\p{Lu}/u.test(stem)) return true; // iPhone, OpenSSL
    if (/^\p{Lu}/u.test(stem)) return !isCommon(stem);
    return false;
  };
  const named =
    parts.length > 1
      ? // A compound: a name when a part is one, or when some part is no common word.
        parts.some(isName) || parts.some((p) => !isCommon(p))
      : isName(text);
  if (!named) return null;
  // An acronym's plural is the acronym: "CVEs" is supported by "CVE-2026-28387".
  const stem = /^\p{Lu}{2,}s$/u.test(text) ? text.slice(0, -1) : stemOf(text);
  return { kind: "name", text: stemOf(text), normalized: stem.toLowerCase() };
}

// ---------------------------------------------------------------------------------------------
// Extraction

function extract(text: string): ExtractedFact[] {
  const source = text.normalize("NFKC");
  const facts: ExtractedFact[] = [];
  let i = 0;
  while (i < source.length) {
    // Tokens start where no word goes on from the left (`ssl3` in `libssl3` is no token start).
    if (isWordChar(source[i - 1]) || !(isWordChar(source[i]) || source[i] === "#" || source[i] === "-")) {
      i++;
      continue;
    }
    let end = i + 1;
    for (const pattern of patterns) {
      pattern.regex.lastIndex = i;
      const match = pattern.regex.exec(source);
      if (match === null || match[0] === "") continue;
      const fact = pattern.read(match);
      if (fact === undefined) continue;
      if (fact !== null && fact.text !== "") facts.push(fact);
      end = i + match[0].length;
      break;
    }
    i = end;
  }
  return facts;
}

/** The names, versions, numbers and dates of a text, in order. Never throws. */
export function extractFacts(text: string): Fact[] {
  return extract(text).map(({ kind, text, normalized }) => ({ kind, text, normalized }));
}

// ---------------------------------------------------------------------------------------------
// Matching

/** The form texts are searched in: NFKC, lower case, one space for any run of whitespace. */
const searchable = (text: string) =>
  dropThousands(text.normalize("NFKC").toLowerCase().replace(/[’]/g, "'").replace(/\s+/g, " "));

/** Other spellings of the source's own facts, under which a summary may cite them. */
function derivedForms(fact: ExtractedFact): string[] {
  switch (fact.kind) {
    case "date":
      // A full date also supports its month and its year.
      return [fact.normalized, fact.normalized.slice(0, 7), fact.normalized.slice(0, 4)];
    case "version": {
      const bare = fact.normalized.replace(/^\d+:/, "");
      const upstream = bare.split(/[-~+]/)[0];
      const withRevision = bare.split(/[~+]/)[0];
      return [fact.normalized, bare, upstream, withRevision];
    }
    case "number":
      return fact.normalized === fact.text.toLowerCase() ? [] : [fact.normalized];
    case "name":
      return [];
  }
}

/** Indices where `needle` occurs in `haystack` with a token boundary on both sides. */
function occursOnBoundaries(haystack: string, needle: string, unit?: string): boolean {
  if (needle === "") return false;
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + 1)) {
    const end = at + needle.length;
    const before = haystack[at - 1];
    const after = haystack[end];
    // Not inside a word: `ssl` in `libssl3`.
    if (isWordChar(needle[0]) && isWordChar(before)) continue;
    // Not inside a longer number: `1.2` in `1.23`, `1.2.3` or `0.1.2`; `2023` in `2023-05-01`.
    if (isDigit(needle[0]) && isNumberJoiner(before) && isDigit(haystack[at - 2])) continue;
    // A number with a unit ends where its unit does (`10MB`, `10 MB`).
    if (unit !== undefined) {
      if (followedByUnit(haystack.slice(end, end + 16), unit)) return true;
      continue;
    }
    if (isWordChar(needle[needle.length - 1]) && isWordChar(after)) continue;
    if (isDigit(needle[needle.length - 1]) && isNumberJoiner(after) && isDigit(haystack[end + 1])) continue;
    return true;
  }
  return false;
}

function followedByUnit(rest: string, unit: string): boolean {
  const spelled = Object.hasOwn(unitSpellings, unit) ? unitSpellings[unit] : [unit];
  const text = rest.startsWith(" ") ? rest.slice(1) : rest;
  return spelled.some((u) => text.startsWith(u) && !isWordChar(text[u.length]));
}

/** The source as it is searched: its text, then the derived forms of its facts, a line each. */
function sourceIndex(source: string): string {
  const derived = new Set(extract(source).flatMap(derivedForms));
  return `${searchable(source)}\n${[...derived].join("\n")}`;
}

function isSupported(fact: ExtractedFact, index: string): boolean {
  if (fact.unit !== undefined) {
    const value = fact.normalized.slice(0, fact.normalized.length - fact.unit.length - 1);
    return occursOnBoundaries(index, value, fact.unit);
  }
  return occursOnBoundaries(index, searchable(fact.normalized)) || occursOnBoundaries(index, searchable(fact.text));
}

/**
 * Whether every name, version, number and date of `summary` occurs in `source` (see the
 * header for what that means). `unsupported` lists those that do not, each once.
 */
export function checkFaithful(summary: string, source: string): FaithfulnessCheck {
  const index = sourceIndex(source);
  const unsupported: Fact[] = [];
  const seen = new Set<string>();
  for (const fact of extract(summary)) {
    const key = `${fact.kind}:${fact.normalized}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (!isSupported(fact, index)) unsupported.push({ kind: fact.kind, text: fact.text, normalized: fact.normalized });
  }
  return { ok: unsupported.length === 0, unsupported };
}
