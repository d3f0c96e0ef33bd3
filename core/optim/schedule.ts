/**
 * Learning-rate schedules, stepped once per PPO step (TRL calls `lr_scheduler.step()` once per
 * `PPOTrainer.step()`, after all PPO epochs and mini-batches of that step).
 *
 * The multipliers are Hugging Face transformers' `get_{constant,linear,cosine}_schedule_with_warmup`
 * (each a `torch.optim.lr_scheduler.LambdaLR`), with `s` the number of schedule steps taken so far
 * (LambdaLR's `last_epoch`, 0 before the first `advanceSchedule()`), `W` = warmupSteps, `T` = totalSteps:
 *
 * - warm-up, every kind: `s < W` → `s / max(1, W)` (so with warm-up the very first step has lr 0,
 *   exactly as in transformers);
 * - `constant`: 1;
 * - `linear`: `max(0, (T − s) / max(1, T − W))`, reaching 0 at `s = T`;
 * - `cosine` (half a cosine period, transformers' `num_cycles = 0.5`):
 *   `max(0, ½ (1 + cos(π · p)))` with `p = (s − W) / max(1, T − W)`.
 *
 * One deliberate difference: past `T`, the cosine progress `p` is held at 1 (the rate stays 0),
 * where transformers' formula would start a second, rising half-period. Within `0 ≤ s ≤ T` the
 * multipliers equal transformers' (tested against the torch fixture).
 */

/** Which schedule: `constant` (optionally with warm-up), `linear` decay to 0, or `cosine` decay to 0. */
export type ScheduleKind = 'constant' | 'linear' | 'cosine';
const SCHEDULE_KINDS: readonly ScheduleKind[] = ['constant', 'linear', 'cosine'];

/** A schedule's settings. `totalSteps` only matters to `linear` and `cosine`. */
export interface ScheduleOptions {
  kind: ScheduleKind;
  /** Steps of linear warm-up from 0 to the base rate. */
  warmupSteps: number;
  /** Steps until `linear` / `cosine` reach 0 (usually the run's `train.steps`). */
  totalSteps: number;
}

/** Throws when the settings make no sense; messages name the field, the value and what is allowed. */
export function validateSchedule(o: ScheduleOptions, where = 'schedule'): void {
  if (!SCHEDULE_KINDS.includes(o.kind)) {
    throw new Error(`${where}: kind "${String(o.kind)}" is unknown; allowed: ${SCHEDULE_KINDS.join(', ')}`);
  }
  if (!Number.isInteger(o.warmupSteps) || o.warmupSteps < 0) {
    throw new Error(`${where}: warmupSteps must be an integer ≥ 0 (got ${o.warmupSteps})`);
  }
  if (!Number.isInteger(o.totalSteps) || o.totalSteps < 1) {
    throw new Error(`${where}: totalSteps must be an integer ≥ 1 (got ${o.totalSteps})`);
  }
  if (o.kind !== 'constant' && o.warmupSteps > o.totalSteps) {
    throw new Error(`${where}: warmupSteps (${o.warmupSteps}) must be ≤ totalSteps (${o.totalSteps}) for the ${o.kind} schedule`);
  }
}

/** The factor the base learning rate is multiplied by after `step` schedule steps (step ≥ 0). */
export function scheduleMultiplier(o: ScheduleOptions, step: number): number {
  const { warmupSteps: w, totalSteps: t } = o;
  if (step < w) return step / Math.max(1, w);
  switch (o.kind) {
    case 'constant':
      return 1;
    case 'linear':
      return Math.max(0, (t - step) / Math.max(1, t - w));
    case 'cosine': {
      const progress = Math.min(1, (step - w) / Math.max(1, t - w));
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
    }
  }
}
