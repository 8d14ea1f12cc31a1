// How fast `aigc serve` (auth on, every app) refuses a 20 MB body, and what that costs
// /health meanwhile. A second process sends the bodies in rotation, one at a time: declared
// (Content-Length), declared with `Expect: 100-continue` (as curl sends them: the body never
// leaves the client) and chunked to the chat route (413), without a key (401), under a wrong
// method (405); this process times /health, with the bodies flowing and without (the anchor),
// in alternating rounds. Targets: each refusal ≤ 50 ms, /health p99 ≤ 10 ms during them.
// Printed: the median over rounds of each figure. A last, informational phase times bodies
// under the byte limit: a 900 KB chat prompt, which the text step refuses (413 text_too_long,
// the shipped model reads at most 256 tokens) before the schema, PII scan or tokeniser, and a
// 20 MB medical body inside its 22.4 MiB limit, costly anyway.
// Usage: node --import tsx bench/body-guard.ts [--rounds 5] [--probes 200]

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { hashApiKey } from "../src/serve/index.js";
import { type BodyPost, postBody } from "./fixtures/bodyPost.js";
import { startProcess } from "./fixtures/spawnServer.js";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    probes: { type: "string", default: "200" },
    /** Internal: be the sending process, sending to this port until killed. */
    "send-to": { type: "string" },
    /** Internal, with --send-to: which set of bodies. */
    set: { type: "string", default: "guarded" },
  },
});
const rounds = Number(values.rounds);
const probes = Number(values.probes);
const key = "sk-aigc-bench-guard-000000000000000000";
const MiB = 1024 * 1024;
const chat = "/v1/chat/completions";
const head = '{"model":"aigc-lm-tiny","messages":[{"role":"user","content":"';

/** The bodies of each set, by name: what the sender sends in rotation. */
function bodies(port: number, set: string): Record<string, BodyPost> {
  const auth = `Bearer ${key}`;
  if (set === "guarded")
    return {
      "413 declared 20 MB": { port, path: chat, bytes: 20 * MiB, authorization: auth, head },
      "413 declared, 100-continue": { port, path: chat, bytes: 20 * MiB, authorization: auth, head, expectContinue: true },
      "413 chunked 20 MB": { port, path: chat, bytes: 20 * MiB, chunked: true, authorization: auth, head },
      "401 no key, 20 MB": { port, path: chat, bytes: 20 * MiB, head },
      "405 PUT, 20 MB": { port, method: "PUT", path: chat, bytes: 20 * MiB, authorization: auth, head },
    };
  const prompt = `${head}${"The quick brown fox jumps over the lazy dog. ".repeat(20_000)}"}]}`;
  return {
    "413 chat, 900 KB prompt": { port, path: chat, bytes: Buffer.byteLength(prompt), authorization: auth, head: prompt },
    "400 medical, 20 MB": { port, path: "/v1/medical/reports", bytes: 20 * MiB, authorization: auth, head: '{"image":' },
  };
}

if (values["send-to"]) {
  const all = Object.entries(bodies(Number(values["send-to"]), values.set ?? "guarded"));
  for (let i = 0; ; i++) {
    const [name, body] = all[i % all.length];
    const r = await postBody(body);
    process.stdout.write(`${JSON.stringify({ name, status: r.status, ms: r.ms })}\n`);
  }
}

const dir = mkdtempSync(join(tmpdir(), "aigc-guard-"));
const config = join(dir, "guard.yaml");
writeFileSync(
  config,
  `server: { port: 0 }
tenants:
  auth: true
  tenants: [{ id: bench, name: bench, keyHashes: [${hashApiKey(key)}] }]
`,
);
console.error("starting aigc serve (the shipped models)...");
const server = await startProcess(
  ["--import", "tsx", "src/cli/main.ts", "serve", "--config", config, "--log-level", "warn", "--threads", "1"],
  /at (http:\/\/\S+)/,
);
const base = server.match;
const port = Number(new URL(base).port);

/**
 * CPU seconds the server process has used (Linux /proc; undefined elsewhere): what each body
 * costs the server itself, apart from what the other processes on the machine take.
 */
function serverCpuSeconds(): number | undefined {
  const stat = `/proc/${server.child.pid}/stat`;
  if (!existsSync(stat)) return undefined;
  const text = readFileSync(stat, "utf8");
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 1/100 s
}

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

