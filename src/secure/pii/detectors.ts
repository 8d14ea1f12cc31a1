// One scanner per rule. Every regex here is linear: bounded quantifiers only, no nested
// unbounded repetition, and value regexes run sticky (`y`) right after a label match, or
// on a bounded window, so no scan restarts over the rest of the text.

import {
  chineseCompoundSurnames,
  chineseNameStops,
  chineseNonNames,
  chineseSurnames,
  englishGivenNames,
  englishNameStopWords,
} from "./lexicon.js";
import type { PiiFinding, PiiKind } from "./types.js";
import { isCardNumber, isPastDateText, isValidChineseId, isValidSsn } from "./validate.js";

export interface ScanContext {
  readonly text: string;
  readonly today: Date;
}

type Scanner = (ctx: ScanContext) => PiiFinding[];

function finding(text: string, kind: PiiKind, start: number, end: number, confidence: number): PiiFinding {
  return { kind, start, end, text: text.slice(start, end), confidence };
}

/** Up to `n` characters before `start`, lower-cased. */
function before(text: string, start: number, n: number): string {
  return text.slice(Math.max(0, start - n), start).toLowerCase();
}

/**
 * For each `label` match, run the sticky `value` regex right after it; capture group 1 of
 * `value` is the sensitive span. `value` must have the `y` and `d` flags.
 */
function labelled(
  text: string,
  label: RegExp,
  value: RegExp,
  accept: (v: string, labelText: string, labelStart: number) => number,
  kind: PiiKind,
): PiiFinding[] {
  const out: PiiFinding[] = [];
  for (const m of text.matchAll(label)) {
    value.lastIndex = m.index + m[0].length;
    const v = value.exec(text);
    if (!v?.indices?.[1]) continue;
    const [s, e] = v.indices[1];
    const confidence = accept(v[1], m[0], m.index);
    if (confidence > 0) out.push(finding(text, kind, s, e, confidence));
  }
  return out;
}

// --- email ------------------------------------------------------------------------------

const emailRe = /(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9][A-Za-z0-9.-]{0,252}/g;

/** local@domain with a dotted domain whose last label is alphabetic (2–24 letters). */
const scanEmail: Scanner = ({ text }) => {
  const out: PiiFinding[] = [];
  for (const m of text.matchAll(emailRe)) {
    let s = m[0];
    while (s.endsWith(".") || s.endsWith("-")) s = s.slice(0, -1);
    const domain = s.slice(s.indexOf("@") + 1);
    const labels = domain.split(".");
    if (labels.length < 2 || labels.some((l) => l.length === 0 || l.length > 63)) continue;
    if (!/^[A-Za-z]{2,24}$/.test(labels[labels.length - 1])) continue;
    out.push(finding(text, "email", m.index, m.index + s.length, 0.99));
  }
  return out;
};

// --- national IDs -------------------------------------------------------------------------

const cnIdRe = /(?<![0-9A-Za-z])\d{6}([ -]?)\d{8}\1\d{3}[\dXx](?![0-9A-Za-z])/g;

/**
 * PRC resident ID: 18 characters, province code, real past birth date, MOD 11-2 check;
 * written whole or grouped 6-8-4 by spaces or dashes (as forms print it).
 */
const scanChineseId: Scanner = ({ text, today }) => {
  const out: PiiFinding[] = [];
  for (const m of text.matchAll(cnIdRe)) {
    const id = m[1] === "" ? m[0] : m[0].replaceAll(m[1], "");
    if (isValidChineseId(id, today)) out.push(finding(text, "nationalId", m.index, m.index + m[0].length, 0.99));
  }
  return out;
};

const ssnRe = /(?<![0-9A-Za-z-])(\d{3})([- ]?)(\d{2})\2(\d{4})(?![0-9A-Za-z]|-\d)/g;
const ssnLabelRe = /(?:ssn|social security|soc\.? sec\.?|社会安全号|社保号)[^0-9\n]{0,12}$/;

/**
 * US SSN: 3-2-4 digits with the SSA area/group/serial rules. Dashed: 0.9. Space-separated
 * or unseparated (nine plain digits are common in order numbers) only after an SSN label.
 */
