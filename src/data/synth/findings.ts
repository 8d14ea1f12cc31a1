// Draws the planned findings into a normal chest. Every attribute a report states is put
// into pixels: the side and lobe by where it is drawn, the size in mm through the pixel
// spacing (with partial-volume edges, so even a 1 mm change moves pixel values), the
// severity by how much lung the fluid, air or low attenuation takes.
//
// Lesions need room: when a nodule, mass or consolidation does not fit its planned lobe
// (a large effusion took it, the heart crowds the lingula), it moves to another free lobe
// of the slice or shrinks, and the finding records what was actually drawn.

import type { Rng } from "../../runtime/index.js";
import { type Anatomy, type Canvas, ellipseRadius, tissue } from "./anatomy.js";
import { compareFindings, lobeSide, massSizeRange, noduleSizeRange } from "./plan.js";
import type { LabelledFinding, Lobe, PixelRegion, Side, SynthFinding } from "./types.js";
import { lobes } from "./types.js";

interface Circle {
  x: number;
  y: number;
  r: number;
}

/** Running bounding box of drawn pixels. */
class RegionBox {
  x0 = Number.POSITIVE_INFINITY;
  y0 = Number.POSITIVE_INFINITY;
  x1 = Number.NEGATIVE_INFINITY;
  y1 = Number.NEGATIVE_INFINITY;
  count = 0;

  add(i: number, j: number): void {
    this.x0 = Math.min(this.x0, i);
    this.y0 = Math.min(this.y0, j);
    this.x1 = Math.max(this.x1, i + 1);
    this.y1 = Math.max(this.y1, j + 1);
    this.count++;
  }

  region(): PixelRegion | null {
    return this.count === 0 ? null : { x0: this.x0, y0: this.y0, x1: this.x1, y1: this.y1 };
  }
}

const lobeCode = (lobe: Lobe): number => lobes.indexOf(lobe) + 1;
const rightLungCodes = new Set([lobeCode("RUL"), lobeCode("RML"), lobeCode("RLL")]);

function isSide(lobeCodeValue: number, side: Side): boolean {
  if (lobeCodeValue === 0) return false;
  if (side === "bilateral") return true;
  return rightLungCodes.has(lobeCodeValue) === (side === "right");
}

const isParenchyma = (t: number): boolean => t === tissue.lung || t === tissue.emphysema;

function sidesOf(side: Side): Side[] {
  return side === "bilateral" ? ["right", "left"] : [side];
}

// ---- pleural effusion: dependent (posterior) fluid with a meniscus rising laterally ----------

const effusionDepth = { small: [0.12, 0.18], moderate: [0.27, 0.34], large: [0.46, 0.54] } as const;

function drawEffusion(rng: Rng, canvas: Canvas, anatomy: Anatomy, finding: LabelledFinding): PixelRegion | null {
  const { size, spacing, hu, lobeOf, tissueOf } = canvas;
  const severity = finding.severity === "moderate" || finding.severity === "large" ? finding.severity : "small";
  const box = new RegionBox();
  for (const side of sidesOf(finding.side ?? "right")) {
    let top = size;
    let bottom = -1;
    for (let p = 0; p < size * size; p++) {
      if (tissueOf[p] !== tissue.lung || !isSide(lobeOf[p], side)) continue;
      const j = Math.floor(p / size);
      top = Math.min(top, j);
      bottom = Math.max(bottom, j + 1);
    }
    if (bottom < 0) continue;
    const [low, high] = effusionDepth[severity];
    const depth = rng.uniform(low, high) * (bottom - top);
    const fluidHu = rng.uniform(6, 14);
    const { thorax } = anatomy;
    for (let p = 0; p < size * size; p++) {
      if (tissueOf[p] !== tissue.lung || !isSide(lobeOf[p], side)) continue;
      const i = p % size;
      const j = (p - i) / size;
      // a crescent of fluid `depth` pixels thick along the posterior chest wall
      const u = ((i + 0.5 - size / 2) * spacing - thorax.cx) / thorax.a;
      const wallPx = (thorax.cy + thorax.b * Math.sqrt(Math.max(0, 1 - u * u))) / spacing + size / 2;
      if (j + 0.5 < wallPx - depth) continue;
      hu[p] = fluidHu + 4 * ((j + 0.5 - (wallPx - depth)) / Math.max(1, depth));
      tissueOf[p] = tissue.fluid;
      box.add(i, j);
    }
  }
  return box.region();
}

