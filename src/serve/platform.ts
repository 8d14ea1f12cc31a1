// Everything a serving process holds, built from one validated config: the gate (tenants
// with their ledger, audit log, cache, metrics), the local engine (private zone), remote
// OpenAI-compatible providers and the hybrid router. Routes only translate HTTP to calls on
// this object. LoRA adapters load and unload here at run time (on the local engine's models).

import type { ServeLogger } from "./cache/index.js";
import type { ServerConfig } from "./config.js";
import { HttpError } from "./errors.js";
import { createGate, type Gate } from "./gate.js";
import { type AdapterInfo, type AdapterLoaded, LocalLmProvider } from "./local/lmProvider.js";
import { ParameterError } from "./openai/index.js";
import { OpenAiCompatibleProvider, type Provider } from "./providers/index.js";
import { HybridRouter } from "./router/index.js";

export interface Platform extends Gate {
  /** The ONNX Runtime engine ("local"). */
  readonly local: LocalLmProvider | undefined;
  /** Models run by llama.cpp ("llama-cpp"). */
  readonly llamaCpp: LocalLmProvider | undefined;
  readonly router: HybridRouter;
  /** LoRA adapters on the local engine's models, loaded and unloaded without a restart. */
  readonly adapters: PlatformAdapters;
}

export interface PlatformAdapters {
  /**
   * Serve the PEFT adapter folder `path` as model `name` on `base` (default: models.default,
   * or its base when it is an adapter, or the only local model). HttpError 400 / 404 / 409
   * saying what is wrong (see LocalLmProvider.loadAdapter).
   */
  load(request: { name: string; path: string; base?: string; replace?: boolean }): Promise<AdapterLoaded>;
  /** Stop serving adapter `name`; 404 when no adapter has that name. */
  unload(name: string): AdapterInfo;
}

export async function createPlatform(
  config: ServerConfig,
  options: { threads?: number; logger?: ServeLogger; extraProviders?: readonly Provider[] } = {},
): Promise<Platform> {
  const localModels = Object.entries(config.models.local).map(([name, m]) => ({ name, ...m }));
  const price = { inputPerMTok: config.pricing.localPerMTok, outputPerMTok: config.pricing.localPerMTok };
  const onnxModels = localModels.filter((m) => m.runtime === "onnxruntime");
  const llamaModels = localModels.filter((m) => m.runtime === "llama-cpp");
  const local =
    onnxModels.length > 0
      ? await LocalLmProvider.create({
          models: onnxModels,
          price,
          batching: config.batching,
          threads: options.threads,
          onAdapterError: (adapter, model, e) =>
            options.logger?.warn(`local: LoRA adapter '${adapter}' (on ${model}) not loaded: ${e.message}`),
        })
      : undefined;
  // llama.cpp models are their own private provider; one whose GGUF fails to load is refused
  // with the reason while the rest are served.
  const llamaCpp =
    llamaModels.length > 0
      ? await LocalLmProvider.create({
          name: "llama-cpp",
          models: llamaModels,
          price,
          batching: config.batching,
          threads: options.threads,
          onLoadError: (model, e) => options.logger?.warn(`llama-cpp: model '${model}' not loaded: ${e.message}`),
        })
      : undefined;
  const remote = config.providers.map((p) => new OpenAiCompatibleProvider(p));
  // Preference order within each zone: local engine first, then remote providers as configured.
  const providers: Provider[] = [
    ...(local ? [local] : []),
    ...(llamaCpp ? [llamaCpp] : []),
    ...(options.extraProviders ?? []),
    ...remote,
  ];
  const gate = createGate(config, {
    logger: options.logger,
    batchers: () => ({ ...local?.batcherLoads(), ...llamaCpp?.batcherLoads() }),
    priceOf: (name) => providers.find((p) => p.name === name)?.price,
    modelRevision: (model) => local?.modelRevision(model),
  });
  const router = new HybridRouter({ providers, config: config.router, audit: gate.audit });
  return {
    ...gate,
    local,
    llamaCpp,
    router,
    adapters: platformAdapters(config, local, providers),
    async close() {
      await Promise.allSettled([local?.close(), llamaCpp?.close(), gate.close()]);
    },
  };
}

/** Adapter loading over the local engine, with names checked against every provider's models. */
function platformAdapters(
  config: ServerConfig,
  local: LocalLmProvider | undefined,
  providers: readonly Provider[],
): PlatformAdapters {
  const llamaCppModels = Object.entries(config.models.local)
    .filter(([, m]) => m.runtime === "llama-cpp")
    .map(([name]) => name);
  const noEngine = (): HttpError =>
    new ParameterError(
      "unsupported_model",
      `LoRA adapters are served on onnxruntime models only, and this server has none${llamaCppModels.length > 0 ? ` (${llamaCppModels.join(", ")} run on llama-cpp, which serves no adapters)` : ""}.`,
      "base_model",
    );
  /** The model an adapter loads on when the request names none. */
  const defaultBase = (engine: LocalLmProvider): string => {
    const bases = engine.baseModels();
    const preferred = config.models.default;
    const base = bases.includes(preferred) ? preferred : engine.parentOf(preferred);
    if (base !== undefined) return base;
    if (bases.length === 1) return bases[0];
    throw new ParameterError(
      "missing_required_parameter",
      `Missing required parameter: 'base_model' (the local model to serve the adapter on: one of ${bases.join(", ") || "none"}).`,
      "base_model",
    );
  };
  return {
    async load(request) {
      if (!local) throw noEngine();
      const base = request.base ?? defaultBase(local);
      if (llamaCppModels.includes(base))
        throw new ParameterError(
          "unsupported_model",
          `model '${base}' runs on llama-cpp, which serves no LoRA adapters: load adapters on an onnxruntime model (${local.baseModels().join(", ")}).`,
          "base_model",
        );
      const elsewhere = providers.find((p) => p !== local && p.models.includes(request.name));
      if (elsewhere)
        throw new ParameterError(
          "model_exists",
          `'${request.name}' is the name of a model ${elsewhere.name} serves: give the adapter another name.`,
          "lora_name",
        );
      return local.loadAdapter({ ...request, base });
    },
    unload(name) {
      if (!local) throw new HttpError(404, "adapter_not_found", `The LoRA adapter '${name}' is not loaded (loaded: none).`);
      return local.unloadAdapter(name);
    },
  };
}
