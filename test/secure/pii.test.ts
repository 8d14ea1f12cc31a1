// PHI/PII detector: precise cases per kind in English and Chinese, negatives, offsets and
// redaction, folding of lookalike characters (fullwidth digits, odd spaces, zero-width
// characters), fast-check properties, linear time on 1 MB, and a labelled evaluation set
// (test/secure/fixtures/pii/eval.txt) with measured precision and recall.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import fc from "fast-check";
import {
  chineseIdCheckChar,
  detectSensitive,
  foldForDetection,
  foldText,
  isSensitive,
  isValidChineseId,
  isValidSsn,
  luhnValid,
  type PiiFinding,
  type PiiKind,
  piiKinds,
  redact,
  sensitivity,
} from "../../src/secure/index.js";

const today = new Date(Date.UTC(2025, 0, 1));

function found(text: string): Array<[PiiKind, string]> {
  return detectSensitive(text, { today }).findings.map((f) => [f.kind, f.text]);
}

function assertOffsets(text: string, findings: readonly PiiFinding[]): void {
  let last = -1;
  for (const f of findings) {
    assert.equal(text.slice(f.start, f.end), f.text);
    assert.ok(f.start >= last, "sorted and non-overlapping");
    assert.ok(f.confidence > 0 && f.confidence <= 1);
    last = f.end;
  }
}

test("English names: labels, honorifics, credentials, sign-offs, given-name list", () => {
  assert.deepEqual(found("Patient: John Smith, 54"), [["name", "John Smith"]]);
  assert.deepEqual(found("Full Name: Maria Garcia"), [["name", "Maria Garcia"]]);
  assert.deepEqual(found("Reviewed by Dr. Jane Doe."), [["name", "Jane Doe"]]);
  assert.deepEqual(found("Mrs Thompson called."), [["name", "Thompson"]]);
  assert.deepEqual(found("Signed, Robert Chen, MD"), [["name", "Robert Chen"]]);
  assert.deepEqual(found("Best regards,\nEmily Watson"), [["name", "Emily Watson"]]);
  assert.deepEqual(found("Michael Johnson reported headaches."), [["name", "Michael Johnson"]]);
});

test("English name negatives: months, institutions, code, non-person labels", () => {
  assert.deepEqual(found("We expect results in May. May Smith is not in the list without a label."), []);
  assert.deepEqual(found("John Hopkins Hospital published guidelines."), []);
  assert.deepEqual(found("Drug Name: Aspirin 81 mg"), []);
  assert.deepEqual(found("Patient: Male, 45"), []);
  assert.deepEqual(found("const user = { name: input.name }; return New Error();"), []);
});

test("Chinese names: labels, 患者 context, titles; clinical words are not names", () => {
  assert.deepEqual(found("患者张伟今日复查"), [["name", "张伟"]]);
  assert.deepEqual(found("姓名：李娜，女，35岁"), [["name", "李娜"]]);
  assert.deepEqual(found("主治医师：欧阳明华"), [["name", "欧阳明华"]]);
  assert.deepEqual(found("王先生已出院"), [["name", "王"]]);
  assert.deepEqual(found("张伟医生已完成会诊"), [["name", "张伟"]]);
  assert.deepEqual(found("患者高热3天"), []);
  assert.deepEqual(found("患者于2023年1月入院"), []);
  assert.deepEqual(found("请向医生反映"), []);
  assert.deepEqual(found("主任医师建议复查"), []);
  assert.deepEqual(found("患者黄疸加重"), []);
});

test("Chinese resident ID: MOD 11-2 checksum, province, real past birth date", () => {
  assert.equal(chineseIdCheckChar("11010519491231002"), "X");
  assert.ok(isValidChineseId("11010519491231002X", today));
  assert.ok(isValidChineseId("11010519491231002x", today));
  assert.ok(!isValidChineseId("110105194912310021", today), "wrong check digit");
  assert.ok(!isValidChineseId("990105194912310029", today), "no province 99");
  const feb30 = `11010519900230123`;
  assert.ok(!isValidChineseId(feb30 + chineseIdCheckChar(feb30), today), "Feb 30");
  const future = `11010520300101123`;
  assert.ok(!isValidChineseId(future + chineseIdCheckChar(future), today), "born in the future");
  assert.deepEqual(found("身份证号11010519491231002X，请核对"), [["nationalId", "11010519491231002X"]]);
  assert.deepEqual(found("批次110105194912310021"), []);
  assert.deepEqual(found("A11010519491231002X"), [], "embedded in an alphanumeric token");
  assert.deepEqual(found("证件 110105 19491231 002X"), [["nationalId", "110105 19491231 002X"]], "grouped 6-8-4");
  assert.deepEqual(found("证件 110105-19491231-002X"), [["nationalId", "110105-19491231-002X"]]);
  assert.deepEqual(found("证件 110105 19491231 0021"), [], "grouped, wrong check digit");
});

