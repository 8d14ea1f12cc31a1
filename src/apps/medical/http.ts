// POST /v1/medical/reports: a CT image and an EHR in (JSON with a base64 image, or a
// multipart upload), a report out, whole or streamed as server-sent events. Medical traffic
// is sensitive by definition (the route's policy): it passes the pipeline like every route —
// tenant key, limits, budget, ledger, audit, metrics — runs on the local report model only
// and is never cached. GET /medical is the web page; /v1/medical/samples serves the bundled
// synthetic cases it offers (public: they are synthetic).

import multipart from "@fastify/multipart";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import {
  encodeCtDicom,
  encodeGrayPng,
  encodePng,
  MedicalFileError,
  readMedicalImage,
  type SynthCase,
  synthChestSet,
  windowValues,
} from "../../data/index.js";
import { type ReportLanguage, reportLanguages } from "../../models/index.js";
import { issueLines, safeParseInput } from "../../runtime/index.js";
import { type AppPage, type AppPlugin, defineRoute, type Gate, HttpError, type Served, startSse } from "../../serve/index.js";
import type { GateVerdict } from "./imageGate.js";
import { contextFromJson, sliceFromImage } from "./inputs.js";
import { medicalPage } from "./page.js";
import type { ReportGenerator } from "./reportGenerator.js";

export const medicalAppPage: AppPage = {
  path: "/medical",
  title: "CT report",
  description: "a CT slice and an EHR in, a streamed report out (synthetic-data model)",
};

export const syntheticDisclaimer = "Written by a model trained only on synthetic CT images and records; not a medical opinion.";

/** Largest upload accepted (a CT slice is well under 1 MB; volumes a few MB). */
export const medicalUploadLimit = 16 * 1024 * 1024;

const imageExpected = "expected a base64 DICOM, NIfTI, PNG or JPEG file";
const ehrExpected = "expected a FHIR R4 resource or Bundle, or an AIGC Studio EHR (a JSON object)";

const jsonRequest = z.object(
  {
    /** The image file's bytes, base64 (DICOM, NIfTI, PNG or JPEG). */
    image: z.string({ error: imageExpected }).min(1, imageExpected),
    /** FHIR R4 JSON (Bundle or resource) or an AIGC Studio EHR / case object. */
    ehr: z.record(z.string(), z.unknown(), { error: ehrExpected }),
    lang: z.enum(reportLanguages).default("en"),
    stream: z.boolean().default(false),
    constrained: z.boolean().default(true),
    /** Report on an image the gate refuses, flagged as outside what the model was trained on. */
    allowOutOfDistribution: z.boolean().default(false),
  },
  { error: 'expected a JSON object { image, ehr, … }, or a multipart upload with the files "image" and "ehr"' },
);

/** Multipart form fields: text, booleans as "true" / "false" (the JSON body's other fields). */
const formBoolean = (fallback: "true" | "false") =>
  z
    .enum(["true", "false"], { error: 'expected "true" or "false"' })
    .default(fallback)
    .transform((v) => v === "true");
const formFields = z.object({
  ehr: z.string().optional(),
  lang: z.enum(reportLanguages).default("en"),
  stream: formBoolean("false"),
  constrained: formBoolean("true"),
  allowOutOfDistribution: formBoolean("false"),
});

interface ReportInput {
  image: Uint8Array;
  ehr: unknown;
  lang: ReportLanguage;
  stream: boolean;
  constrained: boolean;
  allowOutOfDistribution: boolean;
}

const badInput = (message: string) => new HttpError(400, "invalid_medical_input", message);

/**
 * The bytes of a base64 string, or why it is not one. Node's decoder skips characters
 * outside the alphabet, so a short result is the sign to look for one (the scan runs only then).
 */
