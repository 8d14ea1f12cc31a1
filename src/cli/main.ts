// The `aigc` command.

import { Command, Option } from "commander";
import { hashApiKey, loadConfig, newApiKey } from "../serve/index.js";
import { type LmPresetName, lmPresets } from "../train/index.js";
import { registerAlignCommands } from "./align.js";
import { positiveInt } from "./args.js";
import { registerAvatarHeadCommand } from "./avatarHead.js";
import { engineBenchDefaults, runEngineBench } from "./bench/engine.js";
import { registerDataCommands } from "./data.js";
import { doctor, formatDoctor } from "./doctor.js";
import { registerEmotionCommands } from "./emotion.js";
import { registerExportCommands } from "./export.js";
import { registerFinetuneCommand } from "./finetune.js";
import { formatPlan, heDecrypt, heEncrypt, heInfer, heKeygen, hePlan, runHeBench } from "./he.js";
import { registerLipSyncCommands } from "./lipsync.js";
import {
  evalLm,
  exportLmOnnx,
  type GenerateOptions,
  generateFromModel,
  packLm,
  type TrainLmCliOptions,
  trainLmWithProgress,
} from "./lm.js";
import { registerNewsCommands } from "./news.js";
import { registerReportCommands } from "./report.js";
import { buildServer } from "./serveApp.js";
import { charLmPresets, type TrainCharLmOptions, trainCharLm } from "./trainCharLm.js";

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

bench
  .command("he")
  .description("encrypted inference (CKKS): keygen, encrypt, server compute, decrypt on held-out EHR patients, vs per-op costs")
  .option("--json", "end with one JSON line of the results")
  .action(async (o: { json?: boolean }) => {
    const r = await runHeBench((l) => console.error(l));
    if (o.json) console.log(JSON.stringify(r));
  });

program
  .command("serve")
  .description(
    "serve the platform: OpenAI-compatible API (chat, completions, embeddings, models), home page, /health, /metrics, encrypted inference",
  )
  .option("--config <file>", "YAML config (default: $AIGC_CONFIG, else the embedded defaults; see examples/aigc.yaml)")
  .option("--host <host>", "address to listen on (overrides the config)")
  .option("--port <n>", "port (overrides the config; 0 = any free port)", (v) => Number.parseInt(v, 10))
  .option("--threads <n>", "ONNX Runtime threads", positiveInt("--threads"))
  .option(
    "--adapter <name=path>",
    "serve a LoRA adapter (a PEFT folder, e.g. from aigc finetune) as model <name>, unmerged on the base; repeatable",
    (v: string, list: string[]) => [...list, v],
    [] as string[],
  )
  .option("--adapter-base <model>", "the local model --adapter adapters are served on (default: models.default)")
  .addOption(
    new Option("--log-level <level>", "request log level")
      .choices(["trace", "debug", "info", "warn", "error", "silent"])
      .default("info"),
  )
  .action(
    async (o: {
      config?: string;
      host?: string;
      port?: number;
      threads?: number;
      adapter: string[];
      adapterBase?: string;
      logLevel: string;
    }) => {
      const env = { ...process.env };
      if (o.host) env.AIGC_HOST = o.host;
      if (o.port !== undefined) env.AIGC_PORT = String(o.port);
      const config = loadConfig({ file: o.config, env, adapters: o.adapter, adapterBase: o.adapterBase });
      const server = await buildServer(config, { threads: o.threads, logger: { level: o.logLevel } });
      if (server.speechUnavailable) console.error(`avatar: ${server.speechUnavailable}`);
      for (const [name, f] of Object.entries(server.platform.local?.adapterFailures() ?? {}))
        console.error(`LoRA adapter '${name}' (on ${f.base}) not loaded, refused with the reason: ${f.reason}`);
      const close = async () => {
        await server.close();
        process.exit(0);
      };
      process.once("SIGINT", close);
      process.once("SIGTERM", close);
      const address = await server.app.listen({ host: config.server.host, port: config.server.port });
      console.error(
        `AIGC Studio serving ${server.platform.router
          .listModels()
          .data.map((m) => m.id)
          .join(", ")} at ${address}`,
      );
    },
  );