test("US SSN: area/group/serial rules; plain nine digits only with a label", () => {
  assert.deepEqual(found("SSN 536-22-8491"), [["nationalId", "536-22-8491"]]);
  assert.deepEqual(found("social security number: 536228491"), [["nationalId", "536228491"]]);
  for (const bad of ["000-12-3456", "666-12-3456", "900-12-3456", "536-00-8491", "536-22-0000", "078-05-1120"]) {
    assert.deepEqual(found(`SSN ${bad}`), [], bad);
  }
  assert.deepEqual(found("order 536228491 shipped"), []);
  assert.ok(isValidSsn("536", "22", "8491") && !isValidSsn("666", "22", "8491"));
});

test("phones: PRC mobile and landline, NANP, labelled numbers; order numbers are not phones", () => {
  assert.deepEqual(found("手机13812345678"), [["phone", "13812345678"]]);
  assert.deepEqual(found("call +86 139 1234 5678 now"), [["phone", "+86 139 1234 5678"]]);
  assert.deepEqual(found("电话010-62345678"), [["phone", "010-62345678"]]);
  assert.deepEqual(found("座机(0755)86543210"), [["phone", "(0755)86543210"]]);
  assert.deepEqual(found("Reach us at (415) 555-2671."), [["phone", "(415) 555-2671"]]);
  assert.deepEqual(found("or 650.555.0182 today"), [["phone", "650.555.0182"]]);
  assert.deepEqual(found("Tel: 5551234567"), [["phone", "5551234567"]]);
  assert.deepEqual(found("号码 8613812345678"), [["phone", "8613812345678"]], "86 without +");
  assert.deepEqual(found("call (+86) 138-1234-5678"), [["phone", "(+86) 138-1234-5678"]]);
  assert.deepEqual(found("tel 0086 13812345678"), [["phone", "0086 13812345678"]]);
  assert.deepEqual(found("Order 13812345678 shipped"), []);
  assert.deepEqual(found("订单号 20240315000123 已发货"), []);
  assert.deepEqual(found("12345678901"), [], "11 digits not starting 1[3-9]");
  assert.deepEqual(found("code 123-456-7890"), [], "NANP area code cannot start with 1");
});

test("emails", () => {
  assert.deepEqual(found("mail john.smith+ct@example.co.uk."), [["email", "john.smith+ct@example.co.uk"]]);
  assert.deepEqual(found("请发邮件至wang.fang@hospital.cn确认"), [["email", "wang.fang@hospital.cn"]]);
  assert.deepEqual(found("import x from '@scope/pkg'; a@b"), []);
});

test("dates of birth only when labelled or next to an age; plain dates are not PHI", () => {
  assert.deepEqual(found("DOB: 03/07/1979"), [["dateOfBirth", "03/07/1979"]]);
  assert.deepEqual(found("Date of birth: March 7, 1979"), [["dateOfBirth", "March 7, 1979"]]);
  assert.deepEqual(found("born on 12 June 1985"), [["dateOfBirth", "12 June 1985"]]);
  assert.deepEqual(found("出生日期：1989年5月12日"), [["dateOfBirth", "1989年5月12日"]]);
  assert.deepEqual(found("生日 1992-08-15"), [["dateOfBirth", "1992-08-15"]]);
  assert.deepEqual(found("A 45-year-old woman, 1979-03-07, presented"), [["dateOfBirth", "1979-03-07"]]);
  assert.deepEqual(found("68岁，1956年2月3日生"), [["dateOfBirth", "1956年2月3日"]]);
  assert.deepEqual(found("Seen on 2024-03-15; follow-up June 3, 2024."), []);
  assert.deepEqual(found("今天是2024年3月15日"), []);
  assert.deepEqual(found("DOB: 2030-01-01"), [], "a future date is no birth date");
  assert.deepEqual(found("DOB: 1979-02-30"), [], "not a calendar date");
});