// ---- pneumothorax: air without lung markings between chest wall and a visceral pleural line --

const pneumothoraxDepth = { small: [0.09, 0.13], large: [0.24, 0.3] } as const;

function drawPneumothorax(rng: Rng, canvas: Canvas, anatomy: Anatomy, finding: LabelledFinding): PixelRegion | null {
  const { size, spacing, hu, lobeOf, tissueOf } = canvas;
  const [low, high] = pneumothoraxDepth[finding.severity === "large" ? "large" : "small"];
  const rim = rng.uniform(low, high);
  const side = finding.side ?? "right";
  const box = new RegionBox();
  const { thorax } = anatomy;
  for (let p = 0; p < size * size; p++) {
    if (tissueOf[p] !== tissue.lung || !isSide(lobeOf[p], side)) continue;
    const i = p % size;
    const j = (p - i) / size;
    const x = (i + 0.5 - size / 2) * spacing;
    const y = (j + 0.5 - size / 2) * spacing;
    // air rises: anterior and lateral, not in the posterior gutter
    if (y > thorax.cy + 0.35 * thorax.b || ellipseRadius(x, y, thorax) < 1 - rim) continue;
    hu[p] = -1000;
    tissueOf[p] = tissue.pneumothorax;
    box.add(i, j);
  }
  // the visceral pleural line: the edge of the collapsed lung
  for (let p = 0; p < size * size; p++) {
    if (!isParenchyma(tissueOf[p])) continue;
    const i = p % size;
    const touchesAir =
      (i > 0 && tissueOf[p - 1] === tissue.pneumothorax) ||
      (i + 1 < size && tissueOf[p + 1] === tissue.pneumothorax) ||
      (p >= size && tissueOf[p - size] === tissue.pneumothorax) ||
      (p + size < size * size && tissueOf[p + size] === tissue.pneumothorax);
    if (touchesAir) hu[p] = -480;
  }
  return box.region();
}

// ---- emphysema: holes of lung destroyed below -950 HU ---------------------------------------

const emphysemaFraction = { mild: [0.14, 0.2], severe: [0.36, 0.46] } as const;

function drawEmphysema(rng: Rng, canvas: Canvas, finding: LabelledFinding): PixelRegion | null {
  const { size, spacing, hu, lobeOf, tissueOf } = canvas;
  const severe = finding.severity === "severe";
  const [low, high] = emphysemaFraction[severe ? "severe" : "mild"];
  const box = new RegionBox();
  for (const side of sidesOf(finding.side ?? "bilateral")) {
    const pixels: number[] = [];
    for (let p = 0; p < size * size; p++) if (tissueOf[p] === tissue.lung && isSide(lobeOf[p], side)) pixels.push(p);
    const target = rng.uniform(low, high) * pixels.length;
    let marked = 0;
    for (let attempt = 0; attempt < 4000 && marked < target; attempt++) {
      const centre = pixels[Math.floor(rng.next() * pixels.length)];
      const ci = centre % size;
      const cj = (centre - ci) / size;
      const radius = rng.uniform(2, severe ? 8 : 5) / spacing + 0.5;
      const reach = Math.ceil(radius);
      for (let j = Math.max(0, cj - reach); j <= Math.min(size - 1, cj + reach); j++) {
        for (let i = Math.max(0, ci - reach); i <= Math.min(size - 1, ci + reach); i++) {
          const p = j * size + i;
          if (tissueOf[p] !== tissue.lung || !isSide(lobeOf[p], side)) continue;
          if ((i - ci) ** 2 + (j - cj) ** 2 > radius * radius) continue;
          hu[p] = rng.uniform(-992, -975);
          tissueOf[p] = tissue.emphysema;
          box.add(i, j);
          marked++;
        }
      }
    }
  }
  return box.region();
}

