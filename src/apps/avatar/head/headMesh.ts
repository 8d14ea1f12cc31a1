// The procedural head: a stylised human head and neck built from parametric surfaces, with
// eyes, eyelids, brows, teeth, tongue, a closed dark mouth bag, ears and a hair cap, plus one
// displacement field per morph target (visemes and ARKit expression shapes).
//
// Frame: glTF, metres, Y up, the face looks down +Z, origin at the head centre (half-way
// between the top of the skull and the chin, on the mid-sagittal plane, roughly level with
// the ear canals in depth). The character's left is +X.
//
// Every morph is written as a set of face controls (jaw angle, lip raise, spread, ...) and
// one deformation function applies controls to any vertex from its rest position and a tag
// saying what it belongs to, so coincident vertices of different parts move together.

import { EXPRESSION_SHAPES, type ExpressionShape, VISEMES, type Viseme, visemeMorphName } from "../faceRig.js";

type Vec3 = [number, number, number];
type Rgb = readonly [number, number, number];

// ---------------------------------------------------------------------------------------
// Dimensions (metres). Head 0.22 m from chin to crown.

const SKULL_CENTER_Y = 0.01;
const SKULL_RADIUS_X = 0.077;
const SKULL_RADIUS_TOP = 0.1; // crown at y = 0.11
const SKULL_RADIUS_BOTTOM = 0.125; // under-jaw pole at y = -0.115, hidden in the neck
const SKULL_RADIUS_NAPE = 0.08; // the back of the skull ends at y = -0.07, into the neck
const SKULL_RADIUS_FRONT = 0.078;
const SKULL_RADIUS_BACK = 0.098;
/** How much flatter than an ellipse the face is across (0 = ellipse). */
const FACE_FLATNESS = 0.25;

const MOUTH_Y = -0.066;
/** Half-width of the mouth slit target; the real corner is the nearest grid column. */
const MOUTH_HALF_WIDTH = 0.0225;

const EYE_X = 0.0315;
const EYE_Y = 0.012;
const EYE_RADIUS = 0.0122;
const UPPER_LID_RADIUS = EYE_RADIUS + 0.0017;
const LOWER_LID_RADIUS = EYE_RADIUS + 0.0012;
/** Lid shells end this far from the eye's equator (rad), hidden in the socket. */
const LID_END_ANGLE = 1.45;
/** Half-width of the palpebral fissure, as an azimuth on the eyeball (rad). */
const CANTHUS_ANGLE = 1.15;
const LID_HALF_SPAN = 1.35;

/** Temporomandibular joint: the jaw rotates about the X axis through this point. */
const JAW_PIVOT: Vec3 = [0, 0.0, -0.005];

// Grid resolution of the skin surface: columns around, rows from crown to under-jaw pole.
const SKIN_COLUMNS = 58;
const SKIN_ROWS = 62;
/** Columns are packed this much tighter at the face than at the back (slope of the warp at 0). */
const FACE_COLUMN_DENSITY = 0.42;

// ---------------------------------------------------------------------------------------
// Colours (linear RGB, as glTF COLOR_0 expects).

const SKIN: Rgb = [0.62, 0.36, 0.25];
const SKIN_BLUSH: Rgb = [0.66, 0.3, 0.22];
const LIP: Rgb = [0.5, 0.16, 0.13];
const HAIR: Rgb = [0.045, 0.028, 0.018];
const BROW: Rgb = [0.07, 0.045, 0.03];
const LASH: Rgb = [0.02, 0.015, 0.012];
const EYE_WHITE: Rgb = [0.8, 0.76, 0.72];
const IRIS: Rgb = [0.12, 0.06, 0.025];
const IRIS_RIM: Rgb = [0.035, 0.02, 0.01];
const PUPIL: Rgb = [0.005, 0.005, 0.005];
const TOOTH: Rgb = [0.78, 0.74, 0.64];
const GUM: Rgb = [0.55, 0.17, 0.16];
const TONGUE: Rgb = [0.45, 0.12, 0.11];
const MOUTH_DARK: Rgb = [0.06, 0.012, 0.012];
const NOSTRIL: Rgb = [0.22, 0.08, 0.06];

// ---------------------------------------------------------------------------------------
// Small maths.

const clamp01 = (t: number): number => Math.max(0, Math.min(1, t));
const lerp = (a: number, b: number, t: number): number => a + (b - a) * t;
/** Hermite step from 0 at `from` to 1 at `to` (either order). */
const smoothstep = (from: number, to: number, x: number): number => {
  const t = clamp01((x - from) / (to - from));
  return t * t * (3 - 2 * t);
};
/** Compact smooth bump: 1 at the centre, 0 outside the ellipse of radii (sx, sy), C2. */
const bump = (dx: number, dy: number, sx: number, sy: number): number => {
  const r2 = (dx / sx) ** 2 + (dy / sy) ** 2;
  return r2 >= 1 ? 0 : (1 - r2) ** 3;
};
/** Flat-topped mask: 1 inside `inner` (fraction of the ellipse radius), 0 outside the ellipse. */
const plateau = (dx: number, dy: number, sx: number, sy: number, inner: number): number =>
  1 - smoothstep(inner, 1, Math.hypot(dx / sx, dy / sy));
const mixRgb = (a: Rgb, b: Rgb, t: number): Rgb => [lerp(a[0], b[0], t), lerp(a[1], b[1], t), lerp(a[2], b[2], t)];
const sub = (a: Vec3, b: Vec3): Vec3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const add = (a: Vec3, b: Vec3): Vec3 => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
const scale = (a: Vec3, s: number): Vec3 => [a[0] * s, a[1] * s, a[2] * s];
const length = (a: Vec3): number => Math.hypot(a[0], a[1], a[2]);
const mixVec = (a: Vec3, b: Vec3, t: number): Vec3 => [lerp(a[0], b[0], t), lerp(a[1], b[1], t), lerp(a[2], b[2], t)];

/** Rotate `p` about the X axis through `pivot` by `angle` (positive: chin goes down and back). */
function rotateAboutX(p: Vec3, pivot: Vec3, angle: number): Vec3 {
  const y = p[1] - pivot[1];
  const z = p[2] - pivot[2];
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  return [p[0], pivot[1] + y * c - z * s, pivot[2] + y * s + z * c];
}

// ---------------------------------------------------------------------------------------
// Face controls: the vocabulary every morph target is written in.

type Side = "left" | "right";

interface FaceControls {
  /** Jaw rotation (rad) about the TMJ pivot. */
  jaw: number;
  /** Extra lift of the upper lip / drop of the lower lip near the mouth line (m). */
  upperLipRaise: number;
  lowerLipDrop: number;
  /** Lateral move of each mouth corner (m); negative narrows the mouth. */
  spread: number;
  /** Forward push of both lips (m). */
  protrude: number;
  /** Lips pressed together and flattened, 0..1. */
  press: number;
  /** Lower lip rolled up and back under the upper teeth (FF), 0..1. */
  lowerLipTuck: number;
  /** Tongue tip forward between the teeth (TH), 0..1. */
  tongueOut: number;
  smile: Record<Side, number>;
  frown: Record<Side, number>;
  cheekPuff: number;
  cheekSquint: Record<Side, number>;
  sneer: Record<Side, number>;
  browInnerUp: number;
  browDown: Record<Side, number>;
  browOuterUp: Record<Side, number>;
  blink: Record<Side, number>;
  eyeWide: Record<Side, number>;
  eyeSquint: Record<Side, number>;
}

type ControlPatch = Partial<
  Omit<FaceControls, "smile" | "frown" | "cheekSquint" | "sneer" | "browDown" | "browOuterUp" | "blink" | "eyeWide" | "eyeSquint">
> & {
  [K in "smile" | "frown" | "cheekSquint" | "sneer" | "browDown" | "browOuterUp" | "blink" | "eyeWide" | "eyeSquint"]?: Partial<
    Record<Side, number>
  >;
};

function controls(patch: ControlPatch): FaceControls {
  const sides = (v: Partial<Record<Side, number>> | undefined): Record<Side, number> => ({
    left: v?.left ?? 0,
    right: v?.right ?? 0,
  });
  return {
    jaw: patch.jaw ?? 0,
    upperLipRaise: patch.upperLipRaise ?? 0,
    lowerLipDrop: patch.lowerLipDrop ?? 0,
    spread: patch.spread ?? 0,
    protrude: patch.protrude ?? 0,
    press: patch.press ?? 0,
    lowerLipTuck: patch.lowerLipTuck ?? 0,
    tongueOut: patch.tongueOut ?? 0,
    smile: sides(patch.smile),
    frown: sides(patch.frown),
    cheekPuff: patch.cheekPuff ?? 0,
    cheekSquint: sides(patch.cheekSquint),
    sneer: sides(patch.sneer),
    browInnerUp: patch.browInnerUp ?? 0,
    browDown: sides(patch.browDown),
    browOuterUp: sides(patch.browOuterUp),
    blink: sides(patch.blink),
    eyeWide: sides(patch.eyeWide),
    eyeSquint: sides(patch.eyeSquint),
  };
}

