// DICOM Part 10 reader on top of `daikon` (pure JavaScript: parser plus JPEG baseline,
// JPEG lossless, JPEG-LS, JPEG 2000 and RLE decoders, deflate through pako).
//
// daikon parses the data set and decompresses the pixel data; this file owns everything
// after that: which transfer syntaxes are accepted, how stored values are read (bits
// stored, sign, byte order, samples per pixel), the modality rescale to Hounsfield units
// and the VOI window, and turning every failure into a MedicalFileError.

import { createRequire } from "node:module";
import { type FileInput, guard, loadInput, MedicalFileError } from "./errors.js";

// ---- the part of daikon's API we use -------------------------------------------------

interface DaikonTag {
  readonly value: unknown;
}

interface DaikonImage {
  littleEndian: boolean;
  getRows(): number | null;
  getCols(): number | null;
  getNumberOfFrames(): number | null;
  getNumberOfSamplesPerPixel(): number | null;
  getBitsAllocated(): number | null;
  getBitsStored(): number | null;
  getPixelRepresentation(): number | null;
  getPlanarConfig(): number | null;
  getTransferSyntax(): string | null;
  getPixelSpacing(): number[] | null;
  getSliceThickness(): number | null;
  getDataScaleSlope(): number | null;
  getDataScaleIntercept(): number | null;
  getWindowCenter(): number | null;
  getWindowWidth(): number | null;
  getTag(group: number, element: number): DaikonTag | undefined;
  hasPixelData(): boolean;
  getRawData(): ArrayBuffer;
  getJpegs(): ArrayBuffer[];
  getPixelData(): { offsetValue?: number; offsetEnd?: number } | undefined;
}

interface Daikon {
  Series: { parseImage(data: DataView): DaikonImage | null; parserError: unknown };
}

const daikon = createRequire(import.meta.url)("daikon") as Daikon;

// ---- transfer syntaxes ------------------------------------------------------------------

/** Transfer syntaxes whose pixel data this reader decodes, by UID. */
export const SUPPORTED_TRANSFER_SYNTAXES: Readonly<Record<string, string>> = {
  "1.2.840.10008.1.2": "Implicit VR Little Endian",
  "1.2.840.10008.1.2.1": "Explicit VR Little Endian",
  "1.2.840.10008.1.2.2": "Explicit VR Big Endian",
  "1.2.840.10008.1.2.1.99": "Deflated Explicit VR Little Endian",
  "1.2.840.10008.1.2.4.50": "JPEG Baseline (Process 1)",
  "1.2.840.10008.1.2.4.51": "JPEG Extended (Process 2 & 4)",
  "1.2.840.10008.1.2.4.57": "JPEG Lossless (Process 14)",
  "1.2.840.10008.1.2.4.70": "JPEG Lossless SV1",
  "1.2.840.10008.1.2.4.80": "JPEG-LS Lossless",
  "1.2.840.10008.1.2.4.81": "JPEG-LS Near-Lossless",
  "1.2.840.10008.1.2.4.90": "JPEG 2000 Lossless",
  "1.2.840.10008.1.2.4.91": "JPEG 2000",
  "1.2.840.10008.1.2.5": "RLE Lossless",
};

