// The one error type of the medical file readers. Every failure to read a DICOM, NIfTI,
// PNG, JPEG or FHIR file surfaces as a MedicalFileError that names the file and says what
// was wrong and, where it helps, what was expected.

import { readFileSync } from "node:fs";

/** Why a file could not be read. */
export type MedicalFileProblem =
  /** the bytes are not the format they claim to be, or contradict themselves */
  | "corrupt"
  /** the file ends before the data its header announces */
  | "truncated"
  /** a valid file using a feature this reader does not decode (transfer syntax, datatype, …) */
  | "unsupported"
  /** the file could not be opened at all */
  | "io"
  /** a JSON document that is well formed but not the expected schema */
  | "invalid";

export class MedicalFileError extends Error {
  override readonly name = "MedicalFileError";
  readonly file: string;
  readonly problem: MedicalFileProblem;

  constructor(file: string, problem: MedicalFileProblem, detail: string, options?: { cause?: unknown }) {
    super(`${file}: ${problem === "io" ? "cannot open" : problem}: ${detail}`, options);
    this.file = file;
    this.problem = problem;
  }
}

/** Input of every reader: the bytes themselves, or a path to read them from. */
export type FileInput = Uint8Array | string;

/** The bytes of `input` and the name errors should use for it. */
export function loadInput(input: FileInput, fallbackName: string): { bytes: Uint8Array; file: string } {
  if (typeof input !== "string") return { bytes: input, file: fallbackName };
  try {
    return { bytes: readFileSync(input), file: input };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new MedicalFileError(input, "io", message, { cause: err });
  }
}

/** Runs `body`, turning anything it throws other than a MedicalFileError into one. */
export function guard<T>(file: string, what: string, body: () => T): T {
  try {
    return body();
  } catch (err) {
    if (err instanceof MedicalFileError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new MedicalFileError(file, "corrupt", `${what} failed: ${message}`, { cause: err });
  }
}
