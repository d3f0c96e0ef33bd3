/** `detox-lab train-classifier`'s defaults (no TensorFlow.js import, so the CLI's help stays fast). */
/**
 * Sized for the project's 1.3 M-parameter models/tiny-gpt2 on 2 wasm cores: texts truncated at 64 tokens (99% of the
 * Davidson tweets and every ToxiGen statement fit), batches of 32, AdamW at a peak learning rate of 1e-3 with 100
 * warm-up steps and cosine decay, at most 4 epochs with an evaluation every 250 steps and early stopping after 4
 * evaluations without a better mean validation AUC. ToxiGen (~600 training statements beside ~22 000 tweets) is
 * repeated to make up 20% of each epoch, and within each source both classes weigh the same in the loss.
 */
export const CLASSIFIER_DEFAULTS = {
  base: 'models/tiny-gpt2',
  labels: '../shared/data/toxicity-labels',
  validation: 0.1,
  epochs: 3,
  batchSize: 32,
  maxLength: 64,
  learningRate: 1e-3,
  warmupSteps: 100,
  weightDecay: 0.01,
  betas: [0.9, 0.999] as [number, number],
  maxGradNorm: 1.0 as number | null,
  weighting: 'class' as 'class' | 'none',
  minSourceShare: 0.2,
  freezeEmbeddings: false,
  evalEvery: 100,
  patience: 6,
  seed: 0,
};
