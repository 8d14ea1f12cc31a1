// Learning-rate schedules: plain functions of the step.

export type Schedule = (step: number) => number;

/** Linear warmup to `lr`, then cosine decay to `minLr` at `total` steps. */
export function cosineSchedule(o: { lr: number; warmup: number; total: number; minLr?: number }): Schedule {
  const minLr = o.minLr ?? o.lr / 10;
  return (step) => {
    if (step < o.warmup) return (o.lr * (step + 1)) / o.warmup;
    if (step >= o.total) return minLr;
    const progress = (step - o.warmup) / Math.max(1, o.total - o.warmup);
    return minLr + 0.5 * (o.lr - minLr) * (1 + Math.cos(Math.PI * progress));
  };
}

export const constantSchedule =
  (lr: number): Schedule =>
  () =>
    lr;
