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
  readonly local: LocalLmProvider | undefined;
  readonly router: HybridRouter;
}

export async function createPlatform(
  config: ServerConfig,
  options: { threads?: number; logger?: ServeLogger; extraProviders?: readonly Provider[] } = {},
): Promise<Platform> {
  const localModels = Object.entries(config.models.local).map(([name, m]) => ({ name, dir: m.dir, int8: m.int8 }));
  const local =
    localModels.length > 0
      ? await LocalLmProvider.create({
          models: localModels,
          price: { inputPerMTok: config.pricing.localPerMTok, outputPerMTok: config.pricing.localPerMTok },
          batching: config.batching,
          threads: options.threads,
        })
      : undefined;
  const remote = config.providers.map((p) => new OpenAiCompatibleProvider(p));
  // Preference order within each zone: local engine first, then remote providers as configured.
  const providers: Provider[] = [...(local ? [local] : []), ...(options.extraProviders ?? []), ...remote];
  const gate = createGate(config, {
    logger: options.logger,
    batchers: () => local?.batcherLoads() ?? {},
    priceOf: (name) => providers.find((p) => p.name === name)?.price,
  });
  const router = new HybridRouter({ providers, config: config.router, audit: gate.audit });
  return {
    ...gate,
    local,
    router,
    async close() {
      await Promise.allSettled([local?.close(), gate.close()]);
    },
  };
}
