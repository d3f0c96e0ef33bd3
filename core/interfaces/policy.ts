import type * as tf from '@tensorflow/tfjs';
import type { Tokenizer } from './tokenizer.js';

/** Sampling settings for one generation call. */
export interface GenerateOptions {
  /** New tokens at most (the study samples it per batch from a LengthSampler). */
  maxNewTokens: number;
  /** EOS is suppressed until this many tokens were generated. Default 0. */
  minNewTokens?: number;
  /** Default 1. */
  temperature?: number;
  /** 0 = off (the study's training setting); 50 = Hugging Face's default, used by the study's evaluation. */
  topK?: number;
  /** 1 = off. */
  topP?: number;
  /** Argmax instead of sampling. */
  greedy?: boolean;
  /** Host-side random source for sampling, so a seeded run is reproducible. */
  rng: { next(): number };
}

/**
 * A causal language model with a value head (TRL's AutoModelForCausalLMWithValueHead)
 * and its frozen reference (the KL anchor). The `policy` slot.
 */
export interface Policy {
  readonly name: string;
  readonly tokenizer: Tokenizer;
  /** Longest sequence the model accepts (n_positions / max_position_embeddings). */
  readonly contextLength: number;
  readonly vocabSize: number;
  /**
   * inputIds `[B, T]` int32, attentionMask `[B, T]` int32 (1 = token, 0 = padding; position ids
   * come from the mask, so left padding works) → logits `[B, T, V]`, values `[B, T]`.
   * `which: 'reference'` runs the frozen reference weights (values are then those of the
   * policy's value head and should be ignored).
   */
  forward(inputIds: tf.Tensor2D, attentionMask: tf.Tensor2D, which?: 'policy' | 'reference'): { logits: tf.Tensor3D; values: tf.Tensor2D };
  /**
   * The lean loss head (optional): for inputIds / attentionMask `[B, L]`, the log-prob of each next token
   * (`inputIds[:, 1:]`), the entropy of each position's distribution and the values, all `[B, L-1]`, computed
   * without holding the `[B, L-1, V]` logits (in the forward or, under a gradient tape, the backward). The trainer
   * uses it instead of `forward` when it needs no full distributions (`ppo.klPenalty` other than 'full').
   */
  tokenStats?(
    inputIds: tf.Tensor2D,
    attentionMask: tf.Tensor2D,
    which?: 'policy' | 'reference',
  ): { logprobs: tf.Tensor2D; entropy: tf.Tensor2D; values: tf.Tensor2D };
  /** Left-pads and samples a batch; returns each row's response ids (prompt excluded, cut after the first EOS, EOS kept). */
  generate(prompts: number[][], opts: GenerateOptions): Promise<number[][]>;
  /** The variables the optimiser updates (frozen layers excluded). */
  trainableVariables(): tf.Variable[];
  /** Writes a Hugging Face folder (config.json, model.safetensors, tokenizer.json, value_head.safetensors). */
  save(dir: string): Promise<void>;
  /** Restores the policy's weights and value head from a folder written by `save` (resume); the reference is unchanged. */
  restore(dir: string): Promise<void>;
  dispose(): void;
}
