// The synthetic chest CT generator: determinism, DICOM read back by an independent parser
// (dicom-parser) and by our reader, every reported finding measured in the pixels, the
// labeller exact on the generator's reports, distinct reports for retrieval, the CLI.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Command } from "commander";
import dicomParser from "dicom-parser";
import fc from "fast-check";
import { PNG } from "pngjs";
import { registerDataCommands, type SynthCtIndex } from "../../src/cli/data.js";
import { readDicom, windowValues } from "../../src/data/medical/index.js";
import { drawAnatomy } from "../../src/data/synth/anatomy.js";
import {
  encodeCtDicom,
  encodePng,
  findingSignature,
  findingTerms,
  findingTypes,
  type LabelledFinding,
  labelReport,
  lobeTerms,
  lungWindow,
  type PixelRegion,
  reportTerms,
  reportText,
  type SynthCase,
  type SynthFinding,
  severityTerms,
  synthChestCase,
  synthChestSet,
  writeSynthCase,
} from "../../src/data/synth/index.js";
import { streams } from "../../src/data/synth/streams.js";
import { Rng } from "../../src/runtime/rng.js";

const withoutRegion = (f: SynthFinding): LabelledFinding => {
  const { region: _region, ...rest } = f;
  return rest;
};

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "synth-test-"));
}

// ---- pixel measurements ------------------------------------------------------------------------

function pixelsIn(c: SynthCase, r: PixelRegion, grow = 0): number[] {
  const values: number[] = [];
  for (let y = Math.max(0, r.y0 - grow); y < Math.min(c.height, r.y1 + grow); y++) {
    for (let x = Math.max(0, r.x0 - grow); x < Math.min(c.width, r.x1 + grow); x++) values.push(c.hu[y * c.width + x]);
  }
  return values;
}

/** Pixels in the frame between the region grown by `inner` and by `outer`. */
function ringAround(c: SynthCase, r: PixelRegion, inner: number, outer: number): number[] {
  const values: number[] = [];
  for (let y = Math.max(0, r.y0 - outer); y < Math.min(c.height, r.y1 + outer); y++) {
    for (let x = Math.max(0, r.x0 - outer); x < Math.min(c.width, r.x1 + outer); x++) {
      const inside = x >= r.x0 - inner && x < r.x1 + inner && y >= r.y0 - inner && y < r.y1 + inner;
      if (!inside) values.push(c.hu[y * c.width + x]);
    }
  }
  return values;
}

const mean = (values: readonly number[]): number => values.reduce((s, v) => s + v, 0) / values.length;
const fraction = (values: readonly number[], keep: (v: number) => boolean): number => values.filter(keep).length / values.length;
function std(values: readonly number[]): number {
  const m = mean(values);
  return Math.sqrt(mean(values.map((v) => (v - m) ** 2)));
}

function mirrored(c: SynthCase, r: PixelRegion): PixelRegion {
  return { x0: c.width - r.x1, x1: c.width - r.x0, y0: r.y0, y1: r.y1 };
}

/**
 * The lesion's pixels: those above `threshold` HU connected (4-neighbours, inside the
 * region) to the dense pixel nearest the region's centre. The region's corners may hold
 * chest wall, which is not connected to the lesion through dense pixels.
 */
function lesionPoints(c: SynthCase, r: PixelRegion, threshold: number): [number, number][] {
  const cx = (r.x0 + r.x1 - 1) / 2;
  const cy = (r.y0 + r.y1 - 1) / 2;
  let start: [number, number] | null = null;
  for (let y = r.y0; y < r.y1; y++) {
    for (let x = r.x0; x < r.x1; x++) {
      if (c.hu[y * c.width + x] <= threshold) continue;
      if (start === null || Math.hypot(x - cx, y - cy) < Math.hypot(start[0] - cx, start[1] - cy)) start = [x, y];
    }
  }
  if (start === null) return [];
  const seen = new Set<number>([start[1] * c.width + start[0]]);
  const points: [number, number][] = [];
  const queue: [number, number][] = [start];
  while (queue.length > 0) {
    const [x, y] = queue.pop()!;
    points.push([x, y]);
    for (const [nx, ny] of [
      [x - 1, y],
      [x + 1, y],
      [x, y - 1],
      [x, y + 1],
    ]) {
      const p = ny * c.width + nx;
      if (nx < r.x0 || nx >= r.x1 || ny < r.y0 || ny >= r.y1 || seen.has(p) || c.hu[p] <= threshold) continue;
      seen.add(p);
      queue.push([nx, ny]);
    }
  }
  return points;
}

/** Pixels exactly 2 steps (Chebyshev) from a lesion: past its partial-volume edge, inside its lung margin. */
function ringOf(c: SynthCase, points: readonly [number, number][]): number[] {
  const dilate = (from: Set<number>): Set<number> => {
    const out = new Set<number>(from);
    for (const p of from) {
      const x = p % c.width;
      const y = (p - x) / c.width;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          const ny = y + dy;
          if (nx >= 0 && ny >= 0 && nx < c.width && ny < c.height) out.add(ny * c.width + nx);
        }
      }
    }
    return out;
  };
  const lesion = new Set(points.map(([x, y]) => y * c.width + x));
  const one = dilate(lesion);
  const two = dilate(one);
  return [...two].filter((p) => !one.has(p)).map((p) => c.hu[p]);
}

