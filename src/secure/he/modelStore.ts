// The shipped encrypted models (assets/he/*.json), read and validated. Server/CLI side (node:fs).

import { readFileSync } from "node:fs";
import { type HeModel, heModelSchema } from "../../models/index.js";
import { issueLines, safeParseInput } from "../../runtime/index.js";

/** assets/he, found from this file (src/secure/he or dist/secure/he: both three levels down). */
export const heAssetsDir = new URL("../../../assets/he/", import.meta.url);

export const shippedModelNames = ["ehr-logistic", "ehr-mlp"] as const;

/** Parse and validate a model JSON text; errors say which field is wrong. */
export function parseHeModel(text: string, source: string): HeModel {
  const json: unknown = JSON.parse(text);
  const r = safeParseInput(heModelSchema, json);
  if (!r.success) throw new Error(`${source}: not an encrypted-model file: ${issueLines(r.error, json, { root: "the file" })}`);
  return r.data;
}

/** A shipped model by name. */
export function loadShippedModel(name: string): HeModel {
  if (!(shippedModelNames as readonly string[]).includes(name))
    throw new Error(`unknown encrypted model "${name}"; must be one of: ${shippedModelNames.join(", ")}`);
  const url = new URL(`${name}.json`, heAssetsDir);
  return parseHeModel(readFileSync(url, "utf8"), url.pathname);
}

export const loadShippedModels = (): HeModel[] => shippedModelNames.map(loadShippedModel);
