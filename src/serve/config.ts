// The whole `aigc serve` config: one zod schema with every default embedded, read from a
// YAML file, then overridden from the environment, then validated. A wrong value fails
// with a `ConfigError` naming the file (or env var), the field path, what was expected and
// what was found: `aigc.yaml: router.overflow.queueDepth: expected a positive integer, got -1`.
//
// Environment overrides (applied after the file, before validation):
//   AIGC_CONFIG                     the config file, when `loadConfig` is given none
//   AIGC_HOST                       server.host (e.g. 0.0.0.0 in a container)
//   AIGC_PORT                       server.port
//   AIGC_REDIS_URL                  cache.redisUrl and tenants.redisUrl (one Redis for both)
//   AIGC_AUDIT_LOG                  router.auditLog
//   AIGC_DEFAULT_MODEL              models.default
//   AIGC_PROVIDER_<NAME>_API_KEY    the API key of provider <NAME> (upper-cased, non-alphanumerics as "_")
//   AIGC_PROVIDER_<NAME>_BASE_URL   the base URL of provider <NAME>
//
// `aigc serve --adapter name=path` (LoadConfigOptions.adapters) adds LoRA adapters to
// `models.local.<base>.adapters` the same way, before validation; a problem is blamed on the flag.

import { readFileSync } from "node:fs";
import { parseDocument } from "yaml";
import { z } from "zod";
import { describeIssue } from "../runtime/index.js";
import { cacheConfigSchema } from "./cache/index.js";
import { openAiProviderConfigSchema, providerApiKeyEnvVar, resolveApiKey } from "./providers/index.js";
import { routerConfigSchema } from "./router/index.js";
import { tenantsConfigSchema } from "./tenants/index.js";

const positiveInt = () => z.int({ error: "expected a positive integer" }).positive({ error: "expected a positive integer" });
const nonNegativeInt = () => z.int({ error: "expected an integer >= 0" }).nonnegative({ error: "expected an integer >= 0" });
const portNumber = "expected a port number 0-65535 (0 = any free port)";

/** Largest body of an API route, and of an encrypted-inference request (multi-MB evaluation keys). */
export const defaultBodyLimit = 1024 * 1024;
export const defaultEncryptedBodyLimit = 32 * 1024 * 1024;

/** The shipped chat model (the default) and the tiny base LM beside it, under assets/. */
export const shippedModel = { name: "aigc-chat", dir: "assets/chat" } as const;
export const shippedBaseModel = { name: "aigc-lm-tiny", dir: "assets/lm-tiny" } as const;

export const localModelSchema = z.strictObject({
  /** A model folder (config.json, model.safetensors, tokenizer.json), relative to the working directory. */
  dir: z.string().min(1),
  /** Serve 8-bit weights: ONNX Runtime's INT8 graph (DynamicQuantizeMatMul, 8-bit experts), or a Q8_0 export on llama.cpp. */
  int8: z.boolean().default(false),
  /**
   * The engine: our ONNX Runtime graphs, or llama.cpp (node-llama-cpp, served by the "llama-cpp"
   * provider; a GPU where one is present) on a GGUF export of the folder's model.
   */
  runtime: z.enum(["onnxruntime", "llama-cpp"]).default("onnxruntime"),
  /** llama-cpp: a GGUF export of this model (`aigc export gguf`); omitted: exported at start. */
  gguf: z.string().min(1).optional(),
  /**
   * LoRA adapters served unmerged on this model (onnxruntime only): client-facing name → a PEFT
   * adapter folder (adapter_config.json, adapter_model.safetensors), relative to the working
   * directory. A request naming one as its `model` decodes with it, batched with the others.
   */
  adapters: z.record(z.string().min(1), z.string().min(1)).optional(),
});

/** `models.local` when the config names none: the shipped chat model and the tiny base LM. */
const defaultLocalModels = (): Record<string, z.output<typeof localModelSchema>> => ({
  [shippedModel.name]: { dir: shippedModel.dir, int8: false, runtime: "onnxruntime" },
  [shippedBaseModel.name]: { dir: shippedBaseModel.dir, int8: false, runtime: "onnxruntime" },
});

