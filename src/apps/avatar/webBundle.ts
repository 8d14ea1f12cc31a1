// The avatar page's browser code (web/avatar/*.ts, plus the browser-safe modules it shares
// with Node: the face rig, log-mel features, the lip-sync streamer) bundled by esbuild on the
// first request and kept in memory: no build step to forget, and the page always matches
// the code the server runs. onnxruntime-web stays outside the bundle: the page loads it
// from its own dist through an import map, next to the .wasm files it fetches at run time.

import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);

/** web/avatar/main.ts, from src/apps/avatar or dist/apps/avatar alike. */
export const avatarEntry = fileURLToPath(new URL("../../../web/avatar/main.ts", import.meta.url));

/** onnxruntime-web's dist folder (its package.json is not exported, its main is). */
export const ortWebDist = (): string => dirname(require.resolve("onnxruntime-web"));

/** The files of onnxruntime-web the page may fetch: the ES module and its wasm (SIMD) backend. */
export const ortWebFiles: Readonly<Record<string, string>> = Object.freeze({
  "ort.wasm.min.mjs": "text/javascript",
  "ort-wasm-simd-threaded.mjs": "text/javascript",
  "ort-wasm-simd-threaded.wasm": "application/wasm",
});

export const ortWebPath = (file: string): string => join(ortWebDist(), file);

let bundle: Promise<string> | undefined;

/** The page's script, one ES module; built once per process. */
export function avatarBundle(): Promise<string> {
  bundle ??= (async () => {
    const esbuild = await import("esbuild");
    const r = await esbuild.build({
      entryPoints: [avatarEntry],
      bundle: true,
      format: "esm",
      target: "es2022",
      platform: "browser",
      minify: true,
      write: false,
      external: ["onnxruntime-web"],
      logLevel: "silent",
    });
    const out = r.outputFiles[0];
    if (!out) throw new Error("esbuild produced no output for the avatar page");
    return out.text;
  })();
  bundle.catch(() => {
    bundle = undefined; // a failed build is retried on the next request
  });
  return bundle;
}