/** Largest distance between two dense pixels, plus one pixel for their extent. */
function feretDiameter(points: readonly [number, number][]): number {
  let best = 0;
  for (let a = 0; a < points.length; a++) {
    for (let b = a + 1; b < points.length; b++)
      best = Math.max(best, Math.hypot(points[a][0] - points[b][0], points[a][1] - points[b][1]));
  }
  return best + 1;
}

/** The case's chest as drawn before its findings (pre-noise), from the anatomy's own random stream. */
function normalAnatomy(c: SynthCase): Int16Array {
  const { canvas } = drawAnatomy(
    Rng.fromParts(c.seed, c.index, streams.anatomy),
    c.width,
    c.sliceLevel,
    c.cardiothoracicRatio ?? 0.42,
  );
  return Int16Array.from(canvas.hu, (v) => Math.round(v));
}

const enclosedAirCache = new WeakMap<SynthCase, Uint8Array>();

/** Pixels below -500 HU that outside air cannot reach (4-connected): lung and pneumothorax. */
function enclosedAir(c: SynthCase): Uint8Array {
  const cached = enclosedAirCache.get(c);
  if (cached !== undefined) return cached;
  const outside = new Uint8Array(c.hu.length);
  const stack: number[] = [];
  const visit = (p: number): void => {
    if (outside[p] === 0 && c.hu[p] < -500) {
      outside[p] = 1;
      stack.push(p);
    }
  };
  for (let x = 0; x < c.width; x++) {
    visit(x);
    visit((c.height - 1) * c.width + x);
  }
  for (let y = 0; y < c.height; y++) {
    visit(y * c.width);
    visit(y * c.width + c.width - 1);
  }
  while (stack.length > 0) {
    const p = stack.pop()!;
    const x = p % c.width;
    if (x > 0) visit(p - 1);
    if (x + 1 < c.width) visit(p + 1);
    if (p >= c.width) visit(p - c.width);
    if (p + c.width < c.hu.length) visit(p + c.width);
  }
  const enclosed = Uint8Array.from(c.hu, (v, p) => (v < -500 && outside[p] === 0 ? 1 : 0));
  enclosedAirCache.set(c, enclosed);
  return enclosed;
}

/** Lung pixels (enclosed air) inside a region. */
function lungIn(c: SynthCase, r: PixelRegion): number[] {
  const lung = enclosedAir(c);
  const values: number[] = [];
  for (let y = r.y0; y < r.y1; y++)
    for (let x = r.x0; x < r.x1; x++) if (lung[y * c.width + x] === 1) values.push(c.hu[y * c.width + x]);
  return values;
}

/**
 * Cardiothoracic ratio from pixels alone: the widest gap between lung pixels on any row
 * (the heart, at the heart's levels) over the widest lung-to-lung extent (inner thorax).
 */
function measuredCtr(c: SynthCase): number {
  const lung = enclosedAir(c);
  let thorax = 0;
  let heart = 0;
  for (let y = 0; y < c.height; y++) {
    const lungXs: number[] = [];
    for (let x = 0; x < c.width; x++) if (lung[y * c.width + x] === 1) lungXs.push(x);
    if (lungXs.length === 0) continue;
    thorax = Math.max(thorax, lungXs[lungXs.length - 1] - lungXs[0] + 1);
    for (let k = 0; k + 1 < lungXs.length; k++) heart = Math.max(heart, lungXs[k + 1] - lungXs[k] - 1);
  }
  return heart / thorax;
}

// ---- the cases every pixel test looks at -----------------------------------------------------------

const visibilitySeed = 11;
const visibilityCases: SynthCase[] = Array.from({ length: 400 }, (_, i) => synthChestCase(visibilitySeed, i));
const findingsOf = (type: SynthFinding["type"]): { c: SynthCase; f: SynthFinding }[] =>
  visibilityCases.flatMap((c) => c.findings.filter((f) => f.type === type).map((f) => ({ c, f })));
const hasType = (c: SynthCase, ...types: SynthFinding["type"][]): boolean => c.findings.some((f) => types.includes(f.type));

function assertSide(c: SynthCase, f: SynthFinding): void {
  const centre = (f.region.x0 + f.region.x1) / 2;
  // radiological convention: the patient's right is on the image's left
  if (f.side === "right")
    assert.ok(centre < c.width / 2, `${c.id} ${f.type} on the right should lie on the image's left, centre x ${centre}`);
  if (f.side === "left")
    assert.ok(centre > c.width / 2, `${c.id} ${f.type} on the left should lie on the image's right, centre x ${centre}`);
  if (f.side === "bilateral")
    assert.ok(f.region.x0 < c.width / 2 && f.region.x1 > c.width / 2, `${c.id} bilateral ${f.type} should span the midline`);
}

