// Held-out windows for fine-tuning's evaluation: evenly spaced over each stream, and their
// masks line up with the positions they score (weight of predicting token i + 1 at i), so a
// chat record's held-out loss counts its answers only, as its training loss does.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { heldOutMasks, heldOutWindows } from "../../src/train/index.js";

test("held-out masks weigh each window's next-token predictions by the stream's lossMask", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 40, max: 300 }),
      fc.integer({ min: 1, max: 9 }),
      fc.integer({ min: 2, max: 32 }),
      fc.integer(),
      (n, windows, length, seed) => {
        // Token i is i, so a window's first token is where it starts.
        const tokens = Int32Array.from({ length: n }, (_, i) => i);
        const lossMask = Uint8Array.from({ length: n }, (_, i) => ((i * 2654435761 + seed) >>> 7) & 1);
        const streams = [{ tokens, domain: -1, weight: 1, lossMask }];
        const ws = heldOutWindows(streams, windows, length);
        const masks = heldOutMasks(streams, windows, length)!;
        assert.equal(masks.length, ws.length);
        for (const [k, w] of ws.entries()) {
          assert.equal(w.length, length);
          assert.deepEqual(
            masks[k],
            Array.from({ length: length - 1 }, (_, i) => lossMask[w[0] + i + 1]),
          );
        }
      },
    ),
  );
  assert.equal(heldOutMasks([{ tokens: new Int32Array(50), domain: -1, weight: 1 }], 4, 8), null, "no masks: none");
});