export const serverConfigSchema = z
  .strictObject({
    server: z
      .strictObject({
        host: z.string().min(1).default("127.0.0.1"),
        port: z.int({ error: portNumber }).min(0, { error: portNumber }).max(65535, { error: portNumber }).default(8080),
        /** Largest request body of the API routes; larger ones are refused (413) before a byte is parsed. */
        bodyLimitBytes: positiveInt().default(defaultBodyLimit),
        /** Largest encrypted-inference body (it carries multi-MB evaluation keys). */
        encryptedBodyLimitBytes: positiveInt().default(defaultEncryptedBodyLimit),
      })
      .prefault({}),
    models: z
      .strictObject({
        /** The model used when a request names none the server knows how to default (and by `aigc` commands). */
        default: z.string().min(1).default(shippedModel.name),
        /** Local models (private zone, ONNX Runtime): client-facing name → folder. */
        local: z.record(z.string().min(1), localModelSchema).default(defaultLocalModels),
      })
      .prefault({}),
    /** Remote OpenAI-compatible providers, private (e.g. an in-house vLLM) or public (DeepSeek, …). */
    providers: z.array(openAiProviderConfigSchema).default([]),
    router: routerConfigSchema.prefault({}),
    cache: cacheConfigSchema.prefault({}),
    tenants: tenantsConfigSchema.prefault({}),
    batching: z
      .strictObject({
        /** Most sequences decoded together by the local engine. */
        maxBatch: positiveInt().default(16),
        /** Longest an idle engine waits for others to fill a batch (only while requests arrive in bursts). */
        maxWaitMs: nonNegativeInt().default(4),
        /**
         * Decode steps with at least this many rows run the routed experts as dense masked matmuls
         * instead of ONNX Runtime's sparse MoE op (exact either way; measure with bench/moe-dispatch.ts).
         * Omit: always sparse.
         */
        denseFromRows: positiveInt().optional(),
      })
      .prefault({}),
    news: z
      .strictObject({
        /** The news app's SQLite file (feeds, items, readers, feedback, summaries); ":memory:" keeps nothing. */
        db: z.string().min(1).default("data/news.db"),
        /** The model that writes headlines and summaries (default: models.default); "none": the items' own sentences. */
        model: z.string().min(1).optional(),
        /** Release-notes folders read in the background when the store holds no items yet. */
        seedFolders: z.array(z.string().min(1)).default(["/usr/share/doc"]),
        /** Minutes between polls of the feeds added with `aigc news add-feed` (0: never). */
        pollMinutes: nonNegativeInt().default(30),
      })
      .prefault({}),
    pricing: z
      .strictObject({
        /** Cost per million tokens (input and output) on the local engine, for the ledger. */
        localPerMTok: z.number({ error: "expected a number >= 0" }).nonnegative({ error: "expected a number >= 0" }).default(0),
      })
      .prefault({}),
  })
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.providers.forEach((p, i) => {
      if (seen.has(p.name)) {
        ctx.addIssue({
          code: "custom",
          path: ["providers", i, "name"],
          message: `expected a unique name; '${p.name}' is used twice`,
        });
      }
      seen.add(p.name);
    });
    // Adapter names are model names: unique among every model and adapter the server serves.
    const owners = new Map<string, string>();
    for (const name of Object.keys(config.models.local)) owners.set(name, `models.local.${name}`);
    config.providers.forEach((p, i) => {
      for (const m of p.models) {
        const name = typeof m === "string" ? m : m.name;
        if (!owners.has(name)) owners.set(name, `a model of providers[${i}] (${p.name})`);
      }
    });
    for (const [base, m] of Object.entries(config.models.local)) {
      for (const name of Object.keys(m.adapters ?? {})) {
        const path = ["models", "local", base, "adapters", name];
        if (m.runtime === "llama-cpp") {
          ctx.addIssue({
            code: "custom",
            path,
            message: `expected no adapters on a llama-cpp model: LoRA adapters are served unmerged by the onnxruntime engine only (give '${base}' runtime: onnxruntime, or serve the adapter on another model)`,
          });
          continue;
        }
        const owner = owners.get(name);
        if (owner !== undefined) {
          ctx.addIssue({
            code: "custom",
            path,
            message: `expected a name no other model or adapter uses; '${name}' is already ${owner}`,
          });
          continue;
        }
        owners.set(name, `an adapter of models.local.${base}`);
      }
    }
    const served = new Set(owners.keys());
    if (!served.has(config.models.default)) {
      ctx.addIssue({
        code: "custom",
        path: ["models", "default"],
        message: `expected a model that models.local or a provider serves (${[...served].join(", ") || "none configured"})`,
      });
    }
  });

