// Writing reports with a trained report model: the vision tower turns the slice into the
// image prefix (and its finding head into the image's own reading of the findings), the MoE
// LM continues the prompt through a continuous batcher (so concurrent reports share decode
// steps), optionally under constraints — the terminology lexicon of the requested language
// (every word a lexicon term or a general word of that language's training reports, so a
// Chinese report holds no English sentence) intersected with the section grammar (exactly
// one FINDINGS and one IMPRESSION, or 检查所见 / 诊断意见).

import { type LabelledFinding, labelReport, reportTerms } from "../../data/index.js";
import {
  ContinuousBatcher,
  constrainedMask,
  intersect,
  type Lexicon,
  lexiconFromTerms,
  type StreamChunk,
  sectionAutomaton,
  type TokenMasker,
  terminologyAutomaton,
  tokenMaskFor,
  vocabularyFromBpe,
} from "../../generate/index.js";
import {
  type ClinicalContext,
  type GeneralWords,
  loadReportModelFiles,
  MoeLmModel,
  preprocessHu,
  type ReportLanguage,
  type ReportModelFileConfig,
  reportPrompt,
  towerReduce,
  visionFeaturesGraph,
} from "../../models/index.js";
import { linear, Scope } from "../../nn/index.js";
import { Evaluator } from "../../runtime/index.js";
import { FINDING_LABELS } from "../../train/index.js";
import { findingConfidence, type GateVerdict, type HuSlice, ImageGate, type ImageReading } from "./imageGate.js";

export type { HuSlice, ImageReading } from "./imageGate.js";

export interface ReportRequest {
  slice: HuSlice;
  context: ClinicalContext;
  lang: ReportLanguage;
}

/** A finding the report states, with the image's confidence in it (the finding head's, calibrated). */
export type ReportedFinding = LabelledFinding & { confidence?: number };

export interface ReportOptions {
  /** Terminology ∩ section-grammar constraints (default true). */
  constrained?: boolean;
  maxTokens?: number;
}

/**
 * What a report in `lang` may be: only that language's lexicon terms and general words (so no
 * English sentence in a Chinese report), in exactly one FINDINGS and one IMPRESSION section.
 */
export function reportAutomaton(lang: ReportLanguage, generalWords: GeneralWords) {
  const lexicon = lexiconFromTerms(reportTerms.map((t) => t[lang]));
  return intersect(terminologyAutomaton(lexicon, { generalWords: generalWords[lang] }), sectionAutomaton({ lang }));
}

export class ReportGenerator {
  private readonly maskers = new Map<ReportLanguage, TokenMasker<unknown>>();
  /** Every term in both languages (what term validity is scored against). */
  readonly lexicon: Lexicon;
  /** The non-medical words of the training reports in both languages (connecting words, section headers). */
  readonly generalWords: readonly string[];

  private constructor(
    readonly config: ReportModelFileConfig,
    readonly lm: MoeLmModel,
    private readonly vision: Promise<Evaluator>,
    private readonly files: Awaited<ReturnType<typeof loadReportModelFiles>>,
    private readonly batcher: ContinuousBatcher,
    /** Whether a slice is one the model can read (undefined: the folder has no gate.json). */
    readonly gate: ImageGate | undefined,
  ) {
    this.lexicon = lexiconFromTerms(reportTerms);
    this.generalWords = [...files.generalWords.en, ...files.generalWords.zh];
  }

