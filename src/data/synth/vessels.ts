// Lung texture: pulmonary vessels cut across (dots) and along (branches running out from
// the hilum), thicker near the hilum, blurred by partial volume at coarse pixel spacing.
// Only parenchyma gets vessels: pneumothorax air, fluid and emphysematous holes stay bare.

import type { Rng } from "../../runtime/index.js";
import { type Anatomy, type Canvas, tissue } from "./anatomy.js";

/** Lung plus vessel stays at or below this, so lesions (soft tissue) always stand out. */
const vesselCeiling = -560;

/** Raises `vesselness` to a blurred dot (max, not sum, so overlapping dots along a branch do not pile up). */
function addDot(canvas: Canvas, vesselness: Float32Array, xPx: number, yPx: number, radiusMm: number, strength: number): void {
  const { size, spacing, tissueOf } = canvas;
  const sigma = Math.max(0.55, radiusMm / spacing);
  // partial volume: a vessel thinner than a pixel raises that pixel less
  const amplitude = strength * Math.min(1, ((radiusMm / spacing) * (radiusMm / spacing)) / (sigma * sigma) + 0.25);
  const reach = Math.ceil(2.5 * sigma);
  const ci = Math.floor(xPx);
  const cj = Math.floor(yPx);
  for (let j = Math.max(0, cj - reach); j <= Math.min(size - 1, cj + reach); j++) {
    for (let i = Math.max(0, ci - reach); i <= Math.min(size - 1, ci + reach); i++) {
      const p = j * size + i;
      if (tissueOf[p] !== tissue.lung) continue;
      const dx = i + 0.5 - xPx;
      const dy = j + 0.5 - yPx;
      vesselness[p] = Math.max(vesselness[p], amplitude * Math.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma)));
    }
  }
}

export function drawVessels(rng: Rng, canvas: Canvas, anatomy: Anatomy): void {
  const { size, spacing, hu, tissueOf } = canvas;
  const vesselness = new Float32Array(size * size);
  const lungPixels: number[] = [];
  for (let p = 0; p < size * size; p++) if (tissueOf[p] === tissue.lung) lungPixels.push(p);
  if (lungPixels.length === 0) return;
  const toPx = (mm: number): number => mm / spacing + size / 2;
  const { thorax, midlineX } = anatomy;

  // Scattered cross-sections: about one per 120 mm² of lung.
  const lungAreaMm2 = lungPixels.length * spacing * spacing;
  const dots = Math.round(lungAreaMm2 / 120);
  for (let k = 0; k < dots; k++) {
    const p = lungPixels[Math.floor(rng.next() * lungPixels.length)];
    const i = p % size;
    const j = (p - i) / size;
    const xMm = (i + 0.5 - size / 2) * spacing;
    const nearHilum = 1 - Math.min(1, Math.abs(xMm - midlineX) / thorax.a);
    addDot(canvas, vesselness, i + rng.next(), j + rng.next(), 0.6 + 1.8 * nearHilum * rng.next(), rng.uniform(150, 300));
  }

  // Branches: from each hilum outwards, tapering.
  for (const side of [-1, 1]) {
    const branches = rng.intBetween(6, 9);
    for (let b = 0; b < branches; b++) {
      let x = midlineX + side * rng.uniform(22, 40);
      let y = thorax.cy + rng.uniform(-0.3, 0.3) * thorax.b;
      const angle = (side < 0 ? Math.PI : 0) + rng.uniform(-1.1, 1.1);
      const length = rng.uniform(25, 70);
      let radius = rng.uniform(1.6, 2.6);
      const step = Math.min(spacing * 0.7, 1.5);
      for (let t = 0; t < length; t += step) {
        addDot(canvas, vesselness, toPx(x), toPx(y), radius, 240);
        x += Math.cos(angle) * step;
        y += Math.sin(angle) * step;
        radius = Math.max(0.5, radius - step * 0.04);
      }
    }
  }
  for (const p of lungPixels) hu[p] = Math.min(vesselCeiling, hu[p] + vesselness[p]);
}
