// `aigc avatar head`: write the digital human's procedural head as a glTF binary.

import { mkdir, writeFile } from "node:fs/promises";
import { dirname, extname, resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { buildHeadGeometry, buildHeadGlb, headStats } from "../apps/index.js";

const glbPath = (v: string): string => {
  if (extname(v).toLowerCase() !== ".glb") throw new InvalidArgumentError(`--out must name a .glb file, got "${v}"`);
  return v;
};

/** Adds `head` to the `avatar` command group. */
export function registerAvatarHeadCommand(avatar: Command): void {
  avatar
    .command("head")
    .description("write the procedural 3D head (glTF 2.0 binary with the 15 viseme and the ARKit expression morph targets)")
    .requiredOption("--out <file.glb>", "where to write the head", glbPath)
    .option("--json", "print the stats as one JSON line")
    .action(async (o: { out: string; json?: boolean }) => {
      const geometry = buildHeadGeometry();
      const bytes = buildHeadGlb(geometry);
      const stats = headStats(geometry);
      const out = resolve(o.out);
      await mkdir(dirname(out), { recursive: true });
      await writeFile(out, bytes);
      if (o.json) {
        console.log(JSON.stringify({ out, bytes: bytes.byteLength, ...stats }));
        return;
      }
      console.log(`wrote ${out} (${(bytes.byteLength / 1e6).toFixed(2)} MB)`);
      console.log(`triangles ${stats.triangles}, vertices ${stats.vertices}, morph targets ${stats.morphTargets.length}:`);
      console.log(`  ${stats.morphTargets.join(" ")}`);
    });
}