test("medical record numbers only after a record-number label", () => {
  assert.deepEqual(found("MRN: 12345678"), [["medicalRecordNumber", "12345678"]]);
  assert.deepEqual(found("Medical Record Number: A-2291034"), [["medicalRecordNumber", "A-2291034"]]);
  assert.deepEqual(found("病历号：ZY2023001234"), [["medicalRecordNumber", "ZY2023001234"]]);
  assert.deepEqual(found("住院号 20230456"), [["medicalRecordNumber", "20230456"]]);
  assert.deepEqual(found("Room 20230456 is free"), []);
  assert.deepEqual(found("MRN: pending"), []);
});

test("cards (Luhn + issuer) and IPv4; version strings and bad checksums don't fire", () => {
  assert.ok(luhnValid("4111111111111111") && !luhnValid("4111111111111112"));
  assert.deepEqual(found("card 4111 1111 1111 1111"), [["creditCard", "4111 1111 1111 1111"]]);
  assert.deepEqual(found("card 4111 1111 1111 1112"), []);
  assert.deepEqual(found("from 203.0.113.42 at noon"), [["ipAddress", "203.0.113.42"]]);
  assert.deepEqual(found("version 1.2.3.4 and 300.1.1.1"), []);
});

test("offsets slice back, redaction uses typed placeholders and is idempotent", () => {
  const text = "Patient: John Smith, DOB: 03/07/1979, MRN: 12345678, 电话 13812345678, 身份证 11010519491231002X, mail a.b@c.io";
  const r = detectSensitive(text, { today });
  assertOffsets(text, r.findings);
  const red = redact(text, { today });
  assert.equal(red, "Patient: [NAME], DOB: [DOB], MRN: [MRN], 电话 [PHONE], 身份证 [ID], mail [EMAIL]");
  assert.equal(redact(red, { today }), red);
  assert.equal(isSensitive(red, { today }), false);
});

test("sensitivity summary and options", () => {
  const s = sensitivity("患者张伟，手机13812345678", { today });
  assert.deepEqual(s, { sensitive: true, kinds: ["name", "phone"], count: 2, maxConfidence: 0.92 });
  assert.deepEqual(sensitivity("plain text", { today }), { sensitive: false, kinds: [], count: 0, maxConfidence: 0 });
  assert.deepEqual(
    detectSensitive("患者张伟，手机13812345678", { today, kinds: ["phone"] }).findings.map((f) => f.kind),
    ["phone"],
  );
  assert.equal(isSensitive("Michael Johnson", { minConfidence: 0.8 }), false);
  assert.throws(() => detectSensitive("x", { minConfidence: 2 }), /minConfidence/);
  assert.throws(() => detectSensitive("x", { kinds: ["ssn" as PiiKind] }), /must be one of|expected/);
});

