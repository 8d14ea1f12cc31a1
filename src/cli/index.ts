// The `aigc` command. Its entry point is ./main.ts (bin/aigc.js), which parses argv when it is
// imported, so this index does not load it: it is the commands' implementations, for scripts
// and tests that run a command without a process.

export { runEngineBench } from "./bench/engine.js";
export { heDecrypt, heEncrypt, heInfer, heKeygen, hePlan, runHeBench } from "./he.js";
export { evalLm, exportLmOnnx, generateFromModel, packLm, trainLmWithProgress } from "./lm.js";
