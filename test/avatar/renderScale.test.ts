// The avatar page's dynamic resolution (web/avatar/renderScale.ts), driven with synthetic
// frame intervals.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { RenderScaler } from "../../web/avatar/renderScale.js";

const VSYNC = 1000 / 60;

/** Push `frames` intervals; returns every scale change. */
function run(s: RenderScaler, frames: number, interval: number | ((scale: number) => number)): number[] {
  const changes: number[] = [];
  for (let i = 0; i < frames; i++) {
    const next = s.push(typeof interval === "number" ? interval : interval(s.scale));
    if (next !== null) changes.push(next);
  }
  return changes;
}

test("holds full resolution while frames come at the display's rate", () => {
  const s = new RenderScaler();
  assert.deepEqual(run(s, 3000, VSYNC), []);
  assert.equal(s.scale, 1);
});

test("steps down one level per two slow windows in a row, to the last level and no further", () => {
  const s = new RenderScaler({ windowFrames: 30, warmupFrames: 0 });
  assert.deepEqual(run(s, 30, 2 * VSYNC), [], "one slow window alone changes nothing");
  assert.deepEqual(run(s, 30, VSYNC), []);
  assert.deepEqual(run(s, 30, 2 * VSYNC), [], "slow windows must come in a row");
  assert.deepEqual(run(s, 30 * 20, 2 * VSYNC), [0.85, 0.7, 0.55, 0.4]);
  assert.equal(s.scale, 0.4);
});

test("stops at the level that holds the target; a failed try up doubles the wait before the next", () => {
  // This "machine" holds 60 FPS at 0.7 and below, drops to 30 above.
  const machine = (scale: number) => (scale <= 0.7 ? VSYNC : 2 * VSYNC);
  const s = new RenderScaler({ windowFrames: 30, retryFrames: 300, warmupFrames: 0 });
  assert.deepEqual(run(s, 120, machine), [0.85, 0.7]);
  // 300 frames at 0.7, then a try at 0.85, which fails within one window.
  const changes: { frame: number; scale: number }[] = [];
  for (let f = 0; f < 3000; f++) {
    const next = s.push(machine(s.scale));
    if (next !== null) changes.push({ frame: f, scale: next });
  }
  // Tries at 0.85 after 300, 600 and 1200 frames at 0.7, each failing within two windows.
  assert.deepEqual(
    changes.map((c) => c.scale),
    [0.85, 0.7, 0.85, 0.7, 0.85, 0.7],
  );
  const ups = changes.filter((c) => c.scale === 0.85).map((c) => c.frame);
  const waits = ups.map((f, i) => f - (i === 0 ? -1 : ups[i - 1] + 60));
  assert.deepEqual(waits, [300, 600, 1200]);
});

test("climbs back to full resolution once the machine is fast again", () => {
  const s = new RenderScaler({ windowFrames: 30, retryFrames: 120, warmupFrames: 0 });
  run(s, 30 * 8, 2 * VSYNC);
  assert.equal(s.scale, 0.4);
  assert.deepEqual(run(s, 2000, VSYNC), [0.55, 0.7, 0.85, 1]);
});

test("ignores the warm-up frames and single hitches", () => {
  const s = new RenderScaler({ windowFrames: 30, warmupFrames: 120 });
  assert.deepEqual(run(s, 120, 3 * VSYNC), [], "slow warm-up frames do not count");
  // A 250 ms hitch every 10 frames: the frames between are fast, so the scale holds.
  assert.deepEqual(
    run(
      s,
      3000,
      (() => {
        let i = 0;
        return () => (++i % 10 === 0 ? 250 : VSYNC);
      })(),
    ),
    [],
  );
  assert.deepEqual(run(s, 60, 2 * VSYNC), [0.85], "then slow drawing does");
});

test("the scale is always one of the levels (property), and bad levels are refused", () => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: 1, max: 200, noNaN: true }), { maxLength: 2000 }), (intervals) => {
      const s = new RenderScaler({ windowFrames: 10, retryFrames: 50 });
      for (const v of intervals) {
        const next = s.push(v);
        assert.ok(s.levels.includes(s.scale));
        if (next !== null) assert.equal(next, s.scale);
      }
    }),
  );
  assert.throws(() => new RenderScaler({ levels: [] }), /decreasing values in \(0, 1\]/);
  assert.throws(() => new RenderScaler({ levels: [1, 1.5] }), /decreasing/);
  assert.throws(() => new RenderScaler({ levels: [0.5, 0.7] }), /decreasing/);
});
