// Many LoRA adapters on one base, as vLLM serves them: adapters from the config (and
// `aigc serve --adapter`), chosen by `model`, listed in /v1/models with their base as `parent`,
// loaded and unloaded at run time through /v1/load_lora_adapter and /v1/unload_lora_adapter
// (admins only), with the official `openai` client against the shipped assets/chat (ONNX
// Runtime, no mock). A corrupt or mismatched adapter is refused with the reason while the
// others keep serving; an adapter whose B is zero answers exactly as the base does.

import assert from "node:assert/strict";
import { mkdtemp, rm, truncate } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import OpenAI from "openai";
import { loadMoeLm, saveLoraAdapter } from "../../src/models/index.js";
import type { LoraConfig } from "../../src/nn/index.js";
import { ParamStore } from "../../src/runtime/params.js";
import { Rng } from "../../src/runtime/rng.js";
import { buildApp } from "../../src/serve/app.js";
import { ConfigError, loadConfig, serverConfigSchema } from "../../src/serve/config.js";
import { createPlatform, type Platform } from "../../src/serve/platform.js";
import { hashApiKey } from "../../src/serve/tenants/index.js";

const tenantKey = "sk-aigc-lora-tenant";
const adminKey = "sk-aigc-lora-admin";
const base = "aigc-chat";
const lora: LoraConfig = { r: 4, alpha: 8, dropout: 0, targetModules: ["q_proj", "v_proj"] };

const files = await loadMoeLm("assets/chat");
const root = await mkdtemp(join(tmpdir(), "aigc-lora-serve-"));

/**
 * An adapter on q_proj / v_proj of layers 0 and 1 of assets/chat: random A, and B random
 * (`b: "random"`) or zeros; `wrongShape` gives one tensor a shape the base does not have.
 */
async function adapterDir(name: string, opts: { seed: number; b: "random" | "zero"; wrongShape?: boolean }): Promise<string> {
  const adapter = new ParamStore();
  for (const layer of [0, 1]) {
    for (const proj of ["q_proj", "v_proj"]) {
      const module = `model.layers.${layer}.self_attn.${proj}`;
      const [inDim, outDim] = files.store.get(`${module}.weight`).shape;
      const rng = Rng.forName(opts.seed, module);
      const aIn = opts.wrongShape && layer === 1 && proj === "v_proj" ? inDim + 3 : inDim;
      adapter.set(
        `${module}.lora_A.weight`,
        [lora.r, aIn],
        Float32Array.from({ length: lora.r * aIn }, () => rng.normal() * 0.5),
      );
      adapter.set(
        `${module}.lora_B.weight`,
        [outDim, lora.r],
        Float32Array.from({ length: outDim * lora.r }, () => (opts.b === "zero" ? 0 : rng.normal() * 0.5)),
      );
    }
  }
  const dir = join(root, name);
  await saveLoraAdapter(dir, { config: lora, adapter, baseModel: "assets/chat" });
  return dir;
}

const supportDir = await adapterDir("support", { seed: 1, b: "random" });
const legalDir = await adapterDir("legal", { seed: 2, b: "random" });
const zeroDir = await adapterDir("zero", { seed: 3, b: "zero" });
const mismatchedDir = await adapterDir("mismatched", { seed: 4, b: "random", wrongShape: true });
const corruptDir = await adapterDir("corrupt", { seed: 5, b: "random" });
await truncate(join(corruptDir, "adapter_model.safetensors"), 300);

let platform: Platform;
let baseUrl: string;
let openai: OpenAI;
let close: () => Promise<void>;

before(async () => {
  const config = serverConfigSchema.parse({
    models: {
      default: base,
      local: { [base]: { dir: "assets/chat", adapters: { support: supportDir, zero: zeroDir, broken: corruptDir } } },
    },
    tenants: {
      auth: true,
      tenants: [{ id: "acme", name: "Acme", keyHashes: [hashApiKey(tenantKey)] }],
      adminKeyHashes: [hashApiKey(adminKey)],
    },
    // Few rows, so a request of many choices has some queued (see the unload test).
    batching: { maxBatch: 4 },
  });
  platform = await createPlatform(config, { threads: 1 });
  const app = await buildApp({ platform });
  baseUrl = await app.listen({ host: "127.0.0.1", port: 0 });
  openai = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: tenantKey, maxRetries: 0 });
  close = async () => {
    await app.close();
    await platform.close();
  };
});

