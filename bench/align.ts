// The aligner's recipes at equal compute: progressive (unimodal pre-training, then InfoNCE)
// against direct (InfoNCE from scratch), same data, same initial weights, same steps × batch.
// Usage: node --import tsx bench/align.ts [--preset default] [--steps N] [--threads 2] [--out DIR]
// Prints the comparison table; the last line is JSON. Same as `aigc compare align --json`.
import { parseArgs } from "node:util";
import { formatAlignComparison, runAlignComparison } from "../src/cli/align.js";
import { ALIGN_PRESET_NAMES, type AlignPresetName } from "../src/train/alignRecipe.js";

const { values } = parseArgs({
  options: {
    preset: { type: "string", default: "default" },
    steps: { type: "string" },
    threads: { type: "string" },
    out: { type: "string" },
  },
});
const preset = values.preset as AlignPresetName;
if (!ALIGN_PRESET_NAMES.includes(preset))
  throw new Error(`--preset must be one of ${ALIGN_PRESET_NAMES.join(", ")}, got "${preset}"`);
const c = await runAlignComparison({
  preset,
  steps: values.steps ? Number(values.steps) : undefined,
  threads: values.threads ? Number(values.threads) : undefined,
  out: values.out,
});
console.log(formatAlignComparison(c));
console.log(JSON.stringify(c));