// ---- consolidation: patchy airspace opacity confined to its lobe -----------------------------

interface DrawnConsolidation {
  region: PixelRegion;
  airBronchograms: boolean;
}

function drawConsolidation(rng: Rng, canvas: Canvas, lobe: Lobe): DrawnConsolidation | null {
  const { size, spacing, hu, lobeOf, tissueOf } = canvas;
  const code = lobeCode(lobe);
  const candidates: number[] = [];
  for (let p = 0; p < size * size; p++) if (lobeOf[p] === code && isParenchyma(tissueOf[p])) candidates.push(p);
  const minimumPixels = Math.max(12, 450 / (spacing * spacing));
  if (candidates.length < minimumPixels) return null;
  for (let attempt = 0; attempt < 12; attempt++) {
    const seed = candidates[Math.floor(rng.next() * candidates.length)];
    const si = seed % size;
    const sj = (seed - si) / size;
    const blobs: Circle[] = [];
    const blobCount = rng.intBetween(3, 6);
    for (let k = 0; k < blobCount; k++) {
      blobs.push({
        x: si + 0.5 + rng.uniform(-12, 12) / spacing,
        y: sj + 0.5 + rng.uniform(-12, 12) / spacing,
        r: rng.uniform(6, 16) / spacing,
      });
    }
    const inside = (i: number, j: number): boolean => blobs.some((c) => (i + 0.5 - c.x) ** 2 + (j + 0.5 - c.y) ** 2 <= c.r * c.r);
    const pixels = candidates.filter((p) => inside(p % size, Math.floor(p / size)));
    if (pixels.length < minimumPixels) continue;
    const box = new RegionBox();
    const base = rng.uniform(22, 42);
    for (const p of pixels) {
      const i = p % size;
      const j = (p - i) / size;
      hu[p] = base + rng.uniform(-8, 8);
      tissueOf[p] = tissue.lesion;
      box.add(i, j);
    }
    // air bronchograms: air-filled bronchi running through the opacity
    const airBronchograms = rng.chance(0.6);
    if (airBronchograms) {
      for (let line = 0; line < 2; line++) {
        const angle = rng.uniform(0, Math.PI);
        const half = rng.uniform(8, 14) / spacing;
        for (let t = -half; t <= half; t += 0.5) {
          const i = Math.floor(si + 0.5 + t * Math.cos(angle));
          const j = Math.floor(sj + 0.5 + t * Math.sin(angle));
          if (i < 0 || j < 0 || i >= size || j >= size) continue;
          const p = j * size + i;
          if (tissueOf[p] === tissue.lesion) hu[p] = -880;
        }
      }
    }
    const region = box.region();
    if (region !== null) return { region, airBronchograms };
  }
  return null;
}

// ---- nodule and mass: solid soft tissue with partial-volume edges ---------------------------

/** Signed distance in pixels from the union of circles (negative inside). */
function shapeDistance(circles: readonly Circle[], px: number, py: number): number {
  let best = Number.POSITIVE_INFINITY;
  for (const c of circles) best = Math.min(best, Math.hypot(px - c.x, py - c.y) - c.r);
  return best;
}

/** A lobulated mass whose largest diameter is `diameter` pixels (main body plus lobules along one axis). */
function massShape(rng: Rng, x: number, y: number, diameter: number): Circle[] {
  const angle = rng.uniform(0, Math.PI);
  const ux = Math.cos(angle);
  const uy = Math.sin(angle);
  const d = diameter;
  return [
    { x, y, r: d * rng.uniform(0.36, 0.42) },
    { x: x + ux * 0.3 * d, y: y + uy * 0.3 * d, r: 0.2 * d },
    { x: x - ux * 0.3 * d, y: y - uy * 0.3 * d, r: 0.2 * d },
    { x: x - uy * 0.25 * d, y: y + ux * 0.25 * d, r: 0.15 * d },
  ];
}

