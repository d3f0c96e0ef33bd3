/**
 * Injection tokens: one per config slot. Always inject with an explicit token
 * (`@inject(TOKENS.Policy)`): the build runs `tsc`, but explicit tokens keep the
 * container independent of decorator metadata.
 */
export const TOKENS = {
  /** The resolved, validated experiment config (`ResolvedConfig`). */
  Config: Symbol.for('detox-lab.Config'),
  /** The plugin registry the run's plugins were built from (`PluginRegistry`; worker threads rebuild it). */
  Registry: Symbol.for('detox-lab.Registry'),
  /** Where the run writes (`RunContext`). */
  Run: Symbol.for('detox-lab.Run'),
  Policy: Symbol.for('detox-lab.Policy'),
  RewardModel: Symbol.for('detox-lab.RewardModel'),
  /** Multi-bound: the cross-check classifiers of the evaluation (`eval.classifiers`), in config order. */
  EvalClassifier: Symbol.for('detox-lab.EvalClassifier'),
  RewardTransform: Symbol.for('detox-lab.RewardTransform'),
  Dataset: Symbol.for('detox-lab.Dataset'),
  Optimiser: Symbol.for('detox-lab.Optimiser'),
  /** Multi-bound: every configured memory strategy, in config order. */
  MemoryStrategy: Symbol.for('detox-lab.MemoryStrategy'),
  /** Multi-bound: every configured hook, in config order. */
  Hook: Symbol.for('detox-lab.Hook'),
  Trainer: Symbol.for('detox-lab.Trainer'),
} as const;
