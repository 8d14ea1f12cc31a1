// `aigc news …`: the personalized-news app from the command line, on the same SQLite store the
// server uses (config.news.db, data/news.db by default). Digests are written by a model
// through an OpenAI-compatible API: a running server (--base-url), else the shipped model in
// this process (the platform's own pipeline, through app.inject), or none (--extractive).

import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Command, Option } from "commander";
import {
  type ChatBackend,
  type Digest,
  digestEmailHtml,
  injectFetch,
  isHeldOutItem,
  NewsInputError,
  Newsroom,
  openAiChatBackend,
  readReleaseNotes,
  summarizerRecords,
} from "../apps/index.js";
import { buildApp, createPlatform, loadConfig, type Platform, type ServerConfig } from "../serve/index.js";
import { positiveInt } from "./args.js";
import { DEFAULT_LORA_TARGETS, finetuneFromCli } from "./finetune.js";

/** The shipped summarizer adapter (`aigc news train-summarizer`; assets/news-summarizer/RECIPE.md). */
export const SHIPPED_NEWS_ADAPTER = {
  name: "aigc-news",
  dir: fileURLToPath(new URL("../../assets/news-summarizer", import.meta.url)),
} as const;

/**
 * The model that writes summaries when the config names none: the shipped summarizer adapter
 * on the default model when it is there and loads, else the default model itself.
 */
export async function newsWriterModel(config: ServerConfig, platform: Platform): Promise<string> {
  if (config.news.model !== undefined) return config.news.model;
  if (!existsSync(join(SHIPPED_NEWS_ADAPTER.dir, "adapter_config.json"))) return config.models.default;
  try {
    await platform.adapters.load({ name: SHIPPED_NEWS_ADAPTER.name, path: SHIPPED_NEWS_ADAPTER.dir });
    return SHIPPED_NEWS_ADAPTER.name;
  } catch (e) {
    console.warn(
      `news: the summarizer adapter ${SHIPPED_NEWS_ADAPTER.dir} was not loaded (${(e as Error).message}); ${config.models.default} writes the summaries`,
    );
    return config.models.default;
  }
}

interface DbOption {
  db?: string;
  config?: string;
}

function dbPath(o: DbOption): string {
  return o.db ?? loadConfig({ file: o.config, env: process.env }).news.db;
}

function open(o: DbOption): Newsroom {
  return Newsroom.open({ db: dbPath(o) });
}

/** Runs `work` on the newsroom, closing it after; a NewsInputError is the user's: its message, exit 2. */
async function withNewsroom<T>(o: DbOption, work: (n: Newsroom) => Promise<T> | T): Promise<T | undefined> {
  const newsroom = open(o);
  try {
    return await work(newsroom);
  } catch (e) {
    if (e instanceof NewsInputError) {
      console.error(`aigc news: ${e.message}`);
      process.exitCode = 2;
      return undefined;
    }
    throw e;
  } finally {
    newsroom.close();
  }
}

interface DigestOptions extends DbOption {
  reader: string;
  json?: boolean;
  html?: string;
  size?: number;
  baseUrl?: string;
  model?: string;
  apiKey?: string;
  extractive?: boolean;
  threads?: number;
}

/** The writer of a digest's summaries, and how to let it go. */
async function writer(o: DigestOptions): Promise<{ backend?: ChatBackend; close: () => Promise<void>; name: string }> {
  if (o.extractive) return { close: async () => {}, name: "the items' own sentences" };
  const config = loadConfig({ file: o.config, env: process.env });
  if (o.baseUrl) {
    const model = o.model ?? config.news.model ?? config.models.default;
    return {
      backend: openAiChatBackend({ baseUrl: o.baseUrl, model, apiKey: o.apiKey ?? process.env.AIGC_API_KEY }),
      close: async () => {},
      name: `${model} at ${o.baseUrl}`,
    };
  }
  const platform = await createPlatform(config, { threads: o.threads });
  const model = o.model ?? (await newsWriterModel(config, platform));
  const app = await buildApp({ platform });
  return {
    backend: openAiChatBackend({
      baseUrl: "http://in-process",
      model,
      fetch: injectFetch(app, o.apiKey ? `Bearer ${o.apiKey}` : undefined),
    }),
    close: async () => {
      await app.close();
      await platform.close();
    },
    name: `${model} (in this process)`,
  };
}

