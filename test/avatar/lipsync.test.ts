// Lip sync: the phoneme -> viseme rules cover what eSpeak emits, streamed log-mel equals
// whole-signal log-mel, and the shipped model runs in onnxruntime-node, streams 15
// probabilities per frame and beats the majority class on held-out sentences and voices.

import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import * as ortWeb from "onnxruntime-web";
import { VISEMES } from "../../src/apps/avatar/faceRig.js";
import {
  DEFAULT_LOG_MEL,
  LogMelStream,
  logMelFrames,
  visemeForPhoneme,
  visemeIndex,
  visemeTrack,
} from "../../src/apps/avatar/lipsync/index.js";
import { evaluateLipSync, heldOutUtterances, loadLipSyncModel } from "../../src/apps/avatar/lipsync/node.js";
import { synthesizeSpeech } from "../../src/apps/avatar/speech/index.js";
import { registerLipSyncCommands } from "../../src/cli/lipsync.js";
import { runAigc } from "../helpers/cli.js";

const MODEL_DIR = join(import.meta.dirname, "../../assets/lipsync");

test("the rule table covers every phoneme eSpeak emits for English dialects and Mandarin", async () => {
  const english =
    "Whether the weather be fine, or whether the weather be not, we'll weather the weather. " +
    "Judge Joy's jolly yellow jaguars chewed through thirty-three thick azure shoes, measuring pleasure.";
  const mandarin = "我们明天早上八点在学校门口见面，然后一起去北京动物园看熊猫和老虎。春眠不觉晓，处处闻啼鸟。";
  const unknown = new Set<string>();
  let symbols = 0;
  for (const [lang, dialect, text] of [
    ["en", "en-us", english],
    ["en", "en-gb-x-rp", english],
    ["en", "en-gb-scotland", english],
    ["en", "en-029", english],
    ["zh", "cmn", mandarin],
  ] as const) {
    const s = await synthesizeSpeech(text, { lang, dialect });
    for (const p of s.phonemes) {
      symbols++;
      if (!visemeForPhoneme(p.symbol)) unknown.add(p.symbol);
    }
  }
  assert.ok(symbols > 200);
  assert.deepEqual([...unknown], []);
});

test("rule mapping and visemeTrack on known phonemes", () => {
  const expected: [string, string][] = [
    ["p", "PP"],
    ["ˈaʊ", "aa"],
    ["f", "FF"],
    ["ð", "TH"],
    ["tʃ", "CH"],
    ["ts.h", "CH"],
    ["ˈiɛ", "E"],
    ["ˈuo", "O"],
    ["_", "sil"],
    ["ɹ", "RR"],
  ];
  for (const [symbol, viseme] of expected) assert.equal(visemeForPhoneme(symbol), viseme, symbol);
  assert.equal(visemeForPhoneme("☃"), undefined);
  const track = visemeTrack(
    [
      { symbol: "_", startMs: 0, endMs: 20 },
      { symbol: "m", startMs: 20, endMs: 45 },
      { symbol: "ˈɑː", startMs: 45, endMs: 100 },
    ],
    10,
    { sampleOffsetMs: 5 },
  );
  // Frame t samples t*10 + 5 ms: 5, 15 -> sil; 25, 35 -> PP; 45..95 -> aa.
  assert.deepEqual([...track], [0, 0, 1, 1, 10, 10, 10, 10, 10, 10]);
  assert.throws(() => visemeTrack([{ symbol: "☃", startMs: 0, endMs: 10 }], 10), /no viseme rule/);
  assert.equal(visemeIndex("aa"), VISEMES.indexOf("aa"));
});

test("log-mel in random chunk sizes equals the whole-signal features (any input rate)", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(16000, 22050, 44100, 8000),
      fc.integer({ min: 0, max: 6000 }),
      fc.array(fc.integer({ min: 1, max: 900 }), { minLength: 1, maxLength: 12 }),
      fc.integer({ min: 1, max: 1 << 30 }),
      (rate, length, chunkSizes, seed) => {
        let state = seed;
        const signal = Float32Array.from({ length }, (_, i) => {
          state = (state * 1103515245 + 12345) & 0x7fffffff;
          return 0.5 * Math.sin(i * 0.05) + (state / 0x7fffffff - 0.5) * 0.2;
        });
        const whole = logMelFrames(signal, rate);
        const stream = new LogMelStream(rate);
        const parts: Float32Array[] = [];
        let at = 0;
        for (let k = 0; at < length; k++) {
          const n = chunkSizes[k % chunkSizes.length];
          parts.push(...stream.push(signal.subarray(at, at + n)));
          at += n;
        }
        parts.push(...stream.flush());
        assert.equal(parts.length, whole.length);
        for (const [t, f] of parts.entries()) assert.deepEqual(f, whole[t]);
        // 10 ms hop at 16 kHz after resampling: about one frame per 10 ms of input.
        const expected = Math.floor(((length * 16000) / rate - DEFAULT_LOG_MEL.windowSamples) / DEFAULT_LOG_MEL.hopSamples) + 1;
        assert.ok(
          Math.abs(whole.length - Math.max(0, expected)) <= 1,
          `${whole.length} frames for ${length} samples at ${rate} Hz`,
        );
      },
    ),
    { numRuns: 40 },
  );
});