/** Names of well-known transfer syntaxes we refuse, for the error message. */
const UNSUPPORTED_TRANSFER_SYNTAXES: Readonly<Record<string, string>> = {
  "1.2.840.10008.1.2.4.52": "JPEG Extended (retired)",
  "1.2.840.10008.1.2.4.53": "JPEG Spectral Selection (retired)",
  "1.2.840.10008.1.2.4.55": "JPEG Full Progression (retired)",
  "1.2.840.10008.1.2.4.92": "JPEG 2000 Part 2 Multi-component Lossless",
  "1.2.840.10008.1.2.4.93": "JPEG 2000 Part 2 Multi-component",
  "1.2.840.10008.1.2.4.94": "JPIP Referenced",
  "1.2.840.10008.1.2.4.95": "JPIP Referenced Deflate",
  "1.2.840.10008.1.2.4.100": "MPEG2 Main Profile",
  "1.2.840.10008.1.2.4.101": "MPEG2 High Profile",
  "1.2.840.10008.1.2.4.102": "MPEG-4 AVC/H.264",
  "1.2.840.10008.1.2.4.103": "MPEG-4 AVC/H.264 BD",
  "1.2.840.10008.1.2.4.104": "MPEG-4 AVC/H.264 2D",
  "1.2.840.10008.1.2.4.105": "MPEG-4 AVC/H.264 3D",
  "1.2.840.10008.1.2.4.106": "MPEG-4 AVC/H.264 Stereo",
  "1.2.840.10008.1.2.4.107": "HEVC/H.265 Main",
  "1.2.840.10008.1.2.4.108": "HEVC/H.265 Main 10",
  "1.2.840.10008.1.2.4.110": "JPEG XL Lossless",
  "1.2.840.10008.1.2.4.111": "JPEG XL JPEG Recompression",
  "1.2.840.10008.1.2.4.112": "JPEG XL",
  "1.2.840.10008.1.2.4.201": "High-Throughput JPEG 2000 Lossless",
  "1.2.840.10008.1.2.4.202": "High-Throughput JPEG 2000 RPCL Lossless",
  "1.2.840.10008.1.2.4.203": "High-Throughput JPEG 2000",
  "1.2.840.10008.1.2.6.1": "RFC 2557 MIME encapsulation",
};

const IMPLICIT_LITTLE = "1.2.840.10008.1.2";
const JPEG_FAMILY = /^1\.2\.840\.10008\.1\.2\.4\./;

// ---- public types -------------------------------------------------------------------------

export interface DicomPatient {
  name?: string;
  id?: string;
  /** (0010,0040): "M", "F" or "O" */
  sex?: string;
  /** (0010,0030) as written, YYYYMMDD */
  birthDate?: string;
  /** (0010,1010) in years when the file gives it in years ("045Y") */
  ageYears?: number;
}

export interface DicomImage {
  readonly file: string;
  readonly rows: number;
  readonly columns: number;
  readonly frames: number;
  /** (0028,0030) [row spacing, column spacing] in mm */
  readonly pixelSpacing?: readonly [number, number];
  readonly sliceThickness?: number;
  readonly rescaleSlope: number;
  readonly rescaleIntercept: number;
  readonly modality: string;
  /** Photometric interpretation as written: MONOCHROME1, MONOCHROME2, RGB, YBR_FULL, PALETTE COLOR, … */
  readonly photometric: string;
  readonly samplesPerPixel: number;
  readonly bitsAllocated: number;
  readonly bitsStored: number;
  /** 0: unsigned, 1: two's complement */
  readonly pixelRepresentation: number;
  readonly transferSyntax: string;
  readonly transferSyntaxName: string;
  readonly windowCenter?: number;
  readonly windowWidth?: number;
  readonly patient?: DicomPatient;
  /**
   * One frame as rows×columns values after the modality rescale
   * (stored × slope + intercept: Hounsfield units for CT). Colour images give luminance
   * (0.299 R + 0.587 G + 0.114 B, or Y for YBR); MONOCHROME1 is not inverted here.
   */
  hu(frame: number): Float32Array;
  /**
   * One frame through the linear VOI window of DICOM PS3.3 C.11.2.1.2 to 0..255,
   * inverted for MONOCHROME1 so that 255 is always white.
   */
  toWindowed(frame: number, center: number, width: number): Uint8Array;
}

// ---- reading --------------------------------------------------------------------------------

const PREAMBLE_LENGTH = 128;

function hasDicmMagic(bytes: Uint8Array): boolean {
  return (
    bytes.length >= PREAMBLE_LENGTH + 4 &&
    bytes[128] === 0x44 &&
    bytes[129] === 0x49 &&
    bytes[130] === 0x43 &&
    bytes[131] === 0x4d
  );
}

/** A data set without preamble (old ACR-NEMA style files) starts with a group 0002 or 0008 tag. */
function looksLikeBareDataSet(bytes: Uint8Array): boolean {
  if (bytes.length < 8) return false;
  const groupLittle = bytes[0] | (bytes[1] << 8);
  const groupBig = (bytes[0] << 8) | bytes[1];
  return groupLittle === 0x0002 || groupLittle === 0x0008 || groupBig === 0x0008;
}

/** True when the bytes start like a DICOM file (used for content sniffing). */
export function isDicom(bytes: Uint8Array): boolean {
  return hasDicmMagic(bytes);
}

