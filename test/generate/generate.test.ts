// generate / generateStream over real small models: a character-level trigram count model
// (with bigram and unigram back-off) built from a short English text, whose per-row history
// is its "KV cache", and a byte-level model that spells "你好" one UTF-8 byte per token.
// Checked: greedy = a reference loop, batching = each prompt alone, one feed per step,
// stop strings, eos, length, streaming deltas, early break closes the session, logits masks,
// UTF-8 completion, and the errors for bad inputs.

import assert from "node:assert/strict";
import { test } from "node:test";
import {
  applyRepetitionPenalty,
  type DecodeModel,
  type DecodeSession,
  type FinishReason,
  GenerateError,
  GenerateOptions,
  generate,
  generateDefaults,
  generateStream,
  type ResolvedGenerateOptions,
  type StreamChunk,
} from "../../src/generate/index.js";

const corpus =
  "the quick brown fox jumps over the lazy dog. the dog sleeps under the old tree. " +
  "a fox runs to the river and the bird sings there. the cat sat on the mat. " +
  "then the dog and the fox ran home together. ";

/** Counts as a sparse table: context string -> next token -> count. */
type Counts = Map<string, Map<number, number>>;

function bump(counts: Counts, context: string, next: number): void {
  const row = counts.get(context) ?? new Map<number, number>();
  row.set(next, (row.get(next) ?? 0) + 1);
  counts.set(context, row);
}

/** Per-row state of a session: the row's token history (this model's KV cache). */
class NgramSession implements DecodeSession {
  readonly rows: number[][];
  closed = false;
  constructor(
    private readonly model: CharNgramModel,
    rows: number,
  ) {
    this.rows = Array.from({ length: rows }, () => []);
  }
  get vocabSize(): number {
    return this.model.vocab.length;
  }
  get maxLength(): number {
    return this.model.maxLength;
  }
  async feed(rows: number[], tokens: number[][]): Promise<Float32Array[]> {
    if (this.closed) throw new Error("feed after close");
    assert.equal(rows.length, tokens.length);
    this.model.feeds.push({ rows: [...rows], lengths: tokens.map((t) => t.length) });
    return rows.map((r, i) => {
      const history = this.rows[r];
      assert.ok(history !== undefined, `row ${r} outside the session`);
      for (const t of tokens[i]) assert.ok(Number.isInteger(t) && t >= 0 && t < this.vocabSize, `token ${t}`);
      history.push(...tokens[i]);
      assert.ok(history.length <= this.maxLength, `row ${r} holds ${history.length} > maxLength ${this.maxLength}`);
      return this.model.logitsAfter(history);
    });
  }
  async close(): Promise<void> {
    this.closed = true;
    this.model.closes++;
  }
}

/** A character trigram model: logits = log(count + smoothing) of the next character (−Infinity when unseen, unsmoothed). */
class CharNgramModel implements DecodeModel {
  readonly vocab: string[];
  readonly eosId?: number;
  readonly feeds: { rows: number[]; lengths: number[] }[] = [];
  opens = 0;
  closes = 0;
  private readonly counts: Counts = new Map();

  constructor(
    text: string,
    readonly maxLength = 64,
    eos?: string,
    /** Added to every count (0: unseen characters get −Infinity). */
    private readonly smoothing = 0,
  ) {
    this.vocab = [...new Set(text)].sort();
    if (eos !== undefined) this.eosId = this.vocab.indexOf(eos);
    const ids = this.encode(text);
    for (let i = 0; i < ids.length; i++) {
      bump(this.counts, "", ids[i]);
      if (i >= 1) bump(this.counts, `${ids[i - 1]}`, ids[i]);
      if (i >= 2) bump(this.counts, `${ids[i - 2]},${ids[i - 1]}`, ids[i]);
    }
  }

  encode(s: string): number[] {
    return [...s].map((c) => {
      const id = this.vocab.indexOf(c);
      assert.ok(id >= 0, `character ${JSON.stringify(c)} not in the vocabulary`);
      return id;
    });
  }

  decode(ids: number[]): string {
    return ids.map((i) => this.vocab[i]).join("");
  }

