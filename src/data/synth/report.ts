// English and Chinese radiology reports written from the drawn findings. Every finding
// gets its own sentence carrying all its attributes (type, side, lobe, size, severity),
// in the canonical order; the wording varies between synonymous templates. All medical
// vocabulary lives in the term tables below, exported as `reportTerms` for constrained
// decoding.

import type { Rng } from "../../runtime/index.js";
import type { FindingType, Lobe, Severity, Side, SliceLevel, SynthFinding, SynthReport } from "./types.js";

export type ReportTermKind = "finding" | "descriptor" | "lobe" | "side" | "severity" | "level" | "anatomy" | "normal";

export interface ReportTerm {
  en: string;
  zh: string;
  kind: ReportTermKind;
}

type Bilingual = { en: string; zh: string };

export const lobeTerms: Readonly<Record<Lobe, Bilingual>> = {
  RUL: { en: "right upper lobe", zh: "右肺上叶" },
  RML: { en: "right middle lobe", zh: "右肺中叶" },
  RLL: { en: "right lower lobe", zh: "右肺下叶" },
  LUL: { en: "left upper lobe", zh: "左肺上叶" },
  lingula: { en: "lingula", zh: "左肺上叶舌段" },
  LLL: { en: "left lower lobe", zh: "左肺下叶" },
};

/** Side of a pleural finding (effusion, pneumothorax). */
export const sideTerms: Readonly<Record<Side, Bilingual>> = {
  right: { en: "right", zh: "右侧" },
  left: { en: "left", zh: "左侧" },
  bilateral: { en: "bilateral", zh: "双侧" },
};

/** Side of a parenchymal finding (emphysema): which lung. */
export const lungSideTerms: Readonly<Record<Side, Bilingual>> = {
  right: { en: "in the right lung", zh: "右肺" },
  left: { en: "in the left lung", zh: "左肺" },
  bilateral: { en: "in both lungs", zh: "双肺" },
};

export const severityTerms: Readonly<Record<Severity, Bilingual>> = {
  small: { en: "small", zh: "少量" },
  moderate: { en: "moderate", zh: "中量" },
  large: { en: "large", zh: "大量" },
  mild: { en: "mild", zh: "轻度" },
  severe: { en: "severe", zh: "重度" },
};

export const levelTerms: Readonly<Record<SliceLevel, Bilingual>> = {
  upper: { en: "the aortic arch", zh: "主动脉弓层面" },
  mid: { en: "the heart", zh: "心脏层面" },
  lower: { en: "the lung bases", zh: "肺底层面" },
};

/** The name of each finding as reports write it. */
export const findingTerms: Readonly<Record<FindingType, Bilingual>> = {
  nodule: { en: "solid nodule", zh: "实性结节" },
  mass: { en: "lobulated mass", zh: "分叶状肿块" },
  effusion: { en: "pleural effusion", zh: "胸腔积液" },
  consolidation: { en: "consolidation", zh: "实变" },
  cardiomegaly: { en: "cardiomegaly", zh: "心影增大" },
  pneumothorax: { en: "pneumothorax", zh: "气胸" },
  emphysema: { en: "centrilobular emphysema", zh: "小叶中心型肺气肿" },
};

const descriptorTerms = {
  pulmonaryNodule: { en: "solid pulmonary nodule", zh: "实性结节" },
  softTissueMass: { en: "lobulated soft-tissue mass", zh: "分叶状软组织肿块" },
  effusions: { en: "pleural effusions", zh: "胸腔积液" },
  dependent: { en: "dependent", zh: "坠积性" },
  patchy: { en: "patchy consolidation", zh: "斑片状实变影" },
  airspace: { en: "airspace consolidation", zh: "大片实变" },
  airBronchograms: { en: "air bronchograms", zh: "支气管充气征" },
  ratio: { en: "cardiothoracic ratio", zh: "心胸比" },
  pleuralLine: { en: "visceral pleural line", zh: "脏层胸膜线" },
  largestDiameter: { en: "largest diameter", zh: "最大径" },
  malignancy: { en: "suspicious for malignancy", zh: "考虑恶性可能" },
  biopsy: { en: "tissue sampling advised", zh: "建议活检" },
  followUp: { en: "follow-up CT recommended", zh: "建议CT随访" },
  pneumonia: { en: "compatible with pneumonia", zh: "考虑肺炎" },
} as const;

