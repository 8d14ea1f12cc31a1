// `aigc serve` on the embedded defaults (the shipped models), in this process on a free
// loopback port, with the official `openai` client pointed at it.

import OpenAI from "openai";
import { buildApp } from "../../src/serve/app.js";
import { serverConfigSchema } from "../../src/serve/config.js";
import { createPlatform, type Platform } from "../../src/serve/platform.js";

export interface DefaultServer {
  platform: Platform;
  baseUrl: string;
  openai: OpenAI;
  close: () => Promise<void>;
}

export async function listenOnDefaults(): Promise<DefaultServer> {
  const platform = await createPlatform(serverConfigSchema.parse({}), { threads: 1 });
  const app = await buildApp({ platform });
  const baseUrl = await app.listen({ host: "127.0.0.1", port: 0 });
  const openai = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: "none", maxRetries: 0 });
  return {
    platform,
    baseUrl,
    openai,
    close: async () => {
      await app.close();
      await platform.close();
    },
  };
}