describe("synthChestCase", () => {
  test("is a pure function of (seed, index, options) and varies with each", () => {
    const a = synthChestCase(3, 17);
    const b = synthChestCase(3, 17);
    assert.deepEqual(a.hu, b.hu);
    assert.deepEqual(a.report, b.report);
    assert.deepEqual(a.ehr, b.ehr);
    assert.notDeepEqual(synthChestCase(4, 17).hu, a.hu);
    assert.notDeepEqual(synthChestCase(3, 18).hu, a.hu);
    const big = synthChestCase(3, 17, { size: 256 });
    assert.equal(big.hu.length, 256 * 256);
    assert.equal(big.pixelSpacingMm * 2, a.pixelSpacingMm);
    assert.equal(a.id, "s3-000017");
  });

  test("HU values stay in the scanner range with the expected tissues present", () => {
    const c = visibilityCases[0];
    assert.equal(c.hu.length, c.width * c.height);
    const values = Array.from(c.hu);
    assert.ok(
      Math.min(...values) >= -1024 && Math.max(...values) <= 3071,
      "Math.min(...values) >= -1024 && Math.max(...values) <= 3071",
    );
    assert.ok(fraction(values, (v) => v < -950) > 0.2, "air around the body");
    assert.ok(fraction(values, (v) => v > -900 && v < -600) > 0.05, "aerated lung");
    assert.ok(fraction(values, (v) => v > -150 && v < -50) > 0.02, "fat");
    assert.ok(fraction(values, (v) => v > 300) > 0.002, "bone");
  });

  test("one 128×128 case takes a few milliseconds", () => {
    const started = performance.now();
    for (let i = 0; i < 50; i++) synthChestCase(99, i);
    const perCase = (performance.now() - started) / 50;
    assert.ok(perCase < 25, `${perCase.toFixed(1)} ms per case`);
  });

  test("rejects bad options with what was expected", () => {
    assert.throws(() => synthChestCase(1, 0, { size: 10 }), /size.*expected/s);
    assert.throws(() => synthChestCase(1, 0, { normalFraction: 2 }), /normalFraction|expected/);
    assert.throws(() => synthChestCase(-1, 0), /seed.*non-negative integer/);
    assert.throws(() => synthChestCase(1, 0.5), /index/);
  });

  test("about a tenth of cases are normal, the rest have 1–3 findings of distinct types", () => {
    const normal = visibilityCases.filter((c) => c.findings.length === 0).length / visibilityCases.length;
    assert.ok(normal > 0.05 && normal < 0.16, `normal fraction ${normal}`);
    for (const c of visibilityCases) {
      assert.ok(c.findings.length <= 3, "c.findings.length <= 3");
      assert.equal(new Set(c.findings.map((f) => f.type)).size, c.findings.length);
    }
    for (const type of findingTypes) assert.ok(findingsOf(type).length >= 15, `${type}: ${findingsOf(type).length} cases`);
    assert.ok(
      Array.from({ length: 30 }, (_, i) => synthChestCase(5, i, { normalFraction: 1 })).every((c) => c.findings.length === 0),
      "Array.from({ length: 30 }, (_, i) => synthChestCase(5, i, { normalFraction: 1 })).every((c) => c.findings.length === 0)",
    );
  });
});

