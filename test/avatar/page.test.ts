// The /avatar page in real Chromium (Debian's, headless, software WebGL): it renders the
// head, speaks a sentence with eSpeak-NG audio, runs the lip-sync model on the playing audio
// in the page (onnxruntime-web) so the mouth moves, and reports frame times and the
// chunk → pose latency. The speak API refuses bad input with a 4xx and keeps serving, and
// the chat button speaks the chat model's streamed reply sentence by sentence.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { chromium } from "playwright-core";
import { PNG } from "pngjs";
import { type AvatarServiceSet, avatarApp, loadAvatarServices } from "../../src/apps/avatar/index.js";
import { encodeWav, synthesizeSpeech } from "../../src/apps/avatar/speech/index.js";
import { buildApp } from "../../src/serve/app.js";
import { serverConfigSchema } from "../../src/serve/config.js";
import { createPlatform, type Platform } from "../../src/serve/platform.js";
import type { AvatarStats } from "../../web/avatar/stats.js";

const chromiumPath = "/usr/bin/chromium";
const dir = mkdtempSync(join(tmpdir(), "aigc-avatar-"));
let app: FastifyInstance;
let services: AvatarServiceSet;
let platform: Platform;
let address: string;

before(async () => {
  services = await loadAvatarServices();
  platform = await createPlatform(serverConfigSchema.parse({}), { threads: 1 });
  app = await buildApp({ platform, apps: [avatarApp(services)] });
  address = await app.listen({ host: "127.0.0.1", port: 0 });
});

after(async () => {
  await app?.close();
  await platform?.close();
  await services?.close();
  rmSync(dir, { recursive: true, force: true });
});

type StatsWindow = {
  avatarStats?: AvatarStats;
  avatar: { speak(t: string): void; chat(t: string): Promise<void>; listen(): Promise<void> };
};

