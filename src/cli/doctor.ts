// `aigc doctor`: what this machine offers the platform, and which optional pieces are there.

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { cpus, freemem, totalmem } from "node:os";
import * as ort from "onnxruntime-node";
import { FORTUNES_DIR } from "../data/index.js";
import { Graph, op, toOnnx } from "../graph/index.js";
import { defaultThreads, ortVersion } from "../runtime/index.js";
import { debianPython } from "./bench/engine.js";

export interface DoctorReport {
  node: string;
  platform: string;
  cpu: { model: string; cores: number };
  memoryGiB: { total: number; free: number };
  onnxruntime: { version: string /** Execution providers that start on this machine. */; backends: string[]; threads: number };
  optional: Record<string, { ok: boolean; detail: string }>;
}

function tcpReachable(host: string, port: number, timeoutMs = 300): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/**
 * Execution providers that really start here. Each is tried in a child process, since a
 * provider whose libraries are missing logs native errors while it fails.
 */
function workingProviders(): string[] {
  const g = new Graph();
  const model = toOnnx({ outputs: { y: op.neg(g.input("x", "float32", [1])) } });
  const names = ort.listSupportedBackends().map((b) => b.name);
  const script = `
    const ort = require("onnxruntime-node");
    const bytes = Buffer.from(process.argv[1], "base64");
    ort.InferenceSession.create(bytes, { executionProviders: [process.argv[2]], logSeverityLevel: 4 })
      .then(() => process.exit(0), () => process.exit(1));`;
  return names.filter((ep) => {
    const r = spawnSync(process.execPath, ["-e", script, Buffer.from(model.bytes).toString("base64"), ep], {
      timeout: 30_000,
      stdio: "ignore",
    });
    return r.status === 0;
  });
}

function torchInfo(): { ok: boolean; detail: string } {
  const r = spawnSync(debianPython(), ["-c", "import torch; print(torch.__version__)"], { encoding: "utf8", timeout: 60_000 });
  if (r.status === 0) return { ok: true, detail: `torch ${r.stdout.trim()} (${debianPython()}), the engine benchmark's anchor` };
  return {
    ok: false,
    detail: "no PyTorch: `apt-get install -y python3-torch libopenblas0-pthread` for the engine benchmark's anchor",
  };
}

export async function doctor(): Promise<DoctorReport> {
  const gib = (b: number) => Math.round((b / 2 ** 30) * 10) / 10;
  const redis = await tcpReachable("127.0.0.1", 6379);
  const chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpu: { model: cpus()[0]?.model ?? "unknown", cores: cpus().length },
    memoryGiB: { total: gib(totalmem()), free: gib(freemem()) },
    onnxruntime: {
      version: ortVersion(),
      backends: workingProviders(),
      threads: defaultThreads(),
    },
    optional: {
      redis: {
        ok: redis,
        detail: redis ? "redis reachable at 127.0.0.1:6379" : "no redis at 127.0.0.1:6379 (the in-memory cache is used)",
      },
      pytorch: torchInfo(),
      fortunes: {
        ok: existsSync(FORTUNES_DIR),
        detail: existsSync(FORTUNES_DIR) ? `English corpus at ${FORTUNES_DIR}` : "no corpus: `apt-get install -y fortunes`",
      },
      chromium: { ok: chromium !== undefined, detail: chromium ?? "no chromium (browser tests): `apt-get install -y chromium`" },
    },
  };
}

export function formatDoctor(report: DoctorReport): string {
  const lines = [
    `node          ${report.node} on ${report.platform}`,
    `cpu           ${report.cpu.model} (${report.cpu.cores} cores)`,
    `memory        ${report.memoryGiB.free} GiB free of ${report.memoryGiB.total} GiB`,
    `onnxruntime   ${report.onnxruntime.version}, execution providers: ${report.onnxruntime.backends.join(", ")}, ${report.onnxruntime.threads} threads (AIGC_THREADS)`,
  ];
  for (const [name, o] of Object.entries(report.optional))
    lines.push(`${(o.ok ? "ok   " : "--   ") + name.padEnd(9)}${o.detail}`);
  return lines.join("\n");
}