program
  .command("keys")
  .description("API keys")
  .command("create")
  .description("make a new API key: prints the key (give it to the client, once) and its SHA-256 hash (put it in the config)")
  .option("--tenant <id>", "the tenant it belongs to (for the printed config snippet)")
  .option("--admin", "an admin key (for /metrics when auth is on), which belongs to no tenant")
  .action((o: { tenant?: string; admin?: boolean }) => {
    if (!o.admin && !o.tenant) throw new Error("give --tenant <id>, or --admin for an admin key");
    const key = newApiKey();
    console.log(`key:  ${key}`);
    console.log(`hash: ${hashApiKey(key)}`);
    if (o.admin) console.log(`config (tenants.adminKeyHashes[]): ${hashApiKey(key)}`);
    else console.log(`config (tenants.tenants[]): { id: ${o.tenant}, name: ${o.tenant}, keyHashes: [${hashApiKey(key)}] }`);
  });

registerDataCommands(program);

const he = program.command("he").description("encrypted inference with homomorphic encryption (CKKS, Microsoft SEAL)");
he.command("keygen")
  .description(
    "generate keys: <out>/secret-key.json (mode 0600, never sent) and <out>/public-keys.json (public + evaluation keys)",
  )
  .requiredOption("--out <dir>", "keys folder")
  .action(async (o: { out: string }) => {
    const r = await heKeygen(o.out);
    console.log(
      `secret key  ${r.secretPath} (keep private)\npublic keys ${r.publicPath} (Galois steps ${r.keys.galoisSteps.join(", ")})`,
    );
  });
he.command("encrypt")
  .description("encrypt a features file (array of rows: arrays, or objects by feature name) into a request")
  .requiredOption("--keys <dir>", "keys folder from `aigc he keygen`")
  .requiredOption("--input <file>", "features JSON")
  .requiredOption("--out <file>", "request JSON to write")
  .option("--model <name>", "model whose feature scaling to apply", "ehr-mlp")
  .action(async (o: { keys: string; input: string; out: string; model: string }) => {
    const r = await heEncrypt(o);
    console.log(`${o.out}: ${r.count} samples in ${r.ciphertexts.length} ciphertext(s) for ${r.model}`);
  });
he.command("infer")
  .description("run the server-side evaluation locally on an encrypted request (no secret key involved)")
  .option("--model <name>", "model to evaluate (default: the request's)")
  .requiredOption("--request <file>", "request JSON")
  .requiredOption("--out <file>", "response JSON to write")
  .action(async (o: { model?: string; request: string; out: string }) => {
    const r = await heInfer(o);
    console.log(`${o.out}: ${r.ciphertexts.length} ciphertext(s), ${r.computeMs.toFixed(0)} ms`);
  });
he.command("decrypt")
  .description("decrypt a response with the secret key: scores (logits), probabilities (sigmoid applied here), classes")
  .requiredOption("--keys <dir>", "keys folder")
  .requiredOption("--input <file>", "response JSON")
  .option("--count <n>", "samples to read (default: the response's count)", positiveInt("--count"))
  .action(async (o: { keys: string; input: string; count?: number }) => {
    console.log(JSON.stringify(await heDecrypt(o)));
  });
