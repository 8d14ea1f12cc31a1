// The medical report app end to end with a small model trained here (a tiny aligner, then a
// tiny report model: about half a minute): constrained decoding always yields both sections
// and only lexicon terms; the vision prefix pools patch tokens exactly (max or mean); the prompt carries no
// identifiers; real files (DICOM CT and MR, NIfTI, FHIR) give a report input or a clear
// error; the HTTP route answers whole, streamed and multipart requests and refuses bad input
// with a 4xx while it keeps serving; and real Chromium streams a report on the web page.

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { chromium } from "playwright-core";
import { evaluateReports } from "../../src/apps/medical/evaluateReports.js";
import { medicalApp } from "../../src/apps/medical/http.js";
import { contextFromJson, readSlice } from "../../src/apps/medical/inputs.js";
import { ReportGenerator } from "../../src/apps/medical/reportGenerator.js";
import { MedicalFileError } from "../../src/data/medical/index.js";
import { encodeCtDicom, synthChestSet } from "../../src/data/synth/index.js";
import { loadAligner } from "../../src/models/aligner.js";
import { visionFeaturesGraph } from "../../src/models/reportModel.js";
import { contextFromSynthEhr, contextText } from "../../src/models/reportPrompt.js";
import { Evaluator } from "../../src/runtime/evaluator.js";
import { buildApp } from "../../src/serve/app.js";
import { trainAlign } from "../../src/train/alignRecipe.js";
import { trainReport } from "../../src/train/reportRecipe.js";

const dir = mkdtempSync(join(tmpdir(), "aigc-report-"));
const alignerDir = join(dir, "aligner");
const modelDir = join(dir, "report");
let generator: ReportGenerator;
let app: FastifyInstance;
const cases = synthChestSet(41, 6);

before(async () => {
  await trainAlign({ recipe: "direct", preset: "tiny", out: alignerDir });
  await trainReport({ preset: "tiny", out: modelDir, aligner: alignerDir, threads: 2 });
  generator = await ReportGenerator.load(modelDir, { threads: 2 });
  app = await buildApp({
    apps: [medicalApp(generator)],
  });
});