  /** Next-token logits after `history`: trigram counts, backing off to bigram, then unigram. */
  logitsAfter(history: readonly number[]): Float32Array {
    const n = history.length;
    const contexts = [n >= 2 ? `${history[n - 2]},${history[n - 1]}` : null, n >= 1 ? `${history[n - 1]}` : null, ""];
    const row = contexts.map((c) => (c === null ? undefined : this.counts.get(c))).find((r) => r !== undefined)!;
    const logits = new Float32Array(this.vocab.length).fill(Math.log(this.smoothing));
    for (const [t, c] of row) logits[t] = Math.log(c + this.smoothing);
    return logits;
  }

  async open(rows: number): Promise<DecodeSession> {
    this.opens++;
    return new NgramSession(this, rows);
  }
}

/** Spells "\n你好" over and over, one UTF-8 byte per token (vocabulary: the 256 bytes). */
class ByteSpellerModel implements DecodeModel {
  readonly bytes = [...new TextEncoder().encode("\n你好")];
  closes = 0;
  decode(ids: number[]): string {
    return new TextDecoder().decode(Uint8Array.from(ids));
  }
  async open(rows: number): Promise<DecodeSession> {
    const histories: number[][] = Array.from({ length: rows }, () => []);
    return {
      vocabSize: 256,
      maxLength: 100,
      feed: async (rowIds, tokens) =>
        rowIds.map((r, i) => {
          histories[r].push(...tokens[i]);
          const logits = new Float32Array(256).fill(-5);
          logits[this.bytes[histories[r].length % this.bytes.length]] = 5;
          return logits;
        }),
      close: async () => {
        this.closes++;
      },
    };
  }
}

/** Reference greedy decoding: a plain loop over the model function (argmax, lowest index on ties). */
function referenceGreedy(model: CharNgramModel, prompt: number[], maxTokens: number, penalty = 1): number[] {
  const history = [...prompt];
  const out: number[] = [];
  while (out.length < maxTokens && history.length < model.maxLength) {
    const logits = applyRepetitionPenalty(model.logitsAfter(history), history, penalty);
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    out.push(best);
    history.push(best);
    if (best === model.eosId) break;
  }
  return out;
}

async function collect(stream: AsyncIterable<StreamChunk>): Promise<StreamChunk[]> {
  const chunks: StreamChunk[] = [];
  for await (const c of stream) chunks.push(c);
  return chunks;
}

const sampled: GenerateOptions = { temperature: 0.9, topK: 6, topP: 0.95, repetitionPenalty: 1.1, maxTokens: 40 };

test("greedy generation equals a straightforward reference loop", async () => {
  const model = new CharNgramModel(corpus);
  for (const [prompt, penalty] of [
    ["the ", 1],
    ["a fox", 1],
    ["dog", 1.3],
  ] as const) {
    const ids = model.encode(prompt);
    const [result] = await generate(model, [ids], { temperature: 0, maxTokens: 30, repetitionPenalty: penalty });
    const want = referenceGreedy(model, ids, 30, penalty);
    assert.deepEqual(result.tokens, want, prompt);
    assert.equal(result.text, model.decode(want));
    assert.equal(result.finishReason, "length");
  }
  assert.equal(model.closes, model.opens);
});

test("batched generation gives each row exactly what it gets alone, with one feed call per step", async () => {
  const model = new CharNgramModel(corpus, 40);
  const prompts = ["the ", "a fox", "dog", "th", "the old tree and the bird sings"].map((p) => model.encode(p));
  const seeds = [7, 8, 9, 10, 11];
  const batched = await generate(model, prompts, { ...sampled, seed: seeds });
  for (let r = 0; r < prompts.length; r++) {
    const [alone] = await generate(model, [prompts[r]], { ...sampled, seed: seeds[r] });
    assert.deepEqual(batched[r], alone, `row ${r}`);
  }
  // The last prompt has 31 tokens, so maxLength 40 leaves it 9.
  assert.equal(batched[4].tokens.length, 9);
  assert.equal(batched[4].finishReason, "length");

  // One session per call; its first feed is the prefill of every prompt, then one token per active row per step.
  model.feeds.length = 0;
  const again = await generate(model, prompts, { ...sampled, seed: seeds, stop: ["."] });
  assert.deepEqual(model.feeds[0], { rows: [0, 1, 2, 3, 4], lengths: prompts.map((p) => p.length) });
  const steps = Math.max(...again.map((r) => r.tokens.length));
  assert.equal(model.feeds.length, steps); // the last sampled token is never fed
  for (let s = 1; s < steps; s++) {
    const active = again.flatMap((r, i) => (r.tokens.length > s ? [i] : []));
    assert.deepEqual(model.feeds[s], { rows: active, lengths: active.map(() => 1) }, `step ${s}`);
  }
  assert.equal(model.closes, model.opens);
});