const normalTerms = {
  lungsClear: { en: "The lungs are clear.", zh: "双肺野清晰。" },
  noLesion: { en: "No focal consolidation, nodule or mass.", zh: "双肺未见明确结节、肿块及实变。" },
  noPleural: { en: "No pleural effusion or pneumothorax.", zh: "未见胸腔积液及气胸。" },
  noEffusion: { en: "No pleural effusion.", zh: "未见胸腔积液。" },
  noPneumothorax: { en: "No pneumothorax.", zh: "未见气胸。" },
  heartNormal: { en: "Heart size is normal", zh: "心影大小正常" },
  greatVessels: { en: "The mediastinal great vessels are normal in calibre.", zh: "纵隔大血管管径正常。" },
  bones: { en: "No suspicious osseous lesion.", zh: "所见骨质未见异常。" },
  impressionNormal: { en: "No acute cardiopulmonary abnormality.", zh: "心肺未见明显异常。" },
} as const;

const anatomyTerms: readonly Bilingual[] = [
  { en: "single axial image", zh: "单层轴位图像" },
  { en: "axial slice", zh: "轴位" },
];

/** Every medical term the reports use, English and Chinese, for constrained decoding. */
export const reportTerms: readonly ReportTerm[] = [
  ...Object.values(findingTerms).map((t) => ({ ...t, kind: "finding" as const })),
  ...Object.values(descriptorTerms).map((t) => ({ ...t, kind: "descriptor" as const })),
  ...Object.values(lobeTerms).map((t) => ({ ...t, kind: "lobe" as const })),
  ...Object.values(sideTerms).map((t) => ({ ...t, kind: "side" as const })),
  ...Object.values(lungSideTerms).map((t) => ({ ...t, kind: "side" as const })),
  ...Object.values(severityTerms).map((t) => ({ ...t, kind: "severity" as const })),
  ...Object.values(levelTerms).map((t) => ({ ...t, kind: "level" as const })),
  ...anatomyTerms.map((t) => ({ ...t, kind: "anatomy" as const })),
  ...Object.values(normalTerms).map((t) => ({ ...t, kind: "normal" as const })),
];

const capitalise = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);

function must<T>(value: T | undefined, what: string, finding: SynthFinding): T {
  if (value === undefined) throw new Error(`a ${finding.type} finding needs ${what}, got ${JSON.stringify(finding)}`);
  return value;
}

interface SentencePair {
  en: string;
  zh: string;
}

