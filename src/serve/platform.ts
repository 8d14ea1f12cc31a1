// Everything a serving process holds, built from one validated config: the gate (tenants
// with their ledger, audit log, cache, metrics), the local engine (private zone), remote
// OpenAI-compatible providers and the hybrid router. Routes only translate HTTP to calls on
// this object.

import type { ServeLogger } from "./cache/index.js";
import type { ServerConfig } from "./config.js";
import { createGate, type Gate } from "./gate.js";
import { LocalLmProvider } from "./local/lmProvider.js";
import { OpenAiCompatibleProvider, type Provider } from "./providers/index.js";
import { HybridRouter } from "./router/index.js";

export interface Platform extends Gate {
  /** The ONNX Runtime engine ("local"). */
  readonly local: LocalLmProvider | undefined;
  /** Models run by llama.cpp ("llama-cpp"). */
  readonly llamaCpp: LocalLmProvider | undefined;
  readonly router: HybridRouter;
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
      ? await LocalLmProvider.create({ models: onnxModels, price, batching: config.batching, threads: options.threads })
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
  });
  const router = new HybridRouter({ providers, config: config.router, audit: gate.audit });
  return {
    ...gate,
    local,
    llamaCpp,
    router,
    async close() {
      await Promise.allSettled([local?.close(), llamaCpp?.close(), gate.close()]);
    },
  };
}