function positiveInt(file: string, name: string, value: number | null, expected: string): number {
  if (value === null || !Number.isInteger(value) || value < 1) {
    throw new MedicalFileError(file, "corrupt", `${name} is ${value === null ? "missing" : value}, expected ${expected}`);
  }
  return value;
}

function finiteOr(value: number | null, fallback: number): number {
  return value !== null && Number.isFinite(value) ? value : fallback;
}

function optionalFinite(value: number | null): number | undefined {
  return value !== null && Number.isFinite(value) ? value : undefined;
}

function tagText(image: DaikonImage, group: number, element: number): string | undefined {
  const value = image.getTag(group, element)?.value;
  const first = Array.isArray(value) ? value[0] : value;
  if (typeof first !== "string") return undefined;
  const text = first.replace(/\0/g, "").trim();
  return text === "" ? undefined : text;
}

function readPatient(image: DaikonImage): DicomPatient | undefined {
  const patient: DicomPatient = {};
  const name = tagText(image, 0x0010, 0x0010);
  const id = tagText(image, 0x0010, 0x0020);
  const birthDate = tagText(image, 0x0010, 0x0030);
  const sex = tagText(image, 0x0010, 0x0040);
  const age = tagText(image, 0x0010, 0x1010);
  if (name !== undefined) patient.name = name;
  if (id !== undefined) patient.id = id;
  if (birthDate !== undefined) patient.birthDate = birthDate;
  if (sex !== undefined) patient.sex = sex;
  const years = age === undefined ? null : /^(\d{1,3})Y$/i.exec(age);
  if (years !== null) patient.ageYears = Number(years[1]);
  return Object.keys(patient).length === 0 ? undefined : patient;
}

function describeParserError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function parse(file: string, bytes: Uint8Array): DaikonImage {
  if (!hasDicmMagic(bytes)) {
    if (looksLikeBareDataSet(bytes)) {
      throw new MedicalFileError(
        file,
        "unsupported",
        'a bare data set without the DICOM Part 10 preamble, "DICM" and file meta information (ACR-NEMA style) is not supported; convert it to Part 10 first (e.g. dcmconv)',
      );
    }
    throw new MedicalFileError(
      file,
      "corrupt",
      bytes.length < PREAMBLE_LENGTH + 4
        ? `${bytes.length} bytes is too short for a DICOM file (expected a 128-byte preamble and "DICM")`
        : 'no "DICM" magic at byte 128: not a DICOM Part 10 file',
    );
  }
  // daikon parses a DataView; copy so the caller's buffer is never shared or mutated.
  const copy = new Uint8Array(bytes);
  daikon.Series.parserError = null;
  const image = guard(file, "DICOM parsing", () => daikon.Series.parseImage(new DataView(copy.buffer)));
  if (image === null) {
    const detail = describeParserError(daikon.Series.parserError);
    const outside = /outside the bounds/i.test(detail);
    throw new MedicalFileError(
      file,
      "corrupt",
      `the data set cannot be parsed (${detail})${outside ? ": an element runs past the end of the file, which is truncated or mis-encoded" : ""}`,
    );
  }
  return image;
}

function checkTransferSyntax(file: string, uid: string): string {
  const supported = SUPPORTED_TRANSFER_SYNTAXES[uid];
  if (supported !== undefined) return supported;
  const known = UNSUPPORTED_TRANSFER_SYNTAXES[uid];
  throw new MedicalFileError(
    file,
    "unsupported",
    `unsupported transfer syntax ${uid}${known === undefined ? "" : ` (${known})`}; supported: ${Object.values(SUPPORTED_TRANSFER_SYNTAXES).join(", ")}`,
  );
}

/** Linear VOI window of PS3.3 C.11.2.1.2.1 mapped to 0..255. */
export function windowValues(values: Float32Array, center: number, width: number, invert = false): Uint8Array {
  if (!Number.isFinite(center) || !Number.isFinite(width) || width < 1) {
    throw new RangeError(`window width must be a finite number ≥ 1 and center finite, got center ${center}, width ${width}`);
  }
  const out = new Uint8Array(values.length);
  const low = center - 0.5 - (width - 1) / 2;
  const high = center - 0.5 + (width - 1) / 2;
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    let y: number;
    if (x <= low) y = 0;
    else if (x > high) y = 255;
    else y = ((x - (center - 0.5)) / (width - 1) + 0.5) * 255;
    const byte = Math.round(y);
    out[i] = invert ? 255 - byte : byte;
  }
  return out;
}

