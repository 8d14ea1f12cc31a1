// Gateway overhead and cache-hit latency of `aigc serve`, against anchors measured in the same run.
//
// 1. Overhead: a fixed-answer OpenAI-compatible upstream (bench/fixtures/fixedUpstream.ts) is
//    called directly and through `aigc serve` (auth, schema, PHI check, router, ledger,
//    metrics; cache off), one request at a time on keep-alive connections, rounds
//    interleaved so machine noise hits both alike. Overhead = gateway − direct, at p50 and p99.
//    Target: p50 overhead < 1 ms (LiteLLM reports ~3 ms, Portkey < 1 ms).
// 2. Throughput at 16 connections (autocannon), direct and through the gateway.
// 3. Cache hits: `aigc serve` with the shipped model; a deterministic request answered from
//    the in-memory cache, vs the same request generated (cache bypassed).
// Usage: node --import tsx bench/gateway.ts [--requests 2000] [--rounds 5]
import { mkdtempSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { startProcess } from "./fixtures/spawnServer.js";

const { values } = parseArgs({
  options: { requests: { type: "string", default: "2000" }, rounds: { type: "string", default: "5" } },
});
const perRound = Number(values.requests);
const rounds = Number(values.rounds);

const agent = new Agent({ keepAlive: true, maxSockets: 1 });

function post(url: string, body: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request(
      url,
      {
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers },
      },
      (res) => {
        res.resume();
        res.on("end", () =>
          res.statusCode === 200 ? resolve(performance.now() - t0) : reject(new Error(`${url}: ${res.statusCode}`)),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};

async function timeSequential(url: string, body: string, n: number, headers: Record<string, string> = {}): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await post(url, body, headers));
  return out;
}

async function throughput(url: string, body: string): Promise<{ rps: number; p50: number; p99: number }> {
  const r = await autocannon({
    url,
    method: "POST",
    body,
    headers: { "content-type": "application/json" },
    connections: 16,
    duration: 5,
  });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99 };
}

const chat = JSON.stringify({
  model: "bench-model",
  messages: [{ role: "user", content: "Write a haiku about the sea at dawn, with a seagull in it." }],
  temperature: 0.7,
  max_tokens: 32,
});

const upstreamPort = (await startProcess(["--import", "tsx", "bench/fixtures/fixedUpstream.ts"], /port (\d+)/)).match;
const dir = mkdtempSync(join(tmpdir(), "aigc-bench-"));
const config = join(dir, "gateway.yaml");
writeFileSync(
  config,
  `server: { port: 0 }
models: { default: bench-model, local: {} }
providers:
  - { name: upstream, zone: private, baseUrl: "http://127.0.0.1:${upstreamPort}/v1", models: [bench-model] }
cache: { enabled: false }
`,
);
const gateway = (await startProcess(["bin/aigc.js", "serve", "--config", config, "--log-level", "warn"], /at (http:\/\/\S+)/))
  .match;
const direct = `http://127.0.0.1:${upstreamPort}/v1/chat/completions`;
const via = `${gateway}/v1/chat/completions`;

await timeSequential(direct, chat, 500);
await timeSequential(via, chat, 500);
const d: number[] = [];
const g: number[] = [];
for (let r = 0; r < rounds; r++) {
  d.push(...(await timeSequential(direct, chat, perRound)));
  g.push(...(await timeSequential(via, chat, perRound)));
}
const overhead = {
  directP50Ms: percentile(d, 0.5),
  gatewayP50Ms: percentile(g, 0.5),
  directP99Ms: percentile(d, 0.99),
  gatewayP99Ms: percentile(g, 0.99),
  p50OverheadMs: percentile(g, 0.5) - percentile(d, 0.5),
  p99OverheadMs: percentile(g, 0.99) - percentile(d, 0.99),
};
console.log(`gateway overhead, ${rounds} x ${perRound} sequential requests each way (ms):`);
console.log(`  direct  p50 ${overhead.directP50Ms.toFixed(3)}  p99 ${overhead.directP99Ms.toFixed(3)}`);
console.log(`  gateway p50 ${overhead.gatewayP50Ms.toFixed(3)}  p99 ${overhead.gatewayP99Ms.toFixed(3)}`);
console.log(`  overhead p50 ${overhead.p50OverheadMs.toFixed(3)}  p99 ${overhead.p99OverheadMs.toFixed(3)}  (target p50 < 1 ms)`);

const tDirect = await throughput(direct, chat);
const tVia = await throughput(via, chat);
console.log(
  `16 connections, 5 s (autocannon): direct ${tDirect.rps.toFixed(0)} req/s (p50 ${tDirect.p50} ms, p99 ${tDirect.p99} ms)`,
);
console.log(`                                  gateway ${tVia.rps.toFixed(0)} req/s (p50 ${tVia.p50} ms, p99 ${tVia.p99} ms)`);

// Cache hits on the embedded defaults (shipped model, in-memory cache).
const local = (await startProcess(["bin/aigc.js", "serve", "--port", "0", "--log-level", "warn"], /at (http:\/\/\S+)/)).match;
const cached = JSON.stringify({
  model: "aigc-lm-tiny",
  messages: [{ role: "user", content: "Tell me a fortune about the sea." }],
  temperature: 0,
  max_tokens: 32,
});
await post(`${local}/v1/chat/completions`, cached); // store
const hits = await timeSequential(`${local}/v1/chat/completions`, cached, 2000);
const misses = await timeSequential(
  `${local}/v1/chat/completions`,
  JSON.stringify({ ...JSON.parse(cached), seed: undefined, temperature: 0.0001 }),
  20,
);
const cache = {
  hitP50Ms: percentile(hits, 0.5),
  hitP99Ms: percentile(hits, 0.99),
  generatedP50Ms: percentile(misses, 0.5),
  speedup: percentile(misses, 0.5) / percentile(hits, 0.5),
};
console.log(
  `cache hit p50 ${cache.hitP50Ms.toFixed(3)} ms, p99 ${cache.hitP99Ms.toFixed(3)} ms; generated (32 tokens) p50 ${cache.generatedP50Ms.toFixed(1)} ms: ${cache.speedup.toFixed(0)}x`,
);
console.log(JSON.stringify({ overhead, throughput: { direct: tDirect, gateway: tVia }, cache }));
process.exit(0);