/** Each viseme as face controls; `sil` is the rest pose. */
const VISEME_CONTROLS: Record<Viseme, ControlPatch> = {
  sil: {},
  PP: { press: 1, protrude: 0.001 },
  FF: { jaw: 0.05, lowerLipTuck: 1, upperLipRaise: 0.0015 },
  TH: { jaw: 0.06, tongueOut: 1, upperLipRaise: 0.0015 },
  DD: { jaw: 0.09, spread: 0.002, upperLipRaise: 0.0008 },
  kk: { jaw: 0.11, spread: 0.001 },
  CH: { jaw: 0.04, protrude: 0.005, spread: -0.004, upperLipRaise: 0.0025, lowerLipDrop: 0.002 },
  SS: { jaw: 0.035, spread: 0.004, upperLipRaise: 0.0018, lowerLipDrop: 0.0025 },
  nn: { jaw: 0.075, upperLipRaise: 0.0005 },
  RR: { jaw: 0.075, spread: -0.004, protrude: 0.003 },
  aa: { jaw: 0.23, upperLipRaise: 0.003, lowerLipDrop: 0.001 },
  E: { jaw: 0.1, spread: 0.007, upperLipRaise: 0.0025, lowerLipDrop: 0.002 },
  I: { jaw: 0.07, spread: 0.009, upperLipRaise: 0.002 },
  O: { jaw: 0.16, spread: -0.008, protrude: 0.006 },
  U: { jaw: 0.07, spread: -0.012, protrude: 0.009 },
};

const EXPRESSION_CONTROLS: Record<ExpressionShape, ControlPatch> = {
  browInnerUp: { browInnerUp: 1 },
  browDownLeft: { browDown: { left: 1 } },
  browDownRight: { browDown: { right: 1 } },
  browOuterUpLeft: { browOuterUp: { left: 1 } },
  browOuterUpRight: { browOuterUp: { right: 1 } },
  eyeBlinkLeft: { blink: { left: 1 } },
  eyeBlinkRight: { blink: { right: 1 } },
  eyeWideLeft: { eyeWide: { left: 1 } },
  eyeWideRight: { eyeWide: { right: 1 } },
  eyeSquintLeft: { eyeSquint: { left: 1 } },
  eyeSquintRight: { eyeSquint: { right: 1 } },
  mouthSmileLeft: { smile: { left: 1 } },
  mouthSmileRight: { smile: { right: 1 } },
  mouthFrownLeft: { frown: { left: 1 } },
  mouthFrownRight: { frown: { right: 1 } },
  mouthPucker: { spread: -0.011, protrude: 0.009 },
  cheekPuff: { cheekPuff: 1 },
  cheekSquintLeft: { cheekSquint: { left: 1 } },
  cheekSquintRight: { cheekSquint: { right: 1 } },
  noseSneerLeft: { sneer: { left: 1 } },
  noseSneerRight: { sneer: { right: 1 } },
  jawOpen: { jaw: 0.3 },
};

/** Morph target names in the order the mesh carries them: visemes, then expression shapes. */
export const HEAD_MORPH_NAMES: readonly string[] = [...VISEMES.map(visemeMorphName), ...EXPRESSION_SHAPES];

const MORPH_CONTROLS: readonly FaceControls[] = [
  ...VISEMES.map((v) => controls(VISEME_CONTROLS[v])),
  ...EXPRESSION_SHAPES.map((s) => controls(EXPRESSION_CONTROLS[s])),
];

// ---------------------------------------------------------------------------------------
// Vertex tags: what each vertex belongs to, which decides how the controls move it.

/** Above or below the mouth line; the two copies of a lip-edge vertex differ only here. */
type MouthSide = "above" | "below";
/** +1 for the left eye (+X), -1 for the right. */
type EyeSign = 1 | -1;

type VertexTag =
  | { kind: "skin"; mouthSide: MouthSide }
  /** Mouth lining: moves with the lip-edge vertex it hangs from, keeping `follow` of its lip motion. */
  | { kind: "mouthBag"; mouthSide: MouthSide; edge: Vec3; follow: number }
  | { kind: "lid"; eye: EyeSign; upper: boolean; azimuth: number; along: number; radius: number }
  | { kind: "rigid" }
  | { kind: "lowerTeeth" }
  | { kind: "tongue" };

export type HeadMaterialName = "skin" | "eye" | "teeth" | "mouth" | "hair";

class PartBuilder {
  readonly positions: Vec3[] = [];
  readonly colors: Rgb[] = [];
  readonly tags: VertexTag[] = [];
  readonly indices: number[] = [];
  constructor(readonly material: HeadMaterialName) {}

  vertex(p: Vec3, color: Rgb, tag: VertexTag): number {
    this.positions.push(p);
    this.colors.push(color);
    this.tags.push(tag);
    return this.positions.length - 1;
  }

  /** Quads between two rows of vertex indices; `top`/`bottom` run left to right as seen from the visible side. */
  stitch(top: readonly number[], bottom: readonly number[], wrap: boolean, hidden?: (v: number) => boolean): void {
    const n = wrap ? top.length : top.length - 1;
    for (let j = 0; j < n; j++) {
      const j1 = (j + 1) % top.length;
      const [a, b, c, d] = [top[j], top[j1], bottom[j1], bottom[j]];
      if ([a, b, c, d].every((v) => hidden?.(v))) continue;
      if (a !== d && a !== c) this.indices.push(a, d, c);
      if (a !== c && a !== b && c !== b) this.indices.push(a, c, b);
    }
  }

  /** Triangle fan from a pole to a ring (ring left to right as seen from outside, pole on top). */
  fanTop(pole: number, ring: readonly number[]): void {
    for (let j = 0; j < ring.length; j++) this.indices.push(pole, ring[j], ring[(j + 1) % ring.length]);
  }

  fanBottom(pole: number, ring: readonly number[]): void {
    for (let j = 0; j < ring.length; j++) this.indices.push(ring[j], pole, ring[(j + 1) % ring.length]);
  }
}

// ---------------------------------------------------------------------------------------
// The skin surface: a deformed ellipsoid, parametrised by azimuth `theta` (0 = front,
// increasing towards +X) and polar angle `phi` (0 = crown, PI = under-jaw pole).

const skullY = (phi: number): number => {
  const c = Math.cos(phi);
  return SKULL_CENTER_Y + lerp(SKULL_RADIUS_BOTTOM, SKULL_RADIUS_TOP, smoothstep(-0.35, 0.35, c)) * c;
};

/** 0 at the sides and back, 1 on the face: gates every facial feature. */
const frontness = (z: number): number => smoothstep(0.015, 0.05, z);

function baseSkull(theta: number, phi: number): Vec3 {
  const s = Math.sin(phi);
  const c = Math.cos(phi);
  const ct = Math.cos(theta);
  // Behind the jaw the skull ends higher (the nape) than under the chin.
  const backBottom = SKULL_CENTER_Y + lerp(SKULL_RADIUS_NAPE, SKULL_RADIUS_TOP, smoothstep(-0.35, 0.35, c)) * c;
  const y = c >= 0 ? skullY(phi) : lerp(backBottom, skullY(phi), smoothstep(-0.6, 0.5, ct));
  // The face is flatter across than an ellipse; slopes match the back at the sides.
  const zShape = ct > 0 ? SKULL_RADIUS_FRONT * ct * (1 + FACE_FLATNESS * (1 - ct)) : SKULL_RADIUS_BACK * ct;
  // The jaw and chin are narrower than the cranium.
  const widthScale =
    1 - 0.08 * smoothstep(-0.005, -0.11, y) - 0.06 * smoothstep(-0.07, -0.115, y) * ct * ct + 0.03 * bump(0, y - 0.045, 1, 0.05);
  const x = SKULL_RADIUS_X * s * Math.sin(theta) * widthScale;
  let z = zShape * s;
  // The lower face is a block, not the bottom of an egg: pull it forward towards the chin.
  const faceWeight = smoothstep(0.1, 0.75, ct);
  z += faceWeight * 0.034 * smoothstep(0.0, -0.07, y) * (1 - smoothstep(-0.1, -0.122, y));
  return [x, y, z];
}