test("with one number seed a row's output does not depend on the rows batched with it", async () => {
  const model = new CharNgramModel(corpus);
  const p = (s: string) => model.encode(s);
  const a = await generate(model, [p("the "), p("a fox"), p("dog")], { ...sampled, seed: 3 });
  const b = await generate(model, [p("tree"), p("a fox"), p("the cat sat")], { ...sampled, seed: 3 });
  const c = await generate(model, [p("the ")], { ...sampled, seed: 3 });
  assert.deepEqual(a[1], b[1]);
  assert.deepEqual(a[0], c[0]);
  // Rows are separate streams: the same prompt twice in one batch gives different samples.
  const twice = await generate(model, [p("the "), p("the ")], { ...sampled, seed: 3 });
  assert.notDeepEqual(twice[0].tokens, twice[1].tokens);
  // Same seed, same output; another seed, another output.
  assert.deepEqual(await generate(model, [p("the ")], { ...sampled, seed: 3 }), c);
  assert.notDeepEqual((await generate(model, [p("the ")], { ...sampled, seed: 4 }))[0].tokens, c[0].tokens);
});

test("stop strings cut the text before them, also when they span tokens, and are never emitted", async () => {
  const model = new CharNgramModel(corpus);
  const prompt = model.encode("the ");
  const [free] = await generate(model, [prompt], { temperature: 0, maxTokens: 40 });
  // A stop string of several tokens (characters) in the middle of the greedy text.
  const stop = free.text.slice(10, 14);
  const cut = free.text.indexOf(stop);
  const [stopped] = await generate(model, [prompt], { temperature: 0, maxTokens: 40, stop: ["zzz", stop] });
  assert.equal(stopped.finishReason, "stop");
  assert.equal(stopped.text, free.text.slice(0, cut));
  assert.deepEqual(stopped.tokens, free.tokens.slice(0, cut + stop.length)); // generation ended with the stop string
  const chunks = await collect(generateStream(model, prompt, { temperature: 0, maxTokens: 40, stop: ["zzz", stop] }));
  assert.equal(chunks.map((c) => c.text).join(""), stopped.text);
  assert.deepEqual(
    chunks.map((c) => c.token),
    stopped.tokens,
  );
  assert.deepEqual(
    chunks.map((c) => c.finishReason),
    [...chunks.slice(1).map(() => null), "stop"],
  );
});

test("a partial stop string is held back while streaming and released when it does not complete", async () => {
  const model = new CharNgramModel(corpus);
  const prompt = model.encode("the ");
  const [free] = await generate(model, [prompt], { temperature: 0, maxTokens: 30 });
  const start = free.text.indexOf(" ", 3) + 1; // a word start inside the text
  const stop = `${free.text.slice(start, start + 3)}#`; // starts like the text there, never completes
  const chunks = await collect(generateStream(model, prompt, { temperature: 0, maxTokens: 30, stop: [stop] }));
  let printed = "";
  chunks.forEach((c, i) => {
    printed += c.text;
    const generated = model.decode(free.tokens.slice(0, i + 1));
    if (i + 1 >= start + 1 && i + 1 <= start + 3) assert.equal(printed, generated.slice(0, start), `chunk ${i} holds back`);
  });
  assert.equal(printed, free.text);
  assert.equal(chunks.at(-1)?.finishReason, "length");
});

test("streaming deltas concatenate to generate's text (sampling, stops, same seed)", async () => {
  const model = new CharNgramModel(corpus);
  for (const seed of [1, 2, 3, 4, 5]) {
    const opts: GenerateOptions = { ...sampled, seed, stop: ["the d", "ee"] };
    const prompt = model.encode("the ");
    const [result] = await generate(model, [prompt], opts);
    const chunks = await collect(generateStream(model, prompt, opts));
    assert.equal(chunks.map((c) => c.text).join(""), result.text);
    assert.deepEqual(
      chunks.map((c) => c.token),
      result.tokens,
    );
    assert.equal(chunks.at(-1)?.finishReason, result.finishReason);
    let printed = "";
    for (const c of chunks) {
      printed += c.text;
      assert.ok(!printed.includes("the d") && !printed.includes("ee"), `seed ${seed}: a stop string was emitted`);
    }
  }
});