describe("every finding is visible in the pixels", () => {
  test("nodules: soft tissue against lung, measured diameter within 1.5 px of sizeMm / spacing", () => {
    const cases = [
      ...findingsOf("nodule"),
      ...Array.from({ length: 60 }, (_, i) => synthChestCase(23, i, { size: 256 })).flatMap((c) =>
        c.findings.filter((f) => f.type === "nodule").map((f) => ({ c, f })),
      ),
    ];
    assert.ok(cases.length > 60, "cases.length > 60");
    for (const { c, f } of cases) {
      assertSide(c, f);
      const core = Math.max(...pixelsIn(c, f.region));
      const around = mean(ringOf(c, lesionPoints(c, f.region, -400)));
      assert.ok(around < -550, `${c.id}: lung around the nodule ${around.toFixed(0)} HU`);
      assert.ok(core > -250, `${c.id}: nodule core ${core} HU vs lung ${around.toFixed(0)} HU`);
      const area = lesionPoints(c, f.region, -400).length;
      const measured = 2 * Math.sqrt(area / Math.PI);
      const expected = (f.sizeMm ?? 0) / c.pixelSpacingMm;
      assert.ok(
        Math.abs(measured - expected) <= 1.5,
        `${c.id}: nodule ${f.sizeMm} mm = ${expected.toFixed(2)} px, measured ${measured.toFixed(2)} px`,
      );
    }
  });

  test("nodule size changes the pixels continuously: summed density tracks the area", () => {
    // density above lung, summed over the region, is the partial-volume area in pixels
    const rows = findingsOf("nodule").map(({ c, f }) => {
      const lung = mean(ringAround(c, f.region, 1, 3));
      const mass = pixelsIn(c, f.region, 1).reduce((s, v) => s + Math.max(0, Math.min(1, (v - lung) / (40 - lung))), 0);
      return { expected: Math.PI * ((f.sizeMm ?? 0) / c.pixelSpacingMm / 2) ** 2, mass };
    });
    for (const { expected, mass } of rows)
      assert.ok(
        Math.abs(mass - expected) < 0.25 * expected + 2.5,
        `area ${expected.toFixed(1)} px², measured ${mass.toFixed(1)}`,
      );
  });

  test("masses: lobulated soft tissue, largest diameter within 2 px of sizeMm / spacing", () => {
    const cases = findingsOf("mass");
    for (const { c, f } of cases) {
      assertSide(c, f);
      assert.ok(f.sizeMm !== undefined && f.sizeMm >= 31 && f.sizeMm <= 70, `${c.id}: mass size ${f.sizeMm}`);
      const points = lesionPoints(c, f.region, -400);
      const expected = f.sizeMm / c.pixelSpacingMm;
      const measured = feretDiameter(points);
      assert.ok(
        Math.abs(measured - expected) <= 2,
        `${c.id}: mass ${f.sizeMm} mm = ${expected.toFixed(1)} px, Feret ${measured.toFixed(1)} px`,
      );
      const around = mean(ringOf(c, points));
      assert.ok(around < -550, `${c.id}: lung around the mass ${around.toFixed(0)} HU`);
      // lobulated: the blob is not a disc of that diameter
      assert.ok(points.length < 0.8 * Math.PI * (expected / 2) ** 2, `${c.id}: mass fills ${points.length} px`);
    }
  });

  test("pleural effusion: fluid HU at the dependent side, more with severity", () => {
    const bySeverity: Record<string, number[]> = { small: [], moderate: [], large: [] };
    for (const { c, f } of findingsOf("effusion")) {
      assertSide(c, f);
      const fluid = pixelsIn(c, f.region).filter((v) => v > -30 && v < 30).length;
      assert.ok(fluid / pixelsIn(c, f.region).length > 0.1, `${c.id}: fluid fraction ${fluid / pixelsIn(c, f.region).length}`);
      assert.ok((f.region.y0 + f.region.y1) / 2 > c.height / 2, `${c.id}: effusion should be posterior (dependent)`);
      if (f.side !== "bilateral" && !hasType(c, "consolidation", "mass")) {
        const other = pixelsIn(c, mirrored(c, f.region)).filter((v) => v > -30 && v < 30).length;
        assert.ok(fluid > 2 * other, `${c.id}: fluid ${fluid} px on the effusion side vs ${other} on the other`);
      }
      bySeverity[f.severity ?? "small"].push(fluid / (f.side === "bilateral" ? 2 : 1));
    }
    const averages = ["small", "moderate", "large"].map((s) => mean(bySeverity[s]));
    assert.ok(
      averages[0] < averages[1] && averages[1] < averages[2],
      `fluid px by severity ${averages.map((a) => a.toFixed(0))}`,
    );
  });

  test("pneumothorax: air below -950 HU without lung markings, at the anterior/lateral edge", () => {
    const bySeverity: Record<string, number[]> = { small: [], large: [] };
    for (const { c, f } of findingsOf("pneumothorax")) {
      assertSide(c, f);
      const air = pixelsIn(c, f.region).filter((v) => v < -950);
      assert.ok(air.length >= 15, `${c.id}: ${air.length} air pixels`);
      const rim = pixelsIn(c, f.region).filter((v) => v < -940);
      assert.ok(std(rim) < 25, `${c.id}: air texture std ${std(rim).toFixed(1)} HU (markings?)`);
      assert.ok(f.region.y0 < c.height / 2, `${c.id}: pneumothorax should reach the anterior half`);
      if (!hasType(c, "emphysema")) {
        const other = pixelsIn(c, mirrored(c, f.region)).filter((v) => v < -950).length;
        assert.ok(air.length > 4 * other, `${c.id}: ${air.length} air px vs ${other} on the other side`);
      }
      bySeverity[f.severity ?? "small"].push(air.length);
    }
    assert.ok(mean(bySeverity.small) * 1.8 < mean(bySeverity.large), "mean(bySeverity.small) * 1.8 < mean(bySeverity.large)");
  });

  test("emphysema: low-attenuation lung below -950 HU, more when severe, none in normal lungs", () => {
    // normal lungs at the heart's levels (the upper level's trachea is enclosed air too)
    const normals = visibilityCases.filter((c) => c.findings.length === 0 && c.sliceLevel !== "upper");
    const lowFraction = (c: SynthCase, r: PixelRegion): number => fraction(lungIn(c, r), (v) => v < -950);
    const bySeverity: Record<string, number[]> = { mild: [], severe: [] };
    for (const { c, f } of findingsOf("emphysema")) {
      assertSide(c, f);
      if (hasType(c, "pneumothorax")) continue;
      const low = lowFraction(c, f.region);
      assert.ok(
        low > (f.severity === "severe" ? 0.25 : 0.08),
        `${c.id}: ${f.severity} emphysema, ${low.toFixed(3)} of lung < -950`,
      );
      bySeverity[f.severity ?? "mild"].push(low);
      for (const n of normals.slice(0, 10))
        assert.ok(lowFraction(n, f.region) < 0.02, `${n.id}: normal lung with ${lowFraction(n, f.region)} < -950`);
    }
    assert.ok(mean(bySeverity.mild) * 1.5 < mean(bySeverity.severe), "mean(bySeverity.mild) * 1.5 < mean(bySeverity.severe)");
  });

  test("consolidation: a dense patch where the same chest had aerated lung", () => {
    for (const { c, f } of findingsOf("consolidation")) {
      assertSide(c, f);
      const pixels = pixelsIn(c, f.region);
      const dense = fraction(pixels, (v) => v > -100 && v < 120);
      assert.ok(dense > 0.3, `${c.id}: ${dense.toFixed(2)} of the region is consolidated`);
      // the same chest before any finding was drawn (the anatomy has its own random stream)
      const before = normalAnatomy(c);
      const denseBefore = fraction(pixelsIn({ ...c, hu: before }, f.region), (v) => v > -100 && v < 120);
      assert.ok(
        dense > denseBefore + 0.2,
        `${c.id}: ${dense.toFixed(2)} of the region dense vs ${denseBefore.toFixed(2)} before`,
      );
      if (f.airBronchograms === true) {
        assert.ok(
          pixels.some((v) => v < -800),
          `${c.id}: air bronchograms should show as air inside the opacity`,
        );
      }
    }
  });

  test("cardiomegaly: heart / thorax width above 0.5, normal hearts below, matching the reported ratio", () => {
    // fluid or consolidation beside the heart would widen the gap between the lungs
    const clean = (c: SynthCase): boolean => !hasType(c, "consolidation", "effusion", "mass");
    const enlarged = findingsOf("cardiomegaly").filter(({ c }) => clean(c));
    assert.ok(enlarged.length >= 15, "enlarged.length >= 15");
    for (const { c, f } of enlarged) {
      const ratio = measuredCtr(c);
      assert.ok(ratio > 0.5, `${c.id}: ${f.severity} cardiomegaly measured ${ratio.toFixed(2)}`);
      assert.ok(
        Math.abs(ratio - (c.cardiothoracicRatio ?? 0)) < 0.05,
        `${c.id}: measured ${ratio.toFixed(2)}, reported ${c.cardiothoracicRatio}`,
      );
    }
    const normalHearts = visibilityCases.filter((c) => c.sliceLevel !== "upper" && !hasType(c, "cardiomegaly") && clean(c));
    assert.ok(normalHearts.length > 50, "normalHearts.length > 50");
    for (const c of normalHearts) {
      const ratio = measuredCtr(c);
      assert.ok(ratio < 0.5, `${c.id}: normal heart measured ${ratio.toFixed(2)}`);
      assert.ok(
        Math.abs(ratio - (c.cardiothoracicRatio ?? 0)) < 0.05,
        `${c.id}: measured ${ratio.toFixed(2)}, reported ${c.cardiothoracicRatio}`,
      );
    }
  });

  test("the upper level has no heart and only upper lobes; lower lobes never at the upper level", () => {
    for (const c of visibilityCases) {
      if (c.sliceLevel === "upper") {
        assert.equal(c.cardiothoracicRatio, undefined);
        assert.ok(!hasType(c, "cardiomegaly"), '!hasType(c, "cardiomegaly")');
      }
      for (const f of c.findings) {
        if (f.lobe === undefined) continue;
        const allowed = { upper: ["RUL", "LUL"], mid: ["RML", "RLL", "lingula", "LLL"], lower: ["RLL", "LLL"] }[c.sliceLevel];
        assert.ok(allowed.includes(f.lobe), `${c.id}: ${f.lobe} at the ${c.sliceLevel} level`);
      }
    }
  });
});

