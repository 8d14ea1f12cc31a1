// Dynamic (continuous) batching on the local engine: 16 concurrent clients (autocannon)
// against `aigc serve` with the shipped model, batching on (maxBatch 16) vs batch size 1,
// same run, same requests. Prints requests/s, generated tokens/s and latency p50/p95 for
// both, and the throughput ratio (target ≥ 3x).
// Usage: node --import tsx bench/serve-batching.ts [--seconds 12] [--connections 16] [--tokens 32] [--dense-from N]
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { startProcess } from "./fixtures/spawnServer.js";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "12" },
    connections: { type: "string", default: "16" },
    tokens: { type: "string", default: "32" },
    "dense-from": { type: "string" },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const maxTokens = Number(values.tokens);

const prompts = [
  "The sea at night",
  "A wise man once said",
  "function sum(values) {",
  "床前明月光",
  "Love is a",
  "In the beginning",
  "import { readFile } from",
  "He who laughs last",
];

interface Run {
  maxBatch: number;
  requestsPerSec: number;
  tokensPerSec: number;
  p50Ms: number;
  p95Ms: number;
  meanBatch: number;
}

async function run(maxBatch: number): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), "aigc-batch-"));
  const config = join(dir, "aigc.yaml");
  const dense = values["dense-from"] ? `, denseFromRows: ${values["dense-from"]}` : "";
  writeFileSync(config, `server: { port: 0 }\nbatching: { maxBatch: ${maxBatch}, maxWaitMs: 2${dense} }\n`);
  const started = await startProcess(["bin/aigc.js", "serve", "--config", config, "--log-level", "warn"], /at (http:\/\/\S+)/);
  const server = { url: started.match, child: started.child };
  let completionTokens = 0;
  const latencies: number[] = [];
  const requests = prompts.map((prompt) => ({
    method: "POST" as const,
    path: "/v1/completions",
    headers: { "content-type": "application/json" },
    // Sampled (temperature > 0, no seed): never served from the cache.
    body: JSON.stringify({ model: "aigc-lm-tiny", prompt, max_tokens: maxTokens, temperature: 0.8 }),
    onResponse: (status: number, body: string) => {
      if (status === 200)
        completionTokens += (JSON.parse(body) as { usage: { completion_tokens: number } }).usage.completion_tokens;
    },
  }));
  // Warm up (session compile, first batches), then measure.
  await autocannon({ url: server.url, connections, duration: 3, requests });
  completionTokens = 0;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon({ url: server.url, connections, duration: seconds, requests }, (err, r) =>
      err ? reject(err) : resolve(r),
    );
    instance.on("response", (_client, _status, _bytes, ms) => latencies.push(ms));
  });
  const health = (await (await fetch(`${server.url}/metrics`)).text()).match(/aigc_batcher_mean_batch\{[^}]*\} ([\d.]+)/);
  server.child.kill("SIGTERM");
  latencies.sort((a, b) => a - b);
  return {
    maxBatch,
    requestsPerSec: result.requests.total / seconds,
    tokensPerSec: completionTokens / seconds,
    p50Ms: latencies[Math.floor(0.5 * latencies.length)],
    p95Ms: latencies[Math.floor(0.95 * latencies.length)],
    meanBatch: health ? Number(health[1]) : Number.NaN,
  };
}

// This machine is shared and its speed drifts over minutes: the two settings run in ABBA
// order and each is reported as the mean of its two runs.
const [a1, b1, b2, a2] = [await run(1), await run(connections), await run(connections), await run(1)];
const mean = (x: Run, y: Run): Run => ({
  maxBatch: x.maxBatch,
  requestsPerSec: (x.requestsPerSec + y.requestsPerSec) / 2,
  tokensPerSec: (x.tokensPerSec + y.tokensPerSec) / 2,
  p50Ms: (x.p50Ms + y.p50Ms) / 2,
  p95Ms: (x.p95Ms + y.p95Ms) / 2,
  meanBatch: (x.meanBatch + y.meanBatch) / 2,
});
const single = mean(a1, a2);
const batched = mean(b1, b2);
const ratio = batched.tokensPerSec / single.tokensPerSec;
console.log(
  `${connections} concurrent clients, 2 runs of ${seconds} s per setting (ABBA), completions of up to ${maxTokens} tokens, shipped tiny MoE LM:`,
);
for (const r of [single, batched]) {
  console.log(
    `  maxBatch ${String(r.maxBatch).padStart(2)}: ${r.requestsPerSec.toFixed(1)} req/s, ${r.tokensPerSec.toFixed(0)} tok/s, ` +
      `p50 ${r.p50Ms.toFixed(0)} ms, p95 ${r.p95Ms.toFixed(0)} ms, mean batch ${r.meanBatch.toFixed(2)}`,
  );
}
console.log(
  `throughput ratio ${ratio.toFixed(2)}x (target >= 3x); by run: batch 1 ${a1.tokensPerSec.toFixed(0)}, ${a2.tokensPerSec.toFixed(0)} tok/s; batch ${connections} ${b1.tokensPerSec.toFixed(0)}, ${b2.tokensPerSec.toFixed(0)} tok/s`,
);
console.log(JSON.stringify({ single, batched, ratio, runs: [a1, b1, b2, a2] }));
process.exit(0);