/** Reads a DICOM Part 10 file (or a bare data set) from bytes or a path. */
export function readDicom(input: FileInput, name = "<dicom bytes>"): DicomImage {
  const { bytes, file } = loadInput(input, name);
  const image = parse(file, bytes);

  if (!image.hasPixelData()) {
    const sop = tagText(image, 0x0008, 0x0016) ?? tagText(image, 0x0002, 0x0002);
    throw new MedicalFileError(
      file,
      "unsupported",
      `no Pixel Data (7FE0,0010) element${sop === undefined ? "" : ` (SOP class ${sop})`}: not an image, e.g. a DICOMDIR, structured report, RT plan or waveform`,
    );
  }

  const transferSyntax = image.getTransferSyntax() ?? IMPLICIT_LITTLE;
  const transferSyntaxName = checkTransferSyntax(file, transferSyntax);

  const rows = positiveInt(file, "Rows (0028,0010)", image.getRows(), "a positive integer");
  const columns = positiveInt(file, "Columns (0028,0011)", image.getCols(), "a positive integer");
  const frames = positiveInt(file, "Number of Frames (0028,0008)", image.getNumberOfFrames() ?? 1, "a positive integer");
  const bitsAllocated = finiteOr(image.getBitsAllocated(), Number.NaN);
  if (bitsAllocated !== 8 && bitsAllocated !== 16 && bitsAllocated !== 32) {
    throw new MedicalFileError(
      file,
      Number.isNaN(bitsAllocated) ? "corrupt" : "unsupported",
      `Bits Allocated (0028,0100) is ${Number.isNaN(bitsAllocated) ? "missing" : bitsAllocated}, expected 8, 16 or 32`,
    );
  }
  const bitsStoredRaw = finiteOr(image.getBitsStored(), bitsAllocated);
  const bitsStored = bitsStoredRaw >= 1 && bitsStoredRaw <= bitsAllocated ? bitsStoredRaw : bitsAllocated;
  const pixelRepresentation = image.getPixelRepresentation() === 1 ? 1 : 0;
  // through tagText: a damaged file can hold a number where the string should be
  const photometric = tagText(image, 0x0028, 0x0004) ?? "MONOCHROME2";
  const isPalette = photometric === "PALETTE COLOR";
  // daikon turns PALETTE COLOR into 8-bit RGB while it reads the pixel data.
  const samplesPerPixel = isPalette ? 3 : (image.getNumberOfSamplesPerPixel() ?? 1);
  if (samplesPerPixel !== 1 && samplesPerPixel !== 3) {
    throw new MedicalFileError(file, "unsupported", `Samples per Pixel (0028,0002) is ${samplesPerPixel}, expected 1 or 3`);
  }
  if (photometric === "YBR_FULL_422" && !JPEG_FAMILY.test(transferSyntax)) {
    throw new MedicalFileError(file, "unsupported", "chroma-subsampled YBR_FULL_422 pixel data outside JPEG is not supported");
  }
  if (transferSyntax === "1.2.840.10008.1.2.5" && (bitsAllocated / 8) * samplesPerPixel > 3) {
    throw new MedicalFileError(
      file,
      "unsupported",
      `RLE with ${(bitsAllocated / 8) * samplesPerPixel} segments per frame (${bitsAllocated}-bit, ${samplesPerPixel} sample(s)) is not supported; the RLE decoder handles 8/16-bit grayscale and 8-bit RGB`,
    );
  }
  if (JPEG_FAMILY.test(transferSyntax)) {
    checkCodestreams(file, image, frames, transferSyntaxName, { rows, columns, samples: samplesPerPixel });
  }
  const bytesPerSample = isPalette ? 1 : bitsAllocated / 8;
  const compressed = transferSyntax.startsWith("1.2.840.10008.1.2.4.") || transferSyntax === "1.2.840.10008.1.2.5";
  // Decompressed and RLE-decoded pixel data are written little endian by daikon.
  const littleEndian = compressed ? true : image.littleEndian;
  // JPEG decoders hand back RGB even when the header says YBR; RLE and native YBR keep Y in sample 0.
  const lumaFromY = photometric.startsWith("YBR") && !JPEG_FAMILY.test(transferSyntax);
  const planar = !compressed && image.getPlanarConfig() === 1;

  const pixelBuffer = guard(file, `decoding ${transferSyntaxName} pixel data`, () => image.getRawData());
  if (!(pixelBuffer instanceof ArrayBuffer) || pixelBuffer.byteLength === 0) {
    throw new MedicalFileError(
      file,
      "corrupt",
      `the ${transferSyntaxName} pixel data could not be decoded (decoder gave no data)`,
    );
  }
  const frameSamples = rows * columns * samplesPerPixel;
  const needed = frameSamples * frames * bytesPerSample;
  if (pixelBuffer.byteLength < needed) {
    throw new MedicalFileError(
      file,
      compressed ? "corrupt" : "truncated",
      `pixel data holds ${pixelBuffer.byteLength} bytes, expected ${needed} (${frames} frame(s) of ${rows}×${columns}×${samplesPerPixel} × ${bytesPerSample} byte(s))`,
    );
  }
  const view = new DataView(pixelBuffer);
  const rescaleSlope = samplesPerPixel === 1 ? finiteOr(image.getDataScaleSlope(), 1) || 1 : 1;
  const rescaleIntercept = samplesPerPixel === 1 ? finiteOr(image.getDataScaleIntercept(), 0) : 0;

  const readSample = sampleReader(
    view,
    isPalette ? 8 : bitsAllocated,
    isPalette ? 8 : bitsStored,
    isPalette ? 0 : pixelRepresentation,
    littleEndian,
  );

  function hu(frame: number): Float32Array {
    if (!Number.isInteger(frame) || frame < 0 || frame >= frames) {
      throw new RangeError(`${file}: frame ${frame} out of range, the file has ${frames} frame(s) (0..${frames - 1})`);
    }
    const pixels = rows * columns;
    const out = new Float32Array(pixels);
    const base = frame * frameSamples;
    if (samplesPerPixel === 1) {
      for (let i = 0; i < pixels; i++) out[i] = readSample(base + i) * rescaleSlope + rescaleIntercept;
      return out;
    }
    for (let i = 0; i < pixels; i++) {
      const at = (sample: number): number => readSample(planar ? base + sample * pixels + i : base + i * 3 + sample);
      out[i] = lumaFromY ? at(0) : 0.299 * at(0) + 0.587 * at(1) + 0.114 * at(2);
    }
    return out;
  }

  const pixelSpacing = image.getPixelSpacing();
  const spacing =
    pixelSpacing !== null && pixelSpacing.length >= 2 && pixelSpacing.every((v) => Number.isFinite(v) && v > 0)
      ? ([pixelSpacing[0], pixelSpacing[1]] as const)
      : undefined;
  const patient = readPatient(image);
  const windowCenter = optionalFinite(image.getWindowCenter());
  const windowWidth = optionalFinite(image.getWindowWidth());
  const sliceThickness = optionalFinite(image.getSliceThickness());

  return {
    file,
    rows,
    columns,
    frames,
    ...(spacing === undefined ? {} : { pixelSpacing: spacing }),
    ...(sliceThickness === undefined ? {} : { sliceThickness }),
    rescaleSlope,
    rescaleIntercept,
    modality: tagText(image, 0x0008, 0x0060) ?? "OT",
    photometric,
    samplesPerPixel,
    bitsAllocated,
    bitsStored,
    pixelRepresentation,
    transferSyntax,
    transferSyntaxName,
    ...(windowCenter === undefined ? {} : { windowCenter }),
    ...(windowWidth === undefined ? {} : { windowWidth }),
    ...(patient === undefined ? {} : { patient }),
    hu,
    toWindowed: (frame, center, width) => windowValues(hu(frame), center, width, photometric === "MONOCHROME1"),
  };
}

