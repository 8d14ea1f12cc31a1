// The /avatar page: the head, a text box (speak it, or send it to the chat model and speak
// the reply sentence by sentence as it streams), and live figures (frame rate, the frame
// time our code takes, audio-chunk → mouth-pose latency). The script is web/avatar/main.ts.

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function avatarPage(options: { speechUnavailable?: string } = {}): string {
  const warning = options.speechUnavailable
    ? `<p class="warn" id="speech-warning">${escapeHtml(options.speechUnavailable)}</p>`
    : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>AIGC Studio · Digital human</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<script type="importmap">{"imports":{"onnxruntime-web":"/avatar/vendor/ort/ort.wasm.min.mjs"}}</script>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:64rem;margin:1.2rem auto;padding:0 1rem;color:#222}
.row{display:flex;gap:1.5rem;flex-wrap:wrap}.col{flex:1 1 22rem;min-width:0}
#stage{width:480px;height:480px;background:linear-gradient(#dfe6ee,#b9c4d0);border-radius:6px}
textarea{width:100%;min-height:6rem;font:inherit}
.note{color:#666;font-size:13px}.warn{color:#a40}
#stats{font:12px/1.4 ui-monospace,monospace;white-space:pre;overflow-x:auto;background:#f6f6f6;padding:.5rem;border-radius:4px}
#log{max-height:12rem;overflow:auto;font-size:14px;border:1px solid #e2e2e2;border-radius:4px;padding:.25rem .5rem;margin:.5rem 0}
#log p{margin:.15rem 0}#log:empty::before{content:"What is said appears here, newest at the bottom.";color:#888}
</style></head><body>
<h1>Digital human</h1>
<p class="note">Speech by eSpeak-NG (optional adapter); lip sync by a small model running in this page
(onnxruntime-web) on the audio as it plays; expression from a text emotion model. All trained by AIGC Studio on data it synthesised.</p>
${warning}
<div class="row">
<div class="col"><canvas id="stage" width="480" height="480"></canvas></div>
<div class="col">
<textarea id="text" placeholder="Type a sentence, or a question for the chat model">Hello! I am so happy to meet you today. 你好，很高兴见到你。</textarea><br>
<label>Language <select id="lang"><option value="auto">auto</option><option value="en">English</option><option value="zh">中文</option></select></label>
<label>Voice <select id="voice"><option value="">default</option><option>m3</option><option>f2</option><option>m7</option><option>f4</option></select></label>
<label>Lip sync <select id="lipsync"><option value="model">model (audio)</option><option value="timings">rule (phoneme timings)</option></select></label><br>
<button type="button" id="speak">Speak</button>
<button type="button" id="chat">Ask the chat model</button>
<button type="button" id="stop">Stop</button>
<button type="button" id="listen">Lip-sync my microphone</button>
<p id="emotion" class="note"></p>
<div id="log" aria-live="polite"></div>
<pre id="stats"></pre>
</div></div>
<script src="/api-fetch.js"></script>
<script type="module" src="/avatar/app.js"></script>
</body></html>`;
}

/** The AudioWorklet that copies each block of live (microphone) audio to the page's main thread. */
export const tapWorkletSource = `class AigcAudioTap extends AudioWorkletProcessor {
  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel) this.port.postMessage(channel.slice());
    return true;
  }
}
registerProcessor("aigc-audio-tap", AigcAudioTap);
`;
