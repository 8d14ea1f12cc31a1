// Operations routes: the home page (models and app pages) and /health, public; /metrics
// (Prometheus: every tenant's spend) for admins.

import type { FastifyInstance } from "fastify";
import type { Gate } from "../gate.js";
import { defineRoute } from "../pipeline.js";
import type { Platform } from "../platform.js";

/** An app page linked from the home page. */
export interface AppPage {
  path: string;
  title: string;
  description: string;
}

/**
 * GET /api-fetch.js, included by every page: `window.aigcFetch` is fetch with the API key the
 * user gave (kept in localStorage); on a 401 it asks for one once and retries.
 */
export const apiFetchScript = `const storageKey = "aigc-api-key";
window.aigcFetch = async (url, init = {}) => {
  const send = (key) => fetch(url, key ? { ...init, headers: { ...(init.headers || {}), authorization: "Bearer " + key } } : init);
  let key = localStorage.getItem(storageKey);
  const res = await send(key);
  if (res.status !== 401) return res;
  key = window.prompt("This server needs an API key (an admin makes one with: aigc keys create --tenant <id>)");
  if (!key) return res;
  localStorage.setItem(storageKey, key.trim());
  return send(key.trim());
};
`;

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);

function homePage(gate: Gate, p: Platform | undefined, pages: readonly AppPage[]): string {
  const models = p?.router.listModels().data ?? [];
  const zoneOf = (id: string) =>
    (p?.router.providers ?? []).filter((x) => x.models.includes(id)).map((x) => `${x.name} (${x.zone})`);
  const rows = models
    .map((m) => `<tr><td><code>${escapeHtml(m.id)}</code></td><td>${escapeHtml(zoneOf(m.id).join(", "))}</td></tr>`)
    .join("");
  const links = pages
    .map((a) => `<li><a href="${escapeHtml(a.path)}">${escapeHtml(a.title)}</a>: ${escapeHtml(a.description)}</li>`)
    .join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>AIGC Studio</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse}td,th{padding:.25rem .75rem;border-bottom:1px solid #ddd;text-align:left}code{background:#f4f4f4;padding:0 .2rem}</style>
</head><body>
<h1>AIGC Studio</h1>
<p>An OpenAI-compatible API for DeepSeek-style models, served on this machine. Point any OpenAI client at <code>/v1</code>.</p>
<h2>Models</h2>
<table><tr><th>model</th><th>served by</th></tr>${rows}</table>
<h2>Apps</h2>
<ul>${links || "<li>none registered</li>"}</ul>
<h2>API</h2>
<ul>
<li><code>POST /v1/chat/completions</code>, <code>POST /v1/completions</code> (whole or <code>"stream": true</code>), <code>POST /v1/embeddings</code>, <a href="/v1/models"><code>GET /v1/models</code></a></li>
<li><a href="/health"><code>GET /health</code></a>, <a href="/metrics"><code>GET /metrics</code></a> (Prometheus${gate.tenants.authEnabled ? "; needs an admin key" : ""})</li>
</ul>
<pre><code>curl -s localhost:${gate.config.server.port}/v1/chat/completions -H 'content-type: application/json' \\${gate.tenants.authEnabled ? "\n  -H 'authorization: Bearer $AIGC_API_KEY' \\" : ""}
  -d '{"model":"${escapeHtml(gate.config.models.default)}","messages":[{"role":"user","content":"Tell me a fortune"}],"temperature":0}'</code></pre>
</body></html>`;
}

export async function opsRoutes(
  app: FastifyInstance,
  opts: { gate: Gate; platform: Platform | undefined; pages: readonly AppPage[] },
): Promise<void> {
  const { gate, platform: p, pages } = opts;
  defineRoute(app, {
    method: "GET",
    url: "/",
    policy: { name: "home", access: "public", classify: "none" },
    handler: (_ctx, _req, reply) => reply.type("text/html; charset=utf-8").send(homePage(gate, p, pages)),
  });
  defineRoute(app, {
    method: "GET",
    url: "/api-fetch.js",
    policy: { name: "page-files", access: "public", classify: "none" },
    handler: (_ctx, _req, reply) => reply.type("text/javascript; charset=utf-8").send(apiFetchScript),
  });
  defineRoute(app, {
    method: "GET",
    url: "/health",
    policy: { name: "health", access: "public", classify: "none" },
    handler: async () => ({
      status: "ok",
      models: p?.router.listModels().data.map((m) => m.id) ?? [],
      circuits: p?.router.circuits() ?? {},
      local: p?.local?.load() ?? null,
      cache: gate.cache.stats(),
    }),
  });
  defineRoute(app, {
    method: "GET",
    url: "/metrics",
    policy: { name: "metrics", access: "admin", classify: "none" },
    handler: async (_ctx, _req, reply) =>
      reply.type(gate.metrics.registry.contentType).send(await gate.metrics.registry.metrics()),
  });
}