/**
 * The JPEG-family decoders can run away on a cut-off codestream, so every frame's
 * codestream must be there and end with the EOI/EOC marker (FF D9, maybe padded) first.
 */
function checkCodestreams(
  file: string,
  image: DaikonImage,
  frames: number,
  syntaxName: string,
  expected: { rows: number; columns: number; samples: number },
): void {
  const streams = guard(file, "reading the encapsulated pixel data", () => image.getJpegs());
  if (streams.length < frames) {
    throw new MedicalFileError(
      file,
      "corrupt",
      `${syntaxName} pixel data holds ${streams.length} codestream(s), expected ${frames} (one per frame)`,
    );
  }
  const element = image.getPixelData();
  const elementLength = (element?.offsetEnd ?? 0) - (element?.offsetValue ?? 0);
  const streamBytes = streams.reduce((sum, stream) => sum + stream.byteLength, 0);
  // Item headers and the offset table take 8 + 4 bytes per frame; much less than that means
  // a delimiter inside a fragment cut the codestreams short.
  if (elementLength > 0 && streamBytes + 16 * (streams.length + 8) < elementLength * 0.9) {
    throw new MedicalFileError(
      file,
      "corrupt",
      `the ${syntaxName} fragments hold ${streamBytes} bytes of the ${elementLength}-byte Pixel Data element: a delimiter inside a fragment cut the codestream short`,
    );
  }
  for (let i = 0; i < frames; i++) {
    const stream = new Uint8Array(streams[i]);
    let hasEnd = false;
    // Encoders pad fragments to even length and some leave a few bytes after the marker.
    for (let at = stream.length - 2; at >= Math.max(2, stream.length - 16); at--) {
      if (stream[at] === 0xff && stream[at + 1] === 0xd9) {
        hasEnd = true;
        break;
      }
    }
    const size = codestreamSize(stream);
    if (
      size !== null &&
      ((size.rows !== 0 && size.rows !== expected.rows) || size.columns !== expected.columns || size.samples !== expected.samples)
    ) {
      throw new MedicalFileError(
        file,
        "corrupt",
        `the ${syntaxName} codestream of frame ${i} is ${size.rows}×${size.columns}×${size.samples}, but the data set says ${expected.rows}×${expected.columns}×${expected.samples}`,
      );
    }
    if (!hasEnd) {
      throw new MedicalFileError(
        file,
        "corrupt",
        `the ${syntaxName} codestream of frame ${i} (${stream.length} bytes) does not end with the FF D9 end marker: it is cut off or its fragments are mis-delimited`,
      );
    }
  }
}

