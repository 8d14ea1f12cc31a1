// Operations routes: the home page (models and app pages) and /health, public; /metrics
// (Prometheus: every tenant's spend) for admins. (Loading LoRA adapters: ./adapters.ts.)

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

/** An API route the home page lists when the server has it. */
interface ApiRoute {
  method: "GET" | "POST";
  url: string;
  what: string;
}

/** The API by group, as the README documents it; the home page shows the routes this server registered. */
const apiGroups: readonly { title: string; routes: readonly ApiRoute[] }[] = [
  {
    title: "OpenAI-compatible",
    routes: [
      { method: "POST", url: "/v1/chat/completions", what: 'chat, whole or <code>"stream": true</code> (server-sent events)' },
      { method: "POST", url: "/v1/completions", what: "text completion, whole or streamed" },
      { method: "POST", url: "/v1/embeddings", what: "embeddings (<code>dimensions</code> to shorten)" },
      { method: "GET", url: "/v1/models", what: "the models served (LoRA adapters with their base as <code>parent</code>)" },
    ],
  },
  {
    title: "LoRA adapters (vLLM's API)",
    routes: [
      {
        method: "POST",
        url: "/v1/load_lora_adapter",
        what: "<code>{ lora_name, lora_path, base_model?, load_inplace? }</code>: serve a PEFT adapter folder as model <code>lora_name</code>, without a restart",
      },
      { method: "POST", url: "/v1/unload_lora_adapter", what: "<code>{ lora_name }</code>: stop serving it" },
    ],
  },
  {
    title: "Medical reports",
    routes: [
      {
        method: "POST",
        url: "/v1/medical/reports",
        what: "CT slice + EHR → report: JSON <code>{ image (base64 DICOM/NIfTI/PNG/JPEG), ehr (FHIR R4 or AIGC JSON), lang?, stream?, constrained?, allowOutOfDistribution? }</code> or multipart (<code>image</code>, <code>ehr</code> files); answers <code>{ report, findings, notes, outOfDistribution, disclaimer, preview, ms }</code>",
      },
      { method: "GET", url: "/v1/medical/samples", what: "the bundled synthetic cases" },
      {
        method: "GET",
        url: "/v1/medical/samples/:id/:file",
        what: "a sample's <code>image.dcm</code>, <code>image.png</code>, <code>ehr.json</code> or <code>truth.json</code>",
      },
    ],
  },
  {
    title: "Digital human",
    routes: [
      {
        method: "POST",
        url: "/v1/avatar/speak",
        what: "<code>{ text, lang?, voice?, wordsPerMinute? }</code> → <code>{ audio (WAV, base64), phonemes, visemes, emotion, durationMs }</code>",
      },
      {
        method: "POST",
        url: "/v1/avatar/emotion",
        what: "<code>{ text }</code> → <code>{ emotion, intensity, valence, probs }</code>",
      },
    ],
  },
  {
    title: "Encrypted inference (CKKS)",
    routes: [
      { method: "GET", url: "/v1/secure/models", what: "model cards and encryption parameters (no weights)" },
      {
        method: "POST",
        url: "/v1/secure/infer",
        what: "ciphertexts + evaluation keys in, ciphertexts out (make the request with <code>aigc he encrypt</code>)",
      },
    ],
  },
  {
    title: "Operations",
    routes: [
      { method: "GET", url: "/health", what: "status, models, circuits, load, cache" },
      { method: "GET", url: "/metrics", what: "Prometheus metrics" },
    ],
  },
];

/** Routes that need an admin key when the server has keys. */
const adminRoutes = new Set(["/metrics", "/v1/load_lora_adapter", "/v1/unload_lora_adapter"]);

/** A route the page can link to (a GET without parameters). */
const routeCell = (r: ApiRoute) =>
  r.method === "GET" && !r.url.includes(":")
    ? `<a href="${escapeHtml(r.url)}"><code>${r.method} ${escapeHtml(r.url)}</code></a>`
    : `<code>${r.method} ${escapeHtml(r.url)}</code>`;