test("an early break from the stream closes the session; so does an error in the consumer", async () => {
  const model = new CharNgramModel(corpus);
  let seen = 0;
  for await (const _ of generateStream(model, model.encode("the "), { ...sampled, seed: 1 })) {
    if (++seen === 3) break;
  }
  assert.equal(seen, 3);
  assert.equal(model.opens, 1);
  assert.equal(model.closes, 1);
  await assert.rejects(async () => {
    for await (const _ of generateStream(model, model.encode("the "), { ...sampled, seed: 1 }))
      throw new Error("consumer failed");
  }, /consumer failed/);
  assert.equal(model.closes, 2);
});

test("finish reasons: eos (eos token last, not in the text), length (maxTokens, maxLength), stop", async () => {
  const model = new CharNgramModel(corpus, 64, ".");
  const prompt = model.encode("the old tr");
  const [eos] = await generate(model, [prompt], { temperature: 0, maxTokens: 60 });
  assert.equal(eos.text, "e");
  assert.equal(eos.finishReason, "eos");
  assert.equal(eos.tokens.at(-1), model.eosId);
  assert.equal(eos.text, model.decode(eos.tokens.slice(0, -1)));
  assert.deepEqual(eos.tokens, referenceGreedy(model, prompt, 60));
  const eosStream = await collect(generateStream(model, prompt, { temperature: 0, maxTokens: 60 }));
  assert.equal(eosStream.map((c) => c.text).join(""), eos.text);
  assert.deepEqual(eosStream.at(-1), { token: model.eosId, text: "", finishReason: "eos" });

  const [ignored] = await generate(model, [prompt], { temperature: 0, maxTokens: 30, ignoreEos: true });
  assert.equal(ignored.finishReason, "length");
  assert.ok(ignored.text.includes("."));
  const [otherEos] = await generate(model, [prompt], { temperature: 0, maxTokens: 60, eosId: model.vocab.indexOf("e") });
  assert.deepEqual(otherEos, { tokens: model.encode("e"), text: "", finishReason: "eos" });

  const lazy = model.encode("the lazy ");

  const [short] = await generate(model, [lazy], { temperature: 0, maxTokens: 3 });
  assert.deepEqual({ n: short.tokens.length, reason: short.finishReason }, { n: 3, reason: "length" });
  const long = model.encode("the quick brown fox jumps over the lazy dog. the dog sleeps under the ol"); // 72 > 64
  const fits = long.slice(0, 61);
  const [capped] = await generate(model, [fits], { temperature: 0, maxTokens: 50, ignoreEos: true });
  assert.deepEqual({ n: capped.tokens.length, reason: capped.finishReason }, { n: 3, reason: "length" });
  const [stop] = await generate(model, [lazy], { temperature: 0, stop: ["do"] });
  assert.deepEqual({ text: stop.text, reason: stop.finishReason }, { text: "", reason: "stop" });
});

test("a logits mask constrains every token and sees the row's generated tokens", async () => {
  const model = new CharNgramModel(corpus, 64, undefined, 0.1);
  const vowels = new Uint8Array(model.vocab.length);
  for (const c of "aeiou") vowels[model.vocab.indexOf(c)] = 1;
  const calls: [number, number][] = [];
  const results = await generate(model, [model.encode("the "), model.encode("dog")], {
    ...sampled,
    seed: 5,
    maxTokens: 8,
    logitsMask: (row, generated) => {
      calls.push([row, generated.length]);
      return row === 0 ? vowels : null;
    },
  });
  assert.match(results[0].text, /^[aeiou]{8}$/);
  assert.doesNotMatch(results[1].text, /^[aeiou]{8}$/);
  assert.deepEqual(
    calls.filter(([row]) => row === 0).map(([, n]) => n),
    [0, 1, 2, 3, 4, 5, 6, 7],
  );
  await assert.rejects(
    generate(model, [model.encode("the ")], { logitsMask: () => new Uint8Array(model.vocab.length) }),
    (e: unknown) => e instanceof GenerateError && /row 0, token 0: .*every logit is -Infinity/.test(e.message),
  );
  assert.equal(model.closes, model.opens);
});

