// The gate's parts on their own: the HU profile of a slice, the calibration error, the gate
// file's validation, and finding confidence from the head's logits.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  expectedCalibrationError,
  findingConfidence,
  findingLabelIndices,
  huProfile,
  ImageGate,
} from "../../src/apps/medical/imageGate.js";
import { synthChestSet } from "../../src/data/synth/index.js";
import { FINDING_LABELS } from "../../src/train/alignRecipe.js";

test("the HU profile: band shares sum to 1 and the border share lies in [0, 1], for any slice", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 1, max: 40 }),
      fc.array(fc.float({ min: -3000, max: 3000, noNaN: true }), { minLength: 1600, maxLength: 1600 }),
      (width, height, values) => {
        const profile = huProfile({ hu: values.slice(0, width * height), width, height });
        assert.equal(profile.length, 7);
        assert.ok(Math.abs(profile.slice(0, 6).reduce((a, b) => a + b, 0) - 1) < 1e-9);
        assert.ok(profile[6] >= 0 && profile[6] <= 1);
      },
    ),
  );
});

test("a synthetic chest slice has lung, soft tissue and air all round; a blank image has none of that", () => {
  const [c] = synthChestSet(31, 1);
  const [air, lung, , soft, , , borderAir] = huProfile(c);
  assert.ok(lung > 0.1 && soft > 0.05 && air > 0.05, JSON.stringify(huProfile(c)));
  assert.ok(borderAir > 0.9);
  const blank = huProfile({ hu: new Float32Array(64 * 64).fill(40), width: 64, height: 64 });
  assert.equal(blank[6], 0);
  assert.equal(blank[1], 0);
});

test("expected calibration error: 0 for calibrated confidences, large for overconfident ones", () => {
  const calibrated = Array.from({ length: 1000 }, (_, i) => ({ confidence: 0.75, correct: i % 4 !== 0 }));
  assert.ok(expectedCalibrationError(calibrated) < 1e-9);
  const overconfident = Array.from({ length: 1000 }, (_, i) => ({ confidence: 0.99, correct: i % 2 === 0 }));
  assert.ok(Math.abs(expectedCalibrationError(overconfident) - 0.49) < 1e-9);
});

test("a gate file that is not one is refused with what is wrong", () => {
  assert.throws(() => ImageGate.fromJson({ kind: "aigc-report-gate" }, "gate.json"), /gate\.json: not a report-model gate/);
  assert.throws(() => ImageGate.fromJson([], "x"), /not a report-model gate/);
});

test("finding confidence: the product of the head's probabilities for the finding's labels", () => {
  const finding = { type: "nodule", lobe: "RUL", side: "right", sizeMm: 8 } as const;
  const indices = findingLabelIndices(finding);
  assert.ok(indices.length >= 2, JSON.stringify(indices.map((i) => FINDING_LABELS[i])));
  const logits = new Float32Array(FINDING_LABELS.length).fill(-20);
  assert.ok(findingConfidence(finding, logits, 1) < 1e-6);
  for (const i of indices) logits[i] = 20;
  assert.ok(findingConfidence(finding, logits, 1) > 0.999);
  logits[indices[0]] = 0; // one label unsure: about one half
  assert.ok(Math.abs(findingConfidence(finding, logits, 1) - 0.5) < 1e-3);
});
