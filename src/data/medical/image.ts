// One entry point for any medical image file, dispatched on content, not on the extension.

import { type DicomImage, isDicom, readDicom } from "./dicom.js";
import { type FileInput, loadInput, MedicalFileError } from "./errors.js";
import { isGzip, isNifti, type NiftiVolume, readNifti } from "./nifti.js";
import { type GrayImage, isJpeg, isPng, readJpeg, readPng } from "./raster.js";

export type MedicalImageFormat = "dicom" | "nifti" | "png" | "jpeg";

/** The common view of every format: a stack of 2-D grayscale planes. */
export interface MedicalImage {
  readonly file: string;
  readonly format: MedicalImageFormat;
  readonly width: number;
  readonly height: number;
  /** DICOM frames, NIfTI slices × volumes, 1 for PNG/JPEG */
  readonly planes: number;
  /** width×height values: HU (or rescaled values) for DICOM, scaled voxels for NIfTI, 0..255 for PNG/JPEG */
  plane(index: number): Float32Array;
  /** Exactly one of these is set, matching `format`. */
  readonly dicom?: DicomImage;
  readonly nifti?: NiftiVolume;
  readonly raster?: GrayImage;
}

/** Which reader the bytes call for, or null. gzip is taken to be .nii.gz. */
export function sniffFormat(bytes: Uint8Array): MedicalImageFormat | null {
  if (isDicom(bytes)) return "dicom";
  if (isPng(bytes)) return "png";
  if (isJpeg(bytes)) return "jpeg";
  if (isNifti(bytes) || isGzip(bytes)) return "nifti";
  return null;
}

function fromRaster(raster: GrayImage): MedicalImage {
  return {
    file: raster.file,
    format: raster.format,
    width: raster.width,
    height: raster.height,
    planes: 1,
    plane: (index) => {
      if (index !== 0) throw new RangeError(`${raster.file}: plane ${index} out of range, a ${raster.format} has plane 0 only`);
      return raster.pixels.slice();
    },
    raster,
  };
}

/** Reads a DICOM, NIfTI (.nii/.nii.gz), PNG or JPEG file, recognised by its first bytes. */
export function readMedicalImage(input: FileInput, name = "<image bytes>"): MedicalImage {
  const { bytes, file } = loadInput(input, name);
  const format = sniffFormat(bytes);
  switch (format) {
    case "dicom": {
      const dicom = readDicom(bytes, file);
      return { file, format, width: dicom.columns, height: dicom.rows, planes: dicom.frames, plane: (i) => dicom.hu(i), dicom };
    }
    case "nifti": {
      const nifti = readNifti(bytes, file);
      return {
        file,
        format,
        width: nifti.width,
        height: nifti.height,
        planes: nifti.depth * nifti.volumes,
        plane: (i) => {
          if (!Number.isInteger(i) || i < 0 || i >= nifti.depth * nifti.volumes) {
            throw new RangeError(`${file}: plane ${i} out of range 0..${nifti.depth * nifti.volumes - 1}`);
          }
          return nifti.slice(i % nifti.depth, Math.floor(i / nifti.depth));
        },
        nifti,
      };
    }
    case "png":
      return fromRaster(readPng(bytes, file));
    case "jpeg":
      return fromRaster(readJpeg(bytes, file));
    default:
      throw new MedicalFileError(
        file,
        "unsupported",
        `unrecognised content (first bytes ${Buffer.from(bytes.subarray(0, 8)).toString("hex") || "none"}); expected DICOM ("DICM" at byte 128), NIfTI-1/2 (sizeof_hdr 348/540, or gzip), PNG or JPEG`,
      );
  }
}