/** The findings sentence of one finding; `variant` picks among synonymous templates. */
function findingSentence(f: SynthFinding, variant: number, ratio: string): SentencePair {
  const v = variant % 2;
  switch (f.type) {
    case "nodule": {
      const lobe = lobeTerms[must(f.lobe, "a lobe", f)];
      const size = must(f.sizeMm, "a size", f);
      const en = [
        `A ${size} mm solid nodule in the ${lobe.en}.`,
        `${capitalise(descriptorTerms.pulmonaryNodule.en)} in the ${lobe.en}, measuring ${size} mm.`,
        `${size} mm solid nodule in the ${lobe.en}.`,
      ][variant % 3];
      const zh = v === 0 ? `${lobe.zh}见一直径约${size} mm实性结节。` : `${lobe.zh}见实性结节，大小约${size} mm。`;
      return { en, zh };
    }
    case "mass": {
      const lobe = lobeTerms[must(f.lobe, "a lobe", f)];
      const size = must(f.sizeMm, "a size", f);
      return v === 0
        ? {
            en: `A ${size} mm ${descriptorTerms.softTissueMass.en} in the ${lobe.en}.`,
            zh: `${lobe.zh}见分叶状软组织肿块，最大径约${size} mm。`,
          }
        : {
            en: `Lobulated mass in the ${lobe.en}, measuring ${size} mm in largest diameter.`,
            zh: `${lobe.zh}见一分叶状肿块，直径约${size} mm。`,
          };
    }
    case "effusion": {
      const side = must(f.side, "a side", f);
      const severity = severityTerms[must(f.severity, "a severity", f)];
      if (side === "bilateral") {
        return { en: `${capitalise(severity.en)} bilateral pleural effusions.`, zh: `双侧胸腔${severity.zh}积液。` };
      }
      const s = sideTerms[side];
      return v === 0
        ? { en: `${capitalise(severity.en)} ${s.en} pleural effusion.`, zh: `${s.zh}胸腔${severity.zh}积液。` }
        : { en: `${capitalise(severity.en)} dependent ${s.en} pleural effusion.`, zh: `${s.zh}${severity.zh}胸腔积液。` };
    }
    case "consolidation": {
      const lobe = lobeTerms[must(f.lobe, "a lobe", f)];
      const air = f.airBronchograms === true;
      return v === 0
        ? {
            en: `Patchy consolidation in the ${lobe.en}${air ? " with air bronchograms" : ""}.`,
            zh: `${lobe.zh}见斑片状实变影${air ? "，其内可见支气管充气征" : ""}。`,
          }
        : {
            en: `Airspace consolidation in the ${lobe.en}${air ? ", with air bronchograms" : ""}.`,
            zh: `${lobe.zh}见大片实变${air ? "，伴支气管充气征" : ""}。`,
          };
    }
    case "cardiomegaly": {
      const severity = severityTerms[must(f.severity, "a severity", f)];
      return {
        en:
          v === 0
            ? `${capitalise(severity.en)} cardiomegaly, cardiothoracic ratio ${ratio}.`
            : `${capitalise(severity.en)} cardiomegaly (cardiothoracic ratio ${ratio}).`,
        zh: `心影${severity.zh}增大，心胸比约${ratio}。`,
      };
    }
    case "pneumothorax": {
      const s = sideTerms[must(f.side, "a side", f)];
      const severity = severityTerms[must(f.severity, "a severity", f)];
      return v === 0
        ? {
            en: `${capitalise(severity.en)} ${s.en} pneumothorax with a visible visceral pleural line.`,
            zh: `${s.zh}${severity.zh}气胸，可见脏层胸膜线。`,
          }
        : { en: `${capitalise(severity.en)} ${s.en}-sided pneumothorax.`, zh: `${s.zh}见${severity.zh}气胸。` };
    }
    case "emphysema": {
      const side = must(f.side, "a side", f);
      const severity = severityTerms[must(f.severity, "a severity", f)];
      const zh = `${lungSideTerms[side].zh}${severity.zh}小叶中心型肺气肿。`;
      if (side === "bilateral" && v === 1) return { en: `${capitalise(severity.en)} bilateral centrilobular emphysema.`, zh };
      return { en: `${capitalise(severity.en)} centrilobular emphysema ${lungSideTerms[side].en}.`, zh };
    }
  }
}

/** The impression line of one finding. */
function impressionLine(f: SynthFinding): SentencePair {
  switch (f.type) {
    case "nodule": {
      const lobe = lobeTerms[must(f.lobe, "a lobe", f)];
      return {
        en: `${f.sizeMm} mm solid nodule in the ${lobe.en}; ${descriptorTerms.followUp.en}.`,
        zh: `${lobe.zh}实性结节（${f.sizeMm} mm），${descriptorTerms.followUp.zh}。`,
      };
    }
    case "mass": {
      const lobe = lobeTerms[must(f.lobe, "a lobe", f)];
      return {
        en: `${f.sizeMm} mm mass in the ${lobe.en}, ${descriptorTerms.malignancy.en}; ${descriptorTerms.biopsy.en}.`,
        zh: `${lobe.zh}分叶状肿块（${f.sizeMm} mm），${descriptorTerms.malignancy.zh}，${descriptorTerms.biopsy.zh}。`,
      };
    }
    case "consolidation": {
      const lobe = lobeTerms[must(f.lobe, "a lobe", f)];
      return {
        en: `Consolidation in the ${lobe.en}, ${descriptorTerms.pneumonia.en}.`,
        zh: `${lobe.zh}实变，${descriptorTerms.pneumonia.zh}。`,
      };
    }
    case "cardiomegaly": {
      const severity = severityTerms[must(f.severity, "a severity", f)];
      return { en: `${capitalise(severity.en)} cardiomegaly.`, zh: `心影${severity.zh}增大。` };
    }
    default:
      return findingSentence(f, 0, "");
  }
}

