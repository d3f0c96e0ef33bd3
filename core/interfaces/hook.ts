/** One generated sample: `score` is the reward transform's output, `reward` what PPO used (after scaling/clipping). */
export interface StepSample { prompt: string; response: string; score: number; reward: number; toxicity: number }

/** Figures of one PPO step as the trainer reports them to hooks. */
export interface StepReport {
  step: number;
  totalSteps: number;
  /** TRL stat names → value (`env/reward_mean`, `objective/kl`, `ppo/loss/total`, `time/ppo/total`, ...). */
  stats: Record<string, number>;
  /** Raw rewards of the batch (before score scaling), one per sample. */
  rewards: number[];
  /** A few decoded samples of the batch (for logs). */
  samples: StepSample[];
  /** Every sample of the batch (for samples.jsonl). */
  allSamples?: StepSample[];
  /** Distributions for histograms, by TRL name (objective/kl_dist, ppo/policy/advantages, ...). */
  distributions?: Record<string, ArrayLike<number>>;
  /** Health-check warnings raised at this step (negative KL, skipped mini-batches, early stop). */
  warnings?: string[];
  /** Wall-clock milliseconds since the run started. */
  elapsedMs: number;
}

/** Cross-cutting work around the training loop (logging, progress, evaluation, checkpoints). */
export interface Hook {
  readonly name: string;
  onRunStart?(info: { runDir: string; totalSteps: number; startStep: number }): void | Promise<void>;
  onStep?(report: StepReport): void | Promise<void>;
  /**
   * Called before a checkpoint of step `step` is written: make everything logged so far durable (flush buffers), so
   * that a run resumed from that checkpoint has lost nothing.
   */
  onCheckpoint?(info: { step: number; name: string }): void | Promise<void>;
  /** Called once at the end, also after an interrupt or a failure (`reason`). Must not throw. */
  onRunEnd?(info: { reason: 'done' | 'interrupted' | 'failed'; step: number }): void | Promise<void>;
}
