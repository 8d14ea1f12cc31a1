// Learning-rate schedules: plain functions of the step.

export type Schedule = (step: number) => number;

/** Linear warmup to `lr`, then cosine decay to `minLr` at `total` steps. */
export function cosineSchedule(options: { lr: number; warmup: number; total: number; minLr?: number }): Schedule {
  const minLr = options.minLr ?? options.lr / 10;
  return (step) => {
    if (step < options.warmup) return (options.lr * (step + 1)) / options.warmup;
    if (step >= options.total) return minLr;
    const progress = (step - options.warmup) / Math.max(1, options.total - options.warmup);
    return minLr + 0.5 * (options.lr - minLr) * (1 + Math.cos(Math.PI * progress));
  };
}

export const constantSchedule =
  (lr: number): Schedule =>
  () =>
    lr;
