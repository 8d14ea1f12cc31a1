// Engine benchmark: one training step (forward, backward, clip, AdamW) of a 2-layer
// character transformer, batch 8 x 128 tokens, d=256, 4 heads, against the identical
// model in PyTorch on CPU with the same threads, measured in the same run.

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Graph } from "../../graph/index.js";
import { ParamStore, Rng, TrainStep } from "../../runtime/index.js";
import { gptTrainGraph } from "../../train/index.js";

export interface EngineBenchOptions {
  batch: number;
  seq: number;
  dim: number;
  heads: number;
  layers: number;
  vocab: number;
  threads: number;
  warmup: number;
  steps: number;
  /** Skip the PyTorch anchor. */
  noTorch?: boolean;
}

export const engineBenchDefaults: EngineBenchOptions = {
  batch: 8,
  seq: 128,
  dim: 256,
  heads: 4,
  layers: 2,
  vocab: 96,
  threads: 2,
  warmup: 3,
  steps: 10,
};

export interface EngineBenchResult {
  stepMs: number;
  torchStepMs: number | null;
  ratio: number | null;
  params: number;
  torch?: Record<string, unknown>;
  torchNote?: string;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export async function measureOurStep(options: EngineBenchOptions): Promise<{ stepMs: number; params: number; times: number[] }> {
  const cfg = { vocab: options.vocab, blockSize: options.seq, dim: options.dim, heads: options.heads, layers: options.layers };
  const g = new Graph();
  const { loss } = gptTrainGraph(g, cfg, options.batch);
  const store = ParamStore.fromGraph(g, 0);
  const trainStep = await TrainStep.create(loss, store, { threads: options.threads });
  const rng = new Rng(0);
  const tokens = () => BigInt64Array.from({ length: options.batch * options.seq }, () => BigInt(rng.int(options.vocab)));
  const batch = {
    ids: { dtype: "int64" as const, shape: [options.batch, options.seq], data: tokens() },
    targets: { dtype: "int64" as const, shape: [options.batch, options.seq], data: tokens() },
  };
  const times: number[] = [];
  for (let i = 0; i < options.warmup + options.steps; i++) {
    const t0 = performance.now();
    await trainStep.run(batch, 3e-4);
    if (i >= options.warmup) times.push(performance.now() - t0);
  }
  return { stepMs: median(times), params: store.count(), times };
}

/** Debian's python3 (where apt puts python3-torch), unless AIGC_PYTHON names another. */
export function debianPython(): string {
  return process.env.AIGC_PYTHON ?? (existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3");
}

/** Run bench/engine_torch.py; null with a reason where Python or torch is missing. */
export function measureTorchStep(options: EngineBenchOptions): {
  torchStepMs: number | null;
  info?: Record<string, unknown>;
  note?: string;
} {
  const script = fileURLToPath(new URL("../../../bench/engine_torch.py", import.meta.url));
  const args = [
    script,
    "--batch",
    options.batch,
    "--seq",
    options.seq,
    "--d",
    options.dim,
    "--heads",
    options.heads,
    "--layers",
    options.layers,
    "--vocab",
    options.vocab,
  ]
    .concat(["--threads", options.threads, "--warmup", options.warmup, "--steps", options.steps])
    .map(String);
  const r = spawnSync(debianPython(), args, { encoding: "utf8", timeout: 600_000 });
  if (r.error)
    return {
      torchStepMs: null,
      note: `python3 could not be run (${r.error.message}); install python3-torch and libopenblas0-pthread`,
    };
  const last = r.stdout.trim().split("\n").at(-1) ?? "";
  try {
    const info = JSON.parse(last) as Record<string, unknown>;
    const ms = typeof info.torchStepMs === "number" ? info.torchStepMs : null;
    return { torchStepMs: ms, info, note: ms === null ? String(info.reason ?? r.stderr.trim()) : undefined };
  } catch {
    return { torchStepMs: null, note: `engine_torch.py printed no JSON: ${r.stderr.trim().slice(-300)}` };
  }
}

export async function runEngineBench(
  options: EngineBenchOptions,
  log: (line: string) => void = () => {},
): Promise<EngineBenchResult> {
  log(
    `engine: batch ${options.batch} x ${options.seq} tokens, d=${options.dim}, ${options.heads} heads, ${options.layers} layers, vocab ${options.vocab}, ${options.threads} threads`,
  );
  const ours = await measureOurStep(options);
  log(`aigc (ONNX Runtime): ${ours.stepMs.toFixed(1)} ms/step median of ${options.steps} (${ours.params} params)`);
  let torch: ReturnType<typeof measureTorchStep> = { torchStepMs: null, note: "skipped (--no-torch)" };
  if (!options.noTorch) torch = measureTorchStep(options);
  if (torch.torchStepMs !== null)
    log(`PyTorch ${torch.info?.torch} (${torch.info?.blas}): ${torch.torchStepMs.toFixed(1)} ms/step median`);
  else log(`PyTorch anchor unavailable: ${torch.note}`);
  const ratio = torch.torchStepMs !== null ? ours.stepMs / torch.torchStepMs : null;
  if (ratio !== null) log(`ratio (ours / PyTorch): ${ratio.toFixed(3)} (<= 1.0 means at least as fast)`);
  return {
    stepMs: ours.stepMs,
    torchStepMs: torch.torchStepMs,
    ratio,
    params: ours.params,
    torch: torch.info,
    torchNote: torch.note,
  };
}