after(async () => {
  await close?.();
  await rm(root, { recursive: true, force: true });
});

/** A greedy chat answer with its tokens' log probabilities. */
async function greedy(model: string, content = "What is a named pipe?") {
  const r = await openai.chat.completions.create({
    model,
    messages: [{ role: "user", content }],
    max_tokens: 12,
    temperature: 0,
    logprobs: true,
  });
  const choice = r.choices[0];
  return {
    model: r.model,
    text: choice.message.content ?? "",
    logprobs: (choice.logprobs?.content ?? []).map((t) => [t.token, t.logprob] as const),
  };
}

/** A POST to one of the adapter routes with `key` (admin by default, null: none); JSON answer. */
async function admin(url: string, body: unknown, key: string | null = adminKey) {
  const r = await fetch(`${baseUrl}${url}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const json = (await r.json()) as Record<string, unknown> & {
    error?: { message: string; type: string; param: string | null; code: string };
  };
  return { status: r.status, json };
}

const ids = async () => (await openai.models.list()).data.map((m) => m.id);

describe("adapters from the config", () => {
  test("/v1/models lists the base, and each adapter with the base as its parent", async () => {
    const models = (await openai.models.list()).data as (OpenAI.Models.Model & { parent?: string })[];
    const byId = new Map(models.map((m) => [m.id, m]));
    assert.equal(byId.get(base)?.parent, undefined);
    for (const a of ["support", "zero", "broken"])
      assert.equal(byId.get(a)?.parent, base, `${a}: ${JSON.stringify(byId.get(a))}`);
  });

  test("the openai client chats with an adapter by name; a non-zero adapter changes the greedy answer", async () => {
    const [plain, support] = await Promise.all([greedy(base), greedy("support")]);
    assert.equal(support.model, "support");
    assert.ok(support.text.length > 0);
    assert.notDeepEqual(support.logprobs, plain.logprobs, `the adapter changes the answer: ${support.text} / ${plain.text}`);
  });

  test("an adapter whose B is zero answers as the base (temperature 0: the same tokens, log probabilities to 1e-4)", async () => {
    const [plain, zero] = await Promise.all([greedy(base), greedy("zero")]);
    assert.equal(zero.text, plain.text);
    assert.deepEqual(
      zero.logprobs.map(([token]) => token),
      plain.logprobs.map(([token]) => token),
    );
    for (const [i, [token, lp]] of zero.logprobs.entries())
      assert.ok(Math.abs(lp - plain.logprobs[i][1]) <= 1e-4, `token ${i} '${token}': ${lp} vs ${plain.logprobs[i][1]}`);
  });

  test("a streamed answer with an adapter is its whole answer", async () => {
    const request = {
      model: "support",
      messages: [{ role: "user" as const, content: "Hello!" }],
      max_tokens: 10,
      temperature: 0,
    };
    const whole = await openai.chat.completions.create(request);
    let text = "";
    for await (const chunk of await openai.chat.completions.create({ ...request, stream: true }))
      text += chunk.choices[0]?.delta.content ?? "";
    assert.equal(text, whole.choices[0].message.content);
  });

  test("completions take an adapter too", async () => {
    const r = await openai.completions.create({ model: "support", prompt: "The sea", max_tokens: 6, temperature: 0 });
    assert.equal(r.model, "support");
    assert.ok(r.choices[0].text.length > 0);
  });

  test("an adapter that failed to load at start is refused with the reason; the others serve", async () => {
    await assert.rejects(
      openai.chat.completions.create({ model: "broken", messages: [{ role: "user", content: "hi" }], max_tokens: 4 }),
      (e: unknown) => {
        assert.ok(e instanceof OpenAI.BadRequestError, String(e));
        assert.equal(e.code, "model_unavailable");
        assert.match(e.message, /broken.*could not be loaded at start/);
        assert.match(e.message, /adapter_model\.safetensors/);
        return true;
      },
    );
    const health = (await (await fetch(`${baseUrl}/health`)).json()) as {
      adapters: { loaded: Record<string, string>; failed: Record<string, string> };
    };
    assert.deepEqual(health.adapters.loaded, { support: base, zero: base });
    assert.match(health.adapters.failed.broken, /adapter_model\.safetensors/);
    assert.ok((await greedy("support")).text.length > 0);
  });

  test("an unknown model or adapter is a 404 model_not_found, as before", async () => {
    await assert.rejects(
      openai.chat.completions.create({ model: "no-such-adapter", messages: [{ role: "user", content: "hi" }] }),
      (e: unknown) => e instanceof OpenAI.NotFoundError && e.code === "model_not_found",
    );
  });
});

describe("loading and unloading at run time", () => {
  test("admins only: 401 without a key, 403 with a tenant's", async () => {
    for (const url of ["/v1/load_lora_adapter", "/v1/unload_lora_adapter"]) {
      assert.equal((await admin(url, { lora_name: "x", lora_path: legalDir }, null)).status, 401);
      const r = await admin(url, { lora_name: "x", lora_path: legalDir }, tenantKey);
      assert.equal(r.status, 403);
      assert.equal(r.json.error?.code, "admin_key_required");
    }
  });

  test("load, chat by name, listed with its parent; unload, then 404", async () => {
    const loaded = await admin("/v1/load_lora_adapter", { lora_name: "legal", lora_path: legalDir });
    assert.equal(loaded.status, 200, JSON.stringify(loaded.json));
    assert.deepEqual({ id: loaded.json.id, parent: loaded.json.parent }, { id: "legal", parent: base });
    const listed = (await openai.models.list()).data.find((m) => m.id === "legal") as { parent?: string } | undefined;
    assert.equal(listed?.parent, base);
    const [legal, support] = await Promise.all([greedy("legal"), greedy("support")]);
    assert.notDeepEqual(legal.logprobs, support.logprobs, "two adapters, two answers");

    const unloaded = await admin("/v1/unload_lora_adapter", { lora_name: "legal" });
    assert.equal(unloaded.status, 200, JSON.stringify(unloaded.json));
    assert.ok(!(await ids()).includes("legal"));
    await assert.rejects(greedy("legal"), (e: unknown) => e instanceof OpenAI.NotFoundError && e.code === "model_not_found");
    const again = await admin("/v1/unload_lora_adapter", { lora_name: "legal" });
    assert.equal(again.status, 404);
    assert.equal(again.json.error?.code, "adapter_not_found");
  });

  test("unloading: a request already decoding with the adapter finishes; one still queued is refused", async () => {
    assert.equal((await admin("/v1/load_lora_adapter", { lora_name: "brief", lora_path: legalDir })).status, 200);
    const load = () => platform.local!.load();
    const until = async (what: string, ok: () => boolean) => {
      for (let i = 0; i < 2000 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
      assert.ok(ok(), what);
    };
    const chat = (n: number, max_tokens: number) =>
      openai.chat.completions.create({
        model: "brief",
        messages: [{ role: "user", content: "Tell me about pipes." }],
        max_tokens,
        temperature: 0,
        n,
      });
    const running = chat(1, 64);
    await until("the first request decodes", () => load().running >= 1);
    const queued = chat(8, 8).then(
      () => "answered",
      (e: unknown) => e,
    );
    await until("some choices of the second wait for a row", () => load().queued > 0);
    assert.equal((await admin("/v1/unload_lora_adapter", { lora_name: "brief" })).status, 200);
    const finished = await running;
    assert.ok(finished.choices[0].message.content, "the running request finished with the adapter");
    const refused = await queued;
    assert.ok(refused instanceof OpenAI.BadRequestError, String(refused));
    assert.equal(refused.code, "model_not_found");
    assert.match(refused.message, /unloaded before this request started/);
  });

  test("a mismatched or corrupt adapter is a 400 with the reason; the loaded ones keep serving", async () => {
    const before = await greedy("support");
    const mismatched = await admin("/v1/load_lora_adapter", { lora_name: "mismatched", lora_path: mismatchedDir });
    assert.equal(mismatched.status, 400);
    assert.equal(mismatched.json.error?.code, "invalid_adapter");
    assert.equal(mismatched.json.error?.param, "lora_path");
    assert.match(mismatched.json.error?.message ?? "", /model\.layers\.1\.self_attn\.v_proj\.lora_A\.weight/);
    const corrupt = await admin("/v1/load_lora_adapter", { lora_name: "corrupt", lora_path: corruptDir });
    assert.equal(corrupt.status, 400);
    assert.equal(corrupt.json.error?.code, "invalid_adapter");
    assert.match(corrupt.json.error?.message ?? "", /adapter_model\.safetensors/);
    const missing = await admin("/v1/load_lora_adapter", { lora_name: "missing", lora_path: join(root, "nothing-here") });
    assert.equal(missing.status, 400);
    assert.match(missing.json.error?.message ?? "", /adapter_config\.json/);
    const models = await ids();
    for (const name of ["mismatched", "corrupt", "missing"]) assert.ok(!models.includes(name), name);
    assert.deepEqual(await greedy("support"), before);
  });

  test("a name in use is refused: a loaded adapter (400, unless load_inplace), a model (400)", async () => {
    const taken = await admin("/v1/load_lora_adapter", { lora_name: "support", lora_path: legalDir });
    assert.equal(taken.status, 400);
    assert.equal(taken.json.error?.code, "adapter_exists");
    assert.match(taken.json.error?.message ?? "", /already loaded.*load_inplace/);
    const model = await admin("/v1/load_lora_adapter", { lora_name: base, lora_path: legalDir });
    assert.equal(model.status, 400);
    assert.equal(model.json.error?.code, "model_exists");
    const notAdapter = await admin("/v1/unload_lora_adapter", { lora_name: base });
    assert.equal(notAdapter.status, 400);
    assert.equal(notAdapter.json.error?.code, "not_an_adapter");
    const noBase = await admin("/v1/load_lora_adapter", { lora_name: "x", lora_path: legalDir, base_model: "no-such-model" });
    assert.equal(noBase.status, 404);
    assert.equal(noBase.json.error?.code, "model_not_found");
  });

  test("load_inplace replaces an adapter, and no cached answer of the old one is served", async () => {
    const loaded = await admin("/v1/load_lora_adapter", { lora_name: "swap", lora_path: legalDir });
    assert.equal(loaded.status, 200);
    const ask = (model = "swap") =>
      fetch(`${baseUrl}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${tenantKey}` },
        body: JSON.stringify({ model, messages: [{ role: "user", content: "Hi there" }], max_tokens: 8, temperature: 0 }),
      });
    const textOf = async (r: Response) => ((await r.json()) as OpenAI.ChatCompletion).choices[0].message.content;
    const first = await ask();
    assert.equal(first.headers.get("x-aigc-cache"), "miss");
    const legalText = await textOf(first);
    const hit = await ask();
    assert.equal(hit.headers.get("x-aigc-cache"), "hit");
    await hit.arrayBuffer();

    const replaced = await admin("/v1/load_lora_adapter", { lora_name: "swap", lora_path: zeroDir, load_inplace: true });
    assert.equal(replaced.status, 200, JSON.stringify(replaced.json));
    assert.equal(replaced.json.replaced, true);
    const after = await ask();
    assert.equal(after.headers.get("x-aigc-cache"), "miss", "the replaced adapter's answers are not the new one's");
    const zeroText = await textOf(after);
    assert.equal(zeroText, await textOf(await ask(base)), "now the zero adapter: the base's answer");
    assert.notEqual(zeroText, legalText);
    assert.equal((await admin("/v1/unload_lora_adapter", { lora_name: "swap" })).status, 200);
  });

  test("an adapter that failed at start loads once its files are fixed, and unloads", async () => {
    const fixed = await admin("/v1/load_lora_adapter", { lora_name: "broken", lora_path: supportDir });
    assert.equal(fixed.status, 200, JSON.stringify(fixed.json));
    assert.ok((await greedy("broken")).text.length > 0);
    assert.equal((await admin("/v1/unload_lora_adapter", { lora_name: "broken" })).status, 200);
    assert.ok(!(await ids()).includes("broken"));
  });

  test("bad bodies: 400 naming the field", async () => {
    const cases: [unknown, number, string | null, RegExp][] = [
      ['{"lora_name": "x",', 400, null, /not valid JSON/],
      [{ lora_path: legalDir }, 400, "lora_name", /Missing required parameter: 'lora_name'/],
      [{ lora_name: "x" }, 400, "lora_path", /Missing required parameter: 'lora_path'/],
      [{ lora_name: 5, lora_path: legalDir }, 400, "lora_name", /lora_name/],
      [{ lora_name: "two words", lora_path: legalDir }, 400, "lora_name", /without spaces/],
      [{ lora_name: "x", lora_path: "" }, 400, "lora_path", /lora_path/],
      [{ lora_name: "x", lora_path: legalDir, load_inplace: "yes" }, 400, "load_inplace", /true or false/],
      [{ lora_name: "x", lora_path: legalDir, lora_nmae: "y" }, 400, null, /lora_nmae/],
      [[], 400, null, /./],
    ];
    for (const [body, status, param, message] of cases) {
      const r = await admin("/v1/load_lora_adapter", body);
      assert.equal(r.status, status, `${JSON.stringify(body)}: ${JSON.stringify(r.json)}`);
      assert.equal(r.json.error?.param ?? null, param, `${JSON.stringify(body)}: ${JSON.stringify(r.json)}`);
      assert.match(r.json.error?.message ?? "", message, JSON.stringify(body));
    }
    const unload = await admin("/v1/unload_lora_adapter", {});
    assert.equal(unload.status, 400);
    assert.equal(unload.json.error?.param, "lora_name");
    assert.ok(!(await ids()).includes("x"), "no bad body loaded anything");
  });
});

describe("aigc serve --adapter and the config", () => {
  const env = {};
  const local = (c: ReturnType<typeof loadConfig>) => c.models.local;

  test("--adapter name=path adds an adapter to the default model (or --adapter-base's)", () => {
    const c = loadConfig({ env, adapters: [`support=${supportDir}`, "legal=runs/x=y"] });
    assert.deepEqual(local(c)[base].adapters, { support: supportDir, legal: "runs/x=y" });
    assert.equal(local(c)["aigc-lm-tiny"].adapters, undefined, "the other embedded model is still there");
    const tiny = loadConfig({ env, adapters: ["a=dir"], adapterBase: "aigc-lm-tiny" });
    assert.deepEqual(local(tiny)["aigc-lm-tiny"].adapters, { a: "dir" });
  });

  const problem = (run: () => unknown): string => {
    try {
      run();
    } catch (e) {
      assert.ok(e instanceof ConfigError, String(e));
      return e.message;
    }
    assert.fail("expected a ConfigError");
  };

  test("a bad --adapter fails the start with a message naming the flag", () => {
    assert.match(
      problem(() => loadConfig({ env, adapters: ["support"] })),
      /--adapter support: expected name=path/,
    );
    assert.match(
      problem(() => loadConfig({ env, adapters: ["a=x"], adapterBase: "nope" })),
      /--adapter a=x: .*'nope' is not one of models\.local/,
    );
    assert.match(
      problem(() => loadConfig({ env, adapters: ["a=x", "a=y"] })),
      /--adapter a=y: .*already configured/,
    );
    assert.match(
      problem(() => loadConfig({ env, adapters: [`${base}=x`] })),
      new RegExp(`--adapter ${base}=x \\(models\\.local\\.${base}\\.adapters\\.${base}\\): expected a name no other model`),
    );
  });

  test("llama-cpp models serve no adapters; adapter names are unique among every model's", () => {
    const llama = serverConfigSchema.safeParse({
      models: { default: "m", local: { m: { dir: "assets/lm-tiny", runtime: "llama-cpp", adapters: { a: "dir" } } } },
    });
    assert.ok(!llama.success);
    assert.match(llama.error.issues[0].message, /llama-cpp.*onnxruntime/);
    const twice = serverConfigSchema.safeParse({
      models: {
        default: "m",
        local: { m: { dir: "assets/lm-tiny", adapters: { a: "x" } }, n: { dir: "assets/lm-tiny", adapters: { a: "y" } } },
      },
    });
    assert.ok(!twice.success);
    assert.deepEqual(twice.error.issues[0].path, ["models", "local", "n", "adapters", "a"]);
    const asDefault = serverConfigSchema.safeParse({
      models: { default: "a", local: { m: { dir: "d", adapters: { a: "x" } } } },
    });
    assert.ok(asDefault.success, "an adapter may be the default model");
  });
});
