// A deterministic findings labeller for chest CT reports, English or Chinese: one rule
// set per language, sentence by sentence, skipping negated sentences. It reads the
// FINDINGS section (检查所见) when there is one, else the impression, else the whole text,
// and returns each finding once, in the canonical report order. On the generator's own
// reports it is exact; on free text it is a keyword labeller.

import { compareFindings } from "./plan.js";
import type { FindingType, LabelledFinding, Lobe, Severity, Side } from "./types.js";

interface LanguageRules {
  findingsHeader: RegExp;
  impressionHeader: RegExp;
  splitSentences: RegExp;
  negation: RegExp;
  types: readonly [FindingType, RegExp][];
  /** most specific first: the lingula before the left upper lobe */
  lobes: readonly [Lobe, RegExp][];
  bilateral: RegExp;
  right: RegExp;
  left: RegExp;
  severities: readonly [Severity, RegExp][];
  size: RegExp;
  airBronchograms: RegExp;
}

const english: LanguageRules = {
  findingsHeader: /findings\s*:/i,
  impressionHeader: /impression\s*:/i,
  splitSentences: /(?<=[.;!?])\s+|\n+/,
  negation: /\b(no|without|not|negative for|free of)\b/i,
  types: [
    ["nodule", /\bnodules?\b/i],
    ["mass", /\bmass(es)?\b/i],
    ["effusion", /\beffusions?\b/i],
    ["consolidation", /\bconsolidat(ion|ive)\b/i],
    ["cardiomegaly", /\bcardiomegaly\b|\benlarged heart\b|\bheart is (mildly |severely )?enlarged\b/i],
    ["pneumothorax", /\bpneumothora(x|ces)\b/i],
    ["emphysema", /\bemphysema(tous)?\b/i],
  ],
  lobes: [
    ["RUL", /\bright upper lobe\b/i],
    ["RML", /\bright middle lobe\b/i],
    ["RLL", /\bright lower lobe\b/i],
    ["lingula", /\blingula(r)?\b/i],
    ["LUL", /\bleft upper lobe\b/i],
    ["LLL", /\bleft lower lobe\b/i],
  ],
  bilateral: /\bbilateral(ly)?\b|\bboth\b/i,
  right: /\bright\b/i,
  left: /\bleft\b/i,
  severities: [
    ["small", /\bsmall\b/i],
    ["moderate", /\bmoderate\b/i],
    ["large", /\blarge\b/i],
    ["mild", /\bmild(ly)?\b/i],
    ["severe", /\bsevere(ly)?\b/i],
  ],
  size: /(\d+(?:\.\d+)?)\s*mm\b/i,
  airBronchograms: /\bair bronchograms?\b/i,
};

const chinese: LanguageRules = {
  findingsHeader: /检查所见\s*[：:]/,
  impressionHeader: /(诊断意见|印象)\s*[：:]/,
  splitSentences: /[。；;！？\n]+/,
  negation: /未见|无|没有|排除/,
  types: [
    ["nodule", /结节/],
    ["mass", /肿块|占位/],
    ["effusion", /积液/],
    ["consolidation", /实变/],
    ["cardiomegaly", /心(影|脏)[^，,。]{0,3}(增大|扩大)/],
    ["pneumothorax", /气胸/],
    ["emphysema", /肺气肿/],
  ],
  lobes: [
    ["lingula", /舌段/],
    ["RUL", /右肺上叶/],
    ["RML", /右肺中叶/],
    ["RLL", /右肺下叶/],
    ["LUL", /左肺上叶/],
    ["LLL", /左肺下叶/],
  ],
  bilateral: /双侧|双肺|两侧|两肺/,
  right: /右/,
  left: /左/,
  severities: [
    ["small", /少量/],
    ["moderate", /中量|中等量/],
    ["large", /大量/],
    ["mild", /轻度/],
    ["severe", /重度/],
  ],
  size: /(\d+(?:\.\d+)?)\s*(mm|毫米)/i,
  airBronchograms: /支气管充气征/,
};

const lobeSides: Readonly<Record<Lobe, Side>> = {
  RUL: "right",
  RML: "right",
  RLL: "right",
  LUL: "left",
  lingula: "left",
  LLL: "left",
};

/** The part of the report to label: findings, else impression, else everything. */
function section(text: string, rules: LanguageRules): string {
  const findings = rules.findingsHeader.exec(text);
  const impression = rules.impressionHeader.exec(text);
  if (findings !== null) {
    const end = impression !== null && impression.index > findings.index ? impression.index : text.length;
    const body = text.slice(findings.index + findings[0].length, end).trim();
    if (body !== "") return body;
  }
  if (impression !== null) return text.slice(impression.index + impression[0].length);
  return text;
}

function sideOf(sentence: string, rules: LanguageRules): Side | undefined {
  if (rules.bilateral.test(sentence)) return "bilateral";
  const right = sentence.search(rules.right);
  const left = sentence.search(rules.left);
  if (right < 0 && left < 0) return undefined;
  if (left < 0 || (right >= 0 && right < left)) return "right";
  return "left";
}

function labelSentence(sentence: string, rules: LanguageRules): LabelledFinding[] {
  const types = rules.types.filter(([, pattern]) => pattern.test(sentence)).map(([type]) => type);
  if (types.length === 0 || rules.negation.test(sentence)) return [];
  const lobe = rules.lobes.find(([, pattern]) => pattern.test(sentence))?.[0];
  const side = lobe === undefined ? sideOf(sentence, rules) : lobeSides[lobe];
  const severity = rules.severities.find(([, pattern]) => pattern.test(sentence))?.[0];
  const sizeMatch = rules.size.exec(sentence);
  const sizeMm = sizeMatch === null ? undefined : Number(sizeMatch[1]);
  return types.map((type) => {
    const finding: LabelledFinding = { type };
    if (type !== "cardiomegaly" && side !== undefined) finding.side = side;
    if ((type === "nodule" || type === "mass" || type === "consolidation") && lobe !== undefined) finding.lobe = lobe;
    if ((type === "nodule" || type === "mass") && sizeMm !== undefined) finding.sizeMm = sizeMm;
    const takesSeverity = type === "effusion" || type === "pneumothorax" || type === "emphysema" || type === "cardiomegaly";
    if (takesSeverity && severity !== undefined) finding.severity = severity;
    if (type === "consolidation" && rules.airBronchograms.test(sentence)) finding.airBronchograms = true;
    return finding;
  });
}

/** Findings (type, side, lobe, sizeMm, severity, airBronchograms) stated in a report. */
export function labelReport(text: string, lang: "en" | "zh"): LabelledFinding[] {
  const rules = lang === "en" ? english : chinese;
  const seen = new Set<string>();
  const found: LabelledFinding[] = [];
  for (const raw of section(text, rules).split(rules.splitSentences)) {
    const sentence = raw.replace(/^\s*\d+[.、)]\s*/, "").trim();
    if (sentence === "") continue;
    for (const finding of labelSentence(sentence, rules)) {
      const key = JSON.stringify(finding);
      if (seen.has(key)) continue;
      seen.add(key);
      found.push(finding);
    }
  }
  return found.sort(compareFindings);
}