export type ServerConfig = z.output<typeof serverConfigSchema>;
export type ServerConfigInput = z.input<typeof serverConfigSchema>;

export interface ConfigProblem {
  /** Where the bad value came from: the file, or an env var. */
  readonly source: string;
  /** e.g. `router.overflow.queueDepth`; "" for the whole document. */
  readonly path: string;
  readonly message: string;
}

export class ConfigError extends Error {
  constructor(
    readonly file: string | undefined,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(problems.map((p) => `${p.source}: ${p.path === "" ? "" : `${p.path}: `}${p.message}`).join("\n"));
    this.name = "ConfigError";
  }
}

export interface LoadConfigOptions {
  /** YAML file; default `env.AIGC_CONFIG`; neither = embedded defaults only. */
  readonly file?: string;
  readonly env: NodeJS.ProcessEnv;
  /** `aigc serve --adapter name=path` values: LoRA adapters added to `adapterBase`'s `adapters`. */
  readonly adapters?: readonly string[];
  /** The local model the `adapters` are served on (`--adapter-base`); default `models.default`. */
  readonly adapterBase?: string;
}

type Json = Record<string, unknown>;
const isMapping = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Numbers from env vars stay strings unless they look like numbers, so zod can say what was wrong. */
const envValue = (s: string): string | number => (/^-?\d+(\.\d+)?$/.test(s.trim()) ? Number(s) : s);

/** Set a value at a path of mapping keys and array indices, creating mappings where nothing is. */
function setPath(root: Json, path: readonly string[], value: unknown): void {
  let node: Json = root;
  for (const key of path.slice(0, -1)) {
    const child = node[key];
    if (typeof child !== "object" || child === null) node[key] = {};
    node = node[key] as Json;
  }
  node[path[path.length - 1]] = value;
}

/** Apply env overrides in place; returns field path → env var name, to blame the right source. */
function applyEnv(raw: Json, env: NodeJS.ProcessEnv): Map<string, string> {
  const sources = new Map<string, string>();
  const set = (variable: string, path: string[], value: unknown): void => {
    setPath(raw, path, value);
    sources.set(path.join("."), variable);
  };
  if (env.AIGC_HOST) set("AIGC_HOST", ["server", "host"], env.AIGC_HOST);
  if (env.AIGC_PORT) set("AIGC_PORT", ["server", "port"], envValue(env.AIGC_PORT));
  if (env.AIGC_REDIS_URL) {
    set("AIGC_REDIS_URL", ["cache", "redisUrl"], env.AIGC_REDIS_URL);
    set("AIGC_REDIS_URL", ["tenants", "redisUrl"], env.AIGC_REDIS_URL);
  }
  if (env.AIGC_AUDIT_LOG) set("AIGC_AUDIT_LOG", ["router", "auditLog"], env.AIGC_AUDIT_LOG);
  if (env.AIGC_DEFAULT_MODEL) set("AIGC_DEFAULT_MODEL", ["models", "default"], env.AIGC_DEFAULT_MODEL);
  if (Array.isArray(raw.providers)) {
    raw.providers.forEach((p: unknown, i) => {
      if (!isMapping(p) || typeof p.name !== "string") return;
      const variable = providerApiKeyEnvVar(p.name).replace(/_API_KEY$/, "_BASE_URL");
      if (env[variable]) set(variable, ["providers", String(i), "baseUrl"], env[variable]);
    });
  }
  return sources;
}

/**
 * Add `--adapter name=path` flags to the raw config, as `models.local.<base>.adapters.<name>`
 * (the embedded local models first, when the file names none), so the schema checks them with
 * the rest; returns what is wrong with the flags themselves.
 */
