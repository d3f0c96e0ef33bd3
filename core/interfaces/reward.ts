/**
 * A text classifier that scores responses (the `reward.model` slot): per-class logits,
 * like a Hugging Face `*ForSequenceClassification` model.
 */
export interface RewardModel {
  readonly name: string;
  /** Class names in logit order, e.g. `["nothate", "hate"]` or `["neutral", "toxic"]`. */
  readonly labels: readonly string[];
  /** Index into `labels` of the non-toxic class (the class the study's reward reads). */
  readonly neutralIndex: number;
  /** Logits for each text: `[texts.length][labels.length]`. */
  classify(texts: string[]): Promise<number[][]>;
  /**
   * Set it to `true` when scoring is heavy tensor work worth a replica per worker thread (a TensorFlow.js model):
   * with `workers` > 1 each worker then builds its own instance from the same `reward.model` slot and scores its
   * share of each batch. Leave it unset for cheap host code (a word list) or anything that must run once: the main
   * thread then scores every text.
   */
  readonly scoresOnWorkers?: boolean;
  dispose?(): void;
}

/**
 * What was scored, one entry per sample of the batch (index i of every array is sample i): what a reward
 * transform's third argument and a hook's `onReward` receive, so rewards can depend on the text and its length.
 */
export interface RewardContext {
  /** The prompt each response continues, as the policy saw it (cut to its sampled length), decoded: `[B]`. */
  readonly prompts: readonly string[];
  /** The generated responses, decoded without special tokens (the text the classifier scored): `[B]`. */
  readonly responses: readonly string[];
  /** Tokens of each prompt under the policy's tokenizer: `[B]`. */
  readonly promptTokens: readonly number[];
  /** Tokens generated for each response, the EOS included when one was sampled: `[B]`. */
  readonly responseTokens: readonly number[];
  /** The classifier's logits: `[B][labels.length]`. */
  readonly logits: readonly (readonly number[])[];
  /** The reward model: its name, class labels and the index of the non-toxic class. */
  readonly rewardModel: { readonly name: string; readonly labels: readonly string[]; readonly neutralIndex: number };
  /** The PPO step being scored, counting from 1. */
  readonly step: number;
}

/**
 * Turns classifier logits into one scalar reward per text, higher = less toxic
 * (the `reward.transform` slot: raw-logit, softmax, log, or a user's own).
 */
export interface RewardTransform {
  readonly name: string;
  /**
   * logits: `[B][numLabels]` → rewards `[B]`. `neutralIndex` is the classifier's non-toxic class. `context` (the
   * prompt and response texts and token counts, see {@link RewardContext}) is given during training; transforms
   * written for `(logits, neutralIndex)` keep working unchanged.
   */
  transform(logits: number[][], neutralIndex: number, context?: RewardContext): number[];
}

/** Probability of the toxic class from logits (softmax, then 1 − P(neutral)); shared by eval and transforms. */
export function toxicProbability(logits: readonly number[], neutralIndex: number): number {
  const max = Math.max(...logits);
  let z = 0;
  for (const l of logits) z += Math.exp(l - max);
  return 1 - Math.exp(logits[neutralIndex]! - max) / z;
}
