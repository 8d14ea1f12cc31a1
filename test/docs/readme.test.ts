// The README's commands run as written. Every command of its ```sh / ```bash blocks is run
// in order, in a scratch folder whose entries link to this checkout (so `runs/`, `keys/`,
// `data/`, `request.json` and the other outputs land there, not in the checkout), with
// `dist/` compiled afresh from src/ as `npm install` does on a fresh clone. A block after a
// `<!-- long: why -->` line is not run, and a command of a long kind (training, evaluations
// and benchmarks, servers, installs, the test suite) outside such a block fails the test.
// Blocks after `<!-- server -->` run against `npm start` on a free port (their
// `127.0.0.1:8080` rewritten). Links must stay inside the repository, and the sample inputs
// in samples/ must still be what the project's generators make.
//
// `npx aigc …` is run as `node <scratch>/bin/aigc.js …`, which is what npx resolves it to
// (checked once with the real npx): npx costs most of a second per call, and the whole file
// has to stay near a minute on two cores.

import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, normalize, resolve } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { synthChestCases, writeSynthCase } from "../../src/data/index.js";
import { synthEhrRisk } from "../../src/data/synthEhrRisk.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const readme = readFileSync(join(root, "README.md"), "utf8");

interface Command {
  /** 1-based line of the README where it starts. */
  line: number;
  /** The command, continuation lines joined. */
  text: string;
}

interface Block {
  line: number;
  kind: "run" | "long" | "server";
  commands: Command[];
}

/** The fenced sh/bash blocks, each with the marker on the line before it (blank lines skipped). */
function shellBlocks(markdown: string): Block[] {
  const lines = markdown.split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(\w*)/.exec(lines[i]);
    if (!fence) continue;
    const end = lines.findIndex((l, j) => j > i && l.startsWith("```"));
    assert.ok(end > i, `README.md:${i + 1}: the code block never closes`);
    if (fence[1] === "sh" || fence[1] === "bash") {
      let k = i - 1;
      while (k >= 0 && lines[k].trim() === "") k--;
      const marker = k >= 0 ? /^<!--\s*(long|server)\b.*-->\s*$/.exec(lines[k].trim()) : null;
      const commands: Command[] = [];
      let pending: Command | null = null;
      for (let j = i + 1; j < end; j++) {
        const l = lines[j];
        if (!pending && (l.trim() === "" || l.trim().startsWith("#"))) continue;
        if (pending) pending.text += `\n${l}`;
        else pending = { line: j + 1, text: l };
        // A line ending in a backslash or a pipe goes on on the next line.
        if (!/(\\|\|)\s*$/.test(l)) {
          commands.push(pending);
          pending = null;
        }
      }
      assert.equal(pending, null, `README.md:${i + 1}: the block's last command goes on past the block`);
      blocks.push({ line: i + 1, kind: (marker?.[1] as "long" | "server" | undefined) ?? "run", commands });
    }
    i = end;
  }
  return blocks;
}

/** What only a `<!-- long -->` block may hold: it trains, measures, installs or serves until stopped. */
const longKinds: readonly [RegExp, string][] = [
  [/\bnpm (install|ci|i)\b/, "installs packages"],
  [/\bnpm (test|t)\b|\bnode --test\b/, "runs the test suite"],
  [/\bnpm start\b|\baigc serve\b/, "serves until stopped"],
  [/\baigc (train|ablate|compare|bench)\b/, "trains or benchmarks"],
  [/\baigc eval (?!retrieval --data)/, "evaluates on hundreds of cases"],
  [/\bbench\/\S+\.ts\b/, "is a benchmark"],
];

const blocks = shellBlocks(readme);
let scratch: string | undefined;
let server: ChildProcess | undefined;

