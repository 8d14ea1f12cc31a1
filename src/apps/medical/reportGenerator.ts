// Writing reports with a trained report model: the vision tower turns the slice into the
// image prefix, the MoE LM continues the prompt through a continuous batcher (so concurrent
// reports share decode steps), optionally under constraints — the terminology lexicon
// (every word a lexicon term or a general word of the training reports) intersected with
// the section grammar (FINDINGS / IMPRESSION, or 检查所见 / 诊断意见).

import { reportTerms } from "../../data/index.js";
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
  loadReportModelFiles,
  MoeLmModel,
  preprocessHu,
  type ReportLanguage,
  type ReportModelFileConfig,
  reportPrompt,
  visionFeaturesGraph,
} from "../../models/index.js";
import { Evaluator } from "../../runtime/index.js";

/** A CT slice in Hounsfield units, row-major. */
export interface HuSlice {
  hu: ArrayLike<number>;
  width: number;
  height: number;
}

export interface ReportRequest {
  slice: HuSlice;
  context: ClinicalContext;
  lang: ReportLanguage;
}

export interface ReportOptions {
  /** Terminology ∩ section-grammar constraints (default true). */
  constrained?: boolean;
  maxTokens?: number;
}

export class ReportGenerator {
  private readonly maskers = new Map<ReportLanguage, TokenMasker<unknown>>();

  private constructor(
    readonly config: ReportModelFileConfig,
    readonly lm: MoeLmModel,
    private readonly vision: Promise<Evaluator>,
    private readonly files: Awaited<ReturnType<typeof loadReportModelFiles>>,
    private readonly batcher: ContinuousBatcher,
    readonly lexicon: Lexicon,
    /** The non-medical words of the training reports (connecting words, section headers). */
    readonly generalWords: readonly string[],
  ) {}

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
    const { features } = visionFeaturesGraph(config.vision, 1, config.visionPool);
    const vision = Evaluator.create({ features }, store, options.threads);
    const lexicon = lexiconFromTerms(reportTerms);
    const batcher = new ContinuousBatcher(lm, { maxBatch: options.maxBatch ?? 8, maxWaitMs: 2 });
    return new ReportGenerator(config, lm, vision, files, batcher, lexicon, files.generalWords);
  }

  /** The image prefix of one slice: patch features [S * F]. */
  async imageFeatures(slice: HuSlice): Promise<Float32Array> {
    const v = this.config.vision.image;
    const pixels = preprocessHu(slice.hu, slice.width, slice.height, v);
    const out = await (await this.vision).run({
      pixels: { dtype: "float32", shape: [1, v.windows.length, v.imageSize, v.imageSize], data: pixels },
    });
    return out.features.data as Float32Array;
  }

  private masker(lang: ReportLanguage): TokenMasker<unknown> {
    let m = this.maskers.get(lang);
    if (!m) {
      const automaton = intersect(
        terminologyAutomaton(this.lexicon, { generalWords: this.generalWords }),
        sectionAutomaton({ lang }),
      );
      m = tokenMaskFor(automaton, vocabularyFromBpe(this.files.tokenizer)) as TokenMasker<unknown>;
      this.maskers.set(lang, m);
    }
    return m;
  }

  /** The report as it is written, token by token (greedy). */
  async stream(req: ReportRequest, options: ReportOptions = {}): Promise<AsyncIterable<StreamChunk>> {
    const slots = this.config.lm.image!.slots;
    const prompt = reportPrompt(this.files.tokenizer, slots, req.context, req.lang);
    const features = await this.imageFeatures(req.slice);
    const room = this.lm.maxLength - prompt.length - 1;
    return this.batcher.submit(
      prompt,
      {
        maxTokens: Math.min(options.maxTokens ?? 320, room),
        temperature: 0,
        logitsMask: (options.constrained ?? true) ? constrainedMask(this.masker(req.lang)) : undefined,
      },
      features,
    );
  }

  /** The whole report text. */
  async write(req: ReportRequest, options: ReportOptions = {}): Promise<string> {
    let text = "";
    for await (const chunk of await this.stream(req, options)) text += chunk.text;
    return text;
  }

  async close(): Promise<void> {
    await this.batcher.close();
  }
}