/** Nose: a ridge from the bridge to the tip, nostril wings, all added along +Z. */
function noseDepth(x: number, y: number): number {
  // Height profile along the ridge (m in front of the face), by y.
  const ridge =
    y > 0.012
      ? 0
      : y > -0.034
        ? lerp(0.004, 0.02, smoothstep(0.012, -0.034, y) ** 1.4)
        : 0.02 * (1 - smoothstep(-0.034, -0.047, y));
  const halfWidth = lerp(0.009, 0.013, smoothstep(0.0, -0.036, y));
  const across = 1 - (x / halfWidth) ** 2;
  const ridgeDepth = across > 0 ? ridge * across * smoothstep(0.014, 0.004, y) : 0;
  const tip = 0.005 * bump(x, y + 0.034, 0.011, 0.01);
  const wings = 0.008 * (bump(x - 0.0135, y + 0.039, 0.0085, 0.0085) + bump(x + 0.0135, y + 0.039, 0.0085, 0.0085));
  return ridgeDepth + tip + wings;
}

/** Facial relief added along +Z on the front of the head. */
function faceRelief(x: number, y: number): number {
  const ax = Math.abs(x);
  const brows = 0.006 * bump(ax - 0.03, y - 0.033, 0.038, 0.012) + 0.003 * bump(x, y - 0.027, 0.016, 0.014);
  const sockets = -0.006 * bump(ax - EYE_X, y - EYE_Y, 0.022, 0.017);
  const cheekbones = 0.007 * bump(ax - 0.043, y + 0.016, 0.026, 0.022);
  const muzzle = 0.0065 * bump(x, y - (MOUTH_Y + 0.004), 0.036, 0.034);
  const upperLip = 0.0065 * bump(x, y - (MOUTH_Y + 0.0045), 0.026, 0.0065);
  const lowerLip = 0.0072 * bump(x, y - (MOUTH_Y - 0.0058), 0.024, 0.008);
  const corners = -0.003 * bump(ax - 0.026, y - MOUTH_Y, 0.007, 0.007);
  const philtrum = -0.0012 * bump(x, y - (MOUTH_Y + 0.013), 0.004, 0.008);
  const labiomental = -0.002 * bump(x, y - (MOUTH_Y - 0.017), 0.02, 0.005);
  const chin = 0.019 * bump(x, y + 0.098, 0.03, 0.026);
  return brows + sockets + cheekbones + muzzle + upperLip + lowerLip + corners + philtrum + labiomental + chin + noseDepth(x, y);
}

const EYE_CENTERS: Record<Side, Vec3> = { left: [EYE_X, EYE_Y, 0.0585], right: [-EYE_X, EYE_Y, 0.0585] };

/** Pull the skin of the eye socket in behind the eyelid shells, so only lids and eye show there. */
function socketPull(p: Vec3): Vec3 {
  let out = p;
  for (const side of ["left", "right"] as const) {
    const c = EYE_CENTERS[side];
    const q = sub(out, c);
    const weight =
      (1 - smoothstep(0.6, 1.0, Math.hypot(q[0] / (EYE_RADIUS * 1.6), q[1] / (EYE_RADIUS * 1.45)))) *
      smoothstep(-0.004, 0.004, q[2]);
    if (weight <= 0) continue;
    const inside = add(c, scale(q, (EYE_RADIUS - 0.0015) / length(q)));
    out = mixVec(out, inside, weight);
  }
  return out;
}

function skinPoint(theta: number, phi: number): Vec3 {
  const [x, y, z] = baseSkull(theta, phi);
  const face = frontness(z) * smoothstep(0.3, 0.8, Math.cos(theta));
  return socketPull([x, y, z + face * faceRelief(x, y)]);
}

/** Azimuths of the skin columns, packed towards the face. */
const skinThetas = (): number[] =>
  Array.from({ length: SKIN_COLUMNS }, (_, j) => {
    const t = (2 * j) / SKIN_COLUMNS - 1; // -1 back (left of the seam) .. 0 front
    return Math.PI * (FACE_COLUMN_DENSITY * t + (1 - FACE_COLUMN_DENSITY) * t ** 3);
  });

/** Polar angles of the skin rows, dense over the face, with one row exactly on the mouth line. */
function skinPhis(): { phis: number[]; mouthRow: number } {
  let lo = 0;
  let hi = Math.PI;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (skullY(mid) > MOUTH_Y) lo = mid;
    else hi = mid;
  }
  const mouthPhi = (lo + hi) / 2;
  // Row density per unit polar angle: doubled between brow and chin.
  const density = (phi: number): number => {
    const y = skullY(phi);
    return 0.5 + smoothstep(0.06, 0.035, y) * smoothstep(-0.125, -0.1, y) * 1.3 + 0.6 * bump(0, y - MOUTH_Y, 1, 0.02);
  };
  const samples = 4000;
  const cumulative = [0];
  for (let i = 1; i <= samples; i++) {
    const phi = (Math.PI * (i - 0.5)) / samples;
    cumulative.push(cumulative[i - 1] + density(phi) * (Math.PI / samples));
  }
  const inverse = (target: number): number => {
    let i = 1;
    while (i < samples && cumulative[i] < target) i++;
    const t = (target - cumulative[i - 1]) / (cumulative[i] - cumulative[i - 1]);
    return (Math.PI * (i - 1 + t)) / samples;
  };
  const total = cumulative[samples];
  const mouthMass = cumulative[Math.round((mouthPhi / Math.PI) * samples)];
  const upperRows = Math.round((SKIN_ROWS * mouthMass) / total);
  const phis: number[] = [];
  for (let i = 0; i <= upperRows; i++) phis.push(i === upperRows ? mouthPhi : inverse((mouthMass * i) / upperRows));
  const lowerRows = SKIN_ROWS - upperRows;
  for (let i = 1; i <= lowerRows; i++)
    phis.push(i === lowerRows ? Math.PI : inverse(mouthMass + ((total - mouthMass) * i) / lowerRows));
  return { phis, mouthRow: upperRows };
}

/** Where the hair ends, as a polar angle, by azimuth (0 front, PI back). */
function hairlinePhi(theta: number): number {
  const a = Math.abs(theta);
  const keys: [number, number][] = [
    [0, 1.0],
    [0.45, 1.02],
    [0.75, 1.12],
    [1.2, 1.3],
    [1.6, 1.28],
    [2.2, 1.75],
    [Math.PI, 2.0],
  ];
  for (let i = 1; i < keys.length; i++) {
    if (a <= keys[i][0]) {
      const t = (a - keys[i - 1][0]) / (keys[i][0] - keys[i - 1][0]);
      return lerp(keys[i - 1][1], keys[i][1], t * t * (3 - 2 * t));
    }
  }
  return keys[keys.length - 1][1];
}

/** Brow centre line and half-thickness by |x|: thick at the head, thinning to the tail. */
const browCenter = (ax: number): number => 0.0325 + 0.004 * bump(ax - 0.03, 0, 0.03, 1) - 0.006 * smoothstep(0.04, 0.058, ax);
const browHalf = (ax: number): number => lerp(0.0036, 0.0014, smoothstep(0.016, 0.056, ax));

function skinColor(p: Vec3, theta: number, phi: number): Rgb {
  const [x, y, z] = p;
  const ax = Math.abs(x);
  let color = SKIN;
  const front = frontness(z);
  // Cheeks and nose tip a little warmer.
  color = mixRgb(color, SKIN_BLUSH, 0.3 * front * (bump(ax - 0.042, y + 0.025, 0.022, 0.018) + bump(x, y + 0.033, 0.01, 0.008)));
  // Lips: a vermilion band around the mouth line, upper with a cupid's bow.
  const mouthX = ax / MOUTH_HALF_WIDTH;
  if (mouthX < 1.15) {
    const upperHeight = 0.0075 * Math.sqrt(clamp01(1 - mouthX ** 2)) * (1 - 0.18 * bump(x, 0, 0.005, 1)) + 0.0008;
    const lowerHeight = 0.0095 * Math.sqrt(clamp01(1 - (mouthX * 0.95) ** 2)) + 0.0008;
    const dy = y - MOUTH_Y;
    const inLip =
      dy >= 0
        ? smoothstep(upperHeight + 0.0012, upperHeight - 0.0006, dy)
        : smoothstep(lowerHeight + 0.0012, lowerHeight - 0.0006, -dy);
    color = mixRgb(color, LIP, inLip * front);
  }
  // Nostrils under the tip.
  color = mixRgb(color, NOSTRIL, front * (bump(ax - 0.0065, y + 0.0425, 0.0045, 0.003) * 0.9));
  // A soft shadow under the brow ribbons.
  const inBrow =
    smoothstep(0.011, 0.017, ax) *
    (1 - smoothstep(0.05, 0.06, ax)) *
    smoothstep(browHalf(ax) + 0.003, browHalf(ax), Math.abs(y - browCenter(ax)));
  color = mixRgb(color, BROW, 0.45 * inBrow * front);
  // Scalp under the hair cap, so the cap's edge never shows skin through it.
  color = mixRgb(color, HAIR, smoothstep(hairlinePhi(theta) + 0.03, hairlinePhi(theta) - 0.05, phi));
  return color;
}

