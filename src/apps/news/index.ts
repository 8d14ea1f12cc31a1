// The personalized-news app: sources (feeds, release notes), readers and feedback in SQLite,
// ranking with a contextual bandit, summaries checked against their sources, digests.

export { digestEmailHtml } from "./email.js";
export { FeedError } from "./feeds.js";
export { injectFetch, newsApp, newsAppPage } from "./http.js";
export { type FeedPollSummary, type IngestResult, NewsInputError, Newsroom, type NewsroomOptions } from "./newsroom.js";
export { readReleaseNotes } from "./releaseNotes.js";
export { type ChatBackend, openAiChatBackend } from "./summarize.js";
export { isHeldOutItem, summarizerRecords } from "./summarizerData.js";
export type { Digest, DigestItem, Reader, SummaryLength } from "./types.js";