function homePage(
  gate: Gate,
  p: Platform | undefined,
  pages: readonly AppPage[],
  hasRoute: (method: ApiRoute["method"], url: string) => boolean,
): string {
  const models = p?.router.listModels().data ?? [];
  const zoneOf = (id: string) =>
    (p?.router.providers ?? []).filter((x) => x.models.includes(id)).map((x) => `${x.name} (${x.zone})`);
  const rows = models
    .map((m) => `<tr><td><code>${escapeHtml(m.id)}</code></td><td>${escapeHtml(zoneOf(m.id).join(", "))}</td></tr>`)
    .join("");
  const links = pages
    .map((a) => `<li><a href="${escapeHtml(a.path)}">${escapeHtml(a.title)}</a>: ${escapeHtml(a.description)}</li>`)
    .join("");
  const auth = gate.tenants.authEnabled;
  const api = apiGroups
    .map((g) => ({ ...g, routes: g.routes.filter((r) => hasRoute(r.method, r.url)) }))
    .filter((g) => g.routes.length > 0)
    .map(
      (g) =>
        `<tr><th colspan="2">${escapeHtml(g.title)}</th></tr>` +
        g.routes
          .map((r) => {
            const note = adminRoutes.has(r.url) && auth ? "; needs an admin key" : "";
            return `<tr><td>${routeCell(r)}</td><td>${r.what}${note}</td></tr>`;
          })
          .join(""),
    )
    .join("");
  const base = `localhost:${gate.config.server.port}`;
  const key = auth ? " -H 'authorization: Bearer $AIGC_API_KEY'" : "";
  const examples = [
    hasRoute("POST", "/v1/chat/completions") &&
      `curl -s ${base}/v1/chat/completions -H 'content-type: application/json'${key} \\\n  -d '{"model":"${escapeHtml(gate.config.models.default)}","messages":[{"role":"user","content":"What is a named pipe?"}],"max_tokens":64}'`,
    hasRoute("POST", "/v1/medical/reports") &&
      `curl -s ${base}/v1/medical/reports${key} -F image=@samples/ct-nodule.dcm -F ehr=@samples/patient-fhir.json`,
    hasRoute("POST", "/v1/avatar/emotion") &&
      `curl -s ${base}/v1/avatar/emotion -H 'content-type: application/json'${key} -d '{"text":"What a wonderful day!"}'`,
    hasRoute("POST", "/v1/secure/infer") &&
      `curl -s ${base}/v1/secure/infer -H 'content-type: application/json'${key} --data-binary @request.json -o response.json`,
  ].filter(Boolean);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>AIGC Studio</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse}td,th{padding:.25rem .75rem;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
#api th{padding-top:1rem;background:#fafafa}#api td:first-child{white-space:nowrap}
code{background:#f4f4f4;padding:0 .2rem}pre{background:#f4f4f4;padding:.6rem .8rem;white-space:pre-wrap;overflow-wrap:anywhere;border-radius:4px}pre code{padding:0}
.note{color:#666;font-size:14px}</style>
</head><body>
<h1>AIGC Studio</h1>
<p>An OpenAI-compatible API for DeepSeek-style models, the apps built on them, and encrypted inference, served on this machine. Point any OpenAI client at <code>/v1</code>.</p>
<h2>Models</h2>
${rows ? `<table><tr><th>model</th><th>served by</th></tr>${rows}</table>` : "<p>No language model is configured.</p>"}
<h2>Apps</h2>
<ul>${links || "<li>none registered</li>"}</ul>
<h2>API</h2>
<p class="note">Errors are <code>{ error: { message, type, param, code } }</code> (<code>param</code>: the field at fault, or null).${auth ? " This server needs an API key: <code>authorization: Bearer &lt;key&gt;</code> (an admin makes one with <code>aigc keys create --tenant &lt;id&gt;</code>)." : ""} The README documents every route's fields.</p>
<table id="api">${api}</table>
<h2>Try it</h2>
<p class="note">From a clone of the repository (the sample files are in <code>samples/</code>; <code>request.json</code> comes from <code>aigc he encrypt</code>).</p>
${examples.map((e) => `<pre><code>${e}</code></pre>`).join("\n")}
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
    handler: (_ctx, _req, reply) =>
      reply.type("text/html; charset=utf-8").send(homePage(gate, p, pages, (method, url) => app.hasRoute({ method, url }))),
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
      llamaCpp: p?.llamaCpp ? { ...p.llamaCpp.load(), failed: Object.fromEntries(p.llamaCpp.failed) } : null,
      // LoRA adapters: name → base model; those that failed to load at start, with why.
      adapters: p?.local
        ? {
            loaded: Object.fromEntries(p.local.adapterList().map((a) => [a.name, a.base])),
            failed: Object.fromEntries(Object.entries(p.local.adapterFailures()).map(([name, f]) => [name, f.reason])),
          }
        : null,
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