function heartSentence(level: SliceLevel, ratio: string, variant: number): SentencePair {
  if (level === "upper") return normalTerms.greatVessels;
  return variant % 2 === 0
    ? {
        en: `${normalTerms.heartNormal.en} (cardiothoracic ratio ${ratio}).`,
        zh: `${normalTerms.heartNormal.zh}，心胸比约${ratio}。`,
      }
    : { en: `Normal heart size, cardiothoracic ratio ${ratio}.`, zh: `${normalTerms.heartNormal.zh}，心胸比约${ratio}。` };
}

/**
 * Writes the English and Chinese report of a case. `cardiothoracicRatio` is stated when the
 * heart is on the slice (mid and lower levels).
 */
export function writeReports(
  rng: Rng,
  level: SliceLevel,
  findings: readonly SynthFinding[],
  cardiothoracicRatio: number | undefined,
): { en: SynthReport; zh: SynthReport } {
  const ratio = cardiothoracicRatio === undefined ? "" : cardiothoracicRatio.toFixed(2);
  const has = (type: FindingType): boolean => findings.some((f) => f.type === type);
  const sentences: SentencePair[] = [];

  const levelTerm = levelTerms[level];
  sentences.push(
    rng.chance(0.5)
      ? { en: `Single axial image at the level of ${levelTerm.en}.`, zh: `${levelTerm.zh}单层轴位图像。` }
      : { en: `Axial slice through ${levelTerm.en}.`, zh: `轴位${levelTerm.zh}。` },
  );
  for (const f of findings) sentences.push(findingSentence(f, rng.intBetween(0, 5), ratio));

  const parenchymal = has("nodule") || has("mass") || has("consolidation") || has("emphysema");
  const pleural = has("effusion") || has("pneumothorax");
  if (!parenchymal) sentences.push(pleural || rng.chance(0.5) ? normalTerms.noLesion : normalTerms.lungsClear);
  if (!has("effusion") && !has("pneumothorax")) sentences.push(normalTerms.noPleural);
  else if (!has("effusion")) sentences.push(normalTerms.noEffusion);
  else if (!has("pneumothorax")) sentences.push(normalTerms.noPneumothorax);
  if (!has("cardiomegaly")) sentences.push(heartSentence(level, ratio, rng.intBetween(0, 1)));
  sentences.push(normalTerms.bones);

  const impressions = findings.map(impressionLine);
  const numbered = (lines: string[]): string => lines.map((line, k) => `${k + 1}. ${line}`).join("\n");
  return {
    en: {
      findings: sentences.map((s) => s.en).join(" "),
      impression: impressions.length === 0 ? normalTerms.impressionNormal.en : numbered(impressions.map((s) => s.en)),
    },
    zh: {
      findings: sentences.map((s) => s.zh).join(""),
      impression: impressions.length === 0 ? normalTerms.impressionNormal.zh : numbered(impressions.map((s) => s.zh)),
    },
  };
}

/** The report as one text: "FINDINGS:\n…\n\nIMPRESSION:\n…" or "检查所见：…\n\n诊断意见：…". */
export function reportText(report: SynthReport, lang: "en" | "zh"): string {
  return lang === "en"
    ? `FINDINGS:\n${report.findings}\n\nIMPRESSION:\n${report.impression}`
    : `检查所见：${report.findings}\n\n诊断意见：${report.impression}`;
}
