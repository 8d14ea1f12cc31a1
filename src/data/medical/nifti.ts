// NIfTI-1 and NIfTI-2 single-file volumes (.nii, and .nii.gz through node:zlib).
// A small exact reader rather than a dependency: the format is one fixed header followed
// by raw voxels, and owning it lets every failure be a MedicalFileError naming the field.

import { gunzipSync } from "node:zlib";
import { type FileInput, loadInput, MedicalFileError } from "./errors.js";

/** NIfTI datatype codes this reader accepts, with their byte size. */
const DATATYPES: Readonly<Record<number, { name: string; bytes: number }>> = {
  2: { name: "uint8", bytes: 1 },
  4: { name: "int16", bytes: 2 },
  8: { name: "int32", bytes: 4 },
  16: { name: "float32", bytes: 4 },
  64: { name: "float64", bytes: 8 },
  256: { name: "int8", bytes: 1 },
  512: { name: "uint16", bytes: 2 },
  768: { name: "uint32", bytes: 4 },
};

const UNSUPPORTED_DATATYPES: Readonly<Record<number, string>> = {
  1: "binary",
  32: "complex64",
  128: "rgb24",
  1024: "int64",
  1280: "uint64",
  1536: "float128",
  1792: "complex128",
  2048: "complex256",
  2304: "rgba32",
};

/** Upper bound on a decompressed volume, to refuse gzip bombs and absurd headers. */
const MAX_VOLUME_BYTES = 2 ** 31 - 1;

export interface NiftiVolume {
  readonly file: string;
  readonly version: 1 | 2;
  /** dim[1..dim[0]]: x, y, z, t, … */
  readonly dims: readonly number[];
  readonly width: number;
  readonly height: number;
  /** dim[3], 1 for a 2-D image */
  readonly depth: number;
  /** product of dim[4..], 1 for a single volume */
  readonly volumes: number;
  readonly datatype: number;
  readonly datatypeName: string;
  /** pixdim[1..dim[0]]: voxel size (mm) and time step */
  readonly pixdim: readonly number[];
  /** scl_slope and scl_inter as applied (slope 0 in the file means no scaling: 1, 0) */
  readonly sclSlope: number;
  readonly sclInter: number;
  readonly littleEndian: boolean;
  /** One axial slice (x fastest) of volume `volume`, scaled: width×height values. */
  slice(z: number, volume?: number): Float32Array;
  /** Every voxel, scaled, in file order. */
  voxels(): Float32Array;
}

const GZIP_MAGIC = [0x1f, 0x8b] as const;

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1];
}

/** True for an uncompressed NIfTI-1 or NIfTI-2 single-file header. */
export function isNifti(bytes: Uint8Array): boolean {
  return niftiVersion(bytes) !== null;
}

function niftiVersion(bytes: Uint8Array): { version: 1 | 2; littleEndian: boolean } | null {
  if (bytes.length < 4) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const littleEndian of [true, false]) {
    const size = view.getInt32(0, littleEndian);
    if (size === 348 && bytes.length >= 348) return { version: 1, littleEndian };
    if (size === 540 && bytes.length >= 540) return { version: 2, littleEndian };
  }
  return null;
}

function ascii(bytes: Uint8Array, start: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(start, start + length));
}

function gunzip(file: string, bytes: Uint8Array): Uint8Array {
  try {
    return gunzipSync(bytes, { maxOutputLength: MAX_VOLUME_BYTES });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const truncated = /unexpected end/i.test(message);
    throw new MedicalFileError(file, truncated ? "truncated" : "corrupt", `gzip stream cannot be inflated (${message})`, {
      cause: err,
    });
  }
}

