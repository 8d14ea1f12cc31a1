// `npm run lint:deps`: dependency-cruiser over src/ with .dependency-cruiser.cjs, through its
// API (its CLI refuses Node 20, which this project supports). Prints each violation as
// "rule: from -> to" and exits 1 if there is any. Usage: node tools/lintDeps.mjs [baseDir]

import { createRequire } from "node:module";
import { resolve } from "node:path";
import { cruise } from "dependency-cruiser";

const require = createRequire(import.meta.url);
const config = require("../.dependency-cruiser.cjs");

/** Violations of the layer rules in `baseDir`/src: [{ rule, from, to }]. */
export async function layerViolations(baseDir) {
  const cwd = process.cwd();
  process.chdir(baseDir);
  try {
    const result = await cruise(["src"], { ...config.options, ruleSet: { forbidden: config.forbidden }, validate: true });
    const out = typeof result.output === "string" ? JSON.parse(result.output) : result.output;
    return out.summary.violations.map((v) => ({ rule: v.rule.name, from: v.from, to: v.to }));
  } finally {
    process.chdir(cwd);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const base = resolve(process.argv[2] ?? ".");
  const violations = await layerViolations(base);
  for (const v of violations) console.error(`${v.rule}: ${v.from} -> ${v.to}`);
  if (violations.length > 0) {
    console.error(`lint:deps: ${violations.length} import(s) break the layering (see .dependency-cruiser.cjs)`);
    process.exit(1);
  }
  console.log("lint:deps: no layering violations");
}
