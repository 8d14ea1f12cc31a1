// A minimal DICOM Part 10 writer for one CT slice: explicit VR little endian, 128-byte
// preamble, "DICM", file meta group 0002 with its group length, then a CT Image IOD
// (patient, study, series, frame of reference, equipment, image plane, image pixel, CT
// image, VOI LUT and SOP common modules). UIDs and dates derive from (seed, index), so
// the same case always gives the same bytes.

import { hash32 } from "../../runtime/index.js";
import type { SynthCase } from "./types.js";

export const ctImageStorage = "1.2.840.10008.5.1.4.1.1.2";
export const explicitVrLittleEndian = "1.2.840.10008.1.2.1";
const implementationClassUid = "2.25.245468716326411372380936436212375843585";
const implementationVersion = "AIGC_SYNTH_1";

/** VRs whose length field is 32-bit (with 2 reserved bytes before it). */
const longVrs = new Set(["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"]);

interface Element {
  group: number;
  element: number;
  vr: string;
  value: Uint8Array;
}

const ascii = new TextEncoder();

/** A text value padded to even length: UIDs with NUL, other strings with a space. */
function text(group: number, element: number, vr: string, value: string): Element {
  if (!/^[\x20-\x7e]*$/.test(value))
    throw new RangeError(`DICOM ${vr} value must be printable ASCII, got ${JSON.stringify(value)}`);
  const padded = value.length % 2 === 0 ? value : value + (vr === "UI" ? "\0" : " ");
  return { group, element, vr, value: ascii.encode(padded) };
}

function us(group: number, element: number, value: number): Element {
  const bytes = new Uint8Array(2);
  new DataView(bytes.buffer).setUint16(0, value, true);
  return { group, element, vr: "US", value: bytes };
}

function ul(group: number, element: number, value: number): Element {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value, true);
  return { group, element, vr: "UL", value: bytes };
}

/** Decimal string of at most 16 characters. */
function ds(value: number): string {
  const plain = String(value);
  if (plain.length <= 16) return plain;
  const short = value.toPrecision(10);
  return String(Number(short));
}

function encodedLength(e: Element): number {
  return (longVrs.has(e.vr) ? 12 : 8) + e.value.length;
}

function writeElements(view: DataView, bytes: Uint8Array, at: number, elements: readonly Element[]): number {
  let offset = at;
  for (const e of elements) {
    view.setUint16(offset, e.group, true);
    view.setUint16(offset + 2, e.element, true);
    bytes[offset + 4] = e.vr.charCodeAt(0);
    bytes[offset + 5] = e.vr.charCodeAt(1);
    if (longVrs.has(e.vr)) {
      view.setUint16(offset + 6, 0, true);
      view.setUint32(offset + 8, e.value.length, true);
      offset += 12;
    } else {
      if (e.value.length > 0xffff)
        throw new RangeError(`(${e.group.toString(16)},${e.element.toString(16)}) ${e.vr} value too long`);
      view.setUint16(offset + 6, e.value.length, true);
      offset += 8;
    }
    bytes.set(e.value, offset);
    offset += e.value.length;
  }
  return offset;
}

/** A "2.25." UID (a UUID as a decimal integer, PS3.5 B.2) derived from the case and what it names. */
export function derivedUid(seed: number, index: number, what: number): string {
  let value = 0n;
  for (let k = 0; k < 4; k++) value = (value << 32n) | BigInt(hash32(seed, index, what, k));
  // a version-4-shaped UUID: never zero, at most 39 digits
  value = (value & ~(0xfn << 76n)) | (0x4n << 76n);
  return `2.25.${value.toString()}`;
}

const uidKinds = { study: 1, series: 2, instance: 3, frameOfReference: 4 } as const;

/** Slice position along the patient's long axis (z, mm) for each level. */
const sliceZ = { upper: -60, mid: -120, lower: -170 } as const;

/** Birth date YYYYMMDD: the study date less the age in years. */
function birthDate(studyDate: string, age: number): string {
  return `${String(Number(studyDate.slice(0, 4)) - age).padStart(4, "0")}${studyDate.slice(4)}`;
}

