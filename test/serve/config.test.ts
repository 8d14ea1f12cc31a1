// loadConfig: embedded defaults, the shipped example, env overrides, and clear errors.

import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import fc from "fast-check";
import { stringify } from "yaml";
import { ConfigError, loadConfig, serverConfigSchema } from "../../src/serve/config.js";

const dir = mkdtempSync(join(tmpdir(), "aigc-config-"));
let fileCount = 0;

/** Write YAML to a fresh file. */
function yamlFile(text: string): string {
  const path = join(dir, `aigc-${fileCount++}.yaml`);
  writeFileSync(path, text);
  return path;
}

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return e;
  }
  assert.fail("expected a ConfigError");
}

describe("loadConfig", () => {
  test("no file: the embedded defaults", () => {
    const c = loadConfig({ env: {} });
    assert.deepEqual(c.server, {
      host: "127.0.0.1",
      port: 8080,
      bodyLimitBytes: 1024 * 1024,
      encryptedBodyLimitBytes: 32 * 1024 * 1024,
    });
    assert.deepEqual(c.models, {
      default: "aigc-chat",
      local: {
        "aigc-chat": { dir: "assets/chat", int8: false, runtime: "onnxruntime" },
        "aigc-lm-tiny": { dir: "assets/lm-tiny", int8: false, runtime: "onnxruntime" },
      },
    });
    assert.deepEqual(c.router.overflow, { queueDepth: 32, p95LatencyMs: 10_000 });
    assert.deepEqual(c.router.sensitiveEndpoints, ["/v1/medical"]);
    assert.deepEqual(c.batching, { maxBatch: 16, maxWaitMs: 4 });
    assert.deepEqual(c.providers, []);
    assert.equal(c.cache.redisUrl, undefined);
  });

  test("the shipped example is valid and every field in it is read", () => {
    const c = loadConfig({ file: "examples/aigc.yaml", env: { DEEPSEEK_API_KEY: "sk-from-env" } });
    assert.deepEqual(
      c.providers.map((p) => [p.name, p.zone, p.apiKey]),
      [
        ["deepseek", "public", "sk-from-env"],
        ["inhouse-vllm", "private", undefined],
      ],
    );
    assert.deepEqual(c.providers[0].models, [{ name: "aigc-lm-tiny", upstream: "deepseek-chat" }, "deepseek-chat"]);
    assert.equal(c.router.auditLog, "runs/audit/route.jsonl");
    assert.equal(c.tenants.tenants[0].id, "acme");
    // The example spells out every default: parsing it equals parsing the defaults plus its own additions.
    const defaults = serverConfigSchema.parse({});
    assert.deepEqual(c.server, defaults.server);
    assert.deepEqual(c.router.breaker, defaults.router.breaker);
    assert.deepEqual(c.cache, defaults.cache);
  });

  test("a partial file keeps the defaults of everything it leaves out", () => {
    const c = loadConfig({ file: yamlFile("router:\n  overflow:\n    queueDepth: 4\n"), env: {} });
    assert.deepEqual(c.router.overflow, { queueDepth: 4, p95LatencyMs: 10_000 });
    assert.equal(c.router.retries.maxRetries, 2);
    assert.equal(c.server.port, 8080);
  });

  test("errors name the file, the path, what was expected and what was found", () => {
    const file = yamlFile("router:\n  overflow:\n    queueDepth: -1\n");
    const e = configError(() => loadConfig({ file, env: {} }));
    assert.equal(e.message, `${file}: router.overflow.queueDepth: expected a positive integer, got -1`);
    assert.deepEqual(e.problems, [
      { source: file, path: "router.overflow.queueDepth", message: "expected a positive integer, got -1" },
    ]);
    assert.equal(e.file, file);
  });

  test("every problem is listed: unknown fields, bad URLs, wrong zones, duplicate names, unserved default model", () => {
    const file = yamlFile(
      stringify({
        server: { porrt: 9000 },
        models: { default: "ghost" },
        providers: [
          { name: "a", zone: "cloud", baseUrl: "https://x/v1", models: ["m"] },
          { name: "a", zone: "public", baseUrl: "ftp://x", models: ["m"] },
        ],
        batching: { maxBatch: 1.5 },
      }),
    );
    const lines = configError(() => loadConfig({ file, env: {} })).message.split("\n");
    const expected = [
      `${file}: server: unknown field 'porrt' (check the spelling)`,
      `${file}: providers[0].zone: expected 'private' or 'public', got "cloud"`,
      `${file}: providers[1].baseUrl: expected an http(s) URL such as https://api.deepseek.com/v1, got "ftp://x"`,
      `${file}: batching.maxBatch: expected a positive integer, got 1.5`,
    ];
    for (const line of expected) assert.ok(lines.includes(line), `missing line ${line}\nin:\n${lines.join("\n")}`);
  });

  test("cross-field rules: unique provider names, a default model that something serves", () => {
    const file = yamlFile(
      stringify({
        models: { default: "ghost" },
        providers: [
          { name: "a", zone: "public", baseUrl: "https://x/v1", models: ["m"] },
          { name: "a", zone: "public", baseUrl: "https://y/v1", models: ["m"] },
        ],
      }),
    );
    const message = configError(() => loadConfig({ file, env: {} })).message;
    assert.match(message, /providers\[1\]\.name: expected a unique name; 'a' is used twice/);
    assert.match(
      message,
      /models\.default: expected a model that models\.local or a provider serves \(aigc-chat, aigc-lm-tiny, m\), got "ghost"/,
    );
  });

  test("YAML syntax errors give the line; a missing file says so; a non-mapping document is refused", () => {
    const bad = yamlFile("server:\n  port: [8080\n");
    assert.match(configError(() => loadConfig({ file: bad, env: {} })).message, /line \d+, column \d+: YAML syntax error/);
    const missing = join(dir, "nope.yaml");
    assert.equal(
      configError(() => loadConfig({ file: missing, env: {} })).message,
      `${missing}: cannot read the config file (no such file)`,
    );
    assert.match(
      configError(() => loadConfig({ file: yamlFile("- 1\n- 2\n"), env: {} })).message,
      /expected a mapping of sections/,
    );
    assert.equal(loadConfig({ file: yamlFile(""), env: {} }).server.port, 8080);
  });

  test("env overrides: AIGC_CONFIG, AIGC_HOST, AIGC_PORT, AIGC_REDIS_URL, AIGC_AUDIT_LOG, provider keys and URLs", () => {
    const file = yamlFile(
      stringify({
        server: { port: 1234 },
        providers: [
          { name: "my-cloud", zone: "public", baseUrl: "https://x/v1", apiKey: "from-file", apiKeyEnv: "MY_KEY", models: ["m"] },
        ],
      }),
    );
    const c = loadConfig({
      env: {
        AIGC_CONFIG: file,
        AIGC_HOST: "0.0.0.0",
        AIGC_PORT: "9090",
        AIGC_REDIS_URL: "redis://127.0.0.1:6390/1",
        AIGC_AUDIT_LOG: "/tmp/audit.jsonl",
        MY_KEY: "from-apiKeyEnv",
        AIGC_PROVIDER_MY_CLOUD_API_KEY: "from-aigc-env",
        AIGC_PROVIDER_MY_CLOUD_BASE_URL: "http://127.0.0.1:9/v1",
      },
    });
    assert.deepEqual([c.server.host, c.server.port], ["0.0.0.0", 9090]);
    assert.equal(c.cache.redisUrl, "redis://127.0.0.1:6390/1");
    assert.equal(c.tenants.redisUrl, "redis://127.0.0.1:6390/1");
    assert.equal(c.router.auditLog, "/tmp/audit.jsonl");
    assert.deepEqual([c.providers[0].apiKey, c.providers[0].baseUrl], ["from-aigc-env", "http://127.0.0.1:9/v1"]);
    assert.equal(loadConfig({ file, env: { MY_KEY: "from-apiKeyEnv" } }).providers[0].apiKey, "from-apiKeyEnv");
    assert.equal(loadConfig({ file, env: {} }).providers[0].apiKey, "from-file");
  });

  test("a bad env value is blamed on the variable, not the file", () => {
    assert.equal(
      configError(() => loadConfig({ env: { AIGC_PORT: "eighty" } })).message,
      'AIGC_PORT (server.port): expected a port number 0-65535 (0 = any free port), got "eighty"',
    );
    assert.equal(
      configError(() => loadConfig({ env: { AIGC_PORT: "70000" } })).message,
      "AIGC_PORT (server.port): expected a port number 0-65535 (0 = any free port), got 70000",
    );
  });

  test("property: any YAML document either loads or fails with a ConfigError", () => {
    const leaf = fc.oneof(
      fc.integer({ min: -5, max: 100_000 }),
      fc.double({ noNaN: true }),
      fc.boolean(),
      fc.string(),
      fc.constant(null),
    );
    const section = fc.dictionary(
      fc.constantFrom(
        "host",
        "port",
        "queueDepth",
        "overflow",
        "retries",
        "maxBatch",
        "dir",
        "int8",
        "name",
        "zone",
        "baseUrl",
        "models",
      ),
      fc.oneof(leaf, fc.dictionary(fc.constantFrom("queueDepth", "p95LatencyMs", "x"), leaf, { maxKeys: 2 })),
      { maxKeys: 3 },
    );
    const doc = fc.dictionary(
      fc.constantFrom("server", "models", "providers", "router", "cache", "tenants", "batching", "pricing", "extra"),
      fc.oneof(section, leaf, fc.array(section, { maxLength: 2 })),
      { maxKeys: 4 },
    );
    const file = join(dir, "prop.yaml");
    fc.assert(
      fc.property(doc, (d) => {
        writeFileSync(file, stringify(d));
        try {
          loadConfig({ file, env: {} });
        } catch (e) {
          assert.ok(e instanceof ConfigError, String(e));
          for (const p of e.problems) assert.ok(p.message.length > 0 && !p.message.includes("[object"), p.message);
        }
      }),
      { numRuns: 200 },
    );
  });
});
