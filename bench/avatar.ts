// The digital human in Debian's Chromium (headless, software WebGL via SwiftShader: no GPU):
// frame rate and frame-time budget of the /avatar page idle and while speaking, and the
// latency from an audio chunk being cut to the mouth pose the in-page lip-sync model returns.
// Anchor, same browser, same run: a blank page's requestAnimationFrame rate (the ceiling).
// The page adapts its render scale (share of the canvas's resolution) to hold 60 FPS; the
// scale it settled at is printed beside each figure, and --scale 1 pins full resolution.
// Usage: node --import tsx bench/avatar.ts [--seconds 8] [--scale S] [--json]

import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
import { avatarApp, loadAvatarServices } from "../src/apps/avatar/index.js";
import { buildApp } from "../src/serve/app.js";
import type { AvatarStats } from "../web/avatar/stats.js";

const { values } = parseArgs({
  options: { seconds: { type: "string", default: "8" }, scale: { type: "string" }, json: { type: "boolean" } },
});
const seconds = Number(values.seconds);

type BenchWindow = { avatarStats?: AvatarStats; avatar: { speak(t: string): void; resetStats(): void } };

const services = await loadAvatarServices({});
const app = await buildApp({ apps: [avatarApp(services)] });
const address = await app.listen({ host: "127.0.0.1", port: 0 });
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--autoplay-policy=no-user-gesture-required", "--enable-unsafe-swiftshader", "--use-angle=swiftshader"],
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

try {
  // Anchor: requestAnimationFrame on a blank page.
  const blank = await browser.newPage();
  // A string, not a function: tsx would wrap named inner functions in a helper the page lacks.
  const blankFps = (await blank.evaluate(`new Promise((resolve) => {
    const deltas = [];
    let last = performance.now();
    const end = last + ${seconds * 1000};
    const frame = (t) => {
      deltas.push(t - last);
      last = t;
      if (t < end) requestAnimationFrame(frame);
      else resolve(1000 / deltas.sort((a, b) => a - b)[Math.floor(deltas.length / 2)]);
    };
    requestAnimationFrame(frame);
  })`)) as number;
  await blank.close();

  const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
  await page.goto(`${address}/avatar${values.scale ? `?scale=${values.scale}` : ""}`);
  await page.waitForFunction(() => (window as unknown as BenchWindow).avatarStats?.ready === true, null, { timeout: 60_000 });
  await sleep(3000); // lip-sync model load, warm-up
  const read = () => page.evaluate(() => (window as unknown as BenchWindow).avatarStats as AvatarStats);
  const resetStats = () => page.evaluate(() => (window as unknown as BenchWindow).avatar.resetStats());
  await resetStats();
  await sleep(seconds * 1000);
  const idle = await read();

  await page.evaluate(() => {
    const w = window as unknown as BenchWindow;
    w.avatar.speak(
      "Good morning! I am really glad you came by today. Let me tell you about the weather: it will be sunny and warm. 今天天气很好，我们去公园散步吧。",
    );
  });
  await page.waitForFunction(() => ((window as unknown as BenchWindow).avatarStats?.sentencesSpoken ?? 0) >= 1, null, {
    timeout: 60_000,
  });
  await sleep(1000);
  const speaking = await read();
  await page.waitForFunction(() => (window as unknown as BenchWindow).avatarStats?.speaking === false, null, {
    timeout: 120_000,
  });
  const spoken = await read();

  const result = {
    blankPageFps: blankFps,
    idle: {
      fps: idle.fpsMedian,
      frameMsP95: idle.frameMs.p95,
      ourCodeMsP50: idle.updateMs.p50,
      renderCallMsP50: idle.renderMs.p50,
      renderScale: idle.renderScale,
    },
    speaking: {
      fps: speaking.fpsMedian,
      frameMsP95: speaking.frameMs.p95,
      ourCodeMsP50: speaking.updateMs.p50,
      ourCodeMsP95: speaking.updateMs.p95,
      renderCallMsP50: speaking.renderMs.p50,
      renderScale: speaking.renderScale,
    },
    lipSync: { chunkToPoseMs: spoken.lipSyncLatencyMs },
    fpsRatioToBlank: idle.fpsMedian / blankFps,
  };
  console.log(
    [
      `blank page (anchor)   ${blankFps.toFixed(1)} FPS`,
      `avatar idle           ${idle.fpsMedian.toFixed(1)} FPS, frame p95 ${idle.frameMs.p95.toFixed(1)} ms, our code p50 ${idle.updateMs.p50.toFixed(2)} ms, render call p50 ${idle.renderMs.p50.toFixed(2)} ms, render scale ${idle.renderScale}`,
      `avatar speaking       ${speaking.fpsMedian.toFixed(1)} FPS, frame p95 ${speaking.frameMs.p95.toFixed(1)} ms, our code p50 ${speaking.updateMs.p50.toFixed(2)} / p95 ${speaking.updateMs.p95.toFixed(2)} ms, render scale ${speaking.renderScale}`,
      `chunk → mouth pose    p50 ${spoken.lipSyncLatencyMs.p50.toFixed(1)} ms, p95 ${spoken.lipSyncLatencyMs.p95.toFixed(1)} ms over ${spoken.lipSyncLatencyMs.n} chunks of the playing audio (target p95 ≤ 45 ms)`,
      `FPS ratio avatar / blank page: ${result.fpsRatioToBlank.toFixed(2)} (target: 60 FPS)`,
    ].join("\n"),
  );
  if (values.json) console.log(JSON.stringify(result));
} finally {
  await browser.close();
  await app.close();
  await services.close();
}
