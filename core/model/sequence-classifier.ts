/**
 * The sequence-classifier contract shared by both implementations: the {@link SequenceClassifier} interface, its
 * options, and the config types of RoBERTa (roberta.ts) and of the causal-LM classifiers (gpt2-classifier.ts). Types
 * only, so gpt2-classifier.ts names them without importing roberta.ts (whose loader dispatches to it).
 */
import type * as tf from '@tensorflow/tfjs';
import type { ModelType, TransformerConfig } from './arch/hf-config.js';
import type { Tokenizer } from './io/tokenizer.js';

/** Architecture of a RoBERTa classifier, from config.json (HF RobertaConfig defaults fill missing fields). */
export interface RobertaConfig {
  modelType: 'roberta';
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  maxPositionEmbeddings: number;
  typeVocabSize: number;
  layerNormEps: number;
  /** Pad token id, also RoBERTa's `padding_idx` for position ids. */
  padTokenId: number;
  /** Class names in logit order (from `id2label`). */
  labels: string[];
}

/** Configuration of a causal-LM classifier (the fields inspect and the reward plugin read, plus the body's). */
export interface CausalClassifierConfig {
  modelType: ModelType;
  /** config.json `architectures[0]`, e.g. `GPT2ForSequenceClassification`. */
  architecture: string;
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  /** Longest input (n_positions). */
  maxPositionEmbeddings: number;
  /** Rows are right-padded with this id; the head reads each row's last token that is not it. */
  padTokenId: number;
  /** Class names in logit order (from `id2label`). */
  labels: string[];
  /** The body's configuration (its `raw` holds the classifier fields: id2label, label2id, pad_token_id). */
  transformer: TransformerConfig;
}

/** Options of {@link SequenceClassifier.classifyTexts}. */
export interface ClassifyTextsOptions {
  /** Token limit per text incl. `<s>`/`</s>`; longer texts are truncated. Default: the model's limit (514 − 2). */
  maxLength?: number;
  /** Texts per forward pass. Default 16. */
  batchSize?: number;
}

/** Configuration of any loaded classifier (`modelType` tells which). */
export type SequenceClassifierConfig = RobertaConfig | CausalClassifierConfig;

/** A loaded sequence classifier (RoBERTa, or a causal LM with a score head: gpt2-classifier.ts). */
export interface SequenceClassifier {
  /** Class names in logit order (config.json `id2label`), e.g. `["nothate", "hate"]`. */
  readonly labels: string[];
  readonly config: SequenceClassifierConfig;
  /** The folder's tokenizer, or null when it has none (then only {@link classify} works). */
  readonly tokenizer: Tokenizer | null;
  /**
   * Logits `[B, num_labels]` for right-padded `inputIds` `[B, T]` and `attentionMask` `[B, T]`. The caller owns
   * (and disposes) the result; inputs given as tensors are not disposed. Ids given as arrays are range-checked.
   */
  classify(inputIds: tf.Tensor2D | number[][], attentionMask: tf.Tensor2D | number[][]): tf.Tensor2D;
  /** Tokenize (right padding, truncation), classify in batches, and return the logits `[texts.length][num_labels]`. */
  classifyTexts(texts: readonly string[], opts?: ClassifyTextsOptions): Promise<number[][]>;
  /** Free the weights. */
  dispose(): void;
}