describe("reports and the labeller", () => {
  test("the labeller is exact on the reference reports of 2000 cases in both languages", () => {
    for (let i = 0; i < 2000; i++) {
      const c = synthChestCase(2026, i);
      const want = c.findings.map(withoutRegion);
      assert.deepEqual(labelReport(reportText(c.report.en, "en"), "en"), want, reportText(c.report.en, "en"));
      assert.deepEqual(labelReport(reportText(c.report.zh, "zh"), "zh"), want, reportText(c.report.zh, "zh"));
    }
  });

  test("property: exact for any seed and index, any image size", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 0, max: 1_000_000 }), (seed, index) => {
        const c = synthChestCase(seed, index);
        const want = c.findings.map(withoutRegion);
        assert.deepEqual(labelReport(reportText(c.report.en, "en"), "en"), want);
        assert.deepEqual(labelReport(reportText(c.report.zh, "zh"), "zh"), want);
      }),
      { numRuns: 300 },
    );
  });

  test("every attribute appears in the text, in the canonical order", () => {
    const zhKeyword: Record<SynthFinding["type"], string> = {
      nodule: "结节",
      mass: "肿块",
      effusion: "积液",
      consolidation: "实变",
      cardiomegaly: "增大",
      pneumothorax: "气胸",
      emphysema: "肺气肿",
    };
    for (const c of visibilityCases) {
      const en = c.report.en.findings.toLowerCase();
      const zh = c.report.zh.findings;
      let last = -1;
      for (const f of c.findings) {
        const at = en.indexOf(
          f.type === "mass" ? "mass" : f.type === "nodule" ? "nodule" : findingTerms[f.type].en.split(" ").pop()!,
        );
        assert.ok(at > last, `${c.id}: ${f.type} out of order in ${en}`);
        last = at;
        assert.ok(zh.includes(zhKeyword[f.type]), `${c.id}: ${f.type} missing in ${zh}`);
        if (f.lobe !== undefined) {
          assert.ok(en.includes(lobeTerms[f.lobe].en), `${c.id}: ${f.lobe} missing in ${en}`);
          assert.ok(zh.includes(lobeTerms[f.lobe].zh), `${c.id}: ${f.lobe} missing in ${zh}`);
        }
        if (f.sizeMm !== undefined)
          assert.ok(en.includes(`${f.sizeMm} mm`) && zh.includes(`${f.sizeMm} mm`), `${c.id}: size ${f.sizeMm} missing`);
        if (f.severity !== undefined) {
          assert.ok(en.includes(f.severity), `${c.id}: ${f.severity} missing in ${en}`);
          assert.ok(zh.includes(severityTerms[f.severity].zh), `${c.id}: ${f.severity} missing in ${zh}`);
        }
      }
      const level = { upper: "aortic arch", mid: "the heart", lower: "lung bases" }[c.sliceLevel];
      assert.ok(en.includes(level), `${c.id}: slice level missing`);
      if (c.findings.length === 0) assert.match(c.report.en.impression, /No acute cardiopulmonary abnormality/);
    }
  });

  test("Chinese reports contain no English words but mm and CT", () => {
    for (const c of visibilityCases) {
      const zh = reportText(c.report.zh, "zh").replaceAll("mm", "").replaceAll("CT", "");
      assert.doesNotMatch(zh, /[A-Za-z]/, `${c.id}: ${zh}`);
    }
  });

  test("reportTerms holds the medical vocabulary of both languages", () => {
    assert.ok(reportTerms.length > 40, "reportTerms.length > 40");
    const en = new Set(reportTerms.map((t) => t.en));
    for (const type of findingTypes) assert.ok(en.has(findingTerms[type].en), "en.has(findingTerms[type].en)");
    for (const t of reportTerms) assert.ok(t.en.length > 0 && t.zh.length > 0 && /[\u4e00-\u9fff]/.test(t.zh), JSON.stringify(t));
    // the finding and lobe terms occur in the reports
    const allEn = visibilityCases.map((c) => c.report.en.findings.toLowerCase()).join(" ");
    for (const t of reportTerms.filter((t) => t.kind === "lobe" || t.kind === "finding"))
      assert.ok(allEn.includes(t.en.toLowerCase()), t.en);
  });

  test("reportText joins the sections with the headers of each language", () => {
    const c = visibilityCases[1];
    assert.equal(reportText(c.report.en, "en"), `FINDINGS:\n${c.report.en.findings}\n\nIMPRESSION:\n${c.report.en.impression}`);
    assert.equal(reportText(c.report.zh, "zh"), `检查所见：${c.report.zh.findings}\n\n诊断意见：${c.report.zh.impression}`);
  });

  test("the labeller on free text: negation, bilateral, lingula, impression-only", () => {
    assert.deepEqual(labelReport("No pleural effusion or pneumothorax. The lungs are clear.", "en"), []);
    assert.deepEqual(labelReport("IMPRESSION:\n1. Large bilateral pleural effusions.", "en"), [
      { type: "effusion", side: "bilateral", severity: "large" },
    ]);
    assert.deepEqual(labelReport("左肺上叶舌段见一直径约9 mm实性结节。未见气胸。", "zh"), [
      { type: "nodule", side: "left", lobe: "lingula", sizeMm: 9 },
    ]);
    assert.deepEqual(labelReport("心影重度增大。双肺轻度小叶中心型肺气肿。", "zh"), [
      { type: "cardiomegaly", severity: "severe" },
      { type: "emphysema", side: "bilateral", severity: "mild" },
    ]);
  });
});

