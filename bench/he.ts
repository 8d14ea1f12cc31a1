// Encrypted inference bench: `node --import tsx bench/he.ts` (same as `aigc bench he --json`).
// Keygen, encrypt, server compute, decrypt on the 512 held-out synthetic EHR patients;
// maxAbsError and accuracies vs plaintext; server compute vs op counts × per-op CKKS
// costs measured with node-seal in the same run at the same ring degree.

import { runHeBench } from "../src/cli/he.js";

const r = await runHeBench((l) => console.error(l));
console.log(JSON.stringify(r));