after(() => {
  if (server?.pid) {
    try {
      process.kill(-server.pid, "SIGTERM"); // npm start's process group: npm, its shell and the server
    } catch {
      // already gone
    }
  }
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

test("the README has shell blocks, and every command of a long kind is in a <!-- long --> block", () => {
  assert.ok(blocks.length >= 10, `only ${blocks.length} sh blocks found`);
  assert.ok(blocks.some((b) => b.kind === "server"));
  const unmarked: string[] = [];
  for (const b of blocks.filter((x) => x.kind !== "long"))
    for (const c of b.commands)
      for (const [pattern, why] of longKinds)
        if (pattern.test(c.text)) unmarked.push(`README.md:${c.line}: "${c.text}" ${why}: mark its block <!-- long: … -->`);
  assert.deepEqual(unmarked, []);
  // Every long block says why.
  const lines = readme.split("\n");
  for (const b of blocks.filter((x) => x.kind === "long")) {
    let k = b.line - 2;
    while (lines[k].trim() === "") k--;
    assert.match(lines[k], /<!--\s*long:\s*\S/, `README.md:${k + 1}: say why the block is long (<!-- long: why -->)`);
  }
});

test("links and named files stay inside the repository", () => {
  const slugs = new Set(
    [...readme.matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
      m[1]
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, "")
        .replace(/ /g, "-"),
    ),
  );
  for (const [, target] of readme.matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^[a-z]+:/.test(target)) continue;
    if (target.startsWith("#")) {
      assert.ok(slugs.has(target.slice(1)), `README links to ${target}, a heading it does not have`);
      continue;
    }
    const path = normalize(target.split("#")[0]);
    assert.ok(!path.startsWith(".."), `README links outside the repository: ${target}`);
    assert.ok(existsSync(join(root, path)), `README links to ${target}, which is not in the repository`);
  }
  assert.doesNotMatch(readme, /\.\.\/shared\b/, "a fresh clone has no ../shared");
  for (const [file] of readme.matchAll(/(?<![/\w])samples\/[\w.-]*\w/g))
    assert.ok(existsSync(join(root, file)), `README names ${file}, which is not in the repository`);
  assert.ok(existsSync(join(root, "ARCHITECTURE.md")));
});

test("the sample inputs are what the project's generators make", () => {
  const dir = mkdtempSync(join(tmpdir(), "aigc-samples-"));
  try {
    const [c] = synthChestCases(77, 1, { size: 128 });
    writeSynthCase(dir, c);
    assert.equal(c.id, "s77-000000");
    const same = (sample: string, generated: string) =>
      assert.ok(
        readFileSync(join(root, "samples", sample)).equals(readFileSync(join(dir, generated))),
        `samples/${sample} differs from ${generated} of aigc data synth-ct --seed 77 (see samples/README.md)`,
      );
    same("ct-nodule.dcm", `${c.id}.dcm`);
    same("ct-nodule.png", `${c.id}.png`);
    same("patient-fhir.json", `${c.id}.fhir.json`);
    const caseFile = JSON.parse(readFileSync(join(dir, `${c.id}.json`), "utf8")) as { ehr: unknown };
    assert.equal(readFileSync(join(root, "samples/patient.json"), "utf8"), `${JSON.stringify(caseFile.ehr, null, 2)}\n`);
    const d = synthEhrRisk(4, 12);
    const rows = d.x.map((r) => Object.fromEntries(d.features.map((f, i) => [f, Math.round(r[i] * 10) / 10])));
    assert.deepEqual(JSON.parse(readFileSync(join(root, "samples/patients.json"), "utf8")), rows);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const freePort = () =>
  new Promise<number>((resolvePort, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const address = s.address();
      s.close(() => resolvePort(typeof address === "object" && address ? address.port : 0));
    });
  });

/** Runs one command with bash in `cwd`; resolves with its exit status and output. */
function run(command: string, cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number) {
  return new Promise<{ code: number | null; output: string; ms: number; timedOut: boolean }>((done) => {
    const t0 = performance.now();
    const child = spawn("bash", ["-c", command], { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (b: Buffer) => {
      output += b.toString();
    });
    child.stderr.on("data", (b: Buffer) => {
      output += b.toString();
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid) process.kill(-child.pid, "SIGKILL");
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, output, ms: performance.now() - t0, timedOut });
    });
  });
}

