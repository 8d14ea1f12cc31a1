// Instruction/answer pairs derived from the project's own corpora, for supervised
// fine-tuning of the chat model. Nothing is written by hand except the few turns about the
// model itself: every other answer is a passage of a real document, and its question is
// made from that passage's section title.
//
//   Debian Reference, Debian Handbook (en) — "Tell me about <title>." → the section's prose
//   Debian Handbook (zh-CN)                — "介绍一下<title>。"      → the section's prose
//   fortunes                               — "Tell me a joke."        → a short cookie
//   fortunes-zh tang300 / song100          — "请背诵《<title>》。"     → the poem; "续写：<first clause>" → the rest

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Rng } from "../runtime/index.js";
import type { ChatTurn } from "./chatTemplate.js";
import { FORTUNES_DIR, loadFortunes } from "./corpus.js";
import { type DocSection, loadDebianHandbook, loadDebianReference } from "./docCorpora.js";

export interface InstructionPair {
  question: string;
  answer: string;
  /** Where the answer comes from: "debian-reference", "debian-handbook-en", … */
  source: string;
}

export const pairTurns = (pair: InstructionPair): ChatTurn[] => [
  { role: "user", content: pair.question },
  { role: "assistant", content: pair.answer },
];

/** Whole sentences from the start of `text`, at most `maxChars` (at least one sentence). */
export function leadingSentences(text: string, maxChars: number): string {
  const sentences = text.match(/[^.!?。？！]*[.!?。？！]+["')\]」』”’]*\s*/gu) ?? [text];
  let out = "";
  for (const s of sentences) {
    if (out.length > 0 && out.length + s.length > maxChars) break;
    out += s;
  }
  return out.trim();
}

const englishAsks = [
  (t: string) => `Tell me about ${t}.`,
  (t: string) => `Explain ${t}.`,
  (t: string) => `What do you know about ${t}?`,
  (t: string) => `Can you describe ${t}?`,
  (t: string) => `I have a question about ${t}.`,
  (t: string) => `What should I know about ${t} on Debian?`,
];
const englishAsksMore = [(t: string) => `Tell me more about ${t}.`, (t: string) => `What else about ${t}?`];
const chineseAsks = [
  (t: string) => `介绍一下${t}。`,
  (t: string) => `什么是${t}？`,
  (t: string) => `请解释${t}。`,
  (t: string) => `关于${t}，你知道什么？`,
];
const chineseAsksMore = [(t: string) => `再多讲讲${t}。`];

/** "The Shell Prompt" → "the shell prompt"; acronyms and file names keep their case. */
function titlePhrase(title: string): string {
  const first = title.split(" ")[0] ?? "";
  const keep = /[A-Z].*[A-Z]|[./_\d]/.test(first);
  return keep ? title : title.charAt(0).toLowerCase() + title.slice(1);
}

function sectionPairs(sections: readonly DocSection[], source: string, rng: Rng, chinese: boolean): InstructionPair[] {
  const asks = chinese ? chineseAsks : englishAsks;
  const asksMore = chinese ? chineseAsksMore : englishAsksMore;
  const pairs: InstructionPair[] = [];
  for (const s of sections) {
    const topic = chinese ? s.title : titlePhrase(s.title);
    if (topic.length < 2 || topic.length > 60) continue;
    s.paragraphs.slice(0, 3).forEach((paragraph, i) => {
      const answer = leadingSentences(paragraph, chinese ? 220 : 600);
      if (answer.length < (chinese ? 20 : 60)) return;
      const ask = i === 0 ? asks[rng.int(asks.length)] : asksMore[rng.int(asksMore.length)];
      pairs.push({ question: ask(topic), answer, source });
    });
  }
  return pairs;
}

const jokeAsks = [
  "Tell me a joke.",
  "Tell me a fortune.",
  "Say something funny.",
  "Give me a quote.",
  "Say something wise.",
  "Cheer me up.",
];

function fortunePairs(rng: Rng, count: number): InstructionPair[] {
  const cookies = loadFortunes(Number.POSITIVE_INFINITY)
    .split(/\n\n+/)
    .map((c) => c.trim())
    .filter((c) => c.length >= 30 && c.length <= 300 && !/[\t|_]{2}|\s{6}/.test(c));
  const pairs: InstructionPair[] = [];
  for (let i = 0; i < count && cookies.length > 0; i++) {
    const cookie = cookies[rng.int(cookies.length)];
    pairs.push({ question: jokeAsks[rng.int(jokeAsks.length)], answer: cookie, source: "fortunes" });
  }
  return pairs;
}

interface Poem {
  title: string;
  author: string;
  lines: string[];
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts the colour codes in fortunes-zh
const ANSI = /\x1b\[[0-9;]*[A-Za-z]?/g;

/** Poems of a fortunes-zh file: "《title》", "作者：author", then the lines. */
export function loadPoems(file: "tang300" | "song100", dir = FORTUNES_DIR): Poem[] {
  const path = join(dir, file);
  if (!existsSync(path))
    throw new Error(`no poems at ${path}: install them with \`apt-get install -y fortunes-zh\` (Debian package)`);
  const poems: Poem[] = [];
  for (const cookie of readFileSync(path, "utf8").replace(ANSI, "").split(/^%\n/m)) {
    const [titleLine, authorLine, ...lines] = cookie.trim().split("\n");
    const title = /《(.+)》/.exec(titleLine ?? "")?.[1];
    const author = /作者[：:](.+)/.exec(authorLine ?? "")?.[1];
    const body = lines.map((l) => l.trim()).filter((l) => l.length > 0);
    if (title && author && body.length > 0) poems.push({ title, author: author.trim(), lines: body });
  }
  return poems;
}

function poemPairs(poems: readonly Poem[], source: string, rng: Rng): InstructionPair[] {
  const pairs: InstructionPair[] = [];
  for (const p of poems) {
    const text = p.lines.join("\n");
    if (text.length > 240) continue;
    const recite = rng.chance(0.5) ? `请背诵《${p.title}》。` : `${p.author}的《${p.title}》怎么背？`;
    pairs.push({ question: recite, answer: `《${p.title}》\n作者：${p.author}\n${text}`, source });
    const cut = text.search(/[，。]/);
    if (cut > 0) pairs.push({ question: `续写：${text.slice(0, cut + 1)}`, answer: text.slice(cut + 1).trim(), source });
  }
  return pairs;
}

/** Turns about the model itself: the only hand-written answers, so it can say what it is. */
const aboutPairs: InstructionPair[] = [
  ["Hello!", "Hello! I am AIGC Studio's small chat model. Ask me about Debian, Linux or the command line."],
  ["Hi", "Hi! I am a small Mixture-of-Experts model trained on Debian documentation. What would you like to know?"],
  [
    "Who are you?",
    "I am the default chat model of AIGC Studio: a small Mixture-of-Experts language model trained on this machine from Debian documentation, fortunes and Chinese poetry.",
  ],
  [
    "What can you do?",
    "I can answer questions about Debian, Linux system administration and the shell, tell a joke, or recite a Tang poem. I am small, so check what I say.",
  ],
  ["你好", "你好！我是 AIGC Studio 的小型对话模型，可以回答关于 Debian 和 Linux 的问题，也会背唐诗。"],
  ["你是谁？", "我是 AIGC Studio 的默认对话模型，一个在 Debian 文档、格言和唐诗上训练的小型混合专家模型。"],
  ["Thank you!", "You are welcome!"],
  ["谢谢", "不客气！"],
].map(([question, answer]) => ({ question, answer, source: "about" }));

const normalizeSpace = (text: string) => text.replace(/\s+/g, " ");

export interface InstructionSet {
  train: InstructionPair[];
  valid: InstructionPair[];
}

/**
 * Every derived pair, shuffled by `seed`; repeated answers dropped, every tenth pair held out.
 * `heldOutTexts`: text the LM is evaluated on; a pair whose answer appears in it is never
 * trained on (it moves to the held-out pairs), so held-out perplexity stays held out.
 */
export function instructionPairs(
  seed: number,
  options: { fortunes?: number; heldOutTexts?: readonly string[] } = {},
): InstructionSet {
  const rng = new Rng(seed);
  const pairs = [
    ...sectionPairs(loadDebianReference(), "debian-reference", rng, false),
    ...sectionPairs(loadDebianHandbook("en-US"), "debian-handbook-en", rng, false),
    ...sectionPairs(loadDebianHandbook("zh-CN"), "debian-handbook-zh", rng, true),
    ...fortunePairs(rng, options.fortunes ?? 1500),
    ...poemPairs(loadPoems("tang300"), "tang300", rng),
    ...poemPairs(loadPoems("song100"), "song100", rng),
  ];
  const seen = new Set<string>();
  const unique = pairs.filter((p) => !seen.has(p.answer) && seen.add(p.answer));
  for (let i = unique.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [unique[i], unique[j]] = [unique[j], unique[i]];
  }
  const heldOut = (options.heldOutTexts ?? []).map(normalizeSpace);
  const inHeldOut = (p: InstructionPair) => heldOut.some((t) => t.includes(normalizeSpace(p.answer)));
  const valid = unique.filter((p, i) => i % 10 === 9 || inHeldOut(p));
  const train = unique.filter((p, i) => i % 10 !== 9 && !inHeldOut(p));
  // The turns about the model are few and always trained on, several times.
  for (let k = 0; k < 8; k++) train.push(...aboutPairs);
  return { train, valid };
}
