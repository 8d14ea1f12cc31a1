// Usage: node --import tsx bench/engine.ts [--steps N] [--threads N]
// Prints our train-step time, PyTorch's on the identical model, and the ratio;
// the last line is JSON { stepMs, torchStepMs, ratio }. Same as `aigc bench engine --json`.
import { parseArgs } from "node:util";
import { engineBenchDefaults, runEngineBench } from "../src/cli/bench/engine.js";

const { values } = parseArgs({ options: { steps: { type: "string" }, threads: { type: "string" } } });
const opts = {
  ...engineBenchDefaults,
  ...(values.steps ? { steps: Number(values.steps) } : {}),
  ...(values.threads ? { threads: Number(values.threads) } : {}),
};
const r = await runEngineBench(opts, (l) => console.log(l));
console.log(JSON.stringify({ stepMs: r.stepMs, torchStepMs: r.torchStepMs, ratio: r.ratio }));
