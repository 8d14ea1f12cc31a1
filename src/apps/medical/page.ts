// The report page served at /medical: pick a bundled synthetic case or upload a CT image and
// an EHR, watch the report stream in, and see the findings it names outlined on the image
// (placed from the report's side and lobe: an approximate location, not a detection).

import type { LabelledFinding } from "../../data/index.js";

/** A bundled sample: its id, and its findings for the button's label. */
export interface PageSample {
  id: string;
  findings: readonly LabelledFinding[];
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** One finding in a few words: "12 mm nodule, RUL", "small left effusion", "severe cardiomegaly". */
function findingWords(f: LabelledFinding): string {
  const type = f.type === "effusion" ? "pleural effusion" : f.type;
  if (f.sizeMm !== undefined) return `${f.sizeMm} mm ${type}${f.lobe ? `, ${f.lobe}` : ""}`;
  if (f.lobe) return `${type}, ${f.lobe}`;
  return [f.severity, f.type === "cardiomegaly" ? undefined : f.side, type].filter(Boolean).join(" ");
}

/** The label of a sample's button: "CT · 12 mm nodule, RUL" ("CT · no finding" for a normal slice). */
export function sampleLabel(sample: PageSample): string {
  const words = sample.findings.map(findingWords);
  return `CT · ${words.length > 0 ? words.join(" + ") : "no finding"}`;
}

export function medicalPage(samples: readonly (PageSample | string)[]): string {
  const buttons = samples
    .map((s) => (typeof s === "string" ? { id: s, label: s } : { id: s.id, label: sampleLabel(s) }))
    .map(
      (s) =>
        `<button type="button" class="sample" data-id="${escapeHtml(s.id)}" title="synthetic case ${escapeHtml(s.id)}">${escapeHtml(s.label)}</button>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>AIGC Studio · CT report</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:62rem;margin:1.5rem auto;padding:0 1rem;color:#222}
.row{display:flex;gap:1.5rem;flex-wrap:wrap}.col{flex:1 1 20rem}
#stage{position:relative;width:384px;height:384px;max-width:100%;background:#f3f5f7;border:2px dashed #c5ccd3;border-radius:6px;box-sizing:border-box}
#stage.loaded{background:#000;border:0;border-radius:0}
#stage img,#stage canvas{position:absolute;left:0;top:0;width:100%;height:100%;image-rendering:pixelated}
#stage:not(.loaded) img{display:none}
#hint{position:absolute;inset:0;display:flex;flex-direction:column;justify-content:center;align-items:center;text-align:center;padding:1.5rem;color:#4a5560;gap:.4rem}
#stage.loaded #hint{display:none}#hint strong{font-size:17px;color:#222}
#report{white-space:pre-wrap;background:#f6f6f6;padding:.75rem;min-height:12rem;border-radius:4px;margin-top:0}
#report:empty::before{content:"The report streams in here: FINDINGS, then IMPRESSION. The findings it names are listed below it and outlined on the image.";color:#777;font:14px/1.5 system-ui,sans-serif}
.samples{display:flex;flex-direction:column;align-items:flex-start;gap:.3rem}.samples button{text-align:left}
#findings li{margin:.1rem 0}.conf{color:#555;font-variant-numeric:tabular-nums}#flag{display:none;background:#fde2e1;color:#8a1c16;padding:.4rem .6rem;border-radius:4px;margin:.3rem 0}.note{color:#666;font-size:13px}button{margin:.15rem}
</style></head><body>
<h1>CT + EHR → report</h1>
<p class="note">The model was trained on synthetic CT slices and records only. It is a demonstration, not a medical device.</p>
<form id="form" class="row">
<div class="col"><label>CT image (DICOM, NIfTI, PNG) <input type="file" id="image"></label><br>
<label>EHR (FHIR R4 JSON or AIGC Studio JSON) <input type="file" id="ehr"></label><br>
<label>Language <select id="lang"><option value="en">English</option><option value="zh">中文</option></select></label><br>
<label><input type="checkbox" id="ood"> report even on an image unlike a chest CT slice (flagged)</label>
<button type="submit" id="write">Write report</button></div>
<div class="col"><p style="margin:.2rem 0">Or a bundled synthetic sample (its slice and record are sent as an upload would be):</p><div class="samples">${buttons}</div></div>
</form>
<div class="row">
<div class="col"><div id="stage"><div id="hint"><strong>No image yet</strong><span>Pick a bundled sample, or choose a CT image (DICOM, NIfTI or PNG) and an EHR (FHIR R4 or AIGC Studio JSON) and press <em>Write report</em>.</span><span class="note">The slice appears here, with the findings outlined.</span></div><img id="preview" alt="CT slice"><canvas id="overlay" width="384" height="384"></canvas></div>
<p class="note" id="notes"></p></div>
<div class="col"><p id="flag" role="alert"></p><pre id="report" aria-live="polite"></pre><ul id="findings"></ul><p class="note" id="status"></p></div>
</div>
<script src="/api-fetch.js"></script>
<script type="module">
const $ = (id) => document.getElementById(id);
// The stage shows the hint until an image is in it.
$("preview").addEventListener("load", () => $("stage").classList.add("loaded"));
const hintText = (text) => { $("hint").querySelector("span").textContent = text; };
$("image").addEventListener("change", () => { const f = $("image").files[0]; if (f) hintText(f.name + " chosen: the slice appears here once the report is written." + ($("ehr").files[0] ? "" : " Choose an EHR too.")); });
const toBase64 = (buffer) => { let s = ""; const b = new Uint8Array(buffer); for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000)); return btoa(s); };
// Approximate boxes (fractions of the image) from side and lobe; the patient's right is the image's left.
function box(f) {
  const x = f.side === "right" ? [0.08, 0.48] : f.side === "left" ? [0.52, 0.92] : [0.08, 0.92];
  const lobeY = { RUL: [0.22, 0.5], LUL: [0.22, 0.5], RML: [0.35, 0.62], lingula: [0.35, 0.62], RLL: [0.5, 0.8], LLL: [0.5, 0.8] };
  const typeY = { effusion: [0.6, 0.86], pneumothorax: [0.18, 0.45], emphysema: [0.22, 0.8], consolidation: [0.3, 0.75] };
  if (f.type === "cardiomegaly") return [0.36, 0.34, 0.72, 0.66];
  const y = (f.lobe && lobeY[f.lobe]) || typeY[f.type] || [0.25, 0.75];
  return [x[0], y[0], x[1], y[1]];
}
function highlight(findings) {
  const c = $("overlay").getContext("2d"); c.clearRect(0, 0, 384, 384); c.lineWidth = 2; c.font = "13px system-ui";
  $("findings").innerHTML = "";
  for (const f of findings) {
    const [x0, y0, x1, y1] = box(f).map((v) => v * 384);
    c.strokeStyle = "#ffcc00"; c.strokeRect(x0, y0, x1 - x0, y1 - y0); c.fillStyle = "#ffcc00"; c.fillText(f.type, x0 + 3, y0 + 14);
    const li = document.createElement("li"); li.className = "finding";
    li.textContent = [f.type, f.side, f.lobe, f.sizeMm ? f.sizeMm + " mm" : "", f.severity].filter(Boolean).join(" · ");
    if (f.confidence !== undefined) { const c = document.createElement("span"); c.className = "conf"; c.textContent = " — confidence " + Math.round(100 * f.confidence) + "%"; li.append(c); }
    $("findings").append(li);
  }
}
async function write(imageBase64, ehr) {
  $("report").textContent = ""; $("status").textContent = "writing…"; highlight([]); $("flag").style.display = "none"; $("notes").textContent = ""; window.__report = { done: false, chunks: 0 };
  const res = await aigcFetch("/v1/medical/reports", { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ image: imageBase64, ehr, lang: $("lang").value, stream: true, allowOutOfDistribution: $("ood").checked }) });
  if (!res.ok) { const e = await res.json(); $("status").textContent = "error: " + e.error.code; $("flag").textContent = e.error.message; $("flag").style.display = "block"; window.__report = { done: true, error: e.error.message }; return; }
  const reader = res.body.getReader(); const decoder = new TextDecoder(); let buffer = "";
  for (;;) {
    const { value, done } = await reader.read(); if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\\n\\n")) >= 0) {
      const line = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
      if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
      const event = JSON.parse(line.slice(6));
      if (event.delta) { $("report").textContent += event.delta; window.__report.chunks++; }
      if (event.error) $("status").textContent = "error: " + event.error.message;
      if (event.done) {
        highlight(event.findings); $("notes").innerText = [...event.notes, event.disclaimer].join("\\n");
        if (event.outOfDistribution) { $("flag").textContent = "Outside what the model was trained on: this image is not like a chest CT slice, so the report below is not to be trusted."; $("flag").style.display = "block"; }
        if (event.preview) $("preview").src = event.preview;
        $("status").textContent = "done in " + Math.round(event.ms) + " ms"; window.__report = { ...window.__report, done: true, findings: event.findings };
      }
    }
  }
}
for (const b of document.querySelectorAll(".sample")) b.addEventListener("click", async () => {
  const id = b.dataset.id; $("preview").src = "/v1/medical/samples/" + id + "/image.png";
  const [dcm, ehr] = await Promise.all([fetch("/v1/medical/samples/" + id + "/image.dcm").then((r) => r.arrayBuffer()), fetch("/v1/medical/samples/" + id + "/ehr.json").then((r) => r.json())]);
  await write(toBase64(dcm), ehr);
});
$("form").addEventListener("submit", async (e) => {
  e.preventDefault(); const img = $("image").files[0]; const ehr = $("ehr").files[0];
  if (!img || !ehr) { $("status").textContent = "choose an image and an EHR file"; return; }
  let ehrJson; try { ehrJson = JSON.parse(await ehr.text()); } catch (err) { $("status").textContent = "the EHR file is not JSON"; return; }
  await write(toBase64(await img.arrayBuffer()), ehrJson);
});
</script></body></html>`;
}
