// The `aigc` command.

import { Command, InvalidArgumentError, Option } from "commander";
import { engineBenchDefaults, runEngineBench } from "./bench/engine.js";
import { doctor, formatDoctor } from "./doctor.js";
import { type CharLmPreset, charLmPresets, trainCharLm } from "./trainCharLm.js";

const positiveInt = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a positive integer, got "${v}"`);
  return n;
};

const program = new Command()
  .name("aigc")
  .description("AIGC Studio: train, serve and apply DeepSeek-style generative models")
  .version("0.1.0")
  .showHelpAfterError();

program
  .command("doctor")
  .description("show node, ONNX Runtime, threads, execution providers and which optional services are reachable")
  .option("--json", "print JSON")
  .action(async (o: { json?: boolean }) => {
    const r = await doctor();
    console.log(o.json ? JSON.stringify(r, null, 2) : formatDoctor(r));
  });

const bench = program.command("bench").description("benchmarks against anchors measured in the same run");
bench
  .command("engine")
  .description("time one training step of a 2-layer transformer (8 x 128 tokens, d=256) against PyTorch on CPU")
  .option("--json", "end with one JSON line { stepMs, torchStepMs, ratio }")
  .option("--steps <n>", "timed steps (median reported)", positiveInt("--steps"), engineBenchDefaults.steps)
  .option("--threads <n>", "threads for both engines", positiveInt("--threads"), engineBenchDefaults.threads)
  .option("--no-torch", "skip the PyTorch anchor")
  .action(async (o: { json?: boolean; steps: number; threads: number; torch: boolean }) => {
    const r = await runEngineBench({ ...engineBenchDefaults, steps: o.steps, threads: o.threads, noTorch: !o.torch }, (l) =>
      console.error(l),
    );
    if (o.json) console.log(JSON.stringify({ stepMs: r.stepMs, torchStepMs: r.torchStepMs, ratio: r.ratio }));
  });

const train = program.command("train").description("train models");
train
  .command("charlm")
  .description("train a character-level GPT on Debian's fortunes (the engine demo): progress, eval, checkpoints, a sample")
  .addOption(new Option("--preset <name>", "model size").choices(Object.keys(charLmPresets)).default("tiny"))
  .option("--out <dir>", "output folder (checkpoint, model.onnx)", "runs/charlm")
  .option("--steps <n>", "total steps (default: the preset's)", positiveInt("--steps"))
  .option("--seed <n>", "seed for init and batches", (v) => Number.parseInt(v, 10), 0)
  .option("--threads <n>", "ONNX Runtime threads", positiveInt("--threads"))
  .option("--resume", "continue from <out>/checkpoint if it exists", false)
  .option("--sample <n>", "characters to sample at the end", (v) => Number.parseInt(v, 10), 300)
  .action(
    async (o: {
      preset: CharLmPreset;
      out: string;
      steps?: number;
      seed: number;
      threads?: number;
      resume: boolean;
      sample: number;
    }) => {
      const r = await trainCharLm(o);
      console.log(
        `held-out loss ${r.evalLoss.toFixed(3)} nats/char (unigram baseline ${r.unigram.toFixed(3)}); model in ${o.out}`,
      );
      console.log(`--- sample ---\n${r.sample}`);
    },
  );

program.parseAsync().catch((err: unknown) => {
  console.error(`aigc: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