function decodeBase64(field: string, text: string): Uint8Array {
  const bytes = Buffer.from(text, "base64");
  const digits = text.length - (text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0);
  if (bytes.length !== Math.floor((digits * 3) / 4)) {
    const bad = /[^A-Za-z0-9+/\-_=\s]/.exec(text);
    if (bad) throw badInput(`${field}: expected base64, got the character ${JSON.stringify(bad[0])} at position ${bad.index}`);
  }
  if (bytes.length === 0) throw badInput(`${field}: ${imageExpected}, got no bytes`);
  return bytes;
}

/** 422: the image is readable but not one the model can report on. */
const notChestCt = (reasons: readonly string[]) =>
  new HttpError(
    422,
    "not_a_chest_ct",
    `this model reads axial chest CT slices only, and this image is not like one: ${reasons.join("; ")}. ` +
      "Send allowOutOfDistribution: true for a report flagged as outside what the model was trained on.",
  );

/** What the gate said, as notes for the response. */
export function gateNotes(generator: ReportGenerator, verdict: GateVerdict): string[] {
  if (!generator.gate) return ["this report model has no gate.json: whether the image is a chest CT slice was not checked"];
  if (verdict.accepted) return [];
  return [`OUTSIDE WHAT THE MODEL WAS TRAINED ON: ${verdict.reasons.join("; ")}`];
}

async function readInput(req: FastifyRequest): Promise<ReportInput> {
  if (req.isMultipart()) {
    const fields: Record<string, string> = {};
    let image: Uint8Array | undefined;
    let ehrText: string | undefined;
    for await (const part of req.parts({ limits: { fileSize: medicalUploadLimit, files: 2, fields: 8 } })) {
      if (part.type === "file") {
        const bytes = await part.toBuffer();
        if (part.fieldname === "image") image = bytes;
        else if (part.fieldname === "ehr") ehrText = bytes.toString("utf8");
        else throw badInput(`${part.fieldname}: unexpected file field (send the files "image" and "ehr")`);
      } else {
        fields[part.fieldname] = String(part.value);
      }
    }
    const form = safeParseInput(formFields, fields);
    if (!form.success) throw badInput(issueLines(form.error, fields, { root: "the form" }));
    ehrText ??= form.data.ehr;
    if (!image) throw badInput('image: required (a DICOM, NIfTI, PNG or JPEG file in the multipart field "image")');
    if (image.length === 0) throw badInput("image: the uploaded file is empty");
    if (ehrText === undefined) throw badInput('ehr: required (a FHIR R4 or AIGC Studio EHR JSON file or field "ehr")');
    if (ehrText.trim() === "") throw badInput("ehr: the uploaded file is empty");
    let ehr: unknown;
    try {
      ehr = JSON.parse(ehrText);
    } catch (e) {
      throw badInput(`ehr: not valid JSON (${(e as Error).message})`);
    }
    const { ehr: _text, ...options } = form.data;
    return { image, ehr, ...options };
  }
  const parsed = safeParseInput(jsonRequest, req.body);
  if (!parsed.success) throw badInput(issueLines(parsed.error, req.body, { root: "the request body" }));
  return { ...parsed.data, image: decodeBase64("image", parsed.data.image) };
}

/** The report model's name in the ledger, audit log and metrics. */
export const reportModelName = "aigc-report";