/** The lip edge of the skin, corner to corner: the "above" and "below" copies of the mouth row. */
interface SkinSurface {
  upperEdge: number[];
  lowerEdge: number[];
}

function buildSkin(skin: PartBuilder): SkinSurface {
  const thetas = skinThetas();
  const { phis, mouthRow } = skinPhis();
  const tagFor = (row: number): VertexTag => ({ kind: "skin", mouthSide: row <= mouthRow ? "above" : "below" });
  // Scalp well inside the hair cap can never be seen: no triangles there.
  const underHair = new Set<number>();
  const addPoint = (theta: number, phi: number, row: number): number => {
    const p = skinPoint(theta, phi);
    const v = skin.vertex(p, skinColor(p, theta, phi), tagFor(row));
    if (phi < hairlinePhi(theta) - 0.14) underHair.add(v);
    return v;
  };
  const hidden = (v: number): boolean => underHair.has(v);
  const crown = addPoint(0, 0, 0);
  const rows: number[][] = [];
  for (let i = 1; i < phis.length - 1; i++) rows.push(thetas.map((theta) => addPoint(theta, phis[i], i)));
  const jawPole = addPoint(0, Math.PI, phis.length - 1);

  // The mouth slit: columns of the mouth row strictly between the corners get a second,
  // "below" copy, so the lips can part.
  const mouthIndex = mouthRow - 1; // rows[] starts at phi index 1
  const upperEdge = rows[mouthIndex];
  const mouthXs = upperEdge.map((v) => skin.positions[v][0]);
  const front = upperEdge.map((v) => skin.positions[v][2] > 0.05);
  let right = thetas.findIndex((_, j) => front[j] && mouthXs[j] > -MOUTH_HALF_WIDTH);
  let left = right;
  while (left + 1 < thetas.length && front[left + 1] && mouthXs[left + 1] < MOUTH_HALF_WIDTH) left++;
  right -= 1; // the corners are the first columns outside the slit
  left += 1;
  const lowerEdge = upperEdge.map((v, j) => {
    if (j <= right || j >= left) return v;
    const copy = skin.vertex(skin.positions[v], skin.colors[v], { kind: "skin", mouthSide: "below" });
    return copy;
  });

  if (!rows[0].every(hidden)) skin.fanTop(crown, rows[0]);
  for (let i = 0; i + 1 < rows.length; i++) skin.stitch(i === mouthIndex ? lowerEdge : rows[i], rows[i + 1], true, hidden);
  skin.fanBottom(jawPole, rows[rows.length - 1]);
  return { upperEdge: upperEdge.slice(right, left + 1), lowerEdge: lowerEdge.slice(right, left + 1) };
}

// ---------------------------------------------------------------------------------------
// Inside the mouth: inner lips, teeth, tongue and the dark cavity behind them.

interface MouthFrame {
  /** z of the lips on the mouth line at the centre. */
  lipZ: number;
}

/**
 * The mouth: a closed bag hanging from the two lip edges. Each lip's lining curls inward
 * from its edge, widens into the cheeks and meets the other lip's at the corners (the
 * corner columns are shared) and at a back wall, so no ray through the open mouth escapes.
 * Every column moves with its lip-edge vertex: the floor rides on the jaw, the roof stays.
 */
function buildMouthBag(mouth: PartBuilder, skin: PartBuilder, surface: SkinSurface): void {
  // Rows: depth behind the edge, distance away from the mouth line (upper, lower), lateral
  // scale, how much of the lip's own (non-jaw) motion the row keeps, colour.
  // The floor is shallower than the roof, so it stays clear of the throat when the jaw drops.
  const rows: {
    depthUp: number;
    depthDown: number;
    awayUp: number;
    awayDown: number;
    widen: number;
    follow: number;
    color: Rgb;
  }[] = [
    { depthUp: 0, depthDown: 0, awayUp: 0, awayDown: 0, widen: 1, follow: 1, color: LIP },
    { depthUp: 0.004, depthDown: 0.004, awayUp: 0.0012, awayDown: 0.0012, widen: 1, follow: 1, color: mixRgb(LIP, GUM, 0.4) },
    {
      depthUp: 0.008,
      depthDown: 0.008,
      awayUp: 0.0035,
      awayDown: 0.0035,
      widen: 1.02,
      follow: 0.9,
      color: mixRgb(GUM, MOUTH_DARK, 0.4),
    },
    {
      depthUp: 0.0115,
      depthDown: 0.0115,
      awayUp: 0.0065,
      awayDown: 0.0065,
      widen: 1.06,
      follow: 0.8,
      color: mixRgb(GUM, MOUTH_DARK, 0.75),
    },
    { depthUp: 0.02, depthDown: 0.018, awayUp: 0.012, awayDown: 0.013, widen: 1.15, follow: 0.6, color: MOUTH_DARK },
    { depthUp: 0.032, depthDown: 0.028, awayUp: 0.015, awayDown: 0.017, widen: 1.2, follow: 0.4, color: MOUTH_DARK },
    { depthUp: 0.045, depthDown: 0.038, awayUp: 0.012, awayDown: 0.015, widen: 1.12, follow: 0.3, color: MOUTH_DARK },
    { depthUp: 0.054, depthDown: 0.044, awayUp: 0.007, awayDown: 0.009, widen: 0.95, follow: 0.2, color: MOUTH_DARK },
  ];
  const lastRows: number[][] = [];
  for (const [edge, side] of [
    [surface.upperEdge, "above"],
    [surface.lowerEdge, "below"],
  ] as const) {
    const sign = side === "above" ? 1 : -1;
    const xs = edge.map((v) => skin.positions[v][0]);
    const halfWidth = Math.max(...xs.map(Math.abs));
    const grid = rows.map((row, k) =>
      edge.map((v, j) => {
        const p = skin.positions[v];
        const tag: VertexTag = { kind: "mouthBag", mouthSide: side, edge: p, follow: row.follow };
        if (k === 0) return mouth.vertex(p, mixRgb(LIP, skin.colors[v], 0.2), tag);
        // Lens-shaped across: full height in the middle, none at the shared corner columns.
        const across = Math.sqrt(clamp01(1 - (xs[j] / halfWidth) ** 2));
        const height = k <= 3 ? across : across ** 0.35;
        const depth = (side === "above" ? row.depthUp : row.depthDown) * (k <= 3 ? 0.5 + 0.5 * across : 0.8 + 0.2 * across);
        const q: Vec3 = [p[0] * row.widen, p[1] + sign * (side === "above" ? row.awayUp : row.awayDown) * height, p[2] - depth];
        return mouth.vertex(q, row.color, tag);
      }),
    );
    for (let k = 0; k + 1 < grid.length; k++) {
      if (side === "above") mouth.stitch(grid[k + 1], grid[k], false);
      else mouth.stitch(grid[k], grid[k + 1], false);
    }
    lastRows.push(grid[grid.length - 1]);
  }
  // Back wall: roof's last row down to the floor's last row.
  mouth.stitch(lastRows[0], lastRows[1], false);
}

