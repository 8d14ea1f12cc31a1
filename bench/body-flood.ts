// What an oversized request costs everyone else: /health latency of `aigc serve` (shipped
// model, auth on) while clients keep sending 30 MB chat bodies, against /health with no such
// traffic (the anchor), in alternating rounds. Target: p99 ≤ 10 ms with the flood. The size
// step refuses a body over the route's limit before a byte of it is parsed, and auth runs
// before the body is read, so neither a keyed nor an anonymous flood reaches the PII scan.
// The 30 MB bodies come from a second process (as they would from other machines), so the
// probes time the server, not this process's own writes; on this 2-core machine that process
// still takes CPU the server could use.
// Usage: node --import tsx bench/body-flood.ts [--rounds 6] [--probes 300] [--senders 2]

import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { hashApiKey } from "../src/serve/index.js";
import { startProcess } from "./fixtures/spawnServer.js";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "6" },
    probes: { type: "string", default: "300" },
    senders: { type: "string", default: "2" },
    /** Internal: be the flooding process, sending to this base URL until killed. */
    "flood-to": { type: "string" },
  },
});
const rounds = Number(values.rounds);
const probes = Number(values.probes);
const senders = Number(values.senders);
const floodBytes = 30 * 1024 * 1024;
const key = "sk-aigc-bench-flood-00000000000000000";

if (values["flood-to"]) {
  const target = new URL(values["flood-to"]);
  await Promise.all(
    Array.from({ length: senders }, async (_, i) => {
      for (;;) process.stdout.write(`${await flood(target, i % 2 === 0)}\n`);
    }),
  );
}

const dir = mkdtempSync(join(tmpdir(), "aigc-flood-"));
const config = join(dir, "flood.yaml");
writeFileSync(
  config,
  `server: { port: 0 }
tenants:
  auth: true
  tenants: [{ id: bench, name: bench, keyHashes: [${hashApiKey(key)}] }]
`,
);
const base = (await startProcess(["bin/aigc.js", "serve", "--config", config, "--log-level", "warn"], /at (http:\/\/\S+)/)).match;

const probeAgent = new Agent({ keepAlive: true, maxSockets: 1 });
function health(): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request(`${base}/health`, { agent: probeAgent }, (res) => {
      res.resume();
      res.on("end", () =>
        res.statusCode === 200 ? resolve(performance.now() - t0) : reject(new Error(`/health ${res.statusCode}`)),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

/** One 30 MB chat body, written as fast as the socket takes it; resolves with the status. */
function flood(url: URL, authorized: boolean): Promise<number> {
  return new Promise((resolve) => {
    const req = request({
      host: url.hostname,
      port: url.port,
      method: "POST",
      path: "/v1/chat/completions",
      headers: {
        "content-type": "application/json",
        "content-length": floodBytes,
        ...(authorized ? { authorization: `Bearer ${key}` } : {}),
      },
    });
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", () => resolve(0)); // the server may close the socket under our write
    const chunk = Buffer.alloc(1 << 20, 0x20);
    let sent = 0;
    const pump = () => {
      while (sent < floodBytes) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once("drain", pump);
      }
      req.end();
    };
    pump();
  });
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

async function probeRound(withFlood: boolean): Promise<{ ms: number[]; statuses: Map<number, number> }> {
  const statuses = new Map<number, number>();
  const flooder = withFlood
    ? spawn(process.execPath, ["--import", "tsx", "bench/body-flood.ts", "--flood-to", base, "--senders", String(senders)], {
        stdio: ["ignore", "pipe", "inherit"],
      })
    : undefined;
  let answered = "";
  flooder?.stdout?.on("data", (d: Buffer) => {
    answered += d.toString();
  });
  // Probe only once the bodies are flowing.
  while (flooder && answered.split("\n").length < 4) await new Promise((r) => setTimeout(r, 20));
  const ms: number[] = [];
  for (let i = 0; i < probes; i++) ms.push(await health());
  flooder?.kill("SIGKILL");
  for (const line of answered.split("\n").filter(Boolean)) statuses.set(Number(line), (statuses.get(Number(line)) ?? 0) + 1);
  return { ms, statuses };
}

for (let i = 0; i < 50; i++) await health(); // warm up
const quiet: number[] = [];
const flooded: number[] = [];
const statuses = new Map<number, number>();
for (let r = 0; r < rounds; r++) {
  for (const withFlood of r % 2 === 0 ? [false, true] : [true, false]) {
    const round = await probeRound(withFlood);
    (withFlood ? flooded : quiet).push(...round.ms);
    for (const [s, n] of round.statuses) statuses.set(s, (statuses.get(s) ?? 0) + n);
  }
}
const row = (name: string, xs: number[]) =>
  `${name.padEnd(18)} p50 ${quantile(xs, 0.5).toFixed(2)} ms  p99 ${quantile(xs, 0.99).toFixed(2)} ms  max ${Math.max(...xs).toFixed(2)} ms  (${xs.length} probes)`;
console.log(`/health of aigc serve while ${senders} clients send ${floodBytes / 2 ** 20} MB chat bodies, ${rounds} rounds:`);
console.log(row("no flood (anchor)", quiet));
console.log(row("30 MB flood", flooded));
console.log(`flood answers: ${[...statuses].map(([s, n]) => `${s}×${n}`).join(", ")}`);
console.log(
  `p99 ratio flood/anchor: ${(quantile(flooded, 0.99) / quantile(quiet, 0.99)).toFixed(2)}; target p99 ≤ 10 ms: ${quantile(flooded, 0.99) <= 10 ? "met" : "missed"}`,
);
process.exit(0);
