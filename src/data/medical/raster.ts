// PNG (pngjs) and JPEG (jpeg-js) images as grayscale Float32Array in 0..255.

import jpeg from "jpeg-js";
import { PNG } from "pngjs";
import { type FileInput, loadInput, MedicalFileError } from "./errors.js";

export interface GrayImage {
  readonly file: string;
  readonly format: "png" | "jpeg";
  readonly width: number;
  readonly height: number;
  /** width×height luminance (0.299 R + 0.587 G + 0.114 B), row-major, in 0..255 */
  readonly pixels: Float32Array;
  /** Share of pixels whose colour channels differ by more than 24 levels: 0 for a grey image (CT renders are grey). */
  readonly colourShare: number;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] as const;

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b);
}

export function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

/** Largest image accepted, in megabytes of decoded RGBA (guards against decompression bombs). */
const MAX_MEMORY_MB = 1024;

function luminance(rgba: Uint8Array, width: number, height: number): Float32Array {
  const out = new Float32Array(width * height);
  for (let i = 0; i < out.length; i++) {
    out[i] = 0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2];
  }
  return out;
}

/** Share of pixels whose channels differ by more than 24 of 255 (more than JPEG's chroma noise on a grey image). */
function colourShare(rgba: Uint8Array, width: number, height: number): number {
  let coloured = 0;
  for (let i = 0; i < width * height; i++) {
    const r = rgba[4 * i];
    const g = rgba[4 * i + 1];
    const b = rgba[4 * i + 2];
    if (Math.max(r, g, b) - Math.min(r, g, b) > 24) coloured++;
  }
  return coloured / Math.max(1, width * height);
}

function decodeFailure(file: string, format: string, err: unknown): MedicalFileError {
  const message = err instanceof Error ? err.message : String(err);
  const truncated = /end of|unexpected end|truncat|not enough|out of range|outside the bounds/i.test(message);
  return new MedicalFileError(file, truncated ? "truncated" : "corrupt", `${format} data cannot be decoded (${message})`, {
    cause: err,
  });
}

/** Reads a PNG (any bit depth, colour type or interlace; 16-bit is rescaled to 8) as grayscale. */
export function readPng(input: FileInput, name = "<png bytes>"): GrayImage {
  const { bytes, file } = loadInput(input, name);
  if (!isPng(bytes)) throw new MedicalFileError(file, "corrupt", "no PNG signature (89 50 4E 47 0D 0A 1A 0A) at byte 0");
  let png: { width: number; height: number; data: Uint8Array };
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (err) {
    throw decodeFailure(file, "PNG", err);
  }
  if (png.data.length < png.width * png.height * 4) {
    throw new MedicalFileError(
      file,
      "truncated",
      `PNG decoded to ${png.data.length} bytes, expected ${png.width * png.height * 4}`,
    );
  }
  return {
    file,
    format: "png",
    width: png.width,
    height: png.height,
    pixels: luminance(png.data, png.width, png.height),
    colourShare: colourShare(png.data, png.width, png.height),
  };
}

/** Reads a baseline or progressive JPEG as grayscale. */
export function readJpeg(input: FileInput, name = "<jpeg bytes>"): GrayImage {
  const { bytes, file } = loadInput(input, name);
  if (!isJpeg(bytes)) throw new MedicalFileError(file, "corrupt", "no JPEG SOI marker (FF D8 FF) at byte 0");
  let image: { width: number; height: number; data: Uint8Array };
  try {
    image = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: MAX_MEMORY_MB });
  } catch (err) {
    throw decodeFailure(file, "JPEG", err);
  }
  if (image.width < 1 || image.height < 1 || image.data.length < image.width * image.height * 4) {
    throw new MedicalFileError(file, "corrupt", `JPEG decoded to ${image.width}×${image.height} with ${image.data.length} bytes`);
  }
  return {
    file,
    format: "jpeg",
    width: image.width,
    height: image.height,
    pixels: luminance(image.data, image.width, image.height),
    colourShare: colourShare(image.data, image.width, image.height),
  };
}
