// The personalized-news app's shared shapes: items from feeds and local release notes, readers
// with stated interests and feedback, and what a digest holds. One file, so the sources, the
// store, the ranker and the writer agree on them.

/** One news item, from a feed (RSS 2.0 / Atom) or a local release-notes file. */
export interface NewsItem {
  /** Stable id: a hash of the source and the item's own guid / link / title + date. */
  id: string;
  /** Where it came from: the feed's URL or the local file's path. */
  source: string;
  /** The source's human name (the feed's title, the Debian package). */
  sourceTitle: string;
  title: string;
  /** The item's text (HTML stripped), the whole of what a summary may draw on. */
  text: string;
  /** Publication time, ms since the epoch (UTC). */
  published: number;
  link?: string;
  /** Language tag of the text ("en", "zh", …), detected or given by the feed. */
  lang: string;
}

/** How a reader likes a digest. */
export type SummaryLength = "short" | "medium" | "long"; // 1, 2 or 3 sentences

export interface Reader {
  id: string;
  /** Stated interests, free text ("rust compilers, python packaging"). */
  interests: string;
  lang: string;
  length: SummaryLength;
  /** Items in a digest (default 10). */
  digestSize: number;
}

/** Implicit and explicit feedback on one item of a digest. */
export type FeedbackKind = "open" | "click" | "dwell" | "less";

export interface Feedback {
  reader: string;
  item: string;
  kind: FeedbackKind;
  /** Seconds spent (kind "dwell"). */
  seconds?: number;
  /** ms since the epoch. */
  at: number;
}

/** One entry of a reader's digest. */
export interface DigestItem {
  item: string;
  source: string;
  title: string;
  headline: string;
  summary: string;
  link?: string;
  published: number;
  /** Why it was chosen: the ranker's score. */
  score: number;
  /** Who wrote the summary: the model (checked against the source), or the item's own sentences. */
  method?: "model" | "extractive";
}

export interface Digest {
  reader: string;
  /** ms since the epoch. */
  generated: number;
  items: DigestItem[];
}
