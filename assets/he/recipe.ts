// Recipe of the shipped encrypted models: `node --import tsx assets/he/recipe.ts`
// trains them with the engine (see src/train/heRecipe.ts) and rewrites
// assets/he/ehr-logistic.json and assets/he/ehr-mlp.json.

import { writeFileSync } from "node:fs";
import { trainEhrModels } from "../../src/train/heRecipe.js";

const here = new URL(".", import.meta.url);
const { logistic, mlp } = await trainEhrModels();
for (const m of [logistic, mlp]) {
  writeFileSync(new URL(`${m.name}.json`, here), `${JSON.stringify(m, null, 1)}\n`);
  console.log(`${m.name}: held-out accuracy ${m.provenance?.heldOutAccuracy}`);
}