function applyAdapterFlags(
  raw: Json,
  flags: readonly string[],
  base: string | undefined,
  sources: Map<string, string>,
): ConfigProblem[] {
  if (flags.length === 0) return [];
  const problems: ConfigProblem[] = [];
  if (raw.models === undefined) raw.models = {};
  if (!isMapping(raw.models)) return []; // the schema says what is wrong with it
  const models = raw.models;
  if (models.local === undefined) models.local = defaultLocalModels();
  if (!isMapping(models.local)) return [];
  const local = models.local;
  let baseName = base ?? (typeof models.default === "string" ? models.default : shippedModel.name);
  if (base === undefined && !Object.hasOwn(local, baseName)) {
    // The default may itself be an adapter: its base serves the others too.
    const parent = Object.entries(local).find(
      ([, m]) => isMapping(m) && isMapping(m.adapters) && Object.hasOwn(m.adapters, baseName),
    );
    if (parent) baseName = parent[0];
  }
  const entry = Object.hasOwn(local, baseName) ? local[baseName] : undefined;
  for (const flag of flags) {
    const source = `--adapter ${flag}`;
    const at = flag.indexOf("=");
    if (at <= 0 || at === flag.length - 1) {
      problems.push({ source, path: "", message: "expected name=path, e.g. --adapter support=runs/support-lora" });
      continue;
    }
    const name = flag.slice(0, at);
    if (!isMapping(entry)) {
      problems.push({
        source,
        path: "",
        message: `expected a local model to serve it on: '${baseName}' is not one of models.local (${Object.keys(local).join(", ") || "none"}); name one with --adapter-base`,
      });
      continue;
    }
    if (entry.adapters === undefined) entry.adapters = {};
    if (!isMapping(entry.adapters)) continue;
    if (Object.hasOwn(entry.adapters, name)) {
      problems.push({ source, path: "", message: `an adapter named '${name}' is already configured on '${baseName}'` });
      continue;
    }
    entry.adapters[name] = flag.slice(at + 1);
    sources.set(["models", "local", baseName, "adapters", name].join("."), source);
  }
  return problems;
}

function readYaml(file: string): Json {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message;
    throw new ConfigError(file, [{ source: file, path: "", message: `cannot read the config file (${reason})` }]);
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((err) => {
      const at = err.linePos?.[0];
      const where = at ? `line ${at.line}, column ${at.col}: ` : "";
      return {
        source: file,
        path: "",
        message: `${where}YAML syntax error: ${err.message.split("\n")[0].replace(/ at line \d+, column \d+:$/, "")}`,
      };
    });
    throw new ConfigError(file, problems);
  }
  const raw: unknown = doc.toJS();
  if (raw === null || raw === undefined) return {};
  if (!isMapping(raw)) {
    throw new ConfigError(file, [
      {
        source: file,
        path: "",
        message: "expected a mapping of sections (server, models, providers, router, cache, tenants, batching, pricing)",
      },
    ]);
  }
  return raw;
}

/**
 * Read, override and validate the server config. Provider API keys are resolved
 * (`AIGC_PROVIDER_<NAME>_API_KEY`, then `apiKeyEnv`, then `apiKey`) into `apiKey`.
 * Throws `ConfigError` listing every problem.
 */
export function loadConfig(opts: LoadConfigOptions): ServerConfig {
  const file = opts.file ?? (opts.env.AIGC_CONFIG || undefined);
  const raw = file === undefined ? {} : readYaml(file);
  const sources = applyEnv(raw, opts.env);
  const flagProblems = applyAdapterFlags(raw, opts.adapters ?? [], opts.adapterBase, sources);
  if (flagProblems.length > 0) throw new ConfigError(file, flagProblems);
  const parsed = serverConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue): ConfigProblem => {
      const d = describeIssue(issue, raw);
      const variable = sources.get(issue.path.map(String).join("."));
      const message = d.missing ? `missing: ${d.expected}` : `${d.expected}${d.got === undefined ? "" : `, got ${d.got}`}`;
      return variable === undefined
        ? { source: file ?? "config", path: d.path, message }
        : { source: `${variable} (${d.path})`, path: "", message };
    });
    throw new ConfigError(file, problems);
  }
  const config = parsed.data;
  return { ...config, providers: config.providers.map((p) => ({ ...p, apiKey: resolveApiKey(p, opts.env) })) };
}