async function openPage(extraArgs: string[] = []) {
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      "--no-sandbox",
      "--autoplay-policy=no-user-gesture-required",
      "--enable-unsafe-swiftshader",
      "--use-angle=swiftshader",
      ...extraArgs,
    ],
  });
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${address}/avatar`);
  await page.waitForFunction(() => (window as unknown as StatsWindow).avatarStats?.ready === true, null, { timeout: 60_000 });
  return { browser, page, errors };
}

const stats = (page: Awaited<ReturnType<typeof openPage>>["page"]) =>
  page.evaluate(() => (window as unknown as StatsWindow).avatarStats as AvatarStats);

test("the page renders the head, speaks with model lip sync, and reports frame times and latency", async () => {
  const { browser, page, errors } = await openPage();
  try {
    // The head is drawn: the canvas centre holds skin-coloured pixels, not just the backdrop.
    const shot = PNG.sync.read(await page.locator("#stage").screenshot());
    let lit = 0;
    for (let y = shot.height * 0.3; y < shot.height * 0.7; y++)
      for (let x = shot.width * 0.3; x < shot.width * 0.7; x++) {
        const i = (Math.floor(y) * shot.width + Math.floor(x)) * 4;
        const [r, g, b] = [shot.data[i], shot.data[i + 1], shot.data[i + 2]];
        if (r > g + 12 && r > b + 20) lit++; // warm (skin/lip) pixels; the backdrop is blue-grey
      }
    assert.ok(lit > 0.2 * (shot.width * 0.4) * (shot.height * 0.4), `only ${lit} skin pixels in the canvas centre`);

    // Before anything is spoken the figures say "—", not NaN, and the empty log says what it is for.
    await page.waitForFunction(() => (document.querySelector("#stats")?.textContent ?? "").includes("FPS"));
    const idleStats = (await page.textContent("#stats")) ?? "";
    assert.doesNotMatch(idleStats, /NaN/, idleStats);
    assert.match(idleStats, /chunk → pose p50 —, p95 —/, idleStats);
    assert.match(
      await page.evaluate(() => getComputedStyle(document.querySelector("#log") as Element, "::before").content),
      /newest at the bottom/,
    );

    // Wait for the lip-sync model, then speak.
    await page.waitForFunction(() => !document.querySelector("#log")?.textContent?.includes("lip-sync model not loaded"));
    await page.evaluate(() => (window as unknown as StatsWindow).avatar.speak("I am so happy to see you again today."));
    await page.waitForFunction(() => ((window as unknown as StatsWindow).avatarStats?.sentencesSpoken ?? 0) >= 1, null, {
      timeout: 30_000,
    });
    await page.waitForFunction(() => (window as unknown as StatsWindow).avatarStats?.lipSyncSource === "model", null, {
      timeout: 10_000,
    });
    await page.waitForFunction(() => (window as unknown as StatsWindow).avatarStats?.speaking === false, null, {
      timeout: 30_000,
    });
    const s = await stats(page);
    console.log(
      `avatar page: ${s.fpsMedian.toFixed(1)} FPS median over ${s.frames} frames; our code p50 ${s.updateMs.p50.toFixed(2)} ms, ` +
        `render call p50 ${s.renderMs.p50.toFixed(2)} ms, render scale ${s.renderScale}; chunk → pose p50 ${s.lipSyncLatencyMs.p50.toFixed(1)} ms, ` +
        `p95 ${s.lipSyncLatencyMs.p95.toFixed(1)} ms (n ${s.lipSyncLatencyMs.n}); mouth open max ${s.maxMouthOpen.toFixed(2)}; ${s.emotion}`,
    );
    assert.equal(s.error, null);
    assert.deepEqual(errors, []);
    assert.ok(s.frames > 30 && s.fpsMedian > 0, "frame times are reported");
    assert.ok(s.lipSyncLatencyMs.n >= 10, `the model ran on audio chunks (${s.lipSyncLatencyMs.n} chunks)`);
    assert.ok(s.maxMouthOpen > 0.3, `the mouth opened while speaking (max ${s.maxMouthOpen})`);
    assert.ok(s.morphUploads > 30, `blend shapes were blended and uploaded (${s.morphUploads} times)`);
    assert.ok([1, 0.85, 0.7, 0.55, 0.4].includes(s.renderScale), `render scale ${s.renderScale}`);
    assert.match(s.emotion ?? "", /^happy/, "the sentence's emotion reached the face");
    assert.doesNotMatch((await page.textContent("#stats")) ?? "", /NaN|—/);

    // The log reads oldest first, and keeps its newest line (at the bottom) in view.
    await page.evaluate(() => (window as unknown as StatsWindow).avatar.speak("One more time. And the last one."));
    await page.waitForFunction(() => ((window as unknown as StatsWindow).avatarStats?.sentencesSpoken ?? 0) >= 3, null, {
      timeout: 30_000,
    });
    await page.waitForFunction(() => (document.querySelector("#log")?.textContent ?? "").includes("And the last one."));
    const lines = await page.$$eval("#log p", (ps) => ps.map((p) => p.textContent ?? ""));
    const said = lines.filter((l) => l.startsWith("▶ "));
    assert.deepEqual(
      said.slice(-3),
      ["▶ I am so happy to see you again today.", "▶ One more time.", "▶ And the last one."],
      lines.join(" | "),
    );
    const scroll = await page.$eval("#log", (l) => l.scrollHeight - l.clientHeight - l.scrollTop);
    assert.ok(scroll <= 1, `the log is scrolled ${scroll} px short of its newest line`);
  } finally {
    await browser.close();
  }
});

test("live microphone audio drives the mouth through the model in the page", async () => {
  // Chromium's fake capture device plays a WAV as the microphone: real eSpeak speech.
  const spoken = await synthesizeSpeech("Please open the window, the room is warm and bright.", { lang: "en", voice: "f2" });
  const wav = join(dir, "mic.wav");
  writeFileSync(wav, encodeWav(spoken.samples, spoken.sampleRate));
  const { browser, page, errors } = await openPage([
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    `--use-file-for-fake-audio-capture=${wav}`,
  ]);
  try {
    await page.waitForFunction(() => !document.querySelector("#log")?.textContent?.includes("lip-sync model not loaded"));
    await page.waitForFunction(() => typeof (window as unknown as StatsWindow).avatar?.listen === "function");
    await page.evaluate(() => (window as unknown as StatsWindow).avatar.listen());
    await page.waitForFunction(
      () => {
        const s = (window as unknown as StatsWindow).avatarStats;
        return s?.lipSyncSource === "microphone" && s.lipSyncLatencyMs.n >= 50 && s.maxMouthOpen > 0.3;
      },
      null,
      { timeout: 30_000 },
    );
    const s = await stats(page);
    console.log(
      `microphone: chunk → pose p50 ${s.lipSyncLatencyMs.p50.toFixed(1)} ms, p95 ${s.lipSyncLatencyMs.p95.toFixed(1)} ms over ${s.lipSyncLatencyMs.n} chunks`,
    );
    assert.equal(s.error, null);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test("the chat button speaks the streamed reply sentence by sentence", async () => {
  const { browser, page } = await openPage();
  try {
    await page.evaluate(() => (window as unknown as StatsWindow).avatar.chat("Tell me a story."));
    // A sentence counts as spoken when its audio is scheduled; the log shows it once it plays.
    await page.waitForFunction(
      () =>
        ((window as unknown as StatsWindow).avatarStats?.sentencesSpoken ?? 0) >= 1 &&
        (document.querySelector("#log")?.textContent ?? "").includes("▶ "),
      null,
      { timeout: 60_000 },
    );
    const log = await page.locator("#log").textContent();
    assert.match(log ?? "", /you: Tell me a story\./);
    assert.match(log ?? "", /▶ /);
  } finally {
    await browser.close();
  }
});

test("the speak and emotion APIs refuse bad input with a 4xx and keep serving", async () => {
  const bad: { url: string; body: string; status: number; message: RegExp }[] = [
    { url: "/v1/avatar/speak", body: "{not json", status: 400, message: /JSON/i },
    { url: "/v1/avatar/speak", body: JSON.stringify({ text: "" }), status: 400, message: /empty/ },
    { url: "/v1/avatar/speak", body: JSON.stringify({ text: "a".repeat(1001) }), status: 400, message: /longer than 1000/ },
    { url: "/v1/avatar/speak", body: JSON.stringify({ text: "hi", lang: "fr" }), status: 400, message: /lang/ },
    { url: "/v1/avatar/speak", body: JSON.stringify({ text: "hi", voice: "../../etc" }), status: 400, message: /voice/ },
    { url: "/v1/avatar/emotion", body: JSON.stringify({ text: 42 }), status: 400, message: /text/ },
  ];
  for (const b of bad) {
    const r = await app.inject({ method: "POST", url: b.url, payload: b.body, headers: { "content-type": "application/json" } });
    assert.equal(r.statusCode, b.status, `${b.body.slice(0, 40)} → ${r.body}`);
    assert.match(r.json().error.message, b.message);
  }
  const r = await app.inject({ method: "POST", url: "/v1/avatar/speak", payload: { text: "你好，世界。" } });
  assert.equal(r.statusCode, 200, r.body);
  const spoken = r.json();
  assert.equal(spoken.lang, "zh");
  assert.ok(spoken.durationMs > 300 && spoken.visemes.length > 0);
  assert.equal(Buffer.from(spoken.audio, "base64").subarray(0, 4).toString(), "RIFF");
  const missing = await app.inject({ method: "GET", url: "/avatar/vendor/ort/../../package.json" });
  assert.equal(missing.statusCode, 404);
});