/** Rows, columns and components from a JPEG SOF / JPEG-LS SOF55 or JPEG 2000 SIZ header; null when not found. */
function codestreamSize(stream: Uint8Array): { rows: number; columns: number; samples: number } | null {
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  if (stream.length >= 42 && view.getUint16(0) === 0xff4f && view.getUint16(2) === 0xff51) {
    // JPEG 2000 SIZ: Lsiz Rsiz Xsiz Ysiz XOsiz YOsiz XTsiz YTsiz XTOsiz YTOsiz Csiz
    return {
      columns: view.getUint32(8) - view.getUint32(16),
      rows: view.getUint32(12) - view.getUint32(20),
      samples: view.getUint16(40),
    };
  }
  if (stream.length < 4 || view.getUint16(0) !== 0xffd8) return null;
  let at = 2;
  while (at + 4 <= stream.length) {
    if (stream[at] !== 0xff) return null;
    const marker = stream[at + 1];
    if (marker === 0xff) {
      at++;
      continue;
    }
    const length = view.getUint16(at + 2);
    const isSof = (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) || marker === 0xf7;
    if (isSof && at + 10 <= stream.length) {
      return { rows: view.getUint16(at + 5), columns: view.getUint16(at + 7), samples: stream[at + 9] };
    }
    if (marker === 0xda) return null;
    at += 2 + length;
  }
  return null;
}

/** Reads stored sample number `index` as an integer honouring Bits Stored and the sign. */
function sampleReader(
  view: DataView,
  bitsAllocated: number,
  bitsStored: number,
  pixelRepresentation: number,
  littleEndian: boolean,
): (index: number) => number {
  const signed = pixelRepresentation === 1;
  if (bitsAllocated === 32) {
    return signed ? (i) => view.getInt32(i * 4, littleEndian) : (i) => view.getUint32(i * 4, littleEndian);
  }
  const bytes = bitsAllocated / 8;
  const mask = 2 ** bitsStored - 1;
  const signBit = 2 ** (bitsStored - 1);
  const range = 2 ** bitsStored;
  const raw = bytes === 1 ? (i: number) => view.getUint8(i) : (i: number) => view.getUint16(i * 2, littleEndian);
  return (i) => {
    const value = raw(i) & mask;
    return signed && value >= signBit ? value - range : value;
  };
}