export async function medicalRoutes(app: FastifyInstance, opts: { reports: ReportGenerator; gate: Gate }): Promise<void> {
  const { reports: generator, gate } = opts;
  await app.register(multipart, { limits: { fileSize: medicalUploadLimit } });
  const samples: SynthCase[] = synthChestSet(77, 6);
  const page = { access: "public", classify: "none" } as const;

  defineRoute(app, {
    method: "GET",
    url: "/medical",
    policy: { name: "medical-page", ...page },
    handler: (_ctx, _req, reply) => reply.type("text/html; charset=utf-8").send(medicalPage(samples)),
  });
  defineRoute(app, {
    method: "GET",
    url: "/v1/medical/samples",
    policy: { name: "medical-samples", ...page },
    handler: async () => ({
      data: samples.map((s) => ({ id: s.id, findings: s.findings.map((f) => f.type), sliceLevel: s.sliceLevel })),
    }),
  });
  defineRoute(app, {
    method: "GET",
    url: "/v1/medical/samples/:id/:file",
    policy: { name: "medical-samples", ...page },
    handler: async (_ctx, req, reply) => {
      const params = req.params as { id: string; file: string };
      const sample = samples.find((s) => s.id === params.id);
      if (!sample) throw new HttpError(404, "sample_not_found", `no sample ${params.id}; GET /v1/medical/samples lists them`);
      if (params.file === "image.png") return reply.type("image/png").send(Buffer.from(encodePng(sample)));
      if (params.file === "image.dcm") return reply.type("application/dicom").send(Buffer.from(encodeCtDicom(sample)));
      if (params.file === "ehr.json") return { ehr: sample.ehr };
      if (params.file === "truth.json") return { findings: sample.findings, report: sample.report };
      throw new HttpError(404, "sample_file_not_found", "sample files are image.png, image.dcm, ehr.json and truth.json");
    },
  });

  defineRoute(app, {
    method: "POST",
    url: "/v1/medical/reports",
    policy: {
      name: "medical-report",
      access: "tenant",
      classify: "sensitive",
      bodyLimit: Math.ceil(medicalUploadLimit * 1.4),
      model: () => reportModelName,
    },
    handler: async (ctx, req, reply) => {
      const input = await readInput(req);
      let slice: ReturnType<typeof sliceFromImage>;
      let context: ReturnType<typeof contextFromJson>;
      try {
        slice = sliceFromImage(readMedicalImage(input.image, "upload"));
        context = contextFromJson(input.ehr, "ehr");
      } catch (e) {
        if (e instanceof MedicalFileError) throw badInput(e.message);
        if (e instanceof RangeError) throw badInput(e.message);
        throw e;
      }
      const t0 = performance.now();
      const { reading, verdict } = await generator.assess(slice.slice, slice);
      if (!verdict.accepted && !input.allowOutOfDistribution) throw notChestCt(verdict.reasons);
      const stream = await generator.stream(
        { slice: slice.slice, context: context.context, lang: input.lang },
        { constrained: input.constrained },
        reading,
      );
      const { hu, width, height } = slice.slice;
      const preview = `data:image/png;base64,${Buffer.from(encodeGrayPng(width, height, windowValues(Float32Array.from(hu), -600, 1500))).toString("base64")}`;
      const meta = {
        notes: [...slice.notes, ...context.notes, ...gateNotes(generator, verdict)],
        outOfDistribution: !verdict.accepted,
        disclaimer: syntheticDisclaimer,
        width,
        height,
        preview,
      };
      const findingsOf = (report: string) => generator.findings(report, input.lang, reading, verdict);
      const served: Served = ctx.served;
      served.completionTokens = 0;
      if (!input.stream) {
        let report = "";
        for await (const chunk of stream) {
          report += chunk.text;
          served.completionTokens++;
        }
        return { report, findings: findingsOf(report), ...meta, ms: performance.now() - t0 };
      }
      const sse = startSse(gate, req, reply);
      let report = "";
      try {
        for await (const chunk of stream) {
          if (!sse.open) break; // the client left: stop reading (the batcher drops the request)
          report += chunk.text;
          served.completionTokens++;
          if (chunk.text) sse.send(JSON.stringify({ delta: chunk.text }));
        }
        sse.send(JSON.stringify({ done: true, report, findings: findingsOf(report), ...meta, ms: performance.now() - t0 }));
      } catch (e) {
        sse.fail(e);
      }
      return sse.end();
    },
  });
}

/** The medical report app as a plugin for buildApp(). */
export const medicalApp = (reports: ReportGenerator): AppPlugin => ({
  register: (app, gate) => medicalRoutes(app, { reports, gate }),
  pages: [medicalAppPage],
});
