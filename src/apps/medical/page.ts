// The report page served at /medical: pick a bundled synthetic case or upload a CT image and
// an EHR, watch the report stream in, and see the findings it names outlined on the image
// (placed from the report's side and lobe: an approximate location, not a detection).

export function medicalPage(sampleIds: readonly string[]): string {
  const buttons = sampleIds.map((id) => `<button type="button" class="sample" data-id="${id}">${id}</button>`).join(" ");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>AIGC Studio · CT report</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:62rem;margin:1.5rem auto;padding:0 1rem;color:#222}
.row{display:flex;gap:1.5rem;flex-wrap:wrap}.col{flex:1 1 20rem}
#stage{position:relative;width:384px;height:384px;background:#000}
#stage img,#stage canvas{position:absolute;left:0;top:0;width:384px;height:384px;image-rendering:pixelated}
#report{white-space:pre-wrap;background:#f6f6f6;padding:.75rem;min-height:12rem;border-radius:4px}
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
<div class="col">Or a bundled sample: ${buttons}</div>
</form>
<div class="row">
<div class="col"><div id="stage"><img id="preview" alt=""><canvas id="overlay" width="384" height="384"></canvas></div>
<p class="note" id="notes"></p></div>
<div class="col"><p id="flag" role="alert"></p><pre id="report" aria-live="polite"></pre><ul id="findings"></ul><p class="note" id="status"></p></div>
</div>
<script src="/api-fetch.js"></script>
<script type="module">
const $ = (id) => document.getElementById(id);
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