test("UTF-8: byte tokens that end inside a character are held back until it is complete", async () => {
  const model = new ByteSpellerModel();
  const prompt = [0x0a];
  const chunks = await collect(generateStream(model, prompt, { temperature: 0, maxTokens: 6 }));
  assert.deepEqual(
    chunks.map((c) => c.text),
    ["", "", "你", "", "", "好"],
  );
  const [full] = await generate(model, [prompt], { temperature: 0, maxTokens: 6 });
  assert.equal(full.text, "你好");
  // Out of tokens inside a character: its first bytes are left out of the text (never U+FFFD).
  const [cut] = await generate(model, [prompt], { temperature: 0, maxTokens: 4 });
  assert.equal(cut.text, "你");
  assert.equal(cut.tokens.length, 4);
  const cutChunks = await collect(generateStream(model, prompt, { temperature: 0, maxTokens: 4 }));
  assert.equal(cutChunks.map((c) => c.text).join(""), "你");
  // A multi-byte stop string.
  const [stopped] = await generate(model, [prompt], { temperature: 0, maxTokens: 20, stop: ["好"] });
  assert.deepEqual(
    { text: stopped.text, reason: stopped.finishReason, n: stopped.tokens.length },
    { text: "你", reason: "stop", n: 6 },
  );
  assert.equal(model.closes, 5);
});

test("errors: bad prompts and options say what is wrong, and no session is left open", async () => {
  const model = new CharNgramModel(corpus, 20);
  const ok = model.encode("the ");
  const rejects = (p: Promise<unknown>, re: RegExp) =>
    assert.rejects(p, (e: unknown) => e instanceof GenerateError && re.test(e.message));
  await rejects(generate(model, []), /prompts must be a non-empty array/);
  await rejects(generate(model, [ok, []]), /prompt 1 is empty/);
  await rejects(generate(model, [[1, -2]]), /prompt 0\[1\] = -2 is not a token id/);
  await rejects(generate(model, [[1, 999]]), /prompt 0\[1\] = 999 is outside the vocabulary \[0, \d+\)/);
  const long = model.encode("the quick brown fox jumps"); // 25 tokens, maxLength 20
  await rejects(generate(model, [ok, long]), /prompt 1 has 25 tokens, 5 more than the model's maxLength 20.*at least 6 tokens/);
  await rejects(generate(model, [long.slice(0, 20)]), /fills the model's maxLength 20 and leaves no room to generate/);
  await rejects(generate(model, [ok], { maxTokens: 0 }), /invalid generate options:[\s\S]*maxTokens/);
  await rejects(generate(model, [ok], { temperature: -1 }), /temperature/);
  await rejects(generate(model, [ok], { topP: 0 }), /topP/);
  await rejects(generate(model, [ok], { topK: 1.5 }), /topK/);
  await rejects(generate(model, [ok], { minP: 2 }), /minP/);
  await rejects(generate(model, [ok], { repetitionPenalty: 0 }), /repetitionPenalty/);
  await rejects(generate(model, [ok], { stop: [""] }), /stop strings must be non-empty/);
  await rejects(generate(model, [ok, ok], { seed: [1] }), /seed has 1 entries but there are 2 prompts/);
  // A typo in an option name is an error, not silently ignored.
  await rejects(generate(model, [ok], { topk: 3 } as GenerateOptions), /topk/);
  assert.throws(() => generateStream(model, [], {}), /prompt 0 is empty/);
  assert.throws(() => generateStream(model, ok, { maxTokens: -1 }), /maxTokens/);
  await rejects(collect(generateStream(model, long)), /5 more than the model's maxLength 20/);
  assert.equal(model.closes, model.opens);
});

test("defaults live in one place, and the public types say what is optional", () => {
  const resolved: ResolvedGenerateOptions = GenerateOptions.parse({});
  assert.deepEqual(resolved, { ...generateDefaults, stop: [] });
  const maxTokens: number = resolved.maxTokens; // filled in after parsing
  assert.equal(maxTokens, generateDefaults.maxTokens);
  const input: GenerateOptions = {}; // every option is optional for callers
  assert.deepEqual(input, {});
  // @ts-expect-error finishReason is a closed union
  const bad: FinishReason = "done";
  assert.equal(bad, "done");
});