const quantile = (xs: readonly number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const median = (xs: readonly number[]) => quantile(xs, 0.5);

interface Answer {
  name: string;
  status: number;
  ms: number;
}

/** One round of /health probes, with a sender of `set` running or not; the sender's answers. */
async function probeRound(
  set: string | undefined,
): Promise<{ healthMs: number[]; answers: Answer[]; cpuMs: number | undefined }> {
  const sender = set
    ? spawn(process.execPath, ["--import", "tsx", "bench/body-guard.ts", "--send-to", String(port), "--set", set], {
        stdio: ["ignore", "pipe", "inherit"],
      })
    : undefined;
  let out = "";
  sender?.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  // Probe only once bodies are flowing.
  while (sender && out.split("\n").length < 2) await new Promise((r) => setTimeout(r, 10));
  const cpu0 = serverCpuSeconds();
  const healthMs: number[] = [];
  for (let i = 0; i < probes; i++) healthMs.push(await health());
  sender?.kill("SIGKILL");
  const cpu1 = serverCpuSeconds();
  const answers = out
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Answer);
  const cpuMs = cpu0 === undefined || cpu1 === undefined ? undefined : (cpu1 - cpu0) * 1000;
  return { healthMs, answers, cpuMs };
}

for (let i = 0; i < 50; i++) await health(); // warm up

async function measure(set: string) {
  const quietP99: number[] = [];
  const busyP99: number[] = [];
  /** Server CPU per request: per /health probe when quiet, per body (probes' share taken out) when busy. */
  const cpuPerProbe: number[] = [];
  const cpuPerBody: number[] = [];
  const byName = new Map<string, { ms: number[]; statuses: Set<number> }>();
  for (let r = 0; r < rounds; r++) {
    for (const busy of r % 2 === 0 ? [false, true] : [true, false]) {
      const round = await probeRound(busy ? set : undefined);
      (busy ? busyP99 : quietP99).push(quantile(round.healthMs, 0.99));
      if (round.cpuMs !== undefined) {
        if (!busy) cpuPerProbe.push(round.cpuMs / probes);
        else if (round.answers.length > 0)
          cpuPerBody.push(Math.max(0, round.cpuMs - probes * (median(cpuPerProbe) || 0)) / round.answers.length);
      }
      const perName = new Map<string, number[]>();
      for (const a of round.answers) {
        perName.set(a.name, [...(perName.get(a.name) ?? []), a.ms]);
        const entry = byName.get(a.name) ?? { ms: [], statuses: new Set<number>() };
        entry.statuses.add(a.status);
        byName.set(a.name, entry);
      }
      for (const [name, ms] of perName) byName.get(name)?.ms.push(median(ms));
    }
  }
  return { quietP99, busyP99, byName, cpuPerProbe, cpuPerBody };
}

const row = (label: string, xs: readonly number[]) =>
  `${label.padEnd(28)} median ${median(xs).toFixed(2)} ms  (rounds: ${xs.map((x) => x.toFixed(1)).join(", ")})`;

const guarded = await measure("guarded");
console.log(`aigc serve (shipped models, auth on), ${rounds} rounds of ${probes} /health probes each way:`);
console.log("refusal latency of a 20 MB body (median of each round's median):");
for (const [name, e] of guarded.byName) console.log(`  ${row(name, e.ms)} statuses ${[...e.statuses].join(",")}`);
console.log("/health p99:");
console.log(`  ${row("no bodies (anchor)", guarded.quietP99)}`);
console.log(`  ${row("20 MB bodies flowing", guarded.busyP99)}`);
if (guarded.cpuPerBody.length > 0) {
  console.log("server CPU (its own, apart from the rest of the machine):");
  console.log(`  ${row("per /health probe", guarded.cpuPerProbe)}`);
  console.log(`  ${row("per refused 20 MB body", guarded.cpuPerBody)}`);
}
const worst = Math.max(...[...guarded.byName.values()].map((e) => median(e.ms)));
console.log(
  `targets: refusal ≤ 50 ms: ${worst <= 50 ? "met" : "missed"} (slowest kind ${worst.toFixed(1)} ms); /health p99 ≤ 10 ms: ${median(guarded.busyP99) <= 10 ? "met" : "missed"} (${median(guarded.busyP99).toFixed(2)} ms)`,
);

const costly = await measure("costly");
console.log("informational, bodies under the byte limit (no byte guard refuses them; the text step the chat prompt):");
for (const [name, e] of costly.byName) console.log(`  ${row(name, e.ms)} statuses ${[...e.statuses].join(",")}`);
console.log(`  ${row("/health p99 meanwhile", costly.busyP99)}`);
if (costly.cpuPerBody.length > 0) console.log(`  ${row("server CPU per body", costly.cpuPerBody)}`);
console.log(
  `load average while measuring: ${loadavg()
    .map((x) => x.toFixed(2))
    .join(", ")}`,
);
process.exit(0);