/** Encodes the case as a DICOM Part 10 CT image (signed 16-bit, slope 1, intercept 0: stored value = HU). */
export function encodeCtDicom(synthCase: SynthCase): Uint8Array {
  const uid = (what: number): string => derivedUid(synthCase.seed, synthCase.index, what);
  const sopInstanceUid = uid(uidKinds.instance);
  const studyTime = String(80000 + (hash32(synthCase.seed, synthCase.index, 0x7173) % 90000)).padStart(6, "0");
  const spacing = ds(synthCase.pixelSpacingMm);
  const originX = ds(-(synthCase.width / 2 - 0.5) * synthCase.pixelSpacingMm);
  const originY = ds(-(synthCase.height / 2 - 0.5) * synthCase.pixelSpacingMm);
  const z = sliceZ[synthCase.sliceLevel];

  const pixels = new Uint8Array(synthCase.hu.length * 2);
  const pixelView = new DataView(pixels.buffer);
  for (let p = 0; p < synthCase.hu.length; p++) pixelView.setInt16(p * 2, synthCase.hu[p], true);

  const meta: Element[] = [
    { group: 0x0002, element: 0x0001, vr: "OB", value: new Uint8Array([0, 1]) },
    text(0x0002, 0x0002, "UI", ctImageStorage),
    text(0x0002, 0x0003, "UI", sopInstanceUid),
    text(0x0002, 0x0010, "UI", explicitVrLittleEndian),
    text(0x0002, 0x0012, "UI", implementationClassUid),
    text(0x0002, 0x0013, "SH", implementationVersion),
  ];
  const metaLength = meta.reduce((sum, e) => sum + encodedLength(e), 0);
  meta.unshift(ul(0x0002, 0x0000, metaLength));

  const dataSet: Element[] = [
    text(0x0008, 0x0008, "CS", "ORIGINAL\\PRIMARY\\AXIAL"),
    text(0x0008, 0x0016, "UI", ctImageStorage),
    text(0x0008, 0x0018, "UI", sopInstanceUid),
    text(0x0008, 0x0020, "DA", synthCase.studyDate),
    text(0x0008, 0x0021, "DA", synthCase.studyDate),
    text(0x0008, 0x0022, "DA", synthCase.studyDate),
    text(0x0008, 0x0023, "DA", synthCase.studyDate),
    text(0x0008, 0x0030, "TM", studyTime),
    text(0x0008, 0x0031, "TM", studyTime),
    text(0x0008, 0x0032, "TM", studyTime),
    text(0x0008, 0x0033, "TM", studyTime),
    text(0x0008, 0x0050, "SH", `ACC${String(hash32(synthCase.seed, synthCase.index, 0xacc) % 1e9).padStart(9, "0")}`),
    text(0x0008, 0x0060, "CS", "CT"),
    text(0x0008, 0x0070, "LO", "AIGC Studio (synthetic)"),
    text(0x0008, 0x0090, "PN", ""),
    text(0x0008, 0x1030, "LO", "CT CHEST (SYNTHETIC)"),
    text(0x0008, 0x103e, "LO", `AXIAL ${synthCase.sliceLevel.toUpperCase()} SLICE (SYNTHETIC)`),
    text(0x0008, 0x1090, "LO", "synthChestCase"),
    text(0x0010, 0x0010, "PN", synthCase.ehr.patientName),
    text(0x0010, 0x0020, "LO", synthCase.ehr.patientId),
    text(0x0010, 0x0030, "DA", birthDate(synthCase.studyDate, synthCase.ehr.age)),
    text(0x0010, 0x0040, "CS", synthCase.ehr.sex),
    text(0x0010, 0x1010, "AS", `${String(synthCase.ehr.age).padStart(3, "0")}Y`),
    text(0x0018, 0x0015, "CS", "CHEST"),
    text(0x0018, 0x0050, "DS", "5"),
    text(0x0018, 0x0060, "DS", "120"),
    text(0x0018, 0x1020, "LO", "aigc-studio 0.1.0"),
    text(0x0018, 0x1151, "IS", "200"),
    text(0x0018, 0x1210, "SH", "LUNG"),
    text(0x0018, 0x5100, "CS", "HFS"),
    text(0x0020, 0x000d, "UI", uid(uidKinds.study)),
    text(0x0020, 0x000e, "UI", uid(uidKinds.series)),
    text(0x0020, 0x0010, "SH", String(synthCase.index % 100000)),
    text(0x0020, 0x0011, "IS", "1"),
    text(0x0020, 0x0012, "IS", "1"),
    text(0x0020, 0x0013, "IS", "1"),
    text(0x0020, 0x0020, "CS", "L\\P"),
    text(0x0020, 0x0032, "DS", `${originX}\\${originY}\\${z}`),
    text(0x0020, 0x0037, "DS", "1\\0\\0\\0\\1\\0"),
    text(0x0020, 0x0052, "UI", uid(uidKinds.frameOfReference)),
    text(0x0020, 0x1040, "LO", ""),
    text(0x0020, 0x1041, "DS", String(z)),
    us(0x0028, 0x0002, 1),
    text(0x0028, 0x0004, "CS", "MONOCHROME2"),
    us(0x0028, 0x0010, synthCase.height),
    us(0x0028, 0x0011, synthCase.width),
    text(0x0028, 0x0030, "DS", `${spacing}\\${spacing}`),
    us(0x0028, 0x0100, 16),
    us(0x0028, 0x0101, 16),
    us(0x0028, 0x0102, 15),
    us(0x0028, 0x0103, 1),
    text(0x0028, 0x1050, "DS", "-600"),
    text(0x0028, 0x1051, "DS", "1500"),
    text(0x0028, 0x1052, "DS", "0"),
    text(0x0028, 0x1053, "DS", "1"),
    text(0x0028, 0x1054, "LO", "HU"),
    { group: 0x7fe0, element: 0x0010, vr: "OW", value: pixels },
  ];

  const total = 132 + metaLength + 12 + dataSet.reduce((sum, e) => sum + encodedLength(e), 0);
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  bytes.set(ascii.encode("DICM"), 128);
  let offset = writeElements(view, bytes, 132, meta);
  offset = writeElements(view, bytes, offset, dataSet);
  if (offset !== total) throw new Error(`DICOM writer wrote ${offset} bytes, expected ${total}`);
  return bytes;
}