test("folding: fullwidth and other-script digits, odd spaces and dashes, zero-width characters do not hide PHI", () => {
  const fw = (x: string) => x.replace(/[0-9A-Za-z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));
  // Findings are spans of the original text, lookalike characters included.
  assert.deepEqual(found(`SSN ${fw("536-22-8491")}`), [["nationalId", fw("536-22-8491")]]);
  assert.deepEqual(found("SSN \u0665\u0663\u0666-\u0662\u0662-\u0668\u0664\u0669\u0661"), [
    ["nationalId", "\u0665\u0663\u0666-\u0662\u0662-\u0668\u0664\u0669\u0661"],
  ]);
  assert.deepEqual(found("ref 536\u200B-22\u200C-84\u200D91 ok"), [["nationalId", "536\u200B-22\u200C-84\u200D91"]]);
  assert.deepEqual(found("SSN\u00A0536\u00A022\u00A08491"), [["nationalId", "536\u00A022\u00A08491"]]);
  assert.deepEqual(found("SSN 536\u201022\u20118491"), [["nationalId", "536\u201022\u20118491"]]);
  assert.deepEqual(found("to jane\u2060.doe@exam\u00ADple.\uFEFFcom now"), [["email", "jane\u2060.doe@exam\u00ADple.\uFEFFcom"]]);
  assert.deepEqual(found(`mail ${fw("jane")}＠example.com`), [["email", `${fw("jane")}＠example.com`]]);
  assert.deepEqual(found(`身份证号${fw("11010519491231002X")}`), [["nationalId", fw("11010519491231002X")]]);
  assert.deepEqual(found("手机１３８\u30001234\u30005678"), [["phone", "１３８\u30001234\u30005678"]]);
  assert.deepEqual(found("电话０１０－６２３４５６７８"), [["phone", "０１０－６２３４５６７８"]]);
  assert.deepEqual(found("ring (415)\u202F555-2671"), [["phone", "(415)\u202F555-2671"]]);
  assert.deepEqual(found(`card ${fw("4111 1111 1111 1111")}`), [["creditCard", fw("4111 1111 1111 1111")]]);
  assert.deepEqual(
    found("SSN 5\u03013\u03016-22-8491"),
    [["nationalId", "5\u03013\u03016-22-8491"]],
    "combining marks on digits",
  );
  // English identifiers and context still work on folded text.
  assert.deepEqual(found("Patient:\u00A0John\u00A0Smith"), [["name", "John\u00A0Smith"]]);
  assert.deepEqual(found("Patient:\tJohn Smith"), [["name", "John Smith"]]);
  assert.deepEqual(found("DOB：1979年3月7日"), [["dateOfBirth", "1979年3月7日"]]);
  assert.deepEqual(found("MRN\u3000: 12345678"), [["medicalRecordNumber", "12345678"]]);
  assert.deepEqual(found("Best regards,\nEmily Watson"), [["name", "Emily Watson"]]);
  assert.deepEqual(found("Tel:\u00A05551234567"), [["phone", "5551234567"]]);
  // Redaction works on the original text, lookalikes and all.
  assert.equal(redact(`SSN ${fw("536-22-8491")}, mail a\u200Bb@c.io`, { today }), "SSN [ID], mail [EMAIL]");
  // What folding does, and that ASCII text only loses tabs.
  assert.equal(foldForDetection("Ａ１\u00A0\u202F\u3000\t\u200B\u00AD\uFEFF–—−x"), "A1    ---x");
  assert.equal(foldForDetection("line\u2028two"), "line\ntwo");
  assert.deepEqual(foldText("plain ascii\n"), { text: "plain ascii\n" });
});

// --- properties ------------------------------------------------------------------------

const anyText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.string({ unit: "grapheme", maxLength: 200 }),
  fc.string({ unit: fc.constantFrom(..."0123456789-. ()+@:：患者姓名张王李伟娜先生DOBMRNa xX\n"), maxLength: 120 }),
);

test("property: never throws on arbitrary strings, findings are well-formed", () => {
  fc.assert(
    fc.property(anyText, (s) => {
      const r = detectSensitive(s, { today });
      assertOffsets(s, r.findings);
      for (const f of r.findings) assert.ok(piiKinds.includes(f.kind));
    }),
    { numRuns: 500 },
  );
});

test("property: redact is idempotent", () => {
  fc.assert(
    fc.property(anyText, (s) => {
      const once = redact(s, { today });
      assert.equal(redact(once, { today }), once);
    }),
    { numRuns: 500 },
  );
});

const provinces = ["11", "31", "44", "51", "65", "81"];
const genChineseId = fc
  .record({
    province: fc.constantFrom(...provinces),
    area: fc.integer({ min: 0, max: 9999 }),
    birth: fc.date({ min: new Date(Date.UTC(1900, 0, 1)), max: new Date(Date.UTC(2024, 11, 31)), noInvalidDate: true }),
    seq: fc.integer({ min: 0, max: 999 }),
    lower: fc.boolean(),
  })
  .map(({ province, area, birth, seq, lower }) => {
    const ymd = birth.toISOString().slice(0, 10).replaceAll("-", "");
    const first17 = `${province}${String(area).padStart(4, "0")}${ymd}${String(seq).padStart(3, "0")}`;
    const c = chineseIdCheckChar(first17);
    return first17 + (lower ? c.toLowerCase() : c);
  });
