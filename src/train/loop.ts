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

export async function trainLoop(options: LoopOptions): Promise<LoopResult> {
  const losses: number[] = [];
  const evalLosses: { step: number; loss: number }[] = [];
  const save = () =>
    options.checkpoint &&
    saveCheckpoint(options.checkpoint.dir, {
      store: options.store,
      trainStep: options.trainStep,
      config: options.checkpoint.config,
      state: options.checkpoint.state?.(),
    });
  while (options.trainStep.stepCount < options.steps) {
    const step = options.trainStep.stepCount;
    const lr = options.schedule(step);
    const t0 = performance.now();
    const r = await options.trainStep.run(options.batchAt(step), lr);
    const ms = performance.now() - t0;
    losses.push(r.loss);
    const done = options.trainStep.stepCount;
    let evalLoss: number | undefined;
    if (options.evaluate && options.evalEvery && (done % options.evalEvery === 0 || done === options.steps)) {
      evalLoss = await options.evaluate();
      evalLosses.push({ step: done, loss: evalLoss });
    }
    if (options.checkpoint && (done % options.checkpoint.every === 0 || done === options.steps)) await save();
    options.onStep?.({
      step: done,
      steps: options.steps,
      loss: r.loss,
      gradNorm: r.gradNorm,
      lr,
      ms,
      evalLoss,
      extras: r.extras,
    });
  }
  return { losses, evalLosses };
}