describe("sets", () => {
  const set600 = synthChestSet(7, 600);

  test("synthChestSet(…, 600) has 600 distinct English reports and ids", () => {
    const set = set600;
    assert.equal(set.length, 600);
    assert.equal(new Set(set.map((c) => reportText(c.report.en, "en"))).size, 600);
    assert.equal(new Set(set.map((c) => c.id)).size, 600);
    assert.ok(set.filter((c) => c.findings.length === 0).length >= 10, "some normal cases survive the distinctness rule");
  });

  test('unique: "findings" gives cases the image alone tells apart', () => {
    const set = synthChestSet(7, 500, { unique: "findings" });
    assert.equal(new Set(set.map(findingSignature)).size, 500);
    assert.equal(new Set(set.map((c) => reportText(c.report.en, "en"))).size, 500);
    // the signature is what the report states: equal signatures, equal labels
    const byReport = set600.slice(0, 500);
    assert.deepEqual(
      synthChestSet(7, 20).map((c) => c.index),
      set600.slice(0, 20).map((c) => c.index),
      "a smaller set is a prefix of a larger one",
    );
    assert.ok(new Set(byReport.map(findingSignature)).size < 500, "wording alone separates some reports of the default set");
    assert.throws(() => synthChestSet(7, 5, { unique: "text" as "report" }), /unique must be/);
  });

  test("the EHR follows the findings", () => {
    const cases = Array.from({ length: 1500 }, (_, i) => synthChestCase(31, i));
    const withType = (type: SynthFinding["type"]): SynthCase[] => cases.filter((c) => hasType(c, type));
    const without = (type: SynthFinding["type"]): SynthCase[] => cases.filter((c) => !hasType(c, type));
    const avg = (cs: SynthCase[], get: (c: SynthCase) => number): number => mean(cs.map(get));
    assert.ok(
      avg(withType("consolidation"), (c) => c.ehr.vitals.tempC) > avg(without("consolidation"), (c) => c.ehr.vitals.tempC) + 1,
      'avg(withType("consolidation"), (c) => c.ehr.vitals.tempC) > avg(without("consolidation"), (c) => c.ehr.vitals.tempC) + 1',
    );
    assert.ok(
      avg(withType("consolidation"), (c) => c.ehr.labs.wbc) > avg(without("consolidation"), (c) => c.ehr.labs.wbc) + 4,
      'avg(withType("consolidation"), (c) => c.ehr.labs.wbc) > avg(without("consolidation"), (c) => c.ehr.labs.wbc) + 4',
    );
    assert.ok(
      avg(withType("consolidation"), (c) => c.ehr.labs.crp) > 3 * avg(without("consolidation"), (c) => c.ehr.labs.crp),
      'avg(withType("consolidation"), (c) => c.ehr.labs.crp) > 3 * avg(without("consolidation"), (c) => c.ehr.labs.crp)',
    );
    assert.ok(
      fraction(
        withType("emphysema").map((c) => (c.ehr.smoker.status === "never" ? 0 : 1)),
        (v) => v === 1,
      ) > 0.85,
      'fraction(withType("emphysema").map((c) => (c.ehr.smoker.status === "never" ? 0 : 1)), (v) => v === 1) > 0.85',
    );
    assert.ok(
      avg(withType("emphysema"), (c) => c.ehr.age) > avg(without("emphysema"), (c) => c.ehr.age) + 5,
      'avg(withType("emphysema"), (c) => c.ehr.age) > avg(without("emphysema"), (c) => c.ehr.age) + 5',
    );
    assert.ok(
      withType("effusion").every((c) => c.ehr.symptoms.includes("dyspnoea")),
      'withType("effusion").every((c) => c.ehr.symptoms.includes("dyspnoea"))',
    );
    assert.ok(
      avg(withType("cardiomegaly"), (c) => c.ehr.labs.ntProBnp) > 5 * avg(without("cardiomegaly"), (c) => c.ehr.labs.ntProBnp),
      'avg(withType("cardiomegaly"), (c) => c.ehr.labs.ntProBnp) > 5 * avg(without("cardiomegaly"), (c) => c.ehr.labs.ntProBnp)',
    );
    for (const c of cases.slice(0, 50)) {
      assert.match(c.ehr.patientName, /^SYNTHETIC\^/);
      assert.match(c.ehr.mrn, /^MRN-SYN-\d{9}$/);
      assert.ok(c.ehr.vitals.diastolic < c.ehr.vitals.systolic, "c.ehr.vitals.diastolic < c.ehr.vitals.systolic");
    }
  });
});

