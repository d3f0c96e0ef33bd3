import type { RewardContext } from './reward.js';

/**
 * One generated sample: `score` is the reward PPO was given (the reward transform's output, reshaped by any
 * `onReward` hooks), `reward` what PPO used after scaling/clipping. `transformScore` (the transform's output before the
 * hooks) is present only when a hook reshaped the rewards.
 */
export interface StepSample { prompt: string; response: string; score: number; reward: number; toxicity: number; transformScore?: number }

/** Figures of one PPO step as the trainer reports them to hooks. */
export interface StepReport {
  step: number;
  totalSteps: number;
  /** TRL stat names → value (`env/reward_mean`, `objective/kl`, `ppo/loss/total`, `time/ppo/total`, ...). */
  stats: Record<string, number>;
  /** Rewards of the batch as PPO was given them (after the transform and any `onReward` hooks, before score scaling), one per sample. */
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
  /**
   * The `reward` hook point: reshapes the batch's per-sample rewards after the reward transform and before PPO (a
   * length penalty, a bonus for some words...). `rewards` `[B]` are the transform's output, or the previous hook's
   * (hooks run in config order); `context` holds the prompt and response texts, their token counts and the
   * classifier's logits. Return the new rewards (`B` finite numbers), or nothing to leave them unchanged. Called on
   * the main thread whatever `workers` is, so what it returns is exactly what PPO trains on.
   */
  onReward?(rewards: readonly number[], context: RewardContext): number[] | void | Promise<number[] | void>;
  onStep?(report: StepReport): void | Promise<void>;
  /**
   * Called before a checkpoint of step `step` is written: make everything logged so far durable (flush buffers), so
   * that a run resumed from that checkpoint has lost nothing.
   */
  onCheckpoint?(info: { step: number; name: string }): void | Promise<void>;
  /** Called once at the end, also after an interrupt or a failure (`reason`). Must not throw. */
  onRunEnd?(info: { reason: 'done' | 'interrupted' | 'failed'; step: number }): void | Promise<void>;
}
