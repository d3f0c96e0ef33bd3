import type { GenerateOptions, Policy } from '../interfaces/policy.js';
import type { RewardModel } from '../interfaces/reward.js';

/**
 * Where the trainer's sampling and scoring run, chosen once per run: core/parallel's ParallelCompute (split between
 * worker threads) or {@link mainThread} (this thread alone), so the loop never asks which. The PPO forward/backward
 * takes its own compute (PpoStepper's).
 */
export interface TrainerCompute {
  /** Sampled responses to `prompts` (token ids). */
  generate(prompts: number[][], opts: GenerateOptions): Promise<number[][]>;
  /** `classifier`'s logits for `texts`. */
  classify(texts: string[], classifier: RewardModel): Promise<number[][]>;
  /** `classifier` scoring through {@link classify} (what the evaluations score with). */
  splitClassifier(classifier: RewardModel): RewardModel;
  /** The policy's weights changed outside an optimiser step (restored from a checkpoint). */
  weightsChanged(): void;
  /** The worker failure that sent the work back to the main thread, or null. */
  readonly failure: Error | null;
}

/** {@link TrainerCompute} on this thread: the policy samples, the classifier scores, nothing can fail over. */
export function mainThread(policy: Policy): TrainerCompute {
  return {
    generate: (prompts, opts) => policy.generate(prompts, opts),
    classify: (texts, classifier) => classifier.classify(texts),
    splitClassifier: (classifier) => classifier,
    weightsChanged: () => {},
    failure: null,
  };
}