test("the shipped model: standard-op ONNX, runs in onnxruntime-node, streams 15 probabilities per frame", async () => {
  const onnx = await readFile(join(MODEL_DIR, "model.onnx"));
  assert.ok(onnx.length < 2 * 1024 * 1024, `model is ${onnx.length} bytes`);
  assert.ok(!onnx.includes("com.microsoft"), "no contrib-op domain");
  const model = await loadLipSyncModel(MODEL_DIR);
  assert.deepEqual(model.session.inputNames, ["mel"]);
  assert.deepEqual(model.session.outputNames, ["visemes"]);
  const speech = await synthesizeSpeech("Lip sync should follow this sentence closely.", { lang: "en", voice: "m2" });
  const streamer = model.streamer(speech.sampleRate);
  const frames: Float32Array[] = [];
  const chunk = Math.round(speech.sampleRate * 0.02);
  for (let i = 0; i < speech.samples.length; i += chunk)
    frames.push(...(await streamer.push(speech.samples.subarray(i, i + chunk))));
  frames.push(...(await streamer.flush()));
  assert.equal(frames.length, logMelFrames(speech.samples, speech.sampleRate, model.file.features).length);
  for (const p of frames) {
    assert.equal(p.length, 15);
    const sum = p.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-4, `probabilities sum to ${sum}`);
    assert.ok(p.every((v) => v >= 0));
  }
});

test("on held-out sentences spoken by held-out voices the model clearly beats the majority class", async () => {
  const trainedWith = JSON.parse(await readFile(join(MODEL_DIR, "metrics.json"), "utf8")) as {
    preset: "tiny" | "default";
    seed: number;
  };
  const model = await loadLipSyncModel(MODEL_DIR);
  const utterances = await heldOutUtterances(trainedWith.preset, trainedWith.seed, 12);
  const m = await evaluateLipSync({ model, utterances });
  assert.equal(m.n, 12);
  assert.equal(m.ruleFrameAccuracy, 1, "the rule track is the target");
  assert.ok(
    m.frameAccuracy > m.majorityFrameAccuracy + 0.2,
    `frame accuracy ${m.frameAccuracy.toFixed(3)} vs majority class ${m.majorityFrameAccuracy.toFixed(3)}`,
  );
  assert.ok(m.mouthOpenCorrelation > 0.5, `mouth-openness r ${m.mouthOpenCorrelation}`);
});

/** Runs `aigc <args>` with the lip-sync commands registered; returns what it printed to stdout. */
const aigc = (...args: string[]) =>
  runAigc(({ train, eval: evalCmd, root }) => registerLipSyncCommands(train, evalCmd, root), ...args);

test("aigc speak writes a WAV; aigc eval lipsync --json reports the figures, HeadAudio included", async () => {
  const dir = await mkdtemp(join(tmpdir(), "aigc-lipsync-"));
  try {
    const wav = join(dir, "hello.wav");
    const spoken = JSON.parse(await aigc("speak", "你好，很高兴认识你。", "--lang", "zh", "--out", wav, "--json")) as {
      seconds: number;
    };
    const bytes = await readFile(wav);
    assert.equal(bytes.subarray(0, 4).toString("latin1"), "RIFF");
    assert.equal(bytes.length, 44 + 2 * Math.round(spoken.seconds * 22050));
    await assert.rejects(aigc("speak", "hi", "--lang", "fr", "--out", wav), /lang/);

    const m = JSON.parse(await aigc("eval", "lipsync", "--model", MODEL_DIR, "--n", "4", "--json")) as Record<
      string,
      number | null
    >;
    assert.equal(m.n, 4);
    for (const key of [
      "frameAccuracy",
      "mouthOpenCorrelation",
      "latencyMsPerChunk",
      "headaudioFrameAccuracy",
      "headaudioBestLagFrameAccuracy",
    ])
      assert.equal(typeof m[key], "number", key);
    assert.ok(Math.abs(m.syncOffsetMs as number) <= 200);
    assert.ok((m.headaudioBestLagFrameAccuracy as number) >= (m.headaudioFrameAccuracy as number));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("onnxruntime-web's wasm backend (what the page uses) gives the same probabilities as onnxruntime-node", async () => {
  const model = await loadLipSyncModel(MODEL_DIR);
  const { context, melBands } = model.file.model;
  ortWeb.env.wasm.numThreads = 1;
  const web = await ortWeb.InferenceSession.create(await readFile(join(MODEL_DIR, "model.onnx")), {
    executionProviders: ["wasm"],
  });
  const speech = await synthesizeSpeech("Browsers run the same model.", { lang: "en" });
  const frames = logMelFrames(speech.samples, speech.sampleRate, model.file.features).slice(0, 3 * context);
  const windows = new Float32Array(frames.length * melBands).map((_, i) => frames[Math.floor(i / melBands)][i % melBands]);
  const count = Math.floor(frames.length / context);
  const batch = windows.subarray(0, count * context * melBands);
  const fromNode = await model.infer(batch, count);
  const fromWeb = (await web.run({ mel: new ortWeb.Tensor("float32", batch, [count, context, melBands]) })).visemes
    .data as Float32Array;
  assert.equal(fromWeb.length, count * 15);
  for (let i = 0; i < fromWeb.length; i++)
    assert.ok(Math.abs(fromWeb[i] - fromNode[i]) < 1e-4, `output ${i}: ${fromWeb[i]} vs ${fromNode[i]}`);
});
