// The normal chest at one axial level: body outline, chest wall, ribs, sternum, spine,
// mediastinum (trachea, great vessels, heart, aorta), lungs split into lobes, and the table.
//
// Coordinates: millimetres from the image centre, X to the image's right (the patient's
// LEFT: radiological convention, patient supine, viewed from the feet), Y down the image
// (posterior). Pixel (i, j) has its centre at X = (i + 0.5 - size/2) × spacing.

import type { Rng } from "../../runtime/index.js";
import type { Lobe, SliceLevel } from "./types.js";
import { lobes } from "./types.js";

/** What a pixel holds, as far as findings care. */
export const tissue = {
  other: 0,
  lung: 1,
  emphysema: 2,
  fluid: 3,
  pneumothorax: 4,
  lesion: 5,
} as const;

/** Field of view in mm; the pixel spacing is this over the image size. */
export const fieldOfViewMm = 360;

export interface Ellipse {
  cx: number;
  cy: number;
  /** half width (X) */
  a: number;
  /** half height (Y) */
  b: number;
}

/** The picture being drawn, plus what each pixel is, for placing findings. */
export interface Canvas {
  size: number;
  spacing: number;
  /** HU before noise, row-major size×size */
  hu: Float32Array;
  /** 0 outside the lungs, else 1 + index in `lobes` (where the pixel was lung before any finding) */
  lobeOf: Uint8Array;
  /** a `tissue` value per pixel */
  tissueOf: Uint8Array;
}

export interface Anatomy {
  level: SliceLevel;
  /** the pleural cavity (inner chest wall) */
  thorax: Ellipse;
  /** absent at the upper level */
  heart?: Ellipse;
  /** X of the mediastinum's midline, mm */
  midlineX: number;
  /** lobes present on this slice */
  visibleLobes: readonly Lobe[];
}

/** Lobes that the slice at each level cuts through. */
export const lobesAtLevel: Readonly<Record<SliceLevel, readonly Lobe[]>> = {
  upper: ["RUL", "LUL"],
  mid: ["RML", "RLL", "lingula", "LLL"],
  lower: ["RLL", "LLL"],
};

const hounsfield = {
  air: -1000,
  fat: -95,
  muscle: 52,
  blood: 44,
  liver: 58,
  spleen: 48,
  bone: 750,
  marrow: 260,
  csf: 8,
  table: 180,
};

function inEllipse(x: number, y: number, e: Ellipse): boolean {
  const u = (x - e.cx) / e.a;
  const v = (y - e.cy) / e.b;
  return u * u + v * v <= 1;
}

/** Normalised radius of (x, y) in the ellipse: < 1 inside. */
export function ellipseRadius(x: number, y: number, ellipse: Ellipse): number {
  const u = (x - ellipse.cx) / ellipse.a;
  const v = (y - ellipse.cy) / ellipse.b;
  return Math.sqrt(u * u + v * v);
}

function inCircle(x: number, y: number, cx: number, cy: number, r: number): boolean {
  const dx = x - cx;
  const dy = y - cy;
  return dx * dx + dy * dy <= r * r;
}

/** Which side of the line a→b the point lies on (sign of the cross product). */
function sideOfLine(x: number, y: number, ax: number, ay: number, bx: number, by: number): number {
  return Math.sign((bx - ax) * (y - ay) - (by - ay) * (x - ax));
}

const lobeCode = (lobe: Lobe): number => lobes.indexOf(lobe) + 1;

/**
 * Draws a normal chest. `cardiothoracicRatio` sets the heart's width over the inner thorax
 * width at the mid and lower levels (ignored at the upper level, where there is no heart).
 */