const scanSsn: Scanner = ({ text }) => {
  const out: PiiFinding[] = [];
  for (const m of text.matchAll(ssnRe)) {
    if (!isValidSsn(m[1], m[3], m[4])) continue;
    const hasLabel = ssnLabelRe.test(before(text, m.index, 32));
    const confidence = m[2] === "-" ? (hasLabel ? 0.99 : 0.9) : hasLabel ? 0.95 : 0;
    if (confidence > 0) out.push(finding(text, "nationalId", m.index, m.index + m[0].length, confidence));
  }
  return out;
};

// --- phones ------------------------------------------------------------------------------

const notPhoneLabelRe =
  /(?:order|invoice|tracking|sku|ref(?:erence)?|serial|part|batch|lot|订单|单号|快递|编号|批号|流水|货号)[^\n]{0,12}$/;

const cnMobileRe = /(?<![0-9A-Za-z+])(?:\(?(?:\+|00)?86\)?[ -]?)?1[3-9]\d(?:\d{8}|([ -])\d{4}\1\d{4})(?![0-9A-Za-z])/g;
const cnLandlineRe = /(?<![0-9A-Za-z])(?:\(0[1-9]\d{1,2}\)[ -]?|0[1-9]\d{1,2}-)[2-9]\d{6,7}(?![0-9A-Za-z]|-\d)/g;
const usPhoneRe =
  /(?<![0-9A-Za-z+-])(?:\+?1[ .-]?)?(?:\(([2-9]\d{2})\) ?|([2-9]\d{2})([ .-]))([2-9]\d{2})[ .-]\d{4}(?![0-9A-Za-z]|-\d)/g;

function pushPhones(text: string, re: RegExp, confidence: number, out: PiiFinding[]): void {
  for (const m of text.matchAll(re)) {
    if (notPhoneLabelRe.test(before(text, m.index, 24))) continue;
    out.push(finding(text, "phone", m.index, m.index + m[0].length, confidence));
  }
}

const phoneLabelRe =
  /(?:\b(?:phone|tel|telephone|mobile|cell|cellphone|fax|contact number|call me at|call)\b|电话|手机|手机号|联系电话|联系方式|座机)/gi;