function printDigest(d: Digest): void {
  if (d.items.length === 0) {
    console.log(`${d.reader}: nothing to read yet (aigc news ingest, or aigc news add-feed + aigc news poll)`);
    return;
  }
  for (const [i, item] of d.items.entries()) {
    const day = new Date(item.published).toISOString().slice(0, 10);
    console.log(`${i + 1}. ${item.headline}\n   ${item.source} · ${day} · ${item.item}\n   ${item.summary}\n`);
  }
}

export function registerNewsCommands(program: Command): void {
  const news = program
    .command("news")
    .description("personalized news: feeds and release notes in, a digest per reader out (SQLite store)");
  const db = () => new Option("--db <file>", "the news store (default: config.news.db, data/news.db)");
  const config = () => new Option("--config <file>", "YAML config (default: $AIGC_CONFIG, else the embedded defaults)");

  news
    .command("add-feed <url>")
    .description("add an RSS 2.0 or Atom feed (polled by aigc news poll and by the server)")
    .addOption(db())
    .addOption(config())
    .action(async (url: string, o: DbOption) => {
      await withNewsroom(o, (n) => {
        n.addFeed(url);
        console.log(`added ${url}; aigc news poll reads it`);
      });
    });

  news
    .command("poll")
    .description("fetch every feed once (conditional GET; a feed that fails is reported, the others go on)")
    .addOption(db())
    .addOption(config())
    .option("--timeout-ms <n>", "give up on a feed after this long", positiveInt("--timeout-ms"), 10_000)
    .action(async (o: DbOption & { timeoutMs: number }) => {
      await withNewsroom(o, async (n) => {
        const results = await n.poll({ timeoutMs: o.timeoutMs });
        if (results.length === 0) console.log("no feeds yet: aigc news add-feed <url>");
        for (const r of results)
          console.log(
            r.ok
              ? `${r.url}: ${r.status === "not-modified" ? "not modified" : `${r.added} new, ${r.duplicates} duplicates`}`
              : `${r.url}: FAILED: ${r.error}`,
          );
        if (results.some((r) => !r.ok)) process.exitCode = 1;
      });
    });

  news
    .command("ingest [folder]")
    .description("read a folder of release notes (Debian changelogs and NEWS.Debian; default /usr/share/doc)")
    .addOption(db())
    .addOption(config())
    .option("--max-files <n>", "read at most this many files", positiveInt("--max-files"))
    .action(async (folder: string | undefined, o: DbOption & { maxFiles?: number }) => {
      await withNewsroom(o, (n) => {
        const t0 = performance.now();
        const r = n.ingest(folder ?? "/usr/share/doc", { maxFiles: o.maxFiles });
        console.log(
          `${folder ?? "/usr/share/doc"}: ${r.files} files, ${r.read} entries, ${r.added} new, ${r.duplicates} near-duplicates left out, ${r.notes.length} skipped (${((performance.now() - t0) / 1000).toFixed(1)} s); the store holds ${n.store.itemCount()} items`,
        );
      });
    });

  const reader = news.command("reader").description("readers: stated interests, language, summary length");
  reader
    .command("add")
    .description("add a reader (or replace the profile of one with the same id)")
    .requiredOption("--id <id>", "letters, digits, '.', '_' or '-'")
    .requiredOption("--interests <text>", 'what they want to read about, e.g. "python packaging, security fixes"')
    .option("--lang <tag>", "language of their summaries", "en")
    .addOption(new Option("--length <length>", "1, 2 or 3 sentences").choices(["short", "medium", "long"]).default("medium"))
    .option("--size <n>", "items in a digest", positiveInt("--size"), 10)
    .addOption(db())
    .addOption(config())
    .action(async (o: DbOption & { id: string; interests: string; lang: string; length: string; size: number }) => {
      await withNewsroom(o, (n) => {
        const r = n.addReader({ id: o.id, interests: o.interests, lang: o.lang, length: o.length as never, digestSize: o.size });
        console.log(`reader ${r.id}: ${r.interests} (${r.lang}, ${r.length}, ${r.digestSize} items)`);
      });
    });
  reader
    .command("list")
    .description("the readers in the store")
    .addOption(db())
    .addOption(config())
    .action(async (o: DbOption) => {
      await withNewsroom(o, (n) => {
        for (const r of n.store.listReaders()) console.log(`${r.id}\t${r.lang}\t${r.length}\t${r.interests}`);
      });
    });

  news
    .command("feedback")
    .description("record what a reader did with an item (the ranker learns from it at their next digest)")
    .requiredOption("--reader <id>", "the reader")
    .requiredOption("--item <id>", "the item (its id is in the digest)")
    .addOption(new Option("--kind <kind>", "what they did").choices(["open", "click", "dwell", "less"]).makeOptionMandatory())
    .option("--seconds <n>", "time spent (dwell)", Number.parseFloat)
    .addOption(db())
    .addOption(config())
    .action(
      async (o: DbOption & { reader: string; item: string; kind: "open" | "click" | "dwell" | "less"; seconds?: number }) => {
        await withNewsroom(o, (n) => {
          n.feedback({ reader: o.reader, item: o.item, kind: o.kind, seconds: o.seconds });
          console.log(`${o.reader}: ${o.kind} on ${o.item} noted`);
        });
      },
    );

  news
    .command("train-summarizer")
    .description(
      "train a LoRA adapter that makes the chat model write news summaries (release notes of nine packages in ten; the tenth held out)",
    )
    .option("--model <dir>", "base model folder", "assets/chat")
    .option("--folder <dir>", "release notes to learn from", "/usr/share/doc")
    .requiredOption("--out <dir>", "the adapter folder to write (serve it with aigc serve --adapter aigc-news=<dir>)")
    .option("--steps <n>", "optimizer steps", positiveInt("--steps"), 300)
    .option("--seq-len <n>", "tokens per sequence", positiveInt("--seq-len"), 384)
    .option("--threads <n>", "ONNX Runtime threads", positiveInt("--threads"))
    .action(async (o: { model: string; folder: string; out: string; steps: number; seqLen: number; threads?: number }) => {
      const items = readReleaseNotes(o.folder);
      const records = summarizerRecords(items);
      const dir = mkdtempSync(join(tmpdir(), "news-summarizer-"));
      try {
        const data = join(dir, "summaries.jsonl");
        writeFileSync(data, `${records.map((r) => JSON.stringify(r)).join("\n")}\n`);
        console.error(
          `${records.length} records from ${items.length} entries (${items.filter(isHeldOutItem).length} held-out entries left out)`,
        );
        const r = await finetuneFromCli({
          model: o.model,
          data,
          method: "lora",
          rank: 8,
          alpha: 16,
          dropout: 0,
          target: DEFAULT_LORA_TARGETS,
          steps: o.steps,
          batch: 8,
          seqLen: o.seqLen,
          seed: 0,
          threads: o.threads,
          out: o.out,
        });
        console.log(
          `${o.out}: held-out perplexity of the answers ${Math.exp(r.baseLoss).toFixed(2)} -> ${Math.exp(r.loss).toFixed(2)} in ${r.seconds.toFixed(0)} s`,
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

  news
    .command("digest")
    .description("rank, write and print a reader's digest (JSON with --json, an e-mail HTML file with --html)")
    .requiredOption("--reader <id>", "the reader")
    .option("--json", "print { reader, generated, items: [{ source, title, headline, summary, … }] }")
    .option("--html <file>", "also write the e-mail edition (self-contained HTML)")
    .option("--size <n>", "items (default: the reader's digest size)", positiveInt("--size"))
    .option("--base-url <url>", "an OpenAI-compatible server to write with (default: the shipped model in this process)")
    .option("--model <name>", "the model that writes (default: config.news.model, else models.default)")
    .option("--api-key <key>", "API key for --base-url or the in-process server (default $AIGC_API_KEY)")
    .option("--extractive", "no model: summaries from the items' own sentences")
    .option("--threads <n>", "ONNX Runtime threads (in-process model)", positiveInt("--threads"))
    .addOption(db())
    .addOption(config())
    .action(async (o: DigestOptions) => {
      const w = await writer(o);
      try {
        await withNewsroom(o, async (n) => {
          const d = await n.digest(o.reader, { size: o.size, backend: w.backend });
          if (o.html) writeFileSync(o.html, digestEmailHtml(d));
          if (o.json)
            console.log(
              JSON.stringify(
                {
                  ...d,
                  items: d.items.map(({ source, title, headline, summary, item, link, published, method }) => ({
                    source,
                    title,
                    headline,
                    summary,
                    item,
                    link,
                    published,
                    method,
                  })),
                },
                null,
                2,
              ),
            );
          else printDigest(d);
          if (!o.json) console.error(`written by ${w.name}${o.html ? `; e-mail edition in ${o.html}` : ""}`);
        });
      } finally {
        await w.close();
      }
    });
}