export function drawAnatomy(
  rng: Rng,
  size: number,
  level: SliceLevel,
  cardiothoracicRatio: number,
): { canvas: Canvas; anatomy: Anatomy } {
  // 10 significant digits, so the DICOM decimal string (16 characters at most) carries it exactly
  const spacing = Number((fieldOfViewMm / size).toPrecision(10));
  const hu = new Float32Array(size * size);
  const lobeOf = new Uint8Array(size * size);
  const tissueOf = new Uint8Array(size * size);

  // Body and chest wall: a superellipse outline, subcutaneous fat, then muscle and ribs.
  const bodyA = rng.uniform(146, 170);
  const bodyB = rng.uniform(98, 120);
  const bodyCy = rng.uniform(-14, -2);
  const bodyPower = rng.uniform(2.0, 2.5);
  const fat = rng.uniform(6, 20);
  const wall = rng.uniform(10, 15);
  const levelScale = level === "upper" ? { a: 0.86, b: 0.92 } : level === "lower" ? { a: 0.97, b: 0.97 } : { a: 1, b: 1 };
  const thorax: Ellipse = {
    cx: rng.uniform(-4, 4),
    cy: bodyCy + rng.uniform(3, 7),
    a: (bodyA - fat - wall) * levelScale.a,
    b: (bodyB - fat - wall - 6) * levelScale.b,
  };
  const muscleA = bodyA - fat;
  const muscleB = bodyB - fat;
  const tableY = bodyCy + bodyB + rng.uniform(4, 12);

  // Spine: vertebral body half inside the thorax outline, canal and spinous process behind.
  const vertebraR = rng.uniform(14, 19);
  const vertebraY = thorax.cy + thorax.b + rng.uniform(-4, 3);
  const canalY = vertebraY + vertebraR + 8;
  const midlineX = thorax.cx + rng.uniform(0, 6);

  // Mediastinum: a midline band of fat holding the great vessels, airway and oesophagus.
  const bandHalfWidth = level === "upper" ? rng.uniform(30, 37) : rng.uniform(15, 21);
  const oesophagus = { x: midlineX + rng.uniform(0, 4), y: vertebraY - vertebraR - 7, r: 6 };
  const trachea = { x: midlineX - rng.uniform(2, 6), y: thorax.cy - thorax.b * rng.uniform(0.0, 0.12), r: rng.uniform(8, 10) };
  const svc = { x: midlineX - rng.uniform(19, 24), y: thorax.cy - thorax.b * 0.3, r: rng.uniform(7, 10) };
  const arch = {
    x: midlineX + rng.uniform(9, 14),
    y: thorax.cy - thorax.b * rng.uniform(0.15, 0.25),
    long: rng.uniform(26, 33),
    short: rng.uniform(10, 13),
  };
  const archAngle = (rng.uniform(50, 65) * Math.PI) / 180;
  const aorta = { x: midlineX + rng.uniform(15, 22), y: vertebraY - vertebraR - rng.uniform(6, 11), r: rng.uniform(10, 13) };

  let heart: Ellipse | undefined;
  if (level !== "upper") {
    heart = {
      cx: thorax.cx + thorax.a * rng.uniform(0.04, 0.1),
      // at the lower level the heart sits higher than the diaphragmatic domes (no row has both)
      cy: thorax.cy - thorax.b * (level === "mid" ? rng.uniform(0.18, 0.26) : rng.uniform(0.31, 0.34)),
      a: cardiothoracicRatio * thorax.a,
      b: thorax.b * (level === "mid" ? rng.uniform(0.44, 0.52) : rng.uniform(0.36, 0.4)),
    };
  }
  const pericardialFat = 3;

  // Lower level: the liver dome on the right and the splenic/gastric dome on the left rise into the lungs.
  const liverDome: Ellipse = {
    cx: thorax.cx - thorax.a * 0.6,
    cy: thorax.cy + thorax.b * 0.36,
    a: thorax.a * rng.uniform(0.2, 0.24),
    b: thorax.b * rng.uniform(0.2, 0.24),
  };
  const leftDome: Ellipse = {
    cx: thorax.cx + thorax.a * 0.64,
    cy: thorax.cy + thorax.b * 0.36,
    a: thorax.a * rng.uniform(0.15, 0.2),
    b: thorax.b * rng.uniform(0.18, 0.22),
  };

  // Mid level: the major fissures split the middle lobe / lingula (front) from the lower lobes (back).
  const fissureFront = thorax.cy - thorax.b * rng.uniform(0.05, 0.25);
  const fissureBack = thorax.cy + thorax.b * rng.uniform(0.1, 0.3);
  const rightFissure = { ax: thorax.cx - thorax.a, ay: fissureFront, bx: midlineX - bandHalfWidth, by: fissureBack };
  const leftFissure = {
    ax: thorax.cx + thorax.a,
    ay: fissureFront + rng.uniform(-6, 6),
    bx: midlineX + bandHalfWidth,
    by: fissureBack + rng.uniform(-6, 6),
  };

  // which side of each fissure is the front (middle lobe / lingula)
  const codes = {
    RUL: lobeCode("RUL"),
    RML: lobeCode("RML"),
    RLL: lobeCode("RLL"),
    LUL: lobeCode("LUL"),
    lingula: lobeCode("lingula"),
    LLL: lobeCode("LLL"),
  };
  const rightFront = sideOfLine(
    thorax.cx,
    thorax.cy - thorax.b,
    rightFissure.ax,
    rightFissure.ay,
    rightFissure.bx,
    rightFissure.by,
  );
  const leftFront = sideOfLine(thorax.cx, thorax.cy - thorax.b, leftFissure.ax, leftFissure.ay, leftFissure.bx, leftFissure.by);

  // Ribs: oval cross-sections in the chest wall, none behind the sternum or over the spine.
  const ribs: { x: number; y: number; r: number }[] = [];
  const ribsPerSide = rng.intBetween(7, 10);
  for (let side = -1; side <= 1; side += 2) {
    for (let k = 0; k < ribsPerSide; k++) {
      // angle from anterior (-90°) round the side to posterior (+90°), avoiding both midlines
      const t = (k + 0.5 + rng.uniform(-0.25, 0.25)) / ribsPerSide;
      const theta = -Math.PI / 2 + 0.38 + t * (Math.PI - 0.38 - 0.5);
      const x = thorax.cx + side * (thorax.a + wall * 0.5) * Math.cos(theta);
      const y = thorax.cy + (thorax.b + wall * 0.5) * Math.sin(theta);
      ribs.push({ x, y, r: rng.uniform(3.5, 5) });
    }
  }
  const sternum = { x: thorax.cx, y: thorax.cy - thorax.b - wall * 0.5, a: rng.uniform(9, 13), b: rng.uniform(4, 6) };
  const lungGradient = rng.uniform(20, 40);
  const boneValue = hounsfield.bone + rng.uniform(-120, 120);

  const sternumShape: Ellipse = { cx: thorax.cx, cy: sternum.y, a: sternum.a, b: sternum.b };
  /** Half width of a superellipse at row offset dy (one power per row, not per pixel). */
  const superHalfWidth = (a: number, b: number, dy: number): number => {
    const v = Math.abs(dy) / b;
    return v >= 1 ? -1 : a * (1 - v ** bodyPower) ** (1 / bodyPower);
  };
  const lungCode = tissue.lung;

  for (let j = 0; j < size; j++) {
    const y = (j + 0.5 - size / 2) * spacing;
    const bodyHalf = superHalfWidth(bodyA, bodyB, y - bodyCy);
    const muscleHalf = superHalfWidth(muscleA, muscleB, y - bodyCy);
    const tableTopAt = (x: number): number => tableY - 0.0012 * x * x;
    for (let i = 0; i < size; i++) {
      const x = (i + 0.5 - size / 2) * spacing;
      const p = j * size + i;
      if (Math.abs(x) > bodyHalf) {
        const tableTop = tableTopAt(x);
        hu[p] = y >= tableTop && y <= tableTop + 6 && Math.abs(x) < 165 ? hounsfield.table : hounsfield.air;
        continue;
      }
      let value = Math.abs(x) <= muscleHalf ? hounsfield.muscle : hounsfield.fat;
      // the vertebra and its posterior elements
      if (inCircle(x, y, midlineX, vertebraY, vertebraR)) {
        value = inCircle(x, y, midlineX, vertebraY, vertebraR - 2.5) ? hounsfield.marrow : boneValue;
      } else if (inCircle(x, y, midlineX, canalY, 7)) {
        value = hounsfield.csf;
      } else if (inCircle(x, y, midlineX, canalY, 11) && y > canalY - 4) {
        value = boneValue;
      } else if (Math.abs(x - midlineX) < 3.5 && y > canalY && y < canalY + 28) {
        value = boneValue;
      }
      if (inEllipse(x, y, sternumShape)) value = hounsfield.marrow + 150;

      if (inEllipse(x, y, thorax) && !inCircle(x, y, midlineX, vertebraY, vertebraR)) {
        value = mediastinumOrLung(x, y);
        if (value === lungMarker) {
          hu[p] = -850 + lungGradient * Math.max(-1, Math.min(1, (y - thorax.cy) / thorax.b));
          lobeOf[p] = lobeAt(x, y);
          tissueOf[p] = lungCode;
          continue;
        }
      }
      hu[p] = value;
    }
  }

  // Ribs, drawn over their own small boxes; never over lung.
  for (const rib of ribs) {
    const toPx = (mm: number): number => mm / spacing + size / 2;
    for (let j = Math.max(0, Math.floor(toPx(rib.y - rib.r))); j <= Math.min(size - 1, Math.ceil(toPx(rib.y + rib.r))); j++) {
      for (let i = Math.max(0, Math.floor(toPx(rib.x - rib.r))); i <= Math.min(size - 1, Math.ceil(toPx(rib.x + rib.r))); i++) {
        const p = j * size + i;
        if (tissueOf[p] !== 0) continue;
        if (inCircle((i + 0.5 - size / 2) * spacing, (j + 0.5 - size / 2) * spacing, rib.x, rib.y, rib.r)) hu[p] = boneValue;
      }
    }
  }

  /** The lobe code (1 + index in `lobes`) of a lung point. */
  function lobeAt(x: number, y: number): number {
    const right = x < midlineX;
    if (level === "upper") return right ? codes.RUL : codes.LUL;
    if (level === "lower") return right ? codes.RLL : codes.LLL;
    if (right)
      return sideOfLine(x, y, rightFissure.ax, rightFissure.ay, rightFissure.bx, rightFissure.by) === rightFront
        ? codes.RML
        : codes.RLL;
    return sideOfLine(x, y, leftFissure.ax, leftFissure.ay, leftFissure.bx, leftFissure.by) === leftFront
      ? codes.lingula
      : codes.LLL;
  }

  function mediastinumOrLung(x: number, y: number): number {
    // paravertebral soft tissue beside the vertebral body
    if (inCircle(x, y, midlineX, vertebraY, vertebraR + 7) || (y > vertebraY && Math.abs(x - midlineX) < vertebraR + 5)) {
      return hounsfield.muscle - 10;
    }
    if (heart !== undefined && inEllipse(x, y, heart)) {
      return ellipseRadius(x, y, heart) > 1 - pericardialFat / heart.a ? hounsfield.fat + 15 : hounsfield.blood;
    }
    if (level === "upper") {
      if (inCircle(x, y, trachea.x, trachea.y, trachea.r)) {
        return inCircle(x, y, trachea.x, trachea.y, trachea.r - 2) ? hounsfield.air : hounsfield.muscle;
      }
      if (inCircle(x, y, svc.x, svc.y, svc.r)) return hounsfield.blood - 4;
      const dx = x - arch.x;
      const dy = y - arch.y;
      const u = (dx * Math.cos(archAngle) + dy * Math.sin(archAngle)) / arch.long;
      const v = (-dx * Math.sin(archAngle) + dy * Math.cos(archAngle)) / arch.short;
      if (u * u + v * v <= 1) return hounsfield.blood;
    } else {
      if (inCircle(x, y, aorta.x, aorta.y, aorta.r)) return hounsfield.blood;
      if (level === "lower" && (inEllipse(x, y, liverDome) || inEllipse(x, y, leftDome))) {
        return inEllipse(x, y, liverDome) ? hounsfield.liver : hounsfield.spleen;
      }
    }
    if (inCircle(x, y, oesophagus.x, oesophagus.y, oesophagus.r)) return hounsfield.muscle - 12;
    // at the heart's levels the band runs behind the heart only, with a thin strip in front
    const bandHere = heart === undefined || y > heart.cy ? bandHalfWidth : 6;
    if (Math.abs(x - midlineX) < bandHere) return hounsfield.fat;
    return lungMarker;
  }

  // The fissures at the mid level: a faint line between the lobes.
  if (level === "mid") {
    for (let p = 0; p < size * size; p++) {
      if (lobeOf[p] === 0) continue;
      const i = p % size;
      const j = (p - i) / size;
      const here = lobeOf[p];
      const rightNeighbour = i + 1 < size ? lobeOf[p + 1] : 0;
      const below = j + 1 < size ? lobeOf[p + size] : 0;
      if ((rightNeighbour !== 0 && rightNeighbour !== here) || (below !== 0 && below !== here)) hu[p] = -700;
    }
  }

  return {
    canvas: { size, spacing, hu, lobeOf, tissueOf },
    anatomy: { level, thorax, ...(heart === undefined ? {} : { heart }), midlineX, visibleLobes: lobesAtLevel[level] },
  };
}

const lungMarker = Number.NEGATIVE_INFINITY;
