// The detector's public types and option schema.

import { z } from "zod";

/** Every kind of sensitive span the detector reports, in a fixed order. */
export const piiKinds = [
  "name",
  "nationalId",
  "phone",
  "email",
  "dateOfBirth",
  "medicalRecordNumber",
  "creditCard",
  "ipAddress",
] as const;

export type PiiKind = (typeof piiKinds)[number];

/** The typed placeholder `redact` writes in place of each kind. */
export const piiPlaceholders: Readonly<Record<PiiKind, string>> = {
  name: "[NAME]",
  nationalId: "[ID]",
  phone: "[PHONE]",
  email: "[EMAIL]",
  dateOfBirth: "[DOB]",
  medicalRecordNumber: "[MRN]",
  creditCard: "[CARD]",
  ipAddress: "[IP]",
};

/**
 * One sensitive span. `start`/`end` are UTF-16 offsets into the input (`[start, end)`),
 * so `text.slice(start, end) === finding.text`. `confidence` is in (0, 1].
 */
export interface PiiFinding {
  readonly kind: PiiKind;
  readonly start: number;
  readonly end: number;
  readonly text: string;
  readonly confidence: number;
}

export interface PiiResult {
  readonly sensitive: boolean;
  readonly findings: readonly PiiFinding[];
}

/** What a router needs: is it sensitive, and which kinds were seen. */
export interface PiiSensitivity {
  readonly sensitive: boolean;
  readonly kinds: readonly PiiKind[];
  readonly count: number;
  readonly maxConfidence: number;
}

export const piiOptionsSchema = z
  .object({
    /** Only report these kinds (default: all). */
    kinds: z.array(z.enum(piiKinds)).optional(),
    /** Drop findings below this confidence (default 0.5). */
    minConfidence: z.number().min(0).max(1).optional(),
    /** "Today" for date-of-birth and ID birth-date checks (default: the current date). */
    today: z.date().optional(),
  })
  .strict();

export type PiiOptions = z.input<typeof piiOptionsSchema>;