/** Pixels (2 px) around a lesion must stay lung so the lesion stands out on all sides. */
const lesionMarginPx = 2;

function fits(canvas: Canvas, circles: readonly Circle[], code: number): boolean {
  const { size, lobeOf, tissueOf } = canvas;
  const cx = circles[0].x;
  const cy = circles[0].y;
  const extent = Math.max(...circles.map((c) => Math.hypot(c.x - cx, c.y - cy) + c.r)) + lesionMarginPx + 1;
  const i0 = Math.floor(cx - extent);
  const j0 = Math.floor(cy - extent);
  const i1 = Math.ceil(cx + extent);
  const j1 = Math.ceil(cy + extent);
  if (i0 < 0 || j0 < 0 || i1 >= size || j1 >= size) return false;
  for (let j = j0; j <= j1; j++) {
    for (let i = i0; i <= i1; i++) {
      const distance = shapeDistance(circles, i + 0.5, j + 0.5);
      if (distance >= lesionMarginPx + 0.5) continue;
      const p = j * size + i;
      if (!isParenchyma(tissueOf[p])) return false;
      if (distance < 0.5 && lobeOf[p] !== code) return false;
    }
  }
  return true;
}

function paint(canvas: Canvas, circles: readonly Circle[], lesionHu: number): PixelRegion | null {
  const { size, hu, tissueOf } = canvas;
  const cx = circles[0].x;
  const cy = circles[0].y;
  const extent = Math.max(...circles.map((c) => Math.hypot(c.x - cx, c.y - cy) + c.r)) + 1;
  const box = new RegionBox();
  for (let j = Math.max(0, Math.floor(cy - extent)); j <= Math.min(size - 1, Math.ceil(cy + extent)); j++) {
    for (let i = Math.max(0, Math.floor(cx - extent)); i <= Math.min(size - 1, Math.ceil(cx + extent)); i++) {
      const coverage = Math.min(1, Math.max(0, 0.5 - shapeDistance(circles, i + 0.5, j + 0.5)));
      if (coverage <= 0) continue;
      const p = j * size + i;
      hu[p] = hu[p] * (1 - coverage) + lesionHu * coverage;
      tissueOf[p] = tissue.lesion;
      box.add(i, j);
    }
  }
  return box.region();
}

interface DrawnLesion {
  lobe: Lobe;
  sizeMm: number;
  region: PixelRegion;
}

/** Places a nodule or mass: the planned lobe and size first, then other free lobes, then smaller. */
function drawSolidLesion(
  rng: Rng,
  canvas: Canvas,
  kind: "nodule" | "mass",
  plannedLobe: Lobe,
  plannedSizeMm: number,
  otherLobes: readonly Lobe[],
): DrawnLesion | null {
  const { size, spacing, lobeOf, tissueOf } = canvas;
  const minimum = kind === "nodule" ? noduleSizeRange.min : massSizeRange.min;
  const sizes: number[] = [];
  for (let s = plannedSizeMm; s > minimum; s = Math.floor(s * 0.85)) sizes.push(s);
  sizes.push(minimum);
  const lobeCandidates = [plannedLobe, ...otherLobes].map((lobe) => {
    const code = lobeCode(lobe);
    const candidates: number[] = [];
    for (let p = 0; p < size * size; p++) if (lobeOf[p] === code && isParenchyma(tissueOf[p])) candidates.push(p);
    return { lobe, code, candidates };
  });
  for (const sizeMm of sizes) {
    const diameter = sizeMm / spacing;
    for (const { lobe, code, candidates } of lobeCandidates) {
      if (candidates.length === 0) continue;
      for (let attempt = 0; attempt < 30; attempt++) {
        const p = candidates[Math.floor(rng.next() * candidates.length)];
        const x = (p % size) + rng.next();
        const y = Math.floor(p / size) + rng.next();
        const circles = kind === "nodule" ? [{ x, y, r: diameter / 2 }] : massShape(rng, x, y, diameter);
        if (!fits(canvas, circles, code)) continue;
        const region = paint(canvas, circles, kind === "nodule" ? rng.uniform(30, 50) : rng.uniform(28, 45));
        if (region !== null) return { lobe, sizeMm, region };
      }
    }
  }
  return null;
}