const genSsn = fc
  .record({
    area: fc.integer({ min: 1, max: 899 }).filter((a) => a !== 666),
    group: fc.integer({ min: 1, max: 99 }),
    serial: fc.integer({ min: 1, max: 9999 }),
  })
  .map(
    ({ area, group, serial }) =>
      `${String(area).padStart(3, "0")}-${String(group).padStart(2, "0")}-${String(serial).padStart(4, "0")}`,
  )
  .filter((s) => s !== "078-05-1120" && s !== "219-09-9999");
const genEmail = fc.emailAddress().filter((e) => /^[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9.-]+\.[A-Za-z]{2,24}$/.test(e));

function insertedIsFound(kind: PiiKind, value: string, prefix: string, suffix: string): void {
  const text = `${prefix} ${value} ${suffix}`;
  const start = prefix.length + 1;
  const hit = detectSensitive(text, { today }).findings.some(
    (f) => f.kind === kind && f.start === start && f.end === start + value.length,
  );
  assert.ok(hit, `${kind} ${JSON.stringify(value)} not found in ${JSON.stringify(text)}`);
}

test("property: a valid Chinese ID, SSN or email inserted into random text is always found", () => {
  const around = fc.string({ unit: "grapheme", maxLength: 60 });
  fc.assert(
    fc.property(genChineseId, around, around, (v, a, b) => insertedIsFound("nationalId", v, a, b)),
    { numRuns: 400 },
  );
  fc.assert(
    fc.property(genSsn, around, around, (v, a, b) => insertedIsFound("nationalId", v, a, b)),
    { numRuns: 400 },
  );
  fc.assert(
    fc.property(genEmail, around, around, (v, a, b) => insertedIsFound("email", v, a, b)),
    { numRuns: 400 },
  );
});

const invisibles = ["\u200B", "\u200C", "\u200D", "\u2060", "\uFEFF", "\u00AD"];
const toFullwidthDigit = (d: string) => String.fromCharCode(d.charCodeAt(0) + 0xfee0);

/** `value` with zero-width characters inserted, and digits swapped for fullwidth ones, at random places. */
const disguise = (value: fc.Arbitrary<string>) =>
  value.chain((v) =>
    fc.array(fc.tuple(fc.nat(), fc.constantFrom(...invisibles), fc.boolean()), { maxLength: 8 }).map((edits) => {
      const chars = [...v];
      for (const [at, invisible, swapDigit] of edits) {
        const i = at % (chars.length + 1);
        if (swapDigit && i < chars.length && /[0-9]/.test(chars[i])) chars[i] = toFullwidthDigit(chars[i]);
        else chars.splice(i, 0, invisible);
      }
      return chars.join("");
    }),
  );

test("property: folding ignores zero-width characters and fullwidth digits anywhere", () => {
  fc.assert(
    fc.property(
      fc.string({ unit: "grapheme", maxLength: 80 }),
      fc.array(fc.tuple(fc.nat(), fc.constantFrom(...invisibles))),
      (s, inserts) => {
        const units = [...s];
        for (const [at, invisible] of inserts) units.splice(at % (units.length + 1), 0, invisible);
        const withDigits = units.join("").replace(/[0-9]/g, toFullwidthDigit);
        assert.equal(foldForDetection(withDigits), foldForDetection(s));
      },
    ),
    { numRuns: 500 },
  );
});

test("property: a disguised Chinese ID, SSN or email is still found, as a span of the original text", () => {
  const around = fc.string({ unit: "grapheme", maxLength: 40 });
  for (const [kind, gen] of [
    ["nationalId", genChineseId],
    ["nationalId", genSsn],
    ["email", genEmail],
  ] as const) {
    fc.assert(
      fc.property(disguise(gen), around, around, (value, a, b) => {
        const text = `${a} ${value} ${b}`;
        const r = detectSensitive(text, { today });
        assertOffsets(text, r.findings);
        const at = a.length + 1;
        // Zero-width characters at the very ends of the value may fall outside the span.
        const hit = r.findings.some(
          (f) =>
            f.kind === kind &&
            f.start >= at &&
            f.end <= at + value.length &&
            f.end - f.start >= value.replace(/[\u200B-\u200D\u2060\uFEFF\u00AD]/g, "").length,
        );
        assert.ok(hit, `${kind} ${JSON.stringify(value)} not found in ${JSON.stringify(text)}`);
      }),
      { numRuns: 300 },
    );
  }
});