describe("files", () => {
  test("same seed → byte-identical .dcm, .png and .json; the JSON holds no pixels", () => {
    const [a, b] = [tempDir(), tempDir()];
    try {
      for (const dir of [a, b]) for (const i of [0, 1, 2]) writeSynthCase(dir, synthChestCase(42, i));
      for (const i of [0, 1, 2]) {
        const id = synthChestCase(42, i).id;
        for (const ext of ["dcm", "png", "json"]) {
          assert.deepEqual(readFileSync(join(a, `${id}.${ext}`)), readFileSync(join(b, `${id}.${ext}`)), `${id}.${ext}`);
        }
        const record = JSON.parse(readFileSync(join(a, `${id}.json`), "utf8")) as Record<string, unknown>;
        assert.equal(record.hu, undefined);
        assert.ok(
          record.ehr !== undefined && record.report !== undefined && Array.isArray(record.findings),
          "record.ehr !== undefined && record.report !== undefined && Array.isArray(record.findings)",
        );
      }
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  });

  test("the DICOM opens with dicom-parser: Part 10 layout, CT Image IOD tags, stored × slope + intercept = hu", () => {
    for (const c of [visibilityCases[3], synthChestCase(8, 1, { size: 256 })]) {
      const bytes = encodeCtDicom(c);
      assert.equal(Buffer.from(bytes.subarray(128, 132)).toString("latin1"), "DICM");
      assert.ok(
        bytes.subarray(0, 128).every((v) => v === 0),
        "bytes.subarray(0, 128).every((v) => v === 0)",
      );
      // group 0002 length: the bytes after (0002,0000) up to the first element of group 0008
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      assert.equal(view.getUint16(132, true), 0x0002);
      const groupLength = view.getUint32(140, true);
      assert.equal(view.getUint16(144 + groupLength, true), 0x0008, "the data set starts right after the meta group");

      const ds = dicomParser.parseDicom(bytes);
      const s = (tag: string): string | undefined => ds.string(tag);
      assert.equal(s("x00020010"), "1.2.840.10008.1.2.1");
      assert.equal(s("x00020002"), "1.2.840.10008.5.1.4.1.1.2");
      assert.equal(s("x00080016"), "1.2.840.10008.5.1.4.1.1.2");
      assert.equal(s("x00020003"), s("x00080018"));
      assert.equal(s("x00080060"), "CT");
      assert.equal(s("x00080008"), "ORIGINAL\\PRIMARY\\AXIAL");
      assert.equal(s("x00280004"), "MONOCHROME2");
      assert.equal(s("x00281054"), "HU");
      assert.equal(ds.uint16("x00280010"), c.height);
      assert.equal(ds.uint16("x00280011"), c.width);
      assert.equal(ds.uint16("x00280002"), 1);
      assert.equal(ds.uint16("x00280100"), 16);
      assert.equal(ds.uint16("x00280101"), 16);
      assert.equal(ds.uint16("x00280102"), 15);
      assert.equal(ds.uint16("x00280103"), 1);
      assert.equal(ds.floatString("x00280030", 0), c.pixelSpacingMm);
      assert.equal(ds.floatString("x00280030", 1), c.pixelSpacingMm);
      assert.ok((ds.floatString("x00180050") ?? 0) > 0, '(ds.floatString("x00180050") ?? 0) > 0');
      assert.equal(ds.floatString("x00180060"), 120);
      assert.equal(s("x00200037"), "1\\0\\0\\0\\1\\0");
      assert.ok(s("x00200032")?.split("\\").length === 3, 's("x00200032")?.split("\\\\").length === 3');
      assert.ok((ds.floatString("x00281051") ?? 0) > 0, '(ds.floatString("x00281051") ?? 0) > 0');
      assert.equal(s("x00080020"), c.studyDate);
      assert.match(s("x00080020") ?? "", /^(2015|2016|2017|2018|2019|2020|2021|2022|2023|2024)\d{4}$/);
      assert.equal(s("x00100010"), c.ehr.patientName);
      for (const tag of ["x00080018", "x0020000d", "x0020000e", "x00200052"]) {
        const uid = s(tag) ?? "";
        assert.match(uid, /^2\.25\.[1-9]\d*$/, tag);
        assert.ok(uid.length <= 64 && BigInt(uid.slice(5)) < 2n ** 128n, tag);
      }
      assert.equal(new Set(["x00080018", "x0020000d", "x0020000e", "x00200052"].map(s)).size, 4);
      const slope = ds.floatString("x00281053") ?? Number.NaN;
      const intercept = ds.floatString("x00281052") ?? Number.NaN;
      const pixel = ds.elements.x7fe00010;
      assert.equal(pixel.length, c.width * c.height * 2);
      const stored = new Int16Array(bytes.slice(pixel.dataOffset, pixel.dataOffset + pixel.length).buffer);
      for (let p = 0; p < c.hu.length; p++)
        if (stored[p] * slope + intercept !== c.hu[p])
          assert.fail(`pixel ${p}: ${stored[p]} × ${slope} + ${intercept} ≠ ${c.hu[p]}`);
    }
  });

  test("our reader readDicom reads it back: size, spacing, HU, patient", () => {
    const c = visibilityCases[5];
    const image = readDicom(encodeCtDicom(c));
    assert.equal(image.rows, c.height);
    assert.equal(image.columns, c.width);
    assert.equal(image.modality, "CT");
    assert.equal(image.transferSyntax, "1.2.840.10008.1.2.1");
    assert.deepEqual(image.pixelSpacing, [c.pixelSpacingMm, c.pixelSpacingMm]);
    assert.deepEqual(Array.from(image.hu(0)), Array.from(c.hu));
    assert.equal(image.patient?.ageYears, c.ehr.age);
    assert.equal(image.patient?.sex, c.ehr.sex);
  });

  test("the PNG is the lung-windowed slice", () => {
    const c = visibilityCases[6];
    const png = PNG.sync.read(Buffer.from(encodePng(c)));
    assert.equal(png.width, c.width);
    assert.equal(png.height, c.height);
    const expected = windowValues(Float32Array.from(c.hu), lungWindow.center, lungWindow.width);
    for (let p = 0; p < c.hu.length; p++) assert.equal(png.data[p * 4], expected[p]);
    const mediastinal = PNG.sync.read(Buffer.from(encodePng(c, { center: 40, width: 400 })));
    assert.notDeepEqual(mediastinal.data, png.data);
  });
});

describe("aigc data synth-ct", () => {
  function program(): Command {
    const p = new Command().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    registerDataCommands(p);
    return p;
  }

  test("writes the cases and index.json", async () => {
    const out = join(tempDir(), "set");
    try {
      await program().parseAsync(["data", "synth-ct", "--n", "4", "--seed", "5", "--out", out, "--size", "96"], { from: "user" });
      const index = JSON.parse(readFileSync(join(out, "index.json"), "utf8")) as SynthCtIndex;
      assert.equal(index.cases.length, 4);
      assert.equal(index.size, 96);
      for (const entry of index.cases) {
        for (const file of [entry.dicom, entry.png, entry.json]) assert.ok(existsSync(join(out, file)), file);
        assert.equal(readDicom(join(out, entry.dicom)).rows, 96);
      }
    } finally {
      rmSync(join(out, ".."), { recursive: true, force: true });
    }
  });

  test("bad arguments fail with a clear message", async () => {
    await assert.rejects(
      program().parseAsync(["data", "synth-ct", "--n", "0", "--seed", "1", "--out", "x"], { from: "user" }),
      /--n must be an integer from 1/,
    );
    await assert.rejects(
      program().parseAsync(["data", "synth-ct", "--n", "3", "--seed", "-2", "--out", "x"], { from: "user" }),
      /--seed must be an integer/,
    );
    await assert.rejects(
      program().parseAsync(["data", "synth-ct", "--n", "3", "--seed", "1", "--out", "x", "--size", "12"], { from: "user" }),
      /--size must be an integer from 64/,
    );
    await assert.rejects(program().parseAsync(["data", "synth-ct", "--n", "3", "--seed", "1"], { from: "user" }), /--out/);
  });
});

// Debian's python3 with python3-pydicom (a reader we did not write), when installed (CI installs it).
const debianPython = "/usr/bin/python3";
const pydicomMissing = !existsSync("/usr/lib/python3/dist-packages/pydicom") && "Debian python3-pydicom is not installed";

test("pydicom reads the DICOM as CT Image Storage with the exact HU values", { skip: pydicomMissing }, () => {
  const dir = mkdtempSync(join(tmpdir(), "synth-pydicom-"));
  try {
    const cases = [synthChestCase(5, 0), synthChestCase(5, 1, { size: 256 })];
    for (const c of cases) writeSynthCase(dir, c);
    const script = [
      "import json, sys, pydicom",
      "out = []",
      "for path in sys.argv[1:]:",
      "    d = pydicom.dcmread(path)",
      "    hu = (d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept)).astype('int32').ravel().tolist()",
      "    out.append({'sop': d.SOPClassUID.name, 'modality': d.Modality, 'rows': d.Rows, 'cols': d.Columns, 'hu': hu})",
      "print(json.dumps(out))",
    ].join("\n");
    const r = spawnSync(debianPython, ["-c", script, ...cases.map((c) => join(dir, `${c.id}.dcm`))], {
      maxBuffer: 64 * 1024 * 1024,
    });
    assert.equal(r.status, 0, String(r.stderr));
    const read = JSON.parse(String(r.stdout)) as { sop: string; modality: string; rows: number; cols: number; hu: number[] }[];
    cases.forEach((c, i) => {
      assert.equal(read[i].sop, "CT Image Storage");
      assert.equal(read[i].modality, "CT");
      assert.deepEqual([read[i].rows, read[i].cols], [c.height, c.width]);
      assert.deepEqual(read[i].hu, Array.from(c.hu));
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