test("every other command runs as written, on the shipped models, in a scratch copy", { timeout: 300_000 }, async () => {
  // The real npx resolves `aigc` to this package's bin (in the checkout, where its cache entry is).
  assert.match(execFileSync("npx", ["aigc", "--version"], { cwd: root, encoding: "utf8" }), /^\d+\.\d+\.\d+/);

  const shippedModelFiles = readdirSync(join(root, "assets/lm-tiny"));
  scratch = mkdtempSync(join(tmpdir(), "aigc-readme-"));
  const linked = [
    "node_modules",
    "assets",
    "samples",
    "src",
    "web",
    "bench",
    "examples",
    "test",
    "tools",
    "package.json",
    "package-lock.json",
    ".npmrc",
    "tsconfig.json",
    "biome.json",
    "README.md",
    "ARCHITECTURE.md",
    "LICENSE",
  ];
  for (const name of linked) if (existsSync(join(root, name))) symlinkSync(join(root, name), join(scratch, name));
  mkdirSync(join(scratch, "bin"));
  copyFileSync(join(root, "bin/aigc.js"), join(scratch, "bin/aigc.js")); // a copy: its ../dist is the scratch dist
  // What `npm install` runs (`prepare`): compile src/ to dist/ (type errors are the typecheck's business).
  try {
    execFileSync(join(root, "node_modules/.bin/tsc"), ["-p", join(root, "tsconfig.json"), "--outDir", join(scratch, "dist")], {
      stdio: "pipe",
    });
  } catch {
    // emitted anyway
  }
  assert.ok(existsSync(join(scratch, "dist/cli/main.js")), "tsc wrote no dist/cli/main.js");

  const port = await freePort();
  const env = { ...process.env };
  server = spawn("npm", ["start", "--", "--port", String(port)], {
    cwd: scratch,
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let serverLog = "";
  server.stdout?.on("data", (b: Buffer) => {
    serverLog += b.toString();
  });
  server.stderr?.on("data", (b: Buffer) => {
    serverLog += b.toString();
  });
  const serverUp = (async () => {
    for (let i = 0; i < 240; i++) {
      try {
        if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`npm start did not answer /health in 60 s:\n${serverLog.slice(-2000)}`);
  })();

  const prelude = [
    "set -eo pipefail",
    `npx() { if [ "$1" = aigc ]; then shift; node ${JSON.stringify(join(scratch, "bin/aigc.js"))} "$@"; else command npx "$@"; fi; }`,
    'curl() { command curl --fail-with-body --max-time 60 "$@"; }',
  ].join("\n");
  // What a machine may lack without the README being wrong: curl (the server blocks), and the
  // optional eSpeak-NG package (`npm install --omit=optional`: no speech, as the README says).
  const hasCurl = spawnSync("sh", ["-c", "command -v curl"]).status === 0;
  const hasSpeech = existsSync(join(root, "node_modules/@echogarden/espeak-ng-emscripten/package.json"));
  const needsSpeech = /\baigc speak\b|\/v1\/avatar\/speak\b|\bspeak\.json\b/;
  const failures: string[] = [];
  const timings: string[] = [];
  const skipped: string[] = [];
  for (const block of blocks.filter((b) => b.kind !== "long")) {
    if (block.kind === "server" && !hasCurl) {
      skipped.push(`README.md:${block.line} (curl is not installed)`);
      continue;
    }
    if (block.kind === "server") await serverUp;
    for (const c of block.commands) {
      if (!hasSpeech && needsSpeech.test(c.text)) {
        skipped.push(`README.md:${c.line} (the optional eSpeak-NG package is not installed)`);
        continue;
      }
      const text = block.kind === "server" ? c.text.replaceAll("127.0.0.1:8080", `127.0.0.1:${port}`) : c.text;
      const r = await run(`${prelude}\n${text}`, scratch, env, 45_000);
      timings.push(`${(r.ms / 1000).toFixed(1)} s  README.md:${c.line}`);
      const where = `README.md:${c.line}: ${c.text}`;
      if (r.timedOut) failures.push(`${where}\n  ran past 45 s: mark its block <!-- long: … --> or make it shorter`);
      else if (r.code !== 0) failures.push(`${where}\n  exit ${r.code}:\n${r.output.slice(-1500)}`);
      else if (block.kind === "server" && /"error":\s*\{/.test(r.output))
        failures.push(`${where}\n  answered an error:\n${r.output.slice(-800)}`);
    }
  }
  const total = timings.reduce((sum, t) => sum + Number.parseFloat(t), 0);
  console.log(
    `${timings.length} README commands in ${total.toFixed(0)} s; the slowest:\n${timings
      .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))
      .slice(0, 8)
      .join("\n")}`,
  );
  if (skipped.length > 0) console.log(`not run here:\n${skipped.join("\n")}`);
  assert.deepEqual(failures, []);
  // What the commands wrote, where the README says they write it.
  for (const file of ["keys/secret-key.json", "request.json", "response.json", "runs/lm-export/model.int8.onnx", "head.glb"])
    assert.ok(existsSync(join(scratch, file)), `no ${file} in the scratch folder`);
  assert.ok(existsSync(join(scratch, "data/ct/s7-000001.fhir.json")));
  if (hasSpeech) assert.ok(existsSync(join(scratch, "hello.wav")) && existsSync(join(scratch, "speak.wav")));
  assert.deepEqual(readdirSync(join(root, "assets/lm-tiny")), shippedModelFiles, "a README command wrote into the shipped model");
});