he.command("plan")
  .description("expected latency, ciphertext and key sizes, and remaining multiplicative depth of a model")
  .requiredOption("--model <name>", "ehr-logistic or ehr-mlp")
  .option("--json", "print JSON")
  .action(async (o: { model: string; json?: boolean }) => {
    const p = await hePlan(o.model);
    console.log(o.json ? JSON.stringify(p) : formatPlan(p));
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
  .action(async (o: TrainCharLmOptions) => {
    const r = await trainCharLm(o);
    console.log(`held-out loss ${r.evalLoss.toFixed(3)} nats/char (unigram baseline ${r.unigram.toFixed(3)}); model in ${o.out}`);
    console.log(`--- sample ---\n${r.sample}`);
  });

train
  .command("lm")
  .description("train the DeepSeek-style MoE language model (BPE tokenizer, 128 experts top-10) on en/zh/code corpora")
  .addOption(new Option("--preset <name>", "model size").choices(Object.keys(lmPresets)).default("tiny"))
  .option("--out <dir>", "model folder (config.json, model.safetensors, tokenizer.json, checkpoint/) (default: runs/lm-<preset>)")
  .option("--steps <n>", "total steps (default: the preset's)", positiveInt("--steps"))
  .option("--seed <n>", "seed for init, batches and noise", (v) => Number.parseInt(v, 10), 0)
  .option("--threads <n>", "ONNX Runtime threads", positiveInt("--threads"))
  .option("--resume", "continue from <out>/checkpoint if it exists", false)
  .option("--no-balance", "turn router balancing (bias update, aux loss) off")
  .action(async (given: Omit<TrainLmCliOptions, "out"> & { out?: string }) => {
    const o: TrainLmCliOptions = { ...given, out: given.out ?? `runs/lm-${given.preset}` };
    const r = await trainLmWithProgress(o);
    console.log(
      `held-out perplexity ${Math.exp(r.evalLoss).toFixed(2)} (unigram ${Math.exp(r.unigram).toFixed(2)}), ` +
        `active experts ${(r.stats.activeExpertFraction * 100).toFixed(2)}%, load CV ${r.stats.loadCV.toFixed(3)}, ` +
        `dropped ${(r.stats.dropRate * 100).toFixed(2)}%` +
        (r.sftEvalLoss === undefined ? "" : `, held-out instruction perplexity ${Math.exp(r.sftEvalLoss).toFixed(2)}`) +
        `; model in ${o.out}`,
    );
  });

const evalCmd = program.command("eval").description("evaluate trained models");
evalCmd
  .command("lm")
  .description("held-out perplexity (fp32 and int8), router statistics and int8 decode speedup of a trained MoE LM")
  .requiredOption("--model <dir>", "model folder from `aigc train lm`")
  .option("--threads <n>", "ONNX Runtime threads", positiveInt("--threads"))
  .option("--json", "print JSON")
  .action(async (o: { model: string; threads?: number; json?: boolean }) => {
    const r = await evalLm(o.model, { threads: o.threads });
    if (o.json) console.log(JSON.stringify(r));
    else {
      console.log(`perplexity        ${r.perplexity.toFixed(2)} (unigram ${r.unigramPerplexity.toFixed(2)})`);
      console.log(`active experts    ${(r.activeExpertFraction * 100).toFixed(2)}% per token`);
      console.log(`load CV           ${r.loadCV.toFixed(3)}   dropped ${(r.dropRate * 100).toFixed(2)}% (training capacity)`);
      console.log(
        `int8 perplexity   ${r.int8.perplexity.toFixed(2)} (QMoE experts), ${r.int8.gatherPerplexity.toFixed(2)} (gathered experts, as decoded)`,
      );
      console.log(`int8 decode       ${r.int8.decodeSpeedup.toFixed(2)}x fp32 (batch 1)`);
    }
  });

program
  .command("generate")
  .description("generate text with a trained MoE LM (streams to stdout)")
  .requiredOption("--model <dir>", "model folder from `aigc train lm`")
  .requiredOption("--prompt <text...>", "the prompt; several are generated as one batch")
  .option("--max-tokens <n>", "tokens to generate", positiveInt("--max-tokens"), 64)
  .option("--temperature <t>", "0 = greedy (default: the model's generation_config.json, else 1)", Number.parseFloat)
  .option("--top-k <n>", "keep the k most likely tokens", positiveInt("--top-k"))
  .option("--top-p <p>", "nucleus sampling mass", Number.parseFloat)
  .option("--repetition-penalty <r>", "penalise repeated tokens (> 1)", Number.parseFloat)
  .option("--stop <text...>", "stop sequences")
  .option("--seed <n>", "sampling seed", (v) => Number.parseInt(v, 10))
  .option("--int8", "use the int8 model", false)
  .addOption(
    new Option("--runtime <runtime>", "the engine: our ONNX Runtime graphs, or llama.cpp (node-llama-cpp) on a GGUF export")
      .choices(["onnxruntime", "llama-cpp"])
      .default("onnxruntime"),
  )
  .option("--gguf <file>", "llama-cpp: a GGUF export of the model (default: exported at load, f32; q8_0 with --int8)")
  .option("--threads <n>", "ONNX Runtime / llama.cpp threads", positiveInt("--threads"))
  .option("--chat", "each prompt is a user turn in the model's chat template (chat models, e.g. assets/chat)", false)
  .option("--json", "print a JSON array: { prompt, text, tokens, finishReason } per prompt", false)
  .action(async (o: Omit<GenerateOptions, "write">) => {
    await generateFromModel({ ...o, write: (t) => process.stdout.write(t) });
  });

program
  .command("quantize")
  .description("export a trained MoE LM to ONNX with int8 weights (DynamicQuantizeMatMul, QMoE): <model>/model.int8.onnx")
  .requiredOption("--model <dir>", "model folder from `aigc train lm`")
  .option("--fp32", "also write the fp32 model.onnx", false)
  .action(async (o: { model: string; fp32: boolean }) => {
    const q = await exportLmOnnx(o.model, true);
    console.log(
      `${q.path}: ${(q.bytes / 1e6).toFixed(2)} MB, ${q.report?.matmuls} int8 matmuls, ${q.report?.moeBlocks} 8-bit MoE blocks`,
    );
    if (o.fp32) {
      const f = await exportLmOnnx(o.model, false);
      console.log(`${f.path}: ${(f.bytes / 1e6).toFixed(2)} MB`);
    }
  });

program
  .command("pack")
  .description("copy a trained MoE LM (config, weights, tokenizer; no checkpoint) to a new folder, e.g. to ship it under assets/")
  .requiredOption("--model <dir>", "model folder from `aigc train lm`")
  .requiredOption("--out <dir>", "destination folder")
  .option("--f16", "store the weights as float16 (half the size)", false)
  .action(async (o: { model: string; out: string; f16: boolean }) => {
    const r = await packLm(o.model, o.out, o.f16 ? "f16" : "f32");
    console.log(`${o.out}: model.safetensors ${(r.bytes / 1e6).toFixed(2)} MB`);
  });

program
  .command("ablate")
  .description("ablations")
  .command("balance")
  .description("train the MoE LM twice, router balancing on and off, and compare the expert load CV")
  .addOption(new Option("--preset <name>", "model size").choices(Object.keys(lmPresets)).default("tiny"))
  .option("--steps <n>", "steps per run", positiveInt("--steps"))
  .option("--out <dir>", "folder for the two runs", "runs/ablate-balance")
  .option("--seed <n>", "seed", (v) => Number.parseInt(v, 10), 0)
  .option("--threads <n>", "ONNX Runtime threads", positiveInt("--threads"))
  .option("--json", "print JSON")
  .action(async (o: { preset: LmPresetName; steps?: number; out: string; seed: number; threads?: number; json?: boolean }) => {
    const run = (balance: boolean) =>
      trainLmWithProgress({ ...o, out: `${o.out}/${balance ? "on" : "off"}`, resume: false, balance, quiet: o.json });
    const on = await run(true);
    const off = await run(false);
    const r = {
      on: { loadCV: on.stats.loadCV, dropRate: on.stats.dropRate, perplexity: Math.exp(on.evalLoss) },
      off: { loadCV: off.stats.loadCV, dropRate: off.stats.dropRate, perplexity: Math.exp(off.evalLoss) },
      cvRatio: off.stats.loadCV / on.stats.loadCV,
    };
    if (o.json) console.log(JSON.stringify(r));
    else {
      console.log(
        `balancing on : load CV ${r.on.loadCV.toFixed(3)}, dropped ${(r.on.dropRate * 100).toFixed(2)}%, perplexity ${r.on.perplexity.toFixed(2)}`,
      );
      console.log(
        `balancing off: load CV ${r.off.loadCV.toFixed(3)}, dropped ${(r.off.dropRate * 100).toFixed(2)}%, perplexity ${r.off.perplexity.toFixed(2)}`,
      );
      console.log(`CV off / on  : ${r.cvRatio.toFixed(2)}x`);
    }
  });

registerAlignCommands({ train, eval: evalCmd, root: program });
registerReportCommands({ train, eval: evalCmd, root: program });
registerLipSyncCommands(train, evalCmd, program);
registerEmotionCommands(train, evalCmd, program);
registerExportCommands(program);
registerFinetuneCommand(program);
registerNewsCommands(program);
registerAvatarHeadCommand(program.command("avatar").description("the digital human's parts"));

program.parseAsync().catch((err: unknown) => {
  console.error(`aigc: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