  static async load(
    dir: string,
    options: { int8?: boolean; threads?: number; maxBatch?: number } = {},
  ): Promise<ReportGenerator> {
    const files = await loadReportModelFiles(dir);
    const { config, store, tokenizer } = files;
    const text = { encode: (s: string) => tokenizer.encode(s), decode: (ids: readonly number[]) => tokenizer.decode(ids) };
    const lm = await MoeLmModel.create(config.lm, store, text, {
      int8: options.int8,
      threads: options.threads,
      eosId: tokenizer.idOf("<|eos|>"),
    });
    const { g, features } = visionFeaturesGraph(config.vision, 1, config.visionPool);
    // The finding head the recipe trains beside the report (the same names, so the same weights).
    const pooled = towerReduce(config.vision)(features, 1);
    const labelLogits = linear(new Scope(g).child("vision_head"), pooled, FINDING_LABELS.length);
    const vision = Evaluator.create({ features, pooled, labelLogits }, store, options.threads);
    const batcher = new ContinuousBatcher(lm, { maxBatch: options.maxBatch ?? 8, maxWaitMs: 2 });
    return new ReportGenerator(config, lm, vision, files, batcher, await ImageGate.load(dir));
  }

  /** What the vision tower reads of one slice: the image prefix, its pooled feature and the finding head's logits. */
  async readImage(slice: HuSlice): Promise<ImageReading> {
    const v = this.config.vision.image;
    const pixels = preprocessHu(slice.hu, slice.width, slice.height, v);
    const out = await (await this.vision).run({
      pixels: { dtype: "float32", shape: [1, v.windows.length, v.imageSize, v.imageSize], data: pixels },
    });
    return {
      features: out.features.data as Float32Array,
      pooled: out.pooled.data as Float32Array,
      labelLogits: out.labelLogits.data as Float32Array,
    };
  }

  /**
   * Reads the slice and asks the gate whether the model can read it. Without a gate (a
   * folder with no gate.json) the verdict accepts, and says it did not check.
   */
  async assess(slice: HuSlice, image: { colourShare?: number } = {}): Promise<{ reading: ImageReading; verdict: GateVerdict }> {
    const reading = await this.readImage(slice);
    const verdict = this.gate?.check(slice, reading, image) ?? {
      accepted: true,
      reasons: [],
      huDistance: Number.NaN,
      featureDistance: Number.NaN,
    };
    return { reading, verdict };
  }

  /**
   * The findings a report states, each with the image's confidence in it. None without a gate,
   * and none for an image the gate refused: the confidence is calibrated on chest slices only.
   */
  findings(text: string, lang: ReportLanguage, reading: ImageReading, verdict?: GateVerdict): ReportedFinding[] {
    const gate = verdict?.accepted === false ? undefined : this.gate;
    return labelReport(text, lang).map((f) =>
      gate ? { ...f, confidence: Math.round(1000 * findingConfidence(f, reading.labelLogits, gate.labelTemperature)) / 1000 } : f,
    );
  }

  private masker(lang: ReportLanguage): TokenMasker<unknown> {
    let m = this.maskers.get(lang);
    if (!m) {
      const automaton = reportAutomaton(lang, this.files.generalWords);
      m = tokenMaskFor(automaton, vocabularyFromBpe(this.files.tokenizer)) as TokenMasker<unknown>;
      this.maskers.set(lang, m);
    }
    return m;
  }

  /** The report as it is written, token by token (greedy); `reading` saves reading the image again. */
  async stream(req: ReportRequest, options: ReportOptions = {}, reading?: ImageReading): Promise<AsyncIterable<StreamChunk>> {
    const slots = this.config.lm.image!.slots;
    const prompt = reportPrompt(this.files.tokenizer, slots, req.context, req.lang);
    const { features } = reading ?? (await this.readImage(req.slice));
    const room = this.lm.maxLength - prompt.length - 1;
    return this.batcher.submit(
      prompt,
      {
        maxTokens: Math.min(options.maxTokens ?? 320, room),
        temperature: 0,
        logitsMask: (options.constrained ?? true) ? constrainedMask(this.masker(req.lang)) : undefined,
      },
      { prefix: features },
    );
  }

  /** The whole report text. */
  async write(req: ReportRequest, options: ReportOptions = {}, reading?: ImageReading): Promise<string> {
    let text = "";
    for await (const chunk of await this.stream(req, options, reading)) text += chunk.text;
    return text;
  }

  async close(): Promise<void> {
    await this.batcher.close();
  }
}
