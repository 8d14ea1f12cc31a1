// What a case will show, before anything is drawn: the slice level, the cardiothoracic
// ratio and 0–3 findings of distinct types with their attributes.

import type { Rng } from "../../runtime/index.js";
import { lobesAtLevel } from "./anatomy.js";
import type { FindingType, LabelledFinding, Lobe, Side, SliceLevel } from "./types.js";
import { findingTypes, lobes, sides } from "./types.js";

export interface CasePlan {
  level: SliceLevel;
  /** heart width / inner thorax width, 2 decimals */
  cardiothoracicRatio: number;
  findings: LabelledFinding[];
}

const typeWeights: Readonly<Record<FindingType, number>> = {
  nodule: 0.22,
  mass: 0.11,
  effusion: 0.18,
  consolidation: 0.16,
  cardiomegaly: 0.12,
  pneumothorax: 0.1,
  emphysema: 0.11,
};

function weightedPick<T>(rng: Rng, items: readonly T[], weight: (item: T) => number): T {
  const total = items.reduce((sum, item) => sum + weight(item), 0);
  let r = rng.next() * total;
  for (const item of items) {
    r -= weight(item);
    if (r < 0) return item;
  }
  return items[items.length - 1];
}

export const lobeSide = (lobe: Lobe): Side => (lobe === "RUL" || lobe === "RML" || lobe === "RLL" ? "right" : "left");

export const noduleSizeRange = { min: 6, max: 30 } as const;
export const massSizeRange = { min: 31, max: 70 } as const;

/** The ratio bands: normal < 0.5 ≤ mild < severe. */
const ratioBands = { normal: [0.38, 0.46], mild: [0.55, 0.6], severe: [0.64, 0.7] } as const;

/** Canonical report order: by type, then side, then lobe, then size. */
export function compareFindings(a: LabelledFinding, b: LabelledFinding): number {
  return (
    findingTypes.indexOf(a.type) - findingTypes.indexOf(b.type) ||
    (a.side === undefined ? -1 : sides.indexOf(a.side)) - (b.side === undefined ? -1 : sides.indexOf(b.side)) ||
    (a.lobe === undefined ? -1 : lobes.indexOf(a.lobe)) - (b.lobe === undefined ? -1 : lobes.indexOf(b.lobe)) ||
    (a.sizeMm ?? 0) - (b.sizeMm ?? 0)
  );
}

export function planCase(rng: Rng, normalFraction: number): CasePlan {
  const isNormal = rng.chance(normalFraction);
  const count = isNormal ? 0 : weightedPick(rng, [1, 2, 3], (k) => [0.45, 0.35, 0.2][k - 1]);
  const types: FindingType[] = [];
  while (types.length < count) {
    const type = weightedPick(
      rng,
      findingTypes.filter((t) => !types.includes(t)),
      (t) => typeWeights[t],
    );
    types.push(type);
  }
  // Lesions in lobes need distinct lobes; the upper level shows only two.
  const lobeTypes = types.filter((t) => t === "nodule" || t === "mass" || t === "consolidation");
  const hasHeart = types.includes("cardiomegaly");
  const level: SliceLevel = hasHeart
    ? rng.chance(0.6)
      ? "mid"
      : "lower"
    : lobeTypes.length > 2
      ? rng.pick(["mid", "mid", "lower"] as const)
      : weightedPick(rng, ["upper", "mid", "lower"] as const, (l) => ({ upper: 0.3, mid: 0.4, lower: 0.3 })[l]);

  const freeLobes = [...lobesAtLevel[level]];
  if (lobeTypes.length > freeLobes.length) {
    // lower level, three lobe lesions: keep the first two
    types.splice(types.indexOf(lobeTypes[2]), 1);
  }

  const findings: LabelledFinding[] = [];
  let effusionSide: Side | undefined;
  for (const type of types) {
    switch (type) {
      case "nodule":
      case "mass":
      case "consolidation": {
        const lobe = freeLobes.splice(Math.floor(rng.next() * freeLobes.length), 1)[0];
        const finding: LabelledFinding = { type, side: lobeSide(lobe), lobe };
        if (type === "nodule") {
          finding.sizeMm = noduleSizeRange.min + Math.floor((noduleSizeRange.max - noduleSizeRange.min + 1) * rng.next() ** 1.4);
        } else if (type === "mass") {
          finding.sizeMm = massSizeRange.min + Math.floor((massSizeRange.max - massSizeRange.min + 1) * rng.next() ** 1.3);
        }
        findings.push(finding);
        break;
      }
      case "effusion": {
        effusionSide = weightedPick(rng, sides, (s) => ({ right: 0.4, left: 0.3, bilateral: 0.3 })[s]);
        const severity = weightedPick(
          rng,
          ["small", "moderate", "large"] as const,
          (s) => ({ small: 0.45, moderate: 0.35, large: 0.2 })[s],
        );
        findings.push({ type, side: effusionSide, severity });
        break;
      }
      case "pneumothorax":
        findings.push({ type, side: rng.chance(0.55) ? "right" : "left", severity: rng.chance(0.6) ? "small" : "large" });
        break;
      case "emphysema":
        findings.push({
          type,
          side: weightedPick(rng, sides, (s) => ({ right: 0.2, left: 0.2, bilateral: 0.6 })[s]),
          severity: rng.chance(0.6) ? "mild" : "severe",
        });
        break;
      case "cardiomegaly":
        findings.push({ type, severity: rng.chance(0.6) ? "mild" : "severe" });
        break;
    }
  }
  // No hydropneumothorax: a pneumothorax goes to the side without fluid, or is dropped.
  const pneumothorax = findings.find((f) => f.type === "pneumothorax");
  if (pneumothorax !== undefined && effusionSide !== undefined) {
    if (effusionSide === "bilateral") findings.splice(findings.indexOf(pneumothorax), 1);
    else pneumothorax.side = effusionSide === "right" ? "left" : "right";
  }

  const cardiomegaly = findings.find((f) => f.type === "cardiomegaly");
  const band =
    cardiomegaly === undefined ? ratioBands.normal : cardiomegaly.severity === "severe" ? ratioBands.severe : ratioBands.mild;
  const cardiothoracicRatio = Math.round(rng.uniform(band[0], band[1]) * 100) / 100;
  return { level, cardiothoracicRatio, findings };
}
