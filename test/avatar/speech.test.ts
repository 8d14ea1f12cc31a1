// The optional eSpeak-NG adapter: English and Mandarin synthesis with timings that cover
// the audio, voice/rate/pitch options, input errors, WAV encoding, and that nothing but
// the adapter loads the GPL package.

import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import {
  encodeWav,
  listVoices,
  type SpeechAudio,
  SpeechInputError,
  synthesizeSpeech,
} from "../../src/apps/avatar/speech/index.js";

const seconds = (s: SpeechAudio) => s.samples.length / s.sampleRate;

function assertTimingsCoverAudio(s: SpeechAudio): void {
  const durationMs = 1000 * seconds(s);
  assert.ok(s.phonemes.length > 5, "expected several phonemes");
  assert.equal(s.phonemes[0].startMs, 0);
  assert.ok(Math.abs(s.phonemes[s.phonemes.length - 1].endMs - durationMs) < 1, "last phoneme ends with the audio");
  s.phonemes.forEach((p, i) => {
    assert.ok(p.endMs > p.startMs, `phoneme ${i} "${p.symbol}" has positive length`);
    if (i > 0) assert.equal(p.startMs, s.phonemes[i - 1].endMs, `phoneme ${i} starts where the previous ends`);
  });
  assert.ok(
    s.phonemes.some((p) => p.symbol !== "_"),
    "some phonemes are not pauses",
  );
}

test("English: plausible duration, contiguous phoneme timings over the whole audio", async () => {
  const s = await synthesizeSpeech("The quick brown fox jumps over the lazy dog.", { lang: "en" });
  assert.equal(s.sampleRate, 22050);
  // 9 words at eSpeak's 175 wpm: about 3 s.
  assert.ok(seconds(s) > 1.5 && seconds(s) < 6, `duration ${seconds(s)} s`);
  assertTimingsCoverAudio(s);
  const peak = s.samples.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assert.ok(peak > 0.05 && peak <= 1, `peak ${peak}`);
});

test("Mandarin: plausible duration and timings", async () => {
  const s = await synthesizeSpeech("今天天气很好，我们去公园散步吧。", { lang: "zh" });
  // 15 syllables: roughly 2..6 s.
  assert.ok(seconds(s) > 1.5 && seconds(s) < 7, `duration ${seconds(s)} s`);
  assertTimingsCoverAudio(s);
  assert.ok(!s.phonemes.some((p) => p.symbol.startsWith("(")), "no language-switch markers among phonemes");
});

test("rate, voice variant, dialect and pitch change the audio", async () => {
  const text = "Testing the speech adapter once more.";
  const slow = await synthesizeSpeech(text, { lang: "en", wordsPerMinute: 120 });
  const fast = await synthesizeSpeech(text, { lang: "en", wordsPerMinute: 300 });
  assert.ok(seconds(slow) > 1.6 * seconds(fast), `120 wpm ${seconds(slow)} s vs 300 wpm ${seconds(fast)} s`);
  const viaPercent = await synthesizeSpeech(text, { lang: "en", ratePercent: 200 });
  assert.ok(seconds(viaPercent) < 0.75 * seconds(slow));
  const base = await synthesizeSpeech(text, { lang: "en" });
  const variant = await synthesizeSpeech(text, { lang: "en", voice: "f2" });
  const rp = await synthesizeSpeech(text, { lang: "en", dialect: "en-gb-x-rp", pitch: 80 });
  assert.notDeepEqual(variant.samples, base.samples);
  assert.notDeepEqual(rp.samples, base.samples);
});

test("listVoices offers English dialects, Mandarin and the variants", async () => {
  const v = await listVoices();
  const codes = v.dialects.map((d) => d.code);
  for (const c of ["en-us", "en-gb-x-rp", "cmn"]) assert.ok(codes.includes(c), `missing dialect ${c}`);
  for (const name of ["m3", "f2", "klatt"]) assert.ok(v.variants.includes(name), `missing variant ${name}`);
});

test("bad input fails with a SpeechInputError saying what was expected", async () => {
  await assert.rejects(
    synthesizeSpeech("   ", { lang: "en" }),
    (e: unknown) => e instanceof SpeechInputError && /empty/.test(e.message),
  );
  await assert.rejects(
    synthesizeSpeech("a".repeat(1001), { lang: "en" }),
    (e: unknown) => e instanceof SpeechInputError && /1000/.test(e.message),
  );
  await assert.rejects(synthesizeSpeech("hello there", { lang: "en", voice: "nobody" }), SpeechInputError);
  await assert.rejects(synthesizeSpeech("hello there", { lang: "en", dialect: "cmn" }), SpeechInputError);
  await assert.rejects(synthesizeSpeech("hello there", { lang: "en", wordsPerMinute: 150, ratePercent: 90 }), SpeechInputError);
  // A valid call still works after the errors.
  assert.ok(seconds(await synthesizeSpeech("hello there", { lang: "en" })) > 0.3);
});

test("encodeWav writes a 16-bit mono PCM RIFF file", () => {
  const samples = Float32Array.from([0, 0.5, -0.5, 1, -1, 2]);
  const wav = encodeWav(samples, 22050);
  const view = new DataView(wav.buffer, wav.byteOffset, wav.byteLength);
  const text = (o: number, n: number) => String.fromCharCode(...wav.subarray(o, o + n));
  assert.equal(text(0, 4), "RIFF");
  assert.equal(text(8, 4), "WAVE");
  assert.equal(view.getUint32(4, true), wav.length - 8);
  assert.equal(view.getUint16(20, true), 1);
  assert.equal(view.getUint16(22, true), 1);
  assert.equal(view.getUint32(24, true), 22050);
  assert.equal(view.getUint16(34, true), 16);
  assert.equal(view.getUint32(40, true), 2 * samples.length);
  assert.deepEqual(
    Array.from({ length: samples.length }, (_, i) => view.getInt16(44 + 2 * i, true)),
    [0, 16384, -16384, 32767, -32768, 32767],
  );
  assert.throws(() => encodeWav(samples, 0), /sampleRate/);
});

test("only the adapter refers to the GPL package, and only through a dynamic import", async () => {
  const root = join(import.meta.dirname, "../../src");
  const files = (await readdir(root, { recursive: true })).filter((f) => f.endsWith(".ts"));
  const mentioning: string[] = [];
  for (const f of files)
    if ((await readFile(join(root, f), "utf8")).includes("@echogarden/espeak-ng-emscripten")) mentioning.push(f);
  assert.deepEqual(mentioning, [join("apps", "avatar", "speech", "espeak.ts")]);
  const adapter = await readFile(join(root, "apps/avatar/speech/espeak.ts"), "utf8");
  assert.ok(!/^import[^;]*espeak-ng-emscripten/m.test(adapter), "no static import of the package");
});
