// `aigc finetune` on the shipped tiny LM: a LoRA run writes a PEFT adapter that loads against
// its base and lowers held-out perplexity; a full run writes a model folder; chat JSONL trains
// on the answers only; bad data is refused naming the file and line.

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { finetuneFromCli, registerFinetuneCommand } from "../../src/cli/finetune.js";
import { licenseTexts } from "../../src/data/index.js";
import { loadLoraAdapter, loadMoeLm } from "../../src/models/index.js";
import { heldOutLoss, heldOutWindows } from "../../src/train/index.js";
import { runAigc } from "../helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "finetune-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const text = join(dir, "licenses.txt");
writeFileSync(text, licenseTexts({ maxChars: 60_000 }).text);
const common = {
  model: "assets/lm-tiny",
  data: text,
  rank: 4,
  alpha: 8,
  dropout: 0,
  batch: 4,
  seqLen: 64,
  seed: 0,
  threads: 2,
  quiet: true,
};

describe("aigc finetune", () => {
  it("LoRA: a PEFT adapter of the targeted modules that loads against the base and lowers held-out perplexity", async () => {
    const out = join(dir, "lora");
    const r = await finetuneFromCli({ ...common, method: "lora", target: ["q_proj", "v_proj"], steps: 30, out });
    assert.ok(r.loss < r.baseLoss, `held-out loss ${r.loss} should fall below the base's ${r.baseLoss}`);
    assert.ok(r.trainableParams < 0.01 * r.totalParams, `${r.trainableParams} of ${r.totalParams} trainable`);
    const base = await loadMoeLm("assets/lm-tiny");
    const adapter = await loadLoraAdapter(out, base.store);
    assert.equal(adapter.config.r, 4);
    assert.deepEqual(
      adapter.modules.filter((m) => m.endsWith("q_proj")).length,
      base.config.model.layers,
      "one q_proj update per block",
    );
    // The base's weights were not touched.
    const q = "model.layers.0.self_attn.q_proj.weight";
    assert.deepEqual((await loadMoeLm("assets/lm-tiny")).store.get(q).data, base.store.get(q).data);
  });

  it("QLoRA: the base fed as NF4 (about 4.1 bits per parameter), an adapter that lowers held-out perplexity", async () => {
    const out = join(dir, "qlora");
    const r = await finetuneFromCli({ ...common, method: "qlora", target: ["q_proj", "v_proj", "gate_proj"], steps: 30, out });
    assert.ok(r.loss < r.baseLoss, `held-out loss ${r.loss} should fall below the base's ${r.baseLoss}`);
    assert.ok(r.bitsPerBaseParam < 4.6, `${r.bitsPerBaseParam} bits per base parameter`);
    const adapter = await loadLoraAdapter(out, (await loadMoeLm("assets/lm-tiny")).store);
    assert.ok(adapter.modules.some((m) => m.endsWith("mlp.gate_proj")));
  });

  it("an interrupted run resumes from its checkpoint and ends where an uninterrupted one does", async () => {
    // One thread: ONNX Runtime's parallel reductions differ in the last bits from run to run, which
    // AdamW amplifies; with one the run is exactly reproducible, so resumed = uninterrupted can be checked exactly.
    const run = { ...common, threads: 1, method: "lora" as const, target: ["q_proj"], steps: 12, saveEvery: 4 };
    const straight = await finetuneFromCli({ ...run, out: join(dir, "straight") });
    const out = join(dir, "resumed");
    await finetuneFromCli({ ...run, out, stopAt: 6 });
    assert.ok(existsSync(join(out, "checkpoint", "optimizer.safetensors")), "the interrupted run left a checkpoint");
    const resumed = await finetuneFromCli({ ...run, out, resume: true });
    for (const [name, v] of straight.store.values) {
      const w = resumed.store.get(name).data;
      assert.ok(
        v.data.every((x, i) => x === w[i]),
        `${name}: resumed differs from uninterrupted`,
      );
    }
    assert.ok(!existsSync(join(out, "checkpoint")), "the finished adapter replaced the checkpoint");
    await assert.rejects(async () => {
      await finetuneFromCli({ ...run, out: join(dir, "other"), stopAt: 4 });
      await finetuneFromCli({ ...run, out: join(dir, "other"), seed: 5, resume: true });
    }, /holds a run with other settings/);
  });

  it("full: a model folder that loads, every parameter trained", async () => {
    const out = join(dir, "full");
    const r = await finetuneFromCli({ ...common, method: "full", target: [], steps: 10, out });
    assert.ok(r.trainableParams > 0.99 * r.totalParams);
    const tuned = await loadMoeLm(out);
    assert.equal(tuned.config.model.dim, 128);
  });

  it("chat JSONL trains on the answers only, and bad lines are refused with the file and line", async () => {
    const jsonl = join(dir, "chat.jsonl");
    const record = (i: number) =>
      JSON.stringify({
        messages: [
          { role: "user", content: `What does clause ${i} say?` },
          { role: "assistant", content: `Clause ${i} says the software is provided as is, without warranty of any kind.` },
        ],
      });
    writeFileSync(jsonl, `${Array.from({ length: 80 }, (_, i) => record(i)).join("\n")}\n`);
    // Chat records need a chat model's tokenizer (role tokens): the shipped chat model.
    const r = await finetuneFromCli({
      ...common,
      model: "assets/chat",
      data: jsonl,
      method: "lora",
      target: ["q_proj"],
      steps: 5,
      out: join(dir, "chat"),
    });
    assert.equal(r.data.format, "chat");
    assert.ok(r.data.train.lossMask.some((m) => m === 0) && r.data.train.lossMask.some((m) => m === 1));
    const bad = join(dir, "bad.jsonl");
    writeFileSync(bad, `${record(1)}\n{"messages": [{"role": "robot", "content": "hi"}]}\nnot json\n`);
    await assert.rejects(
      runAigc(
        ({ root }) => registerFinetuneCommand(root),
        "finetune",
        "--model",
        "assets/chat",
        "--data",
        bad,
        "--out",
        join(dir, "x"),
      ),
      /bad\.jsonl:2: .*role[\s\S]*bad\.jsonl:3: /,
    );
    assert.ok(!existsSync(join(dir, "x")), "nothing written for refused data");
  });

  it("aigc lora merge writes a model folder that scores the held-out text as base + adapter did", async () => {
    const adapterDir = join(dir, "merge-adapter");
    const r = await finetuneFromCli({ ...common, method: "lora", target: ["q_proj", "v_proj"], steps: 8, out: adapterDir });
    const out = join(dir, "merged");
    const printed = await runAigc(
      ({ root }) => registerFinetuneCommand(root),
      "lora",
      "merge",
      "--model",
      "assets/lm-tiny",
      "--adapter",
      adapterDir,
      "--out",
      out,
    );
    assert.ok(printed.endsWith(`merged (${r.store.values.size / 2} modules, r 4)`), printed);
    const merged = await loadMoeLm(out);
    const windows = heldOutWindows([{ tokens: r.data.valid.tokens, domain: -1, weight: 1 }], 16, 64);
    const loss = await heldOutLoss(merged.config.model, merged.store, windows, 2);
    assert.ok(Math.abs(loss - r.loss) < 1e-5, `merged folder ${loss} vs fine-tune's own ${r.loss}`);
    await assert.rejects(
      runAigc(
        ({ root }) => registerFinetuneCommand(root),
        "lora",
        "merge",
        "--model",
        "assets/chat",
        "--adapter",
        adapterDir,
        "--out",
        join(dir, "wrong"),
      ),
      /is \[[\d, ]+\] but the base's/,
    );
  });
});
