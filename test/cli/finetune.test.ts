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
});