const phoneValueRe = /[ \t:：#=.]{0,4}(?:is |at |号码|是|为)?[ \t]{0,2}(\+?[0-9(][0-9 ().-]{5,18}[0-9])(?![0-9A-Za-z])/dy;

/**
 * Phones: PRC mobiles (1[3-9] + 9 digits, optional +86 / 0086 / 86 / (+86), 3-4-4 grouping), PRC landlines
 * with an area code (010-12345678, (0755)1234567), NANP numbers with separators (area
 * and exchange start 2–9). After a phone label any 7–15-digit number counts.
 */
const scanPhone: Scanner = ({ text }) => {
  const out: PiiFinding[] = [];
  pushPhones(text, cnMobileRe, 0.9, out);
  pushPhones(text, cnLandlineRe, 0.8, out);
  pushPhones(text, usPhoneRe, 0.85, out);
  out.push(
    ...labelled(
      text,
      phoneLabelRe,
      phoneValueRe,
      (v) => {
        if (/^\d{3}-\d{2}-\d{4}$/.test(v)) return 0; // the SSN shape is never a phone number
        const digits = v.replace(/\D/g, "").length;
        return digits >= 7 && digits <= 15 ? 0.92 : 0;
      },
      "phone",
    ),
  );
  return out;
};

// --- payment cards, IPs ------------------------------------------------------------------

const cardRe = /(?<![0-9A-Za-z-])\d{4}([ -]?)\d{4}\1\d{4}\1\d{1,7}(?![0-9A-Za-z]|-\d)/g;
const cardLabelRe = /(?:card|卡号|银行卡|信用卡)[^0-9\n]{0,12}$/;

/** Card numbers: issuer prefix + length + Luhn; 17–19 plain digits only after a card label. */
const scanCard: Scanner = ({ text }) => {
  const out: PiiFinding[] = [];
  for (const m of text.matchAll(cardRe)) {
    const digits = m[0].replace(/\D/g, "");
    if (!isCardNumber(digits)) continue;
    const hasLabel = cardLabelRe.test(before(text, m.index, 24));
    if (m[1] === "" && digits.length > 16 && !hasLabel) continue;
    out.push(finding(text, "creditCard", m.index, m.index + m[0].length, hasLabel ? 0.97 : 0.9));
  }
  return out;
};

const ipRe = /(?<![0-9A-Za-z.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![0-9A-Za-z]|\.\d)/g;

/** IPv4 with octets ≤ 255, not after "v"/"version" (1.2.3.4 version strings). */
const scanIp: Scanner = ({ text }) => {
  const out: PiiFinding[] = [];
  for (const m of text.matchAll(ipRe)) {
    if ([m[1], m[2], m[3], m[4]].some((o) => Number(o) > 255)) continue;
    if (/(?:\bv|version|ver\.?|版本)\s?$/i.test(before(text, m.index, 10))) continue;
    out.push(finding(text, "ipAddress", m.index, m.index + m[0].length, 0.7));
  }
  return out;
};

// --- medical record numbers --------------------------------------------------------------

const mrnLabelRe =
  /(?:\b(?:MRN|MR#|medical record(?: number| no\.?| #)?|med(?:ical)? rec(?:ord)? (?:no\.?|#)|patient id|patient number|chart (?:number|no\.?|#)|hospital number|account number|health ?plan (?:id|number)|admission (?:no\.?|number))|病历号|病案号|住院号|门诊号|就诊号|就诊卡号|病人ID|患者ID|患者编号|病人编号|医保号|医保卡号)/gi;
const mrnValueRe = /[ \t]{0,2}(?:[:：#=]|is|为|是)?[ \t:：#]{0,3}([A-Za-z]{0,4}[-]?\d[0-9-]{3,19}[0-9A-Za-z]?)(?![0-9A-Za-z])/dy;

/** MRN-like identifiers: only after a record-number label; the value needs ≥ 4 digits. */
const scanMrn: Scanner = ({ text }) =>
  labelled(text, mrnLabelRe, mrnValueRe, (v) => (v.replace(/\D/g, "").length >= 4 ? 0.95 : 0), "medicalRecordNumber");

// --- dates of birth ----------------------------------------------------------------------

const monthWord = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]{0,6}\\.?";
const datePattern = [
  "\\d{4}[-/.]\\d{1,2}[-/.]\\d{1,2}",
  "\\d{4}年\\d{1,2}月(?:\\d{1,2}[日号])?",
  "\\d{1,2}[-/.]\\d{1,2}[-/.](?:\\d{4}|\\d{2})",
  `${monthWord} \\d{1,2}(?:st|nd|rd|th)?,? \\d{4}`,
  `\\d{1,2}(?:st|nd|rd|th)? ${monthWord},? \\d{4}`,
  "\\d{8}",
].join("|");

const dobLabelRe =
  /(?:\b(?:DOB|D\.O\.B\.?|date of birth|birth ?date|birthday|born(?: on)?|b\.)|出生日期|出生年月日?|出生时间|生日|出生于|生于)/gi;
const dobValueRe = new RegExp(`[ \\t:：=,，]{0,4}(?:is |was |on |为|是)?[ \\t]{0,2}(${datePattern})(?![0-9])`, "dy");
const ageRe = /(?:\b\d{1,3}[- ]?(?:years?[- ]old|y\/o|yo|yrs?)\b|\bage[d]?:? ?\d{1,3}\b|\d{1,3}(?:周)?岁)/gi;
const dateInWindowRe = new RegExp(`(?<![0-9])(?:${datePattern})(?![0-9])`, "d");

/**
 * Dates of birth. A date is PHI here only when it is labelled as a birth date (DOB, date
 * of birth, born, 出生日期, 生日, 生于, …) and is a real past date (0.95), or when it follows
 * an age ("45-year-old, 1979-03-07", "45岁，1979年3月7日") within 24 characters of the
 * same sentence (0.75). Plain dates elsewhere are not reported.
 */
const scanDob: Scanner = ({ text, today }) => {
  const out = labelled(text, dobLabelRe, dobValueRe, (v) => (isPastDateText(v, today) ? 0.95 : 0), "dateOfBirth");
  for (const m of text.matchAll(ageRe)) {
    const from = m.index + m[0].length;
    const window = text.slice(from, from + 24);
    const cut = window.search(/[.。;；!?！？\n]\s/);
    const w = cut >= 0 ? window.slice(0, cut) : window;
    const d = dateInWindowRe.exec(w);
    if (!d) continue;
    if (!isPastDateText(d[0], today)) continue;
    out.push(finding(text, "dateOfBirth", from + d.index, from + d.index + d[0].length, 0.75));
  }
  return out;
};

// --- English names -----------------------------------------------------------------------

const nameToken = "[A-Z][a-z'’-]{1,20}";
const nameAfterRe = new RegExp(`[ \\t]{0,3}(${nameToken}(?: [A-Z]\\.)?(?: ${nameToken}){0,2})`, "dy");
const nameLabelRe =
  /\b(?:patient(?: name)?|pt|name|full name|first name|last name|given name|family name|legal name|surname|signed(?: by)?|signature|attending(?: physician)?|physician|surgeon|referring(?: physician| doctor)?|nurse|emergency contact|next of kin|guardian|mother|father|spouse|contact person)[ \t]{0,2}[:：]/gi;
const nameLabelPrefixOk = new Set(["patient", "full", "first", "last", "given", "family", "legal", "your", "my", "his", "her"]);
const honorificRe = /\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Madam|Sir)(?:\.[ \t]{0,2}|[ \t]{1,2})(?=[A-Z])/g;
const credentialRe = new RegExp(
  `\\b(${nameToken}(?: [A-Z]\\.)?(?: ${nameToken}){1,2}),? ?(?:MD|M\\.D\\.|RN|DO|PhD|NP|PA-C|DDS)\\b`,
  "dg",
);
const signoffRe =
  /\b(?:Sincerely|Regards|Best regards|Kind regards|Best wishes|Thanks|Thank you|Cheers|Yours truly)[ \t]*,?[ \t]*\r?\n[ \t]*/g;
const givenSurnameRe = new RegExp(`\\b(${nameToken})(?= (${nameToken})\\b)`, "g");

/** Drop stop words from either end of a candidate name ("Smith Hospital" → "Smith"). */
function trimName(raw: string, start: number): { start: number; end: number } | null {
  const tokens = raw.split(" ");
  let lo = 0;
  let hi = tokens.length;
  while (lo < hi && englishNameStopWords.has(tokens[lo].replace(/[.'’-]+$/, ""))) lo++;
  while (hi > lo && englishNameStopWords.has(tokens[hi - 1].replace(/[.'’-]+$/, ""))) hi--;
  if (lo !== 0 || hi === lo) return null; // a stop word first means "not a name here"
  const kept = tokens
    .slice(0, hi)
    .join(" ")
    .replace(/[-'’]+$/, "");
  if (kept.length < 2) return null;
  return { start, end: start + kept.length };
}

function pushName(text: string, raw: string, start: number, confidence: number, out: PiiFinding[]): void {
  const span = trimName(raw, start);
  if (span) out.push(finding(text, "name", span.start, span.end, confidence));
}

/**
 * English names: after a name label ("Patient: John Smith", "Name: …", "Signed: …"; a bare
 * "Name:" only when the word before it is absent or one of patient/full/first/last/…),
 * after an honorific (Dr. Jane Doe, Mrs Lee → the name, not the title), before a credential
 * (Jane Doe, MD), on the line after a sign-off (Regards,\nJane Doe), and a known given name
 * followed by a capitalised surname (Michael Johnson). Candidates that start with a stop
 * word (months, days, Hospital, Male…) are rejected; trailing stop words are trimmed.
 */
const scanEnglishName: Scanner = ({ text }) => {
  const out: PiiFinding[] = [];
  for (const m of text.matchAll(nameLabelRe)) {
    if (/^name/i.test(m[0])) {
      const prev = /([A-Za-z]+)[ \t]*$/.exec(text.slice(Math.max(0, m.index - 20), m.index));
      if (prev && !nameLabelPrefixOk.has(prev[1].toLowerCase())) continue;
    }
    nameAfterRe.lastIndex = m.index + m[0].length;
    const v = nameAfterRe.exec(text);
    if (v?.indices?.[1]) pushName(text, v[1], v.indices[1][0], 0.9, out);
  }
  for (const m of text.matchAll(honorificRe)) {
    nameAfterRe.lastIndex = m.index + m[0].length;
    const v = nameAfterRe.exec(text);
    if (v?.indices?.[1]) pushName(text, v[1], v.indices[1][0], 0.85, out);
  }
  for (const m of text.matchAll(credentialRe)) {
    if (m.indices?.[1]) pushName(text, m[1], m.indices[1][0], 0.85, out);
  }
  for (const m of text.matchAll(signoffRe)) {
    nameAfterRe.lastIndex = m.index + m[0].length;
    const v = nameAfterRe.exec(text);
    if (v?.indices?.[1] && v[1].includes(" ")) pushName(text, v[1], v.indices[1][0], 0.8, out);
  }
  for (const m of text.matchAll(givenSurnameRe)) {
    if (!englishGivenNames.has(m[1]) || englishNameStopWords.has(m[2])) continue;
    const end = m.index + m[1].length + 1 + m[2].length;
    const next = /^ ([A-Z][a-z]+)/.exec(text.slice(end, end + 24));
    if (next && englishNameStopWords.has(next[1])) continue; // "John Hopkins Hospital"
    out.push(finding(text, "name", m.index, end, 0.7));
  }
  return out;
};

// --- Chinese names -----------------------------------------------------------------------

const han = /^[\u4e00-\u9fff]$/;
const zhLabelRe =
  /(?:姓名|患者姓名|病人姓名|联系人|紧急联系人|家属|监护人|签名|医师签名|医生签名|主治医师|主治医生|经治医师|住院医师|主任医师|报告医师|审核医师|审核人|报告人|记录人|申请人|受检者|就诊人|患者|病人|病患)[ \t]{0,2}[:：]?[ \t]{0,2}/g;
const titleLeadWords = new Set(["主任", "责任", "信任", "担任", "兼任", "现任", "前任", "曾任", "专任", "新任", "提高", "升高"]);
const zhTitleRe = /(?:先生|女士|小姐|医生|医师|大夫|护士|教授|主任|老师|同志)/g;

/** Surname (single or compound) + 1–2 given characters starting at `i`, or null. */
function chineseNameAt(text: string, i: number): number {
  let s = 0;
  if (chineseCompoundSurnames.has(text.slice(i, i + 2))) s = 2;
  else if (chineseSurnames.has(text[i])) s = 1;
  else return 0;
  if (chineseNonNames.has(text.slice(i, i + 2))) return 0;
  let g = 0;
  while (g < 2 && han.test(text[i + s + g] ?? "") && !chineseNameStops.has(text[i + s + g])) g++;
  return g === 0 ? 0 : s + g;
}

/**
 * Chinese names: surname (top-100 single surnames + compound surnames) + 1–2 given
 * characters, after a label (姓名：李娜, 患者张伟, 主治医师：王芳) — the given name stops at
 * characters that start the next word in clinical text (男, 女, 今, 因, 于, 岁, …) — or
 * before a title (王先生 → 王, 张伟医生 → 张伟). 患者于… is read as the preposition.
 */
const scanChineseName: Scanner = ({ text }) => {
  const out: PiiFinding[] = [];
  for (const m of text.matchAll(zhLabelRe)) {
    const i = m.index + m[0].length;
    const hasColon = /[:：]/.test(m[0]);
    if (!hasColon && text[i] === "于") continue;
    const n = chineseNameAt(text, i);
    if (n > 0) out.push(finding(text, "name", i, i + n, hasColon ? 0.92 : 0.85));
  }
  for (const m of text.matchAll(zhTitleRe)) {
    const t = m.index;
    for (const len of [1, 2, 3]) {
      const i = t - len;
      if (i < 0) break;
      if (!han.test(text[i])) break;
      if (text[i] === "于" || chineseNameStops.has(text[i + len - 1] ?? "")) break;
      if (titleLeadWords.has(text.slice(i - 1, i + 1))) break; // 主任医师: 任 is not a surname here
      if (chineseNameAt(text, i) === len || (len === 1 && chineseSurnames.has(text[i]))) {
        out.push(finding(text, "name", i, t, 0.8));
        break;
      }
    }
  }
  return out;
};

/** All scanners, in no particular order; overlaps are resolved by the caller. */
export const scanners: readonly Scanner[] = [
  scanEmail,
  scanChineseId,
  scanSsn,
  scanPhone,
  scanCard,
  scanIp,
  scanMrn,
  scanDob,
  scanEnglishName,
  scanChineseName,
];
