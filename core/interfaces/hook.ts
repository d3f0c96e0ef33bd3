import type { RewardContext } from './reward.js';

/**
 * One generated sample: `score` is the reward PPO was given (the reward transform's output, reshaped by any
 * `onReward` hooks), `reward` what PPO used after scaling/clipping. `transformScore` (the transform's output before the
 * hooks) is present only when a hook reshaped the rewards.
 */
export interface StepSample {
  prompt: string;
  response: string;
  score: number;
  reward: number;
  toxicity: number;
  transformScore?: number;
}

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

/** Toxicity of the evaluated continuations: mean, population std and how many there were. */
export interface EvalToxicity {
  mean: number;
  std: number;
  n: number;
}

/**
 * What one evaluation measured (core/eval's EvalResult, restated here so that interfaces import nothing): the
 * reward model's toxicity of the held-out continuations, the cross-check classifiers', RealToxicityPrompts' figures
 * (with `eval.samplesPerPrompt` > 1), distinct-n, perplexity under the initial model, and the continuations.
 */
export interface EvalRunResult {
  toxicity: EvalToxicity;
  crossCheck?: { classifier: string; toxicity: EvalToxicity }[];
  rtp?: { expectedMaxToxicity: EvalToxicity; toxicityProbability: number };
  distinct1: number;
  distinct2: number;
  distinct3: number;
  perplexity: number;
  prompts: number;
  /** Each continuation with its prompt and toxicity (and the cross-check classifiers' toxicities, in their order). */
  samples: { prompt: string; continuation: string; toxicity: number; crossCheck?: number[] }[];
}

/** One evaluation on the held-out prompts, as the trainer reports it to {@link Hook.onEval}. */
export interface EvalReport {
  /** The policy's step: 0 before training, the step just taken for a periodic one, the last step after. */
  step: number;
  /**
   * `before`: the initial policy (not on a resume: that figure is in the checkpoint); `periodic`: every
   * `eval.every` steps during training (not at the last step, which `after` measures); `after`: the trained policy.
   */
  phase: 'before' | 'periodic' | 'after';
  /** TensorBoard-style scalars: `eval/toxicity_mean`, `eval/distinct_2`, `eval/perplexity`, ... */
  figures: Record<string, number>;
  result: EvalRunResult;
}

/**
 * Cross-cutting work around the training loop: logging, progress, reward shaping. A hook is a `hook` plugin (the
 * config's `hooks`); the built-in `tensorboard`, `samples` and `console` hooks are ones too. Every stage is optional;
 * the trainer calls them on the main thread, awaiting each, hooks in config order. On a run the stages come in this
 * order: `onRunStart`, `onEval` (phase `before`), then per step `onBeforeStep`, `onReward`, `onStep`, `onEval` (phase
 * `periodic`, on `eval.every` steps), `onCheckpoint` (on checkpoint steps); then `onCheckpoint` (the last one),
 * `onEval` (phase `after`), `onRunEnd`. `onForcedExit` may come at any time.
 */
export interface Hook {
  readonly name: string;
  /**
   * Once, before anything else of the run (before the initial evaluation): `runDir` is the run folder (taken and
   * cut back to `startStep` on a resume: open output files here, not in the plugin's `create`, which runs before the
   * folder is taken), `startStep` the step a resumed run continues from (0 otherwise).
   */
  onRunStart?(info: { runDir: string; totalSteps: number; startStep: number }): void | Promise<void>;
  /**
   * Before each PPO step: `step` is the number of the step about to run (1-based, the `step` its `onStep` report
   * will carry). Nothing has been sampled for it yet.
   */
  onBeforeStep?(info: { step: number; totalSteps: number }): void | Promise<void>;
  /**
   * The `reward` hook point: reshapes the batch's per-sample rewards after the reward transform and before PPO (a
   * length penalty, a bonus for some words...). `rewards` `[B]` are the transform's output, or the previous hook's
   * (hooks run in config order); `context` holds the prompt and response texts, their token counts and the
   * classifier's logits. Return the new rewards (`B` finite numbers), or nothing to leave them unchanged. Called on
   * the main thread whatever `workers` is, so what it returns is exactly what PPO trains on.
   */
  onReward?(rewards: readonly number[], context: RewardContext): number[] | void | Promise<number[] | void>;
  /** After each PPO step (the policy updated): the step's statistics, rewards and samples. */
  onStep?(report: StepReport): void | Promise<void>;
  /**
   * After an evaluation on the held-out prompts (`eval.enabled`): before training, every `eval.every` steps, and
   * after training (see {@link EvalReport.phase}). The figures are also in summary.json (before/after).
   */
  onEval?(report: EvalReport): void | Promise<void>;
  /**
   * Called before a checkpoint of step `step` is written: make everything logged so far durable (flush buffers), so
   * that a run resumed from that checkpoint has lost nothing.
   */
  onCheckpoint?(info: { step: number; name: string }): void | Promise<void>;
  /**
   * Called once at the end, also after an interrupt or a failure (`reason`), on every path once `onRunStart` has been
   * called (a hook whose `onRunStart` threw included: the run fails there). Must not throw.
   */
  onRunEnd?(info: { reason: 'done' | 'interrupted' | 'failed'; step: number }): void | Promise<void>;
  /**
   * The user insisted (a second Ctrl-C): the process exits right after this returns, so it must be synchronous —
   * write what is buffered to disk with sync calls (fs.writeSync/closeSync), nothing that awaits. Must not throw.
   */
  onForcedExit?(): void;
}
