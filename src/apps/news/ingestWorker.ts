// The worker side of Newsroom.ingestInBackground: reading and deduplicating a release-notes
// folder takes seconds (/usr/share/doc: ~1000 changelogs, ~30k entries), which must not stall
// a server's event loop. The items come back deduplicated among themselves.

import { parentPort, workerData } from "node:worker_threads";
import { dedupe } from "./dedup.js";
import { scanReleaseNotes } from "./releaseNotes.js";
import type { NewsItem } from "./types.js";

export interface IngestWorkerReply {
  files: number;
  read: number;
  items: NewsItem[];
  duplicates: number;
  notes: { path: string; reason: string }[];
  error?: string;
}

const { folders } = workerData as { folders: string[] };
try {
  const scans = folders.map((folder) => scanReleaseNotes(folder));
  const all = scans.flatMap((s) => s.items);
  const { kept, duplicates } = dedupe(all);
  const reply: IngestWorkerReply = {
    files: scans.reduce((n, s) => n + s.files.length, 0),
    read: all.length,
    items: kept,
    duplicates: duplicates.length,
    notes: scans.flatMap((s) => s.notes),
  };
  parentPort!.postMessage(reply);
} catch (e) {
  parentPort!.postMessage({ files: 0, read: 0, items: [], duplicates: 0, notes: [], error: (e as Error).message });
}
