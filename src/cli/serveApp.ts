// The whole server `aigc serve` runs, from one config: the platform (LM, router, tenants,
// cache), encrypted inference, the medical report app and the digital human. One function,
// so the route-enumeration test checks exactly what users run.

import { existsSync } from "node:fs";
import type { FastifyInstance } from "fastify";
import { avatarApp, loadAvatarServices, medicalApp, ReportGenerator } from "../apps/index.js";
import { HeServer, loadShippedModels } from "../secure/index.js";
import { buildApp, createPlatform, type Platform, type ServerConfig } from "../serve/index.js";
import { SHIPPED_REPORT_MODEL_DIR } from "./report.js";

export interface Server {
  readonly app: FastifyInstance;
  readonly platform: Platform;
  /** Why the avatar speaks no audio, when its optional speech adapter is missing. */
  readonly speechUnavailable: string | undefined;
  close(): Promise<void>;
}

export async function buildServer(
  config: ServerConfig,
  options: { threads?: number; logger?: boolean | { level: string } } = {},
): Promise<Server> {
  const platform = await createPlatform(config, { threads: options.threads });
  const reports = existsSync(SHIPPED_REPORT_MODEL_DIR)
    ? await ReportGenerator.load(SHIPPED_REPORT_MODEL_DIR, { threads: options.threads })
    : undefined;
  const avatar = await loadAvatarServices();
  const he = await HeServer.create(loadShippedModels());
  const app = await buildApp({
    platform,
    he,
    apps: [...(reports ? [medicalApp(reports)] : []), avatarApp(avatar)],
    bodyLimit: config.server.bodyLimitBytes,
    encryptedBodyLimit: config.server.encryptedBodyLimitBytes,
    logger: options.logger ?? false,
  });
  return {
    app,
    platform,
    speechUnavailable: avatar.speechUnavailable,
    async close() {
      await app.close();
      he.close();
      await reports?.close();
      await avatar.close();
      await platform.close();
    },
  };
}
