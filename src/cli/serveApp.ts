// The whole server `aigc serve` runs, from one config: the platform (LM, router, tenants,
// cache), encrypted inference, the medical report app and the digital human. One function,
// so the route-enumeration test checks exactly what users run.

import { existsSync } from "node:fs";
import type { FastifyInstance } from "fastify";
import { avatarApp, loadAvatarServices, medicalApp, Newsroom, newsApp, ReportGenerator } from "../apps/index.js";
import { HeServer, loadShippedModels } from "../secure/index.js";
import { buildApp, createPlatform, type Platform, type ServerConfig } from "../serve/index.js";
import { newsWriterModel } from "./news.js";
import { SHIPPED_REPORT_MODEL_DIR } from "./report.js";

export interface Server {
  readonly app: FastifyInstance;
  readonly platform: Platform;
  /** Why the avatar speaks no audio, when its optional speech adapter is missing. */
  readonly speechUnavailable: string | undefined;
  close(): Promise<void>;
}

/**
 * The news app's store (config.news.db, its folder made), seeded in the background from the
 * release-notes folders while it holds no items, and its feeds polled every pollMinutes.
 */
function openNewsroom(config: ServerConfig): { newsroom: Newsroom; stop: () => void } {
  const { db, seedFolders, pollMinutes } = config.news;
  const newsroom = Newsroom.open({ db });
  let stopped = false;
  // On a worker thread, after start: reading /usr/share/doc takes seconds.
  const present = seedFolders.filter((f) => existsSync(f));
  if (newsroom.store.itemCount() === 0 && present.length > 0)
    newsroom.ingestInBackground(present).catch((e: Error) => {
      if (!stopped) console.warn(`news: seeding from ${present.join(", ")} failed: ${e.message}`);
    });
  const poll =
    pollMinutes > 0
      ? setInterval(() => {
          if (newsroom.store.listFeeds().length > 0)
            newsroom.poll().catch((e: Error) => console.warn(`news: polling the feeds failed: ${e.message}`));
        }, pollMinutes * 60_000)
      : undefined;
  poll?.unref();
  return {
    newsroom,
    stop: () => {
      stopped = true;
      if (poll) clearInterval(poll);
    },
  };
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
  const news = openNewsroom(config);
  const newsModel = await newsWriterModel(config, platform);
  const app = await buildApp({
    platform,
    he,
    apps: [
      ...(reports ? [medicalApp(reports)] : []),
      avatarApp(avatar),
      newsApp({ newsroom: news.newsroom, model: newsModel === "none" ? undefined : newsModel }),
    ],
    bodyLimit: config.server.bodyLimitBytes,
    encryptedBodyLimit: config.server.encryptedBodyLimitBytes,
    logger: options.logger ?? false,
  });
  return {
    app,
    platform,
    speechUnavailable: avatar.speechUnavailable,
    async close() {
      news.stop();
      await app.close();
      news.newsroom.close();
      he.close();
      await reports?.close();
      await avatar.close();
      await platform.close();
    },
  };
}