/** Reads a NIfTI-1/NIfTI-2 `.nii` or `.nii.gz` from bytes or a path. */
export function readNifti(input: FileInput, name = "<nifti bytes>"): NiftiVolume {
  const loaded = loadInput(input, name);
  const file = loaded.file;
  const bytes = isGzip(loaded.bytes) ? gunzip(file, loaded.bytes) : loaded.bytes;
  const found = niftiVersion(bytes);
  if (found === null) {
    throw new MedicalFileError(
      file,
      bytes.length < 348 ? "truncated" : "corrupt",
      bytes.length < 348
        ? `${bytes.length} bytes is shorter than a NIfTI header (348 bytes for NIfTI-1, 540 for NIfTI-2)`
        : "sizeof_hdr is neither 348 (NIfTI-1) nor 540 (NIfTI-2) in either byte order",
    );
  }
  const { version, littleEndian } = found;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const i16 = (at: number): number => view.getInt16(at, littleEndian);
  const f32 = (at: number): number => view.getFloat32(at, littleEndian);
  const f64 = (at: number): number => view.getFloat64(at, littleEndian);
  const i64 = (at: number): number => Number(view.getBigInt64(at, littleEndian));

  let magic: string;
  let dim: number[];
  let pixdimAll: number[];
  let datatype: number;
  let voxOffset: number;
  let slope: number;
  let inter: number;
  if (version === 1) {
    magic = ascii(bytes, 344, 4);
    if (magic === "ni1\0") {
      throw new MedicalFileError(
        file,
        "unsupported",
        'a NIfTI-1 ".hdr/.img" pair header (magic "ni1"); only single-file ".nii" (magic "n+1") is supported',
      );
    }
    if (magic !== "n+1\0")
      throw new MedicalFileError(file, "corrupt", `NIfTI-1 magic is ${JSON.stringify(magic)}, expected "n+1\\0"`);
    dim = Array.from({ length: 8 }, (_, i) => i16(40 + 2 * i));
    datatype = i16(70);
    pixdimAll = Array.from({ length: 8 }, (_, i) => f32(76 + 4 * i));
    voxOffset = f32(108);
    slope = f32(112);
    inter = f32(116);
  } else {
    magic = ascii(bytes, 4, 8);
    if (magic === "ni2\0\r\n\x1a\n") {
      throw new MedicalFileError(
        file,
        "unsupported",
        'a NIfTI-2 ".hdr/.img" pair header (magic "ni2"); only single-file ".nii" (magic "n+2") is supported',
      );
    }
    if (magic !== "n+2\0\r\n\x1a\n")
      throw new MedicalFileError(file, "corrupt", `NIfTI-2 magic is ${JSON.stringify(magic)}, expected "n+2\\0\\r\\n\\x1a\\n"`);
    datatype = i16(12);
    dim = Array.from({ length: 8 }, (_, i) => i64(16 + 8 * i));
    pixdimAll = Array.from({ length: 8 }, (_, i) => f64(104 + 8 * i));
    voxOffset = i64(168);
    slope = f64(176);
    inter = f64(184);
  }

  const rank = dim[0];
  if (!Number.isInteger(rank) || rank < 1 || rank > 7) {
    throw new MedicalFileError(file, "corrupt", `dim[0] is ${rank}, expected 1..7`);
  }
  const dims = dim.slice(1, rank + 1);
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 1)) {
    throw new MedicalFileError(file, "corrupt", `dims are [${dims.join(", ")}], expected positive integers`);
  }
  const type = DATATYPES[datatype];
  if (type === undefined) {
    const known = UNSUPPORTED_DATATYPES[datatype];
    throw new MedicalFileError(
      file,
      known === undefined ? "corrupt" : "unsupported",
      `datatype ${datatype}${known === undefined ? " is not a NIfTI datatype" : ` (${known}) is not supported`}; supported: ${Object.values(
        DATATYPES,
      )
        .map((t) => t.name)
        .join(", ")}`,
    );
  }
  const minOffset = version === 1 ? 348 : 540;
  if (!Number.isFinite(voxOffset) || voxOffset < minOffset) {
    throw new MedicalFileError(file, "corrupt", `vox_offset is ${voxOffset}, expected at least ${minOffset}`);
  }
  const count = dims.reduce((a, b) => a * b, 1);
  const needed = count * type.bytes;
  if (needed > MAX_VOLUME_BYTES) {
    throw new MedicalFileError(
      file,
      "unsupported",
      `the volume holds ${needed} bytes, more than the ${MAX_VOLUME_BYTES} this reader accepts`,
    );
  }
  const start = Math.floor(voxOffset);
  if (start + needed > bytes.length) {
    throw new MedicalFileError(
      file,
      "truncated",
      `voxel data needs ${needed} bytes from offset ${start} (${dims.join("×")} ${type.name}), the file holds ${Math.max(0, bytes.length - start)}`,
    );
  }
  const sclSlope = Number.isFinite(slope) && slope !== 0 ? slope : 1;
  const sclInter = Number.isFinite(slope) && slope !== 0 && Number.isFinite(inter) ? inter : 0;
  const read = voxelReader(view, datatype, start, littleEndian);
  const [width, height = 1, depth = 1] = dims;
  const volumes = dims.slice(3).reduce((a, b) => a * b, 1);

  function range(first: number, n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = read(first + i) * sclSlope + sclInter;
    return out;
  }

  return {
    file,
    version,
    dims,
    width,
    height,
    depth,
    volumes,
    datatype,
    datatypeName: type.name,
    pixdim: pixdimAll.slice(1, rank + 1),
    sclSlope,
    sclInter,
    littleEndian,
    slice(z, volume = 0) {
      if (!Number.isInteger(z) || z < 0 || z >= depth) throw new RangeError(`${file}: slice ${z} out of range 0..${depth - 1}`);
      if (!Number.isInteger(volume) || volume < 0 || volume >= volumes) {
        throw new RangeError(`${file}: volume ${volume} out of range 0..${volumes - 1}`);
      }
      const plane = width * height;
      return range((volume * depth + z) * plane, plane);
    },
    voxels: () => range(0, count),
  };
}

function voxelReader(view: DataView, datatype: number, start: number, little: boolean): (index: number) => number {
  switch (datatype) {
    case 2:
      return (i) => view.getUint8(start + i);
    case 256:
      return (i) => view.getInt8(start + i);
    case 4:
      return (i) => view.getInt16(start + 2 * i, little);
    case 512:
      return (i) => view.getUint16(start + 2 * i, little);
    case 8:
      return (i) => view.getInt32(start + 4 * i, little);
    case 768:
      return (i) => view.getUint32(start + 4 * i, little);
    case 16:
      return (i) => view.getFloat32(start + 4 * i, little);
    default:
      return (i) => view.getFloat64(start + 8 * i, little);
  }
}