/** One row of teeth and gum: a closed tube swept along the dental arch. */
function buildTeethRow(teeth: PartBuilder, frame: MouthFrame, upper: boolean): void {
  const segments = 22;
  const arcHalfWidth = upper ? 0.023 : 0.021;
  const frontZ = frame.lipZ - (upper ? 0.0095 : 0.0115);
  const curvature = 38; // z falls by curvature * x^2 along the arch
  const thickness = 0.0045;
  const top = upper ? MOUTH_Y + 0.009 : MOUTH_Y - 0.0035;
  const bottom = upper ? MOUTH_Y - 0.002 : MOUTH_Y - 0.012;
  const tag: VertexTag = upper ? { kind: "rigid" } : { kind: "lowerTeeth" };
  // Cross-section corners, front-top first, visited clockwise seen from the viewer's left.
  const section = (t: number): { p: Vec3; color: Rgb }[] => {
    const x = t * arcHalfWidth;
    const z = frontZ - curvature * x * x;
    const len = Math.hypot(2 * curvature * x, 1);
    const n: Vec3 = [(2 * curvature * x) / len, 0, 1 / len];
    // The biting edge rises a little towards the canines.
    const edgeLift = 0.0012 * (x / arcHalfWidth) ** 2;
    const edgeY = upper ? bottom + edgeLift : top - edgeLift;
    const gumY = upper ? top - 0.004 : bottom + 0.004;
    const back = sub([x, 0, z], scale(n, thickness));
    const points: [Vec3, Rgb][] = upper
      ? [
          [[x, top, z - 0.0008], GUM],
          [[x, gumY, z], mixRgb(TOOTH, GUM, 0.15)],
          [[x, edgeY, z], TOOTH],
          [[back[0], edgeY, back[2]], TOOTH],
          [[back[0], top, back[2]], GUM],
        ]
      : [
          [[x, edgeY, z], TOOTH],
          [[x, gumY, z], mixRgb(TOOTH, GUM, 0.15)],
          [[x, bottom, z - 0.0008], GUM],
          [[back[0], bottom, back[2]], GUM],
          [[back[0], edgeY, back[2]], TOOTH],
        ];
    return points.map(([p, color]) => ({ p, color }));
  };
  const columns: number[][] = [];
  for (let s = 0; s <= segments; s++) {
    const t = (2 * s) / segments - 1;
    columns.push(section(t).map(({ p, color }) => teeth.vertex(p, color, tag)));
  }
  // Around the section (closed loop), along the arch left to right.
  const ringSize = columns[0].length;
  for (let k = 0; k < ringSize; k++) {
    const k1 = (k + 1) % ringSize;
    teeth.stitch(
      columns.map((c) => c[k]),
      columns.map((c) => c[k1]),
      false,
    );
  }
  // Close both ends (the last molar), facing away from the arch.
  for (const [column, outward] of [
    [columns[0], -1],
    [columns[columns.length - 1], 1],
  ] as const) {
    const [p0, p1, p2] = column.slice(0, 3).map((v) => teeth.positions[v]);
    const e1 = sub(p1, p0);
    const e2 = sub(p2, p0);
    const facesOut = (e1[1] * e2[2] - e1[2] * e2[1]) * outward > 0;
    for (let k = 1; k + 1 < column.length; k++) {
      if (facesOut) teeth.indices.push(column[0], column[k], column[k + 1]);
      else teeth.indices.push(column[0], column[k + 1], column[k]);
    }
  }
}

/** A UV sphere (pole along +Y) through a transform; rows top to bottom, columns around. */
function addEllipsoid(
  part: PartBuilder,
  rings: number,
  segments: number,
  place: (unit: Vec3) => Vec3,
  color: (unit: Vec3) => Rgb,
  tag: (unit: Vec3) => VertexTag,
): void {
  const vertex = (u: Vec3): number => part.vertex(place(u), color(u), tag(u));
  const top = vertex([0, 1, 0]);
  const rows: number[][] = [];
  for (let i = 1; i < rings; i++) {
    const phi = (Math.PI * i) / rings;
    rows.push(
      Array.from({ length: segments }, (_, j) => {
        const theta = -Math.PI + (2 * Math.PI * j) / segments;
        return vertex([Math.sin(phi) * Math.sin(theta), Math.cos(phi), Math.sin(phi) * Math.cos(theta)]);
      }),
    );
  }
  const bottom = vertex([0, -1, 0]);
  part.fanTop(top, rows[0]);
  for (let i = 0; i + 1 < rows.length; i++) part.stitch(rows[i], rows[i + 1], true);
  part.fanBottom(bottom, rows[rows.length - 1]);
}

function buildTongue(mouth: PartBuilder, frame: MouthFrame): void {
  const tongueCenter: Vec3 = [0, MOUTH_Y - 0.0105, frame.lipZ - 0.0385];
  addEllipsoid(
    mouth,
    8,
    14,
    (u) => [
      tongueCenter[0] + u[0] * 0.0165,
      tongueCenter[1] + u[1] * 0.0055 * (u[1] > 0 ? 1 : 0.6),
      tongueCenter[2] + u[2] * 0.023,
    ],
    (u) => mixRgb(TONGUE, MOUTH_DARK, smoothstep(0.2, -0.6, u[2])),
    () => ({ kind: "tongue" }),
  );
}

// ---------------------------------------------------------------------------------------
// Eyes and lids.

function buildEyeball(eyes: PartBuilder, center: Vec3): void {
  // Rings by angle from the gaze axis (+Z), dense over the iris.
  // The back of the eyeball sits deep in the head, unseen: the shell stops at 2 rad.
  const alphas = [0, 0.09, 0.17, 0.21, 0.3, 0.39, 0.44, 0.5, 0.64, 0.85, 1.1, 1.4, 1.7, 2.0];
  const segments = 18;
  const colorAt = (alpha: number): Rgb => {
    if (alpha < 0.17) return PUPIL;
    if (alpha < 0.21) return mixRgb(PUPIL, IRIS, 0.6);
    if (alpha < 0.39) return IRIS;
    if (alpha < 0.44) return IRIS_RIM;
    return alpha < 0.5 ? mixRgb(IRIS_RIM, EYE_WHITE, 0.7) : EYE_WHITE;
  };
  const point = (alpha: number, psi: number): Vec3 => {
    const r = EYE_RADIUS + 0.0008 * clamp01(1 - (alpha / 0.46) ** 2); // cornea bulge
    return [
      center[0] + r * Math.sin(alpha) * Math.cos(psi),
      center[1] + r * Math.sin(alpha) * Math.sin(psi),
      center[2] + r * Math.cos(alpha),
    ];
  };
  const front = eyes.vertex(point(0, 0), PUPIL, { kind: "rigid" });
  const rings = alphas
    .slice(1)
    .map((alpha) =>
      Array.from({ length: segments }, (_, j) =>
        eyes.vertex(point(alpha, (2 * Math.PI * j) / segments), colorAt(alpha), { kind: "rigid" }),
      ),
    );
  // Seen from the front, psi runs counter-clockwise, so each ring is "above" the next one out.
  eyes.fanTop(front, rings[0]);
  for (let k = 0; k + 1 < rings.length; k++) eyes.stitch(rings[k], rings[k + 1], true);
}

/** Fissure opening profile by azimuth on the eyeball: 1 at the centre, 0 beyond the canthi. */
const fissureOpen = (azimuth: number): number => Math.cos((Math.PI / 2) * Math.min(Math.abs(azimuth) / CANTHUS_ANGLE, 1)) ** 0.8;

/** Rest elevation (rad) of a lid edge; the outer corner sits slightly higher. */
function lidEdge(eye: EyeSign, upper: boolean, azimuth: number): number {
  const tilt = 0.05 * clamp01((azimuth * eye) / CANTHUS_ANGLE + 0.5);
  return tilt + (upper ? 0.42 : -0.32) * fissureOpen(azimuth);
}

/** Point on a lid shell from its eye-frame angles. */
function lidPoint(center: Vec3, radius: number, elevation: number, azimuth: number): Vec3 {
  return [
    center[0] + radius * Math.cos(elevation) * Math.sin(azimuth),
    center[1] + radius * Math.sin(elevation),
    center[2] + radius * Math.cos(elevation) * Math.cos(azimuth),
  ];
}

/** Lid rows from the margin outward: [fraction of the way from edge to the hidden end, radius]. */
const LID_ROWS = (outer: number): [number, number][] => [
  [0, EYE_RADIUS + 0.0003],
  [0, outer],
  [0.06, outer],
  [0.18, outer],
  [0.38, outer],
  [0.65, outer],
  [1, outer],
];

