// The findings of a chest CT report as JSON, with the synthetic data's finding vocabulary:
// { "findings": [ { "type", "side", "lobe", "sizeMm", "severity" } ] }.

import { findingTypes, lobes, severityTerms, sides } from "../../data/index.js";
import type { JsonSchema } from "./jsonSchema.js";

const nullableEnum = (values: readonly string[]): JsonSchema => ({ type: ["string", "null"], enum: [...values, null] });

/** The findings schema, at most `maxFindings` findings (one per finding type by default). */
export function findingsSchema(maxFindings = findingTypes.length): JsonSchema {
  return {
    type: "object",
    properties: {
      findings: {
        type: "array",
        maxItems: maxFindings,
        items: {
          type: "object",
          properties: {
            type: { type: "string", enum: [...findingTypes] },
            side: nullableEnum(sides),
            lobe: nullableEnum(lobes),
            sizeMm: { type: ["integer", "null"], minimum: 1, maximum: 100 },
            severity: nullableEnum(Object.keys(severityTerms)),
          },
          required: ["type", "side", "lobe", "sizeMm", "severity"],
        },
      },
    },
    required: ["findings"],
  };
}

export const findingsJsonSchema: JsonSchema = findingsSchema();
