// The training loop: batches by step, learning rate by schedule, periodic eval and
// checkpoints, a progress callback. Resuming is restoring the TrainStep and calling
// the loop again: batches depend only on the step, so the curve continues exactly.

import { type HostTensor, type ParamStore, saveCheckpoint, type TrainStep } from "../runtime/index.js";
import type { Schedule } from "./schedule.js";

export interface StepInfo {
  step: number;
  steps: number;
  loss: number;
  gradNorm: number;
  lr: number;
  ms: number;
  evalLoss?: number;
  extras: Record<string, HostTensor>;
}

export interface LoopOptions {
  trainStep: TrainStep;
  store: ParamStore;
  /** Train until this many steps are done in total. */
  steps: number;
  schedule: Schedule;
  batchAt: (step: number) => Record<string, HostTensor>;
  evaluate?: () => Promise<number>;
  evalEvery?: number;
  checkpoint?: { dir: string; every: number; config: unknown; state?: () => Record<string, unknown> };
  onStep?: (info: StepInfo) => void;
}

export interface LoopResult {
  losses: number[];
  evalLosses: { step: number; loss: number }[];
}

export async function trainLoop(o: LoopOptions): Promise<LoopResult> {
  const losses: number[] = [];
  const evalLosses: { step: number; loss: number }[] = [];
  const save = () =>
    o.checkpoint &&
    saveCheckpoint(o.checkpoint.dir, {
      store: o.store,
      trainStep: o.trainStep,
      config: o.checkpoint.config,
      state: o.checkpoint.state?.(),
    });
  while (o.trainStep.stepCount < o.steps) {
    const step = o.trainStep.stepCount;
    const lr = o.schedule(step);
    const t0 = performance.now();
    const r = await o.trainStep.run(o.batchAt(step), lr);
    const ms = performance.now() - t0;
    losses.push(r.loss);
    const done = o.trainStep.stepCount;
    let evalLoss: number | undefined;
    if (o.evaluate && o.evalEvery && (done % o.evalEvery === 0 || done === o.steps)) {
      evalLoss = await o.evaluate();
      evalLosses.push({ step: done, loss: evalLoss });
    }
    if (o.checkpoint && (done % o.checkpoint.every === 0 || done === o.steps)) await save();
    o.onStep?.({ step: done, steps: o.steps, loss: r.loss, gradNorm: r.gradNorm, lr, ms, evalLoss, extras: r.extras });
  }
  return { losses, evalLosses };
}
