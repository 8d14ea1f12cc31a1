// The page served at /news: pick a reader (or make one from stated interests), read their
// digest — headline, source, date and a short summary per item, each checked against its
// source — and teach the ranker with "open" and "less like this". The e-mail edition of the
// same digest is one link away.

export function newsPage(info: { items: number; sources: number; readers: number }): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>AIGC Studio · News digest</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:64rem;margin:1.5rem auto;padding:0 1rem;color:#222}
.row{display:flex;gap:1.75rem;flex-wrap:wrap}.side{flex:0 1 17rem}.main{flex:1 1 28rem}
label{display:block;margin:.35rem 0}input,select,textarea{font:inherit;box-sizing:border-box;width:100%}
textarea{height:4.5rem}button{font:inherit;margin:.2rem .2rem .2rem 0;cursor:pointer}
.card{border:1px solid #dde2e7;border-radius:8px;padding:.7rem .9rem;margin:0 0 .8rem}
.card h3{margin:0 0 .2rem;font-size:17px;line-height:1.3}.card h3 a{color:#14497a;text-decoration:none}
.meta{color:#5a6570;font-size:13px}.summary{margin:.35rem 0}.why{color:#7a838c;font-size:12px}
.card.less{opacity:.45}.full{white-space:pre-wrap;background:#f6f7f9;border-radius:4px;padding:.5rem .6rem;font-size:14px;margin:.3rem 0}.tag{display:inline-block;background:#eef2f6;border-radius:3px;padding:0 .35rem;margin-left:.3rem;font-size:12px;color:#445}
.note{color:#666;font-size:13px}#status{min-height:1.4rem}#empty{color:#666;border:2px dashed #d0d6dc;border-radius:8px;padding:1.2rem}
</style></head><body>
<h1>News digest</h1>
<p class="note">${info.items} items from ${info.sources} sources, ${info.readers} readers. Every name, version, number and date in a summary is checked against its item; a summary that fails is written again, or taken from the item's own sentences.</p>
<div class="row">
<div class="side">
<label>Reader <select id="reader"></select></label>
<button type="button" id="refresh">Write my digest</button> <a id="mail" href="#" class="note">e-mail edition</a>
<form id="add"><h3 style="margin:1rem 0 .2rem">New reader</h3>
<label>Id <input id="rid" placeholder="alice" pattern="[A-Za-z0-9._-]{1,64}" required></label>
<label>Interests <textarea id="interests" placeholder="python packaging, security fixes, compilers" required></textarea></label>
<label>Length <select id="length"><option value="short">1 sentence</option><option value="medium" selected>2 sentences</option><option value="long">3 sentences</option></select></label>
<label>Language <select id="lang"><option value="en">English</option><option value="zh">中文</option></select></label>
<button type="submit">Add reader</button>
<p class="note" style="margin:.6rem 0 .2rem">Or start from one of these:</p>
<button type="button" class="preset" data-id="sec" data-interests="security fixes, CVE, openssl, TLS">Security</button><button type="button" class="preset" data-id="py" data-interests="python, pip, setuptools, packaging">Python</button><button type="button" class="preset" data-id="tool" data-interests="gcc, binutils, compilers, linker, toolchain">Toolchains</button></form>
</div>
<div class="main"><p id="status" class="note" aria-live="polite"></p><div id="digest"><p id="empty">Pick a reader and press <em>Write my digest</em>, or add a reader with the interests you have.</p></div></div>
</div>
<script src="/api-fetch.js"></script>
<script type="module">
const $ = (id) => document.getElementById(id);
const api = async (url, init) => { const r = await aigcFetch(url, init); const body = await r.json(); if (!r.ok) throw new Error(body.error ? body.error.message : r.statusText); return body; };
const post = (url, body) => api(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const day = (ms) => new Date(ms).toISOString().slice(0, 10);
async function loadReaders(select) {
  const { data } = await api("/v1/news/readers");
  $("reader").innerHTML = "";
  for (const r of data) { const o = document.createElement("option"); o.value = r.id; o.textContent = r.id + " — " + r.interests.slice(0, 40); $("reader").append(o); }
  if (select) $("reader").value = select;
  $("mail").href = "/v1/news/digest?format=html&reader=" + encodeURIComponent($("reader").value);
}
function card(item) {
  const c = document.createElement("div"); c.className = "card"; c.dataset.item = item.item;
  const h = document.createElement("h3"); const a = document.createElement("a"); a.textContent = item.headline; a.href = item.link || "#"; a.target = "_blank"; h.append(a);
  const meta = document.createElement("div"); meta.className = "meta"; meta.textContent = item.source + " · " + day(item.published);
  if (item.method === "extractive") { const t = document.createElement("span"); t.className = "tag"; t.textContent = "from the item's own words"; meta.append(t); }
  const p = document.createElement("p"); p.className = "summary"; p.textContent = item.summary;
  const open = document.createElement("button"); open.textContent = "Read more"; const less = document.createElement("button"); less.textContent = "Less like this";
  const why = document.createElement("span"); why.className = "why"; why.textContent = "score " + item.score.toFixed(2);
  a.addEventListener("click", () => feedback(item.item, "open"));
  open.addEventListener("click", async () => {
    feedback(item.item, "click"); open.disabled = true;
    try { const full = await api("/v1/news/items/" + encodeURIComponent(item.item)); const pre = document.createElement("p"); pre.className = "full"; pre.textContent = full.text; c.insertBefore(pre, open); }
    catch (e) { $("status").textContent = "error: " + e.message; }
  });
  less.addEventListener("click", () => { feedback(item.item, "less"); c.classList.add("less"); });
  c.append(h, meta, p, open, less, why); return c;
}
async function feedback(item, kind) {
  try { await post("/v1/news/feedback", { reader: $("reader").value, item, kind }); $("status").textContent = "noted: " + kind + " — the next digest learns from it"; }
  catch (e) { $("status").textContent = "error: " + e.message; }
}
async function digest() {
  const reader = $("reader").value; if (!reader) { $("status").textContent = "add a reader first"; return; }
  $("status").textContent = "ranking and writing…"; const t0 = performance.now(); window.__digest = { done: false };
  try {
    const d = await api("/v1/news/digest?reader=" + encodeURIComponent(reader));
    $("digest").innerHTML = ""; for (const item of d.items) $("digest").append(card(item));
    if (d.items.length === 0) $("digest").innerHTML = '<p id="empty">No items yet: ingest release notes or add a feed (aigc news ingest, aigc news add-feed).</p>';
    $("status").textContent = d.items.length + " items in " + Math.round(performance.now() - t0) + " ms";
    window.__digest = { done: true, items: d.items.length };
  } catch (e) { $("status").textContent = "error: " + e.message; window.__digest = { done: true, error: e.message }; }
}
$("refresh").addEventListener("click", digest);
$("reader").addEventListener("change", () => { $("mail").href = "/v1/news/digest?format=html&reader=" + encodeURIComponent($("reader").value); digest(); });
$("add").addEventListener("submit", async (e) => {
  e.preventDefault();
  try { const r = await post("/v1/news/readers", { id: $("rid").value, interests: $("interests").value, length: $("length").value, lang: $("lang").value }); await loadReaders(r.id); await digest(); }
  catch (err) { $("status").textContent = "error: " + err.message; }
});
for (const b of document.querySelectorAll(".preset")) b.addEventListener("click", () => { $("rid").value = b.dataset.id; $("interests").value = b.dataset.interests; $("add").requestSubmit(); });
loadReaders().catch((e) => { $("status").textContent = "error: " + e.message; });
</script></body></html>`;
}