after(async () => {
  await app?.close();
  await generator?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("constrained reports only use lexicon terms and follow the section grammar, in English and Chinese", async () => {
  for (const lang of ["en", "zh"] as const) {
    const r = await evaluateReports(generator, cases.slice(0, 3), { lang, constrained: true });
    assert.equal(r.termValidity, 1, lang);
    assert.ok(r.latencyMs.p95 > 0);
    for (const c of cases.slice(0, 3)) {
      let text = "";
      let finish: string | null = null;
      for await (const chunk of await generator.stream({ slice: c, context: contextFromSynthEhr(c.ehr), lang })) {
        text += chunk.text;
        finish = chunk.finishReason;
      }
      assert.ok(text.startsWith(lang === "en" ? "FINDINGS:\n" : "检查所见："), text.slice(0, 40));
      // The model may only stop (eos) once the grammar accepts: both sections present.
      if (finish === "eos")
        assert.match(text, lang === "en" ? /^FINDINGS:\n[\s\S]+\n\nIMPRESSION:\n\S/ : /^检查所见：[\s\S]+\n\n诊断意见：\S/);
    }
  }
});

test("the vision prefix pools 2x2 patch tokens as the tower pools: max for a max-pooled tower, else the mean", async () => {
  const aligner = await loadAligner(alignerDir);
  assert.equal(aligner.model.image.pool, "max"); // the tiny preset's tower
  for (const pool of ["max", "mean"] as const) {
    const vision = { ...aligner.model, image: { ...aligner.model.image, pool } };
    const plain = await Evaluator.create({ features: visionFeaturesGraph(vision, 1, 1).features }, aligner.store, 1);
    const pooled = await Evaluator.create({ features: visionFeaturesGraph(vision, 1, 2).features }, aligner.store, 1);
    const pixels = { dtype: "float32" as const, shape: [1, 2, 32, 32], data: aligner.preprocess(cases[0]) };
    const tokens = (await plain.run({ pixels })).features.data as Float32Array; // [1, 16, D] on a 4x4 patch grid
    const pooledOut = (await pooled.run({ pixels })).features.data as Float32Array; // [1, 4, D]
    const d = vision.image.dim;
    for (let slot = 0; slot < 4; slot++) {
      const [sy, sx] = [Math.floor(slot / 2), slot % 2];
      for (let j = 0; j < d; j += 7) {
        const cell = [
          [0, 0],
          [0, 1],
          [1, 0],
          [1, 1],
        ].map(([dy, dx]) => tokens[((2 * sy + dy) * 4 + 2 * sx + dx) * d + j]);
        const want = pool === "max" ? Math.max(...cell) : cell.reduce((a, b) => a + b) / 4;
        assert.ok(Math.abs(want - pooledOut[slot * d + j]) < 1e-5, `${pool} slot ${slot} feature ${j}`);
      }
    }
  }
});

test("the prompt carries the clinical context but no name, ID or MRN", () => {
  const c = cases[0];
  const text = contextText(contextFromSynthEhr(c.ehr));
  assert.match(text, new RegExp(`${c.ehr.age} (male|female)`));
  for (const secret of [c.ehr.patientName, c.ehr.patientId, c.ehr.mrn]) assert.ok(!text.includes(secret.split("^").at(-1)!));
});

test("real files: a report input or a clear error", () => {
  const pydicom = "/usr/lib/python3/dist-packages/pydicom/data/test_files";
  if (existsSync(pydicom)) {
    const ct = readSlice(join(pydicom, "CT_small.dcm"));
    assert.deepEqual([ct.slice.width, ct.slice.height], [128, 128]);
    assert.deepEqual(ct.notes, []);
    assert.throws(
      () => readSlice(join(pydicom, "MR_small.dcm")),
      (e: Error) => e instanceof MedicalFileError && /modality MR: the report model reads CT slices only/.test(e.message),
    );
  }
  const nifti = "/usr/share/mricron/templates";
  if (existsSync(nifti)) {
    const file = readdirSync(nifti).find((f) => /\.nii(\.gz)?$/.test(f));
    if (file) assert.match(readSlice(join(nifti, file)).notes[0], /NIfTI: slice \d+ of \d+/);
  }
  const fhirDir = "test/data/fixtures/medical/fhir-r4";
  for (const f of readdirSync(fhirDir).filter((x) => x.endsWith(".json"))) {
    const { context } = contextFromJson(JSON.parse(readFileSync(join(fhirDir, f), "utf8")), f);
    assert.ok(contextText(context).startsWith("EHR:"), f);
  }
  assert.throws(
    () => contextFromJson({ age: "old" }, "bad.json"),
    (e: Error) => e instanceof MedicalFileError && /not a FHIR R4 resource/.test(e.message),
  );
});

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

test("POST /v1/medical/reports: whole, streamed and multipart; bad input is a 4xx and the server keeps serving", async () => {
  const c = cases[1];
  const body = { image: b64(encodeCtDicom(c)), ehr: { ehr: c.ehr }, lang: "en" };
  const whole = await app.inject({ method: "POST", url: "/v1/medical/reports", payload: body });
  assert.equal(whole.statusCode, 200, whole.body);
  const json = whole.json() as { report: string; findings: unknown[]; disclaimer: string; preview: string };
  assert.match(json.report, /^FINDINGS:/);
  assert.match(json.disclaimer, /synthetic/);
  assert.match(json.preview, /^data:image\/png;base64,/);

  const streamed = await app.inject({ method: "POST", url: "/v1/medical/reports", payload: { ...body, stream: true } });
  assert.match(streamed.headers["content-type"] as string, /text\/event-stream/);
  const events = streamed.body
    .split("\n\n")
    .filter((l) => l.startsWith("data: {"))
    .map((l) => JSON.parse(l.slice(6)));
  const text = events
    .filter((e) => e.delta)
    .map((e) => e.delta)
    .join("");
  assert.equal(text, events.at(-1).report);
  assert.equal(text, json.report, "greedy: streamed and whole agree");

  const boundary = "----aigc";
  const multipart = Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="ct.dcm"\r\nContent-Type: application/dicom\r\n\r\n`,
    ),
    Buffer.from(encodeCtDicom(c)),
    Buffer.from(
      `\r\n--${boundary}\r\nContent-Disposition: form-data; name="ehr"\r\n\r\n${JSON.stringify(c.ehr)}\r\n--${boundary}--\r\n`,
    ),
  ]);
  const upload = await app.inject({
    method: "POST",
    url: "/v1/medical/reports",
    payload: multipart,
    headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
  });
  assert.equal(upload.statusCode, 200, upload.body);
  assert.equal((upload.json() as { report: string }).report, json.report);

  const dicom = encodeCtDicom(c);
  const bad: [string, unknown, RegExp][] = [
    [
      "not an image",
      { ...body, image: b64(new TextEncoder().encode("hello, this is not an image")) },
      /not a DICOM|unsupported|not a recognised|format/i,
    ],
    ["truncated DICOM", { ...body, image: b64(dicom.subarray(0, 600)) }, /upload/],
    ["EHR failing the schema", { ...body, ehr: { age: -3 } }, /not a FHIR R4 resource/],
    ["no image", { ehr: {} }, /image/],
    ["bad language", { ...body, lang: "fr" }, /lang/],
  ];
  for (const [label, payload, message] of bad) {
    const r = await app.inject({ method: "POST", url: "/v1/medical/reports", payload: payload as object });
    assert.ok(r.statusCode >= 400 && r.statusCode < 500, `${label}: ${r.statusCode} ${r.body}`);
    assert.match((r.json() as { error: { message: string } }).error.message, message, label);
  }
  const huge = await app.inject({
    method: "POST",
    url: "/v1/medical/reports",
    payload: JSON.stringify({ ...body, image: "A".repeat(30 * 1024 * 1024) }),
    headers: { "content-type": "application/json" },
  });
  assert.equal(huge.statusCode, 413);
  const again = await app.inject({ method: "POST", url: "/v1/medical/reports", payload: body });
  assert.equal(again.statusCode, 200);
});

const chromiumPath = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));

test("Chromium: the page streams a sample's report and outlines its findings", {
  skip: chromiumPath ? false : "Debian chromium is not installed",
}, async () => {
  const address = await app.listen({ host: "127.0.0.1", port: 0 });
  const browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox"] });
  try {
    const page = await browser.newPage();
    await page.goto(`${address}/medical`);
    // Before a report: a hint on the empty stage (not a black square), a placeholder in the
    // report box, and sample buttons that say what each case shows.
    assert.match((await page.textContent("#hint")) ?? "", /No image yet.*Pick a bundled sample/s);
    assert.ok(await page.isVisible("#hint"));
    assert.notEqual(await page.$eval("#stage", (el) => getComputedStyle(el).backgroundColor), "rgb(0, 0, 0)");
    assert.match(
      await page.evaluate(() => getComputedStyle(document.querySelector("#report") as Element, "::before").content),
      /The report streams in here/,
    );
    const labels = await page.$$eval("button.sample", (bs) =>
      bs.map((b) => [b.textContent ?? "", b.getAttribute("title") ?? ""]),
    );
    assert.equal(labels.length, 6);
    for (const [label, title] of labels) {
      assert.match(label, /^CT · (\d+ mm (nodule|mass)|no finding|[a-z])/, label);
      assert.match(title, /^synthetic case s77-\d{6}$/, title);
    }
    await page.click("button.sample");
    await page.waitForFunction(() => (window as unknown as { __report?: { done: boolean } }).__report?.done === true, null, {
      timeout: 60_000,
    });
    const state = await page.evaluate(() => (window as unknown as { __report: { chunks: number; error?: string } }).__report);
    assert.equal(state.error, undefined);
    assert.ok(state.chunks > 3, "the report arrived in several streamed pieces");
    assert.match((await page.textContent("#report")) ?? "", /^FINDINGS:/);
    assert.match((await page.textContent("#status")) ?? "", /done in \d+ ms/);
    assert.ok((await page.getAttribute("#preview", "src"))?.startsWith("data:image/png"));
    assert.ok(!(await page.isVisible("#hint")), "the hint leaves once the slice is shown");
    assert.ok(await page.isVisible("#preview"));
  } finally {
    await browser.close();
  }
});