function buildLids(skin: PartBuilder, eye: EyeSign, center: Vec3): void {
  const columns = 16;
  const azimuths = Array.from({ length: columns + 1 }, (_, j) => -LID_HALF_SPAN + (2 * LID_HALF_SPAN * j) / columns);
  for (const upper of [true, false]) {
    const outer = upper ? UPPER_LID_RADIUS : LOWER_LID_RADIUS;
    const end = upper ? LID_END_ANGLE : -LID_END_ANGLE;
    const rows = LID_ROWS(outer).map(([along, radius], k) =>
      azimuths.map((azimuth) => {
        const elevation = lerp(lidEdge(eye, upper, azimuth), end, along);
        const color =
          k <= 1 ? LASH : k === 2 ? mixRgb(LASH, SKIN, upper ? 0.5 : 0.8) : mixRgb(SKIN, SKIN_BLUSH, upper ? 0.12 : 0);
        return skin.vertex(lidPoint(center, radius, elevation, azimuth), color, {
          kind: "lid",
          eye,
          upper,
          azimuth,
          along,
          radius,
        });
      }),
    );
    // Seen from the front: upper lid rows go upward (margin at the bottom), lower lid downward.
    // The margin strip (k = 0) faces the fissure, so its order is the other way round.
    for (let k = 0; k + 1 < rows.length; k++) {
      if (upper === k > 0) skin.stitch(rows[k + 1], rows[k], false);
      else skin.stitch(rows[k], rows[k + 1], false);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Ears, neck and hair.

function buildEars(skin: PartBuilder): void {
  for (const sign of [1, -1]) {
    const center: Vec3 = [sign * 0.0745, -0.002, -0.012];
    addEllipsoid(
      skin,
      10,
      12,
      (u) => {
        // Flattened, tilted back, with a cupped outer face.
        const cup = u[0] * sign > 0 ? -0.0035 * clamp01(1 - u[1] ** 2 - u[2] ** 2) : 0;
        const x = u[0] * 0.006 + sign * cup;
        const y = u[1] * 0.029;
        const z = u[2] * 0.016 - 0.1 * u[1] * 0.029;
        return [center[0] + x + sign * 0.004 * (1 - u[2]) * 0.5, center[1] + y, center[2] + z];
      },
      (u) => mixRgb(SKIN_BLUSH, [0.42, 0.2, 0.14], u[0] * sign > 0 ? 0.6 * clamp01(1 - u[1] ** 2 - u[2] ** 2) : 0),
      () => ({ kind: "rigid" }),
    );
  }
}

function buildNeck(skin: PartBuilder): void {
  const segments = 28;
  const levels = [-0.02, -0.06, -0.095, -0.13, -0.165, -0.19, -0.21];
  const rows = levels.map((y) => {
    const flare = smoothstep(-0.16, -0.21, y);
    return Array.from({ length: segments }, (_, j) => {
      const theta = -Math.PI + (2 * Math.PI * j) / segments;
      const rx = 0.05 + 0.035 * flare;
      const rz = 0.048 + 0.008 * flare;
      // Inside the head the throat tucks back, clear of the mouth's floor when the jaw drops.
      const tuck = 0.042 * smoothstep(-0.125, -0.03, y) * smoothstep(-0.3, 1, Math.cos(theta));
      const p: Vec3 = [rx * Math.sin(theta), y, -0.012 + rz * Math.cos(theta) + 0.006 * Math.cos(theta) * (1 - flare) - tuck];
      return skin.vertex(p, SKIN, { kind: "rigid" });
    });
  });
  for (let i = 0; i + 1 < rows.length; i++) skin.stitch(rows[i], rows[i + 1], true);
}

/** Outward normal of the skin surface by finite differences of the parametrisation. */
function skinNormal(theta: number, phi: number): Vec3 {
  const h = 1e-4;
  const dTheta = sub(skinPoint(theta + h, phi), skinPoint(theta - h, phi));
  const dPhi = sub(skinPoint(theta, phi + h), skinPoint(theta, phi - h));
  const n: Vec3 = [
    dPhi[1] * dTheta[2] - dPhi[2] * dTheta[1],
    dPhi[2] * dTheta[0] - dPhi[0] * dTheta[2],
    dPhi[0] * dTheta[1] - dPhi[1] * dTheta[0],
  ];
  return scale(n, 1 / (length(n) || 1));
}

/** Skin surface parameters (theta, phi) of the front point at (x, y), by Newton's method. */
function skinParamsAt(x: number, y: number): [number, number] {
  let theta = Math.asin(Math.max(-0.95, Math.min(0.95, x / SKULL_RADIUS_X)));
  let phi = Math.acos(Math.max(-0.95, Math.min(0.95, (y - SKULL_CENTER_Y) / SKULL_RADIUS_TOP)));
  const h = 1e-5;
  for (let i = 0; i < 20; i++) {
    const p = skinPoint(theta, phi);
    const pt = skinPoint(theta + h, phi);
    const pp = skinPoint(theta, phi + h);
    // 2x2 Jacobian of (x, y) by (theta, phi).
    const [a, b, c, d] = [(pt[0] - p[0]) / h, (pp[0] - p[0]) / h, (pt[1] - p[1]) / h, (pp[1] - p[1]) / h];
    const det = a * d - b * c;
    const [ex, ey] = [x - p[0], y - p[1]];
    theta += (d * ex - b * ey) / det;
    phi += (a * ey - c * ex) / det;
  }
  return [theta, phi];
}

/** Brows as thin ribbons lying on the skin: crisp edges the coarse skin colours cannot give. */
function buildBrows(hair: PartBuilder): void {
  const columns = 14;
  for (const sign of [1, -1]) {
    const rows = [-1, -0.35, 0.35, 1].map((across) =>
      Array.from({ length: columns + 1 }, (_, j) => {
        const t = j / columns;
        const ax = lerp(0.0135, 0.057, t);
        const half = browHalf(ax) * (t > 0.85 ? lerp(1, 0.3, (t - 0.85) / 0.15) : 1);
        const [theta, phi] = skinParamsAt(sign * ax, browCenter(ax) + across * half);
        const lift = Math.abs(across) === 1 ? 0.0001 : 0.0008 * (1 - 0.5 * t);
        const p = add(skinPoint(theta, phi), scale(skinNormal(theta, phi), lift));
        return hair.vertex(p, mixRgb(BROW, HAIR, t), { kind: "skin", mouthSide: "above" });
      }),
    );
    // Rows run bottom to top; on the left (+X) columns run left to right as seen from the front.
    for (let k = 0; k + 1 < rows.length; k++) {
      const [lower, upper] = [rows[k], rows[k + 1]];
      if (sign === 1) hair.stitch(upper, lower, false);
      else hair.stitch([...upper].reverse(), [...lower].reverse(), false);
    }
  }
}

function buildHair(hair: PartBuilder): void {
  const columns = 36;
  const rows = 14;
  const thetas = Array.from({ length: columns }, (_, j) => -Math.PI + (2 * Math.PI * j) / columns);
  const place = (theta: number, along: number): Vec3 => {
    const phi = Math.max(hairlinePhi(theta) * along, 0.02);
    // Volume on top, thinning to tuck under the skin at the hairline.
    const thickness = 0.012 * smoothstep(1, 0.7, along) * (1 - 0.3 * along) - 0.0006;
    const lift = 0.006 * smoothstep(0.9, 0.3, along) * smoothstep(0.05, 0.4, along) * smoothstep(0.5, 1.2, Math.cos(theta) + 0.5);
    return add(skinPoint(theta, phi), scale(skinNormal(theta, phi), thickness + lift));
  };
  const ringRows = Array.from({ length: rows }, (_, i) => {
    const along = (i + 1) / rows;
    return thetas.map((theta) =>
      hair.vertex(place(theta, along), mixRgb(HAIR, [0.09, 0.06, 0.04], 0.5 * bump(0, along - 0.4, 1, 0.3)), { kind: "rigid" }),
    );
  });
  // The crown closes the first ring at its centre, a hair above it so the cap stays round.
  const firstRing = ringRows[0].map((v) => hair.positions[v]);
  const ringCenter = scale(firstRing.reduce(add, [0, 0, 0]), 1 / firstRing.length);
  const crown = hair.vertex(add(ringCenter, [0, 0.0006, 0]), HAIR, { kind: "rigid" });
  hair.fanTop(crown, ringRows[0]);
  for (let i = 0; i + 1 < ringRows.length; i++) hair.stitch(ringRows[i], ringRows[i + 1], true);
}

// ---------------------------------------------------------------------------------------
// Deformation: face controls applied to one rest vertex.

const sideOf = (x: number): Side => (x >= 0 ? "left" : "right");

interface MouthGeometry {
  /** |x| of the mouth corners at rest. */
  cornerX: number;
  /** z of the lips on the mouth line at the centre. */
  lipZ: number;
}

/** How much of the jaw's rotation a skin/inner-lip vertex takes. */
function jawWeight(p: Vec3, mouthSide: MouthSide, mouth: MouthGeometry): number {
  const [x, y, z] = p;
  // The mandible: below a line rising from the mouth line at the lips back to the ramus.
  const jawLineY = lerp(MOUTH_Y, -0.02, smoothstep(0.075, -0.005, z));
  const below = smoothstep(-0.01, 0.01, jawLineY - y) * smoothstep(-0.03, 0.005, z);
  // Between the mouth corners the two lips are separate: lower side all jaw, upper side none.
  const slit = (1 - smoothstep(0.5 * mouth.cornerX, mouth.cornerX, Math.abs(x))) * frontness(z);
  return lerp(below, mouthSide === "below" ? 1 : 0, slit);
}

/** Displacement of the facial skin (and inner lips) for every control except the jaw. */
function faceDisplacement(p: Vec3, mouthSide: MouthSide, c: FaceControls, mouth: MouthGeometry): Vec3 {
  const [x, y, z] = p;
  const front = frontness(z);
  if (front <= 0) return [0, 0, 0];
  const side = sideOf(x);
  const sign = x >= 0 ? 1 : -1;
  const ax = Math.abs(x);
  const dy0 = y - MOUTH_Y;
  let dx = 0;
  let dy = 0;
  let dz = 0;

  // Lips. Masks are 0 at the corners' outer side so the two slit copies agree there.
  const alongMouth = 1 - smoothstep(0.3 * mouth.cornerX, mouth.cornerX * 1.02, ax);
  const lips = plateau(x, dy0, mouth.cornerX * 1.25, 0.017, 0.35);
  const mouthArea = plateau(x, dy0, mouth.cornerX * 1.8, 0.032, 0.5);
  if (mouthSide === "above") dy += c.upperLipRaise * alongMouth * (1 - smoothstep(0.0, 0.016, dy0));
  else dy -= c.lowerLipDrop * alongMouth * (1 - smoothstep(0.0, 0.016, -dy0));
  dx += c.spread * (x / mouth.cornerX) * mouthArea;
  dz += c.protrude * lips;
  // Pressed lips: the lip bulges squeeze towards the mouth line and back; the line stays shut.
  dy -= c.press * 0.3 * dy0 * lips;
  dz -= c.press * 0.0022 * lips;
  if (mouthSide === "below") {
    const lowerLip = alongMouth * (1 - smoothstep(0.003, 0.014, -dy0));
    dy += c.lowerLipTuck * 0.004 * lowerLip;
    dz -= c.lowerLipTuck * 0.005 * lowerLip;
  }

  // Corners: smile up, out and back; frown down. Cheeks rise with the smile.
  const corner = plateau(ax - mouth.cornerX, dy0, 0.024, 0.022, 0.15);
  const cheek = bump(ax - 0.038, y + 0.018, 0.026, 0.024);
  const smile = c.smile[side];
  dx += sign * smile * 0.0035 * corner;
  dy += smile * (0.0055 * corner + 0.0028 * cheek);
  dz += smile * (-0.0025 * corner + 0.002 * cheek);
  const frown = c.frown[side];
  dy -= frown * 0.0045 * corner;
  dz -= frown * 0.001 * corner;

  // Cheeks.
  const puffMask = bump(ax - 0.04, y - (MOUTH_Y + 0.012), 0.03, 0.03);
  dx += sign * c.cheekPuff * 0.007 * puffMask;
  dz += c.cheekPuff * (0.004 * puffMask + 0.0015 * lips);
  const squint = bump(ax - 0.04, y + 0.008, 0.024, 0.016) * c.cheekSquint[side];
  dy += 0.004 * squint;
  dz += 0.001 * squint;

  // Nose sneer: wing and the skin beside it lift, upper lip follows a little.
  const sneer = c.sneer[side];
  dy += sneer * (0.003 * bump(ax - 0.013, y + 0.032, 0.013, 0.016) + 0.0012 * bump(ax - 0.011, dy0 - 0.006, 0.012, 0.008));
  dz += sneer * 0.001 * bump(ax - 0.013, y + 0.032, 0.013, 0.016);

  // Brows.
  const browY = y - 0.034;
  dy += c.browInnerUp * 0.005 * bump(x, browY, 0.032, 0.028) * smoothstep(EYE_Y + 0.008, EYE_Y + 0.016, y);
  const down = c.browDown[side] * bump(ax - 0.032, browY, 0.03, 0.018);
  dy -= 0.004 * down;
  dx -= sign * 0.0018 * down;
  dz += 0.0012 * down;
  dy += c.browOuterUp[side] * 0.005 * bump(ax - 0.047, browY, 0.024, 0.022) * smoothstep(EYE_Y + 0.008, EYE_Y + 0.016, y);

  return [dx * front, dy * front, dz * front];
}

function deformLid(tag: Extract<VertexTag, { kind: "lid" }>, c: FaceControls): Vec3 {
  const side: Side = tag.eye === 1 ? "left" : "right";
  const open = fissureOpen(tag.azimuth);
  let edge = lidEdge(tag.eye, tag.upper, tag.azimuth);
  if (tag.upper) {
    // Blink: the upper margin comes down to just past the lower one.
    const closed = lidEdge(tag.eye, false, tag.azimuth) - 0.05;
    edge = lerp(edge, closed, c.blink[side]);
    edge += open * (0.2 * c.eyeWide[side] - 0.07 * c.eyeSquint[side]);
  } else {
    edge += open * (0.16 * c.eyeSquint[side] + 0.08 * c.cheekSquint[side] - 0.05 * c.eyeWide[side]);
  }
  const end = tag.upper ? LID_END_ANGLE : -LID_END_ANGLE;
  return lidPoint(EYE_CENTERS[side], tag.radius, lerp(edge, end, tag.along), tag.azimuth);
}

function deformVertex(rest: Vec3, tag: VertexTag, c: FaceControls, mouth: MouthGeometry): Vec3 {
  switch (tag.kind) {
    case "skin": {
      const moved = add(rest, faceDisplacement(rest, tag.mouthSide, c, mouth));
      return rotateAboutX(moved, JAW_PIVOT, c.jaw * jawWeight(rest, tag.mouthSide, mouth));
    }
    case "mouthBag": {
      const moved = add(rest, scale(faceDisplacement(tag.edge, tag.mouthSide, c, mouth), tag.follow));
      return rotateAboutX(moved, JAW_PIVOT, c.jaw * jawWeight(tag.edge, tag.mouthSide, mouth));
    }
    case "lid":
      return deformLid(tag, c);
    case "rigid":
      return rest;
    case "lowerTeeth":
      return rotateAboutX(rest, JAW_PIVOT, c.jaw);
    case "tongue": {
      const tip = smoothstep(mouth.lipZ - 0.04, mouth.lipZ - 0.016, rest[2]);
      const out: Vec3 = [rest[0], rest[1] + c.tongueOut * 0.011 * tip, rest[2] + c.tongueOut * 0.014 * tip];
      return rotateAboutX(out, JAW_PIVOT, c.jaw);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Assembly.

/** One material group of the head, flat arrays ready for the GLB writer. */
export interface HeadPart {
  material: HeadMaterialName;
  /** `[V*3]` rest positions. */
  positions: Float32Array;
  /** `[V*3]` smooth unit normals. */
  normals: Float32Array;
  /** `[V*4]` linear RGBA. */
  colors: Float32Array;
  indices: Uint32Array;
  /** Per morph (HEAD_MORPH_NAMES order): `[V*3]` position and normal deltas; empty on still parts. */
  targets: { position: Float32Array; normal: Float32Array }[];
}

/** Vertices the tests and tools measure: index into `HeadGeometry.parts` (= GLB primitives in node order) and vertex. */
export interface HeadLandmarks {
  upperLipCenter: VertexRef;
  lowerLipCenter: VertexRef;
  mouthCornerLeft: VertexRef;
  mouthCornerRight: VertexRef;
  upperLidLeft: VertexRef;
  lowerLidLeft: VertexRef;
  upperLidRight: VertexRef;
  lowerLidRight: VertexRef;
}

export interface VertexRef {
  part: number;
  vertex: number;
}

export interface HeadGeometry {
  /** Parts some morph moves (with targets) first, then the parts no morph moves (no targets). */
  parts: HeadPart[];
  morphNames: readonly string[];
  landmarks: HeadLandmarks;
}

function smoothNormals(positions: readonly Vec3[], indices: readonly number[]): Vec3[] {
  const normals: Vec3[] = positions.map(() => [0, 0, 0]);
  for (let t = 0; t < indices.length; t += 3) {
    const [a, b, c] = [indices[t], indices[t + 1], indices[t + 2]];
    const e1 = sub(positions[b], positions[a]);
    const e2 = sub(positions[c], positions[a]);
    // Area-weighted face normal.
    const n: Vec3 = [e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2], e1[0] * e2[1] - e1[1] * e2[0]];
    for (const v of [a, b, c]) normals[v] = add(normals[v], n);
  }
  return normals.map((n) => {
    const l = length(n);
    return l > 0 ? scale(n, 1 / l) : [0, 1, 0];
  });
}

const flatten = (vs: readonly (Vec3 | Rgb)[], width: number, fill = 1): Float32Array => {
  const out = new Float32Array(vs.length * width);
  vs.forEach((v, i) => {
    for (let k = 0; k < width; k++) out[i * width + k] = k < v.length ? v[k] : fill;
  });
  return out;
};

/** The triangles of `part` chosen by `keep`, with their vertices renumbered. */
function subsetPart(
  part: HeadPart,
  keep: (triangle: number) => boolean,
  withTargets: boolean,
): { part: HeadPart; vertexIndex: Int32Array } {
  const vertexCount = part.positions.length / 3;
  const vertexIndex = new Int32Array(vertexCount).fill(-1);
  const indices: number[] = [];
  const order: number[] = [];
  for (let t = 0; t < part.indices.length / 3; t++) {
    if (!keep(t)) continue;
    for (let k = 0; k < 3; k++) {
      const v = part.indices[t * 3 + k];
      if (vertexIndex[v] < 0) {
        vertexIndex[v] = order.length;
        order.push(v);
      }
      indices.push(vertexIndex[v]);
    }
  }
  const pick = (values: Float32Array, width: number): Float32Array => {
    const out = new Float32Array(order.length * width);
    order.forEach((v, i) => {
      out.set(values.subarray(v * width, v * width + width), i * width);
    });
    return out;
  };
  return {
    part: {
      material: part.material,
      positions: pick(part.positions, 3),
      normals: pick(part.normals, 3),
      colors: pick(part.colors, 4),
      indices: Uint32Array.from(indices),
      targets: withTargets ? part.targets.map((t) => ({ position: pick(t.position, 3), normal: pick(t.normal, 3) })) : [],
    },
    vertexIndex,
  };
}

/**
 * Split a part into the triangles some morph moves and those none does. A triangle moves
 * if any of its vertices does; the still triangles' vertices never move, so the copies
 * shared along the border cannot tear apart.
 */
function splitByMotion(part: HeadPart): { moving: HeadPart | null; still: HeadPart | null; movingVertexIndex: Int32Array } {
  const vertexCount = part.positions.length / 3;
  const moves = new Uint8Array(vertexCount);
  for (const t of part.targets)
    for (let i = 0; i < vertexCount * 3; i++) if (t.position[i] !== 0 || t.normal[i] !== 0) moves[Math.floor(i / 3)] = 1;
  const triangleMoves = (t: number): boolean =>
    moves[part.indices[t * 3]] + moves[part.indices[t * 3 + 1]] + moves[part.indices[t * 3 + 2]] > 0;
  const moving = subsetPart(part, triangleMoves, true);
  const still = subsetPart(part, (t) => !triangleMoves(t), false);
  return {
    moving: moving.part.indices.length > 0 ? moving.part : null,
    still: still.part.indices.length > 0 ? still.part : null,
    movingVertexIndex: moving.vertexIndex,
  };
}

/** Build the head: parts with rest geometry, colours, normals and every morph target. */
export function buildHeadGeometry(): HeadGeometry {
  const skin = new PartBuilder("skin");
  const eyes = new PartBuilder("eye");
  const teeth = new PartBuilder("teeth");
  const mouth = new PartBuilder("mouth");
  const hair = new PartBuilder("hair");

  const surface = buildSkin(skin);
  const centerColumn = Math.floor(surface.upperEdge.length / 2);
  const upperLipCenter = surface.upperEdge[centerColumn];
  const lowerLipCenter = surface.lowerEdge[centerColumn];
  const frame: MouthFrame = { lipZ: skin.positions[upperLipCenter][2] };
  const cornerA = surface.upperEdge[0];
  const cornerB = surface.upperEdge[surface.upperEdge.length - 1];
  const mouthGeometry: MouthGeometry = {
    cornerX: (Math.abs(skin.positions[cornerA][0]) + Math.abs(skin.positions[cornerB][0])) / 2,
    lipZ: frame.lipZ,
  };

  buildMouthBag(mouth, skin, surface);
  buildTongue(mouth, frame);
  buildTeethRow(teeth, frame, true);
  buildTeethRow(teeth, frame, false);
  const lidStart = skin.positions.length;
  buildLids(skin, 1, EYE_CENTERS.left);
  buildLids(skin, -1, EYE_CENTERS.right);
  buildEyeball(eyes, EYE_CENTERS.left);
  buildEyeball(eyes, EYE_CENTERS.right);
  buildEars(skin);
  buildNeck(skin);
  buildHair(hair);
  buildBrows(hair);

  // Lid landmarks: the margin vertex at the centre column (azimuth 0) of each lid.
  const lidMargin = (eye: EyeSign, upper: boolean): number => {
    for (let v = lidStart; v < skin.tags.length; v++) {
      const tag = skin.tags[v];
      if (
        tag.kind === "lid" &&
        tag.eye === eye &&
        tag.upper === upper &&
        tag.along === 0 &&
        tag.radius > EYE_RADIUS + 0.001 &&
        Math.abs(tag.azimuth) < 1e-9
      )
        return v;
    }
    throw new Error(`internal: no ${upper ? "upper" : "lower"} lid margin vertex for eye ${eye}`);
  };

  const builders = [skin, eyes, teeth, mouth, hair];
  const whole = builders.map((b): HeadPart => {
    const restNormals = smoothNormals(b.positions, b.indices);
    const targets = MORPH_CONTROLS.map((c) => {
      const moved = b.positions.map((p, v) => deformVertex(p, b.tags[v], c, mouthGeometry));
      const movedNormals = smoothNormals(moved, b.indices);
      const position = new Float32Array(moved.length * 3);
      const normal = new Float32Array(moved.length * 3);
      moved.forEach((p, v) => {
        for (let k = 0; k < 3; k++) {
          // Deltas below a micrometre are rounding noise: store exact zeros.
          const dp = p[k] - b.positions[v][k];
          const dn = movedNormals[v][k] - restNormals[v][k];
          position[v * 3 + k] = Math.abs(dp) < 1e-6 ? 0 : dp;
          normal[v * 3 + k] = Math.abs(dn) < 1e-4 ? 0 : dn;
        }
      });
      return { position, normal };
    });
    return {
      material: b.material,
      positions: flatten(b.positions, 3),
      normals: flatten(restNormals, 3),
      colors: flatten(b.colors, 4),
      indices: Uint32Array.from(b.indices),
      targets,
    };
  });

  // Morph targets cost vertex-shader time on every vertex that carries them, moving or not:
  // put the triangles no morph touches (back of the head, eyeballs, hair, ears, neck) apart.
  const splits = whole.map(splitByMotion);
  const moving = splits.flatMap((s) => (s.moving ? [s.moving] : []));
  const parts = [...moving, ...splits.flatMap((s) => (s.still ? [s.still] : []))];
  const skinSplit = splits[builders.indexOf(skin)];
  const ref = (vertex: number): VertexRef => {
    const movingVertex = skinSplit.movingVertexIndex[vertex];
    if (!skinSplit.moving || movingVertex < 0) throw new Error(`internal: landmark vertex ${vertex} does not move`);
    return { part: parts.indexOf(skinSplit.moving), vertex: movingVertex };
  };
  const leftCorner = skin.positions[cornerA][0] > 0 ? cornerA : cornerB;
  const rightCorner = leftCorner === cornerA ? cornerB : cornerA;
  return {
    parts,
    morphNames: HEAD_MORPH_NAMES,
    landmarks: {
      upperLipCenter: ref(upperLipCenter),
      lowerLipCenter: ref(lowerLipCenter),
      mouthCornerLeft: ref(leftCorner),
      mouthCornerRight: ref(rightCorner),
      upperLidLeft: ref(lidMargin(1, true)),
      lowerLidLeft: ref(lidMargin(1, false)),
      upperLidRight: ref(lidMargin(-1, true)),
      lowerLidRight: ref(lidMargin(-1, false)),
    },
  };
}