// ---- all findings -----------------------------------------------------------------------------

function heartRegion(canvas: Canvas, anatomy: Anatomy): PixelRegion | null {
  const heart = anatomy.heart;
  if (heart === undefined) return null;
  const { size, spacing } = canvas;
  const toPx = (mm: number): number => mm / spacing + size / 2;
  const clampPx = (v: number): number => Math.min(size, Math.max(0, v));
  return {
    x0: clampPx(Math.floor(toPx(heart.cx - heart.a))),
    y0: clampPx(Math.floor(toPx(heart.cy - heart.b))),
    x1: clampPx(Math.ceil(toPx(heart.cx + heart.a))),
    y1: clampPx(Math.ceil(toPx(heart.cy + heart.b))),
  };
}

/**
 * Draws the planned findings (the lung-altering ones first, then lesions; `drawTexture` runs
 * in between so vessels skip air, fluid and emphysema) and returns what was drawn, in report order.
 */
export function drawFindings(
  rng: Rng,
  canvas: Canvas,
  anatomy: Anatomy,
  planned: readonly LabelledFinding[],
  drawTexture: () => void,
): SynthFinding[] {
  const drawn: SynthFinding[] = [];
  const ofType = (type: LabelledFinding["type"]): LabelledFinding | undefined => planned.find((f) => f.type === type);

  const effusion = ofType("effusion");
  if (effusion !== undefined) {
    const region = drawEffusion(rng, canvas, anatomy, effusion);
    if (region !== null) drawn.push({ ...effusion, region });
  }
  const pneumothorax = ofType("pneumothorax");
  if (pneumothorax !== undefined) {
    const region = drawPneumothorax(rng, canvas, anatomy, pneumothorax);
    if (region !== null) drawn.push({ ...pneumothorax, region });
  }
  const emphysema = ofType("emphysema");
  if (emphysema !== undefined) {
    const region = drawEmphysema(rng, canvas, emphysema);
    if (region !== null) drawn.push({ ...emphysema, region });
  }
  const cardiomegaly = ofType("cardiomegaly");
  if (cardiomegaly !== undefined) {
    const region = heartRegion(canvas, anatomy);
    if (region !== null) drawn.push({ ...cardiomegaly, region });
  }
  drawTexture();

  const usedLobes = new Set<Lobe>();
  const freeLobes = (): Lobe[] => anatomy.visibleLobes.filter((l) => !usedLobes.has(l));
  const plannedLobes = planned.flatMap((f) => (f.lobe === undefined ? [] : [f.lobe]));

  const consolidation = ofType("consolidation");
  if (consolidation?.lobe !== undefined) {
    const order = [consolidation.lobe, ...freeLobes().filter((l) => !plannedLobes.includes(l))];
    for (const lobe of order) {
      const result = drawConsolidation(rng, canvas, lobe);
      if (result === null) continue;
      usedLobes.add(lobe);
      drawn.push({
        type: "consolidation",
        side: lobeSide(lobe),
        lobe,
        ...(result.airBronchograms ? { airBronchograms: true } : {}),
        region: result.region,
      });
      break;
    }
  }
  for (const kind of ["mass", "nodule"] as const) {
    const lesion = ofType(kind);
    if (lesion?.lobe === undefined || lesion.sizeMm === undefined) continue;
    const fallback = freeLobes().filter((l) => !plannedLobes.includes(l));
    const result = drawSolidLesion(rng, canvas, kind, lesion.lobe, lesion.sizeMm, fallback);
    if (result === null) continue;
    usedLobes.add(result.lobe);
    drawn.push({ type: kind, side: lobeSide(result.lobe), lobe: result.lobe, sizeMm: result.sizeMm, region: result.region });
  }
  return drawn.sort(compareFindings);
}