test("property: 18 random digits failing the checksum never fire as an ID", () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom(..."0123456789"), minLength: 18, maxLength: 18 }), (digits) => {
      fc.pre(chineseIdCheckChar(digits.slice(0, 17)) !== digits[17]);
      const kinds = detectSensitive(`编号 ${digits} 。`, { today }).findings.map((f) => f.kind);
      assert.ok(!kinds.includes("nationalId"));
    }),
    { numRuns: 500 },
  );
});

test("linear time: 1 MB of mixed and adversarial text", () => {
  const chunk =
    "Patient: John Smith DOB: 1979-03-07 MRN: 12345678 患者张伟手机13812345678 aaaa@@@@.... 1111111111 Dr. Dr. Name: 年月日 ";
  const inputs = [
    chunk.repeat(Math.ceil(1_000_000 / chunk.length)),
    "a".repeat(1_000_000),
    "1".repeat(1_000_000),
    "a.".repeat(500_000),
    "患者".repeat(500_000),
    "A ".repeat(500_000),
    "DOB: ".repeat(200_000),
  ];
  for (const s of inputs) {
    const t0 = performance.now();
    const r = detectSensitive(s, { today });
    const ms = performance.now() - t0;
    assert.ok(ms < 3000, `${ms.toFixed(0)} ms for ${JSON.stringify(s.slice(0, 12))}… (${r.findings.length} findings)`);
  }
});

// --- labelled evaluation set -------------------------------------------------------------

interface LabelledSpan {
  readonly kind: PiiKind;
  readonly start: number;
  readonly end: number;
}

function parseEvalLine(line: string): { text: string; spans: LabelledSpan[] } {
  const spans: LabelledSpan[] = [];
  let text = "";
  let at = 0;
  for (const m of line.matchAll(/⟦([A-Za-z]+)\|([^⟧]*)⟧/g)) {
    text += line.slice(at, m.index);
    const kind = m[1] as PiiKind;
    assert.ok(piiKinds.includes(kind), `unknown kind ${m[1]}`);
    spans.push({ kind, start: text.length, end: text.length + m[2].length });
    text += m[2];
    at = m.index + m[0].length;
  }
  return { text: text + line.slice(at), spans };
}

test("labelled evaluation set: recall 1.0 on PHI spans, precision ≥ 0.95", (t) => {
  const lines = readFileSync(new URL("./fixtures/pii/eval.txt", import.meta.url), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("#"))
    .map((l) => l.replaceAll("\\n", "\n"));
  assert.ok(lines.length >= 60, `${lines.length} sentences`);
  let labelled = 0;
  let predicted = 0;
  let truePositives = 0;
  const misses: string[] = [];
  const falseAlarms: string[] = [];
  let withPhi = 0;
  for (const line of lines) {
    const { text, spans } = parseEvalLine(line);
    if (spans.length > 0) withPhi++;
    const { findings } = detectSensitive(text, { today });
    labelled += spans.length;
    predicted += findings.length;
    const key = (x: LabelledSpan) => `${x.kind}@${x.start}-${x.end}`;
    const gold = new Set(spans.map(key));
    const got = new Set(findings.map(key));
    for (const f of findings) {
      if (gold.has(key(f))) truePositives++;
      else falseAlarms.push(`${f.kind} ${JSON.stringify(f.text)} in ${JSON.stringify(text)}`);
    }
    for (const s of spans) {
      if (!got.has(key(s))) misses.push(`${s.kind} ${JSON.stringify(text.slice(s.start, s.end))} in ${JSON.stringify(text)}`);
    }
  }
  const recall = truePositives / labelled;
  const precision = predicted === 0 ? 1 : truePositives / predicted;
  t.diagnostic(
    `eval: ${lines.length} sentences (${withPhi} with PHI), ${labelled} labelled spans, ${predicted} predicted, recall ${recall.toFixed(3)}, precision ${precision.toFixed(3)}`,
  );
  assert.deepEqual(misses, [], "missed spans");
  assert.equal(recall, 1);
  assert.ok(precision >= 0.95, `precision ${precision}: ${falseAlarms.join("; ")}`);
});
