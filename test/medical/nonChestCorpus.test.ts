// The non-chest corpus (test/medical/nonChestCorpus.ts) builds from what is on this machine:
// enough items of every kind, unique names, every file either read by readMedicalImage or
// refused with a MedicalFileError, no known chest CT among them, and the same bytes when built
// again (screenshots aside).

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { MedicalFileError, readMedicalImage } from "../../src/data/index.js";
import {
  buildNonChestCorpus,
  CHROMIUM_PATH,
  EXCLUDED_CHEST_CT,
  NON_CHEST_KINDS,
  type NonChestImage,
  type NonChestKind,
} from "./nonChestCorpus.js";

const dir = mkdtempSync(join(tmpdir(), "aigc-nonchest-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const MINIMUM: Readonly<Record<NonChestKind, number>> = {
  screenshot: 20,
  photo: 20,
  noise: 40,
  "brain-mr-png": 60,
  "mr-dicom": 5,
  "non-chest-ct": 3,
  "other-dicom": 1,
  drawing: 1,
};

const sha1 = (path: string): string => createHash("sha1").update(readFileSync(path)).digest("hex");

function countByKind(items: readonly NonChestImage[]): Record<NonChestKind, number> {
  const counts = Object.fromEntries(NON_CHEST_KINDS.map((k) => [k, 0])) as Record<NonChestKind, number>;
  for (const item of items) counts[item.kind]++;
  return counts;
}

test("the non-chest corpus has ≥ 220 readable images of every kind, none of them a known chest CT", async () => {
  const screenshots = CHROMIUM_PATH !== undefined;
  if (!screenshots) console.log("Chromium is not installed: the screenshot part is skipped");
  const start = performance.now();
  const items = await buildNonChestCorpus(join(dir, "a"), { screenshots });
  const seconds = (performance.now() - start) / 1000;
  const counts = countByKind(items);
  console.log(`non-chest corpus: ${items.length} items in ${seconds.toFixed(1)} s`, counts);

  for (const kind of NON_CHEST_KINDS) {
    if (kind === "screenshot" && !screenshots) continue;
    assert.ok(counts[kind] >= MINIMUM[kind], `${counts[kind]} ${kind} items, expected ≥ ${MINIMUM[kind]}`);
  }
  assert.ok(items.length >= (screenshots ? 220 : 200), `${items.length} items in all`);
  assert.equal(new Set(items.map((i) => i.name)).size, items.length, "names are unique");

  const refused: string[] = [];
  for (const item of items) {
    assert.ok(existsSync(item.path), `${item.name} was written`);
    assert.ok(item.source.length > 0, `${item.name} names its source`);
    assert.equal(EXCLUDED_CHEST_CT[item.source.split(/[ ,]/)[0]], undefined, `${item.name} comes from a chest CT`);
    try {
      const image = readMedicalImage(item.path);
      assert.ok(image.width > 0 && image.height > 0 && image.planes > 0, item.name);
      const plane = image.plane(0);
      assert.equal(plane.length, image.width * image.height, item.name);
      if (image.dicom?.modality === "CT") assert.equal(item.kind, "non-chest-ct", `${item.name} is CT`);
      if (item.name.endsWith(".dcm")) assert.equal(image.format, "dicom", item.name);
    } catch (err) {
      // a refusal is fine only as a MedicalFileError that says what is wrong
      assert.ok(err instanceof MedicalFileError, `${item.name}: ${(err as Error).message}`);
      assert.ok(["unsupported", "truncated", "corrupt"].includes(err.problem), `${item.name}: ${err.message}`);
      refused.push(`${item.name}: ${err.message}`);
    }
  }
  if (refused.length > 0) console.log(`refused by readMedicalImage (${refused.length}):\n  ${refused.join("\n  ")}`);
  assert.ok(refused.length <= items.length / 10, `${refused.length} of ${items.length} items are refused`);

  // deterministic: a second build gives the same names and bytes (screenshots left out)
  const again = await buildNonChestCorpus(join(dir, "b"), { screenshots: false });
  const firstNoShots = items.filter((i) => i.kind !== "screenshot");
  assert.deepEqual(
    again.map((i) => [i.name, i.kind, i.source]),
    firstNoShots.map((i) => [i.name, i.kind, i.source]),
  );
  for (const [i, item] of again.entries())
    assert.equal(sha1(item.path), sha1(firstNoShots[i].path), `${item.name} is reproducible`);
});
