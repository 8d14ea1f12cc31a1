// The e-mail edition of a digest: one self-contained HTML file that mail clients render as
// written — a table layout, inline styles only, no script, no external resource, every text
// escaped.

import type { Digest } from "./types.js";

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
/** Only web links are links: a feed's `javascript:` or `data:` link is shown as text, not followed. */
const safeLink = (link: string | undefined) => (link && /^https?:\/\//i.test(link) ? link : undefined);

export function digestEmailHtml(digest: Digest, options: { title?: string } = {}): string {
  const title = options.title ?? `Your digest, ${day(digest.generated)}`;
  const rows = digest.items
    .map((item) => {
      const link = safeLink(item.link);
      const headline = link
        ? `<a href="${escapeHtml(link)}" style="color:#14497a;text-decoration:none">${escapeHtml(item.headline)}</a>`
        : escapeHtml(item.headline);
      return `<tr><td style="padding:12px 0;border-bottom:1px solid #e3e7eb">
<div style="font:bold 17px/1.3 Arial,sans-serif;color:#14497a">${headline}</div>
<div style="font:13px/1.4 Arial,sans-serif;color:#5a6570;padding:2px 0 6px">${escapeHtml(item.source)} · ${day(item.published)}</div>
<div style="font:15px/1.5 Arial,sans-serif;color:#222">${escapeHtml(item.summary)}</div>
</td></tr>`;
    })
    .join("\n");
  const empty = `<tr><td style="font:15px Arial,sans-serif;color:#666;padding:12px 0">Nothing new for you today.</td></tr>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title></head>
<body style="margin:0;padding:0;background:#f4f6f8">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f4f6f8"><tr><td align="center" style="padding:24px 12px">
<table role="presentation" width="600" cellpadding="0" cellspacing="0" style="max-width:600px;background:#ffffff;border-radius:6px;padding:8px 24px">
<tr><td style="font:bold 22px Arial,sans-serif;color:#222;padding:16px 0 4px">${escapeHtml(title)}</td></tr>
<tr><td style="font:13px Arial,sans-serif;color:#777;padding:0 0 8px">For ${escapeHtml(digest.reader)} · ${digest.items.length} items · every name, version, number and date checked against its source</td></tr>
${rows || empty}
<tr><td style="font:12px Arial,sans-serif;color:#999;padding:14px 0">Written by AIGC Studio from the sources named above.</td></tr>
</table></td></tr></table></body></html>`;
}
