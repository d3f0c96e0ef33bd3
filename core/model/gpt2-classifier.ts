/**
 * Causal-LM sequence classifiers in transformers' own format: `GPT2ForSequenceClassification` (and the same head on
 * the other causal families the engine loads: `GPTNeoForSequenceClassification`, `GPTJForSequenceClassification`,
 * `OPTForSequenceClassification`, `BloomForSequenceClassification`).
 *
 * Semantics, as transformers computes them (eval mode):
 * - body: the causal transformer ({@link CausalLM.hiddenStates}: embeddings → blocks → final norm), weights named as
 *   in the base model (`transformer.*`; OPT `model.decoder.*`). Position ids are `arange(T)` for GPT-2 / GPT-Neo /
 *   GPT-J (transformers' default when none are given) and come from the attention mask for OPT (as OPT does).
 * - head: `score`, a Linear `[num_labels, d]` WITHOUT bias, applied to the final hidden state of each row's last
 *   non-pad token: `last = argmax(arange(T) · (input_ids != pad_token_id))` (transformers ≥ 4.47; a row of pads
 *   reads position 0). Inputs must therefore be right-padded with `pad_token_id` from config.json — `classifyTexts`
 *   does this. The attention mask masks padded keys, as in transformers.
 * - labels from config.json's `id2label` (`{"0": "neutral", "1": "toxic"}` for detox-lab's own classifier).
 *
 * The body is a {@link CausalLM} (the one transformer implementation); its lm head and value head are not used
 * (an untied lm head absent from a classifier checkpoint is filled with zeros). The head is a tf.Variable in the
 * engine's `[d, num_labels]` layout, so the whole classifier can be trained (`train-classifier`).
 */
import * as tf from '@tensorflow/tfjs';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { CausalLM, type HostWeight } from './causal-lm.js';
import { hfStateDict, hfTensorsToEngine, transpose2d, CONFIG_FILE, MODEL_FILE, TOKENIZER_FILE } from './io/hf-io.js';
import { parseHfConfig, SUPPORTED_MODEL_TYPES, toHfConfig, type ModelType } from './arch/hf-config.js';
import { writeSafetensors, type HostTensor } from './io/safetensors.js';
import { SeededRandom } from './seeded-random.js';
import type { Tokenizer } from './io/tokenizer.js';
import { LM_HEAD, LM_HEAD_BIAS, modelWeightNames, VHEAD_BIAS, VHEAD_WEIGHT } from './arch/weight-names.js';
import type { CausalClassifierConfig, ClassifyTextsOptions, SequenceClassifier } from './sequence-classifier.js';
import { classifyInBatches } from './classify-batches.js';
import { replaceDir } from '../util/replace-dir.js';

/** The config type lives in sequence-classifier.ts (with the classifier contract roberta.ts shares). */

/** transformers' sequence-classification class of each causal family. */
const CAUSAL_CLASSIFIER_ARCHITECTURES: Record<ModelType, string> = {
  gpt2: 'GPT2ForSequenceClassification',
  gpt_neo: 'GPTNeoForSequenceClassification',
  gptj: 'GPTJForSequenceClassification',
  opt: 'OPTForSequenceClassification',
  bloom: 'BloomForSequenceClassification',
};

/** Name of the score head's weight in the checkpoint (`[num_labels, d]`, no bias). */
export const SCORE_WEIGHT = 'score.weight';

/** True when config.json describes a causal-LM sequence classifier this module loads. */
export function isCausalClassifierConfig(raw: Record<string, unknown>): boolean {
  const arch = Array.isArray(raw.architectures) ? raw.architectures[0] : undefined;
  return (
    (SUPPORTED_MODEL_TYPES as readonly unknown[]).includes(raw.model_type) &&
    typeof arch === 'string' &&
    arch.endsWith('ForSequenceClassification')
  );
}

/** Labels from `id2label` (keys 0..n-1 in any order), else `num_labels` × `LABEL_i`. Errors name the field. */
function parseId2Label(raw: Record<string, unknown>): string[] {
  const id2label = raw.id2label;
  if (id2label === undefined || id2label === null) {
    const n = raw.num_labels ?? 2;
    if (!Number.isInteger(n) || (n as number) < 1)
      throw new Error(`config.json: "num_labels" must be a positive integer, got ${JSON.stringify(n)}`);
    return Array.from({ length: n as number }, (_, i) => `LABEL_${i}`);
  }
  if (typeof id2label !== 'object') throw new Error('config.json: "id2label" must be an object like {"0": "neutral", "1": "toxic"}');
  const entries = Object.entries(id2label as Record<string, unknown>);
  const labels = new Array<string>(entries.length);
  for (const [k, v] of entries) {
    const i = Number(k);
    if (!Number.isInteger(i) || i < 0 || i >= entries.length || typeof v !== 'string' || labels[i] !== undefined) {
      throw new Error(`config.json: "id2label" must map 0..${entries.length - 1} to names, got ${JSON.stringify(id2label)}`);
    }
    labels[i] = v;
  }
  return labels;
}

/** Parses config.json of a causal-LM classifier; errors name the field. */
export function parseCausalClassifierConfig(raw: Record<string, unknown>): CausalClassifierConfig {
  const transformer = parseHfConfig(raw);
  const arch =
    Array.isArray(raw.architectures) && typeof raw.architectures[0] === 'string'
      ? raw.architectures[0]
      : CAUSAL_CLASSIFIER_ARCHITECTURES[transformer.modelType];
  const pad = raw.pad_token_id;
  if (!Number.isInteger(pad) || (pad as number) < 0 || (pad as number) >= transformer.vocabSize) {
    // transformers refuses batches > 1 without a pad token; detox-lab always batches.
    throw new Error(
      `config.json: "pad_token_id" must be a token id in [0, ${transformer.vocabSize}) (rows are right-padded with it ` +
        `and the head reads each row's last non-pad token), got ${JSON.stringify(pad)}`,
    );
  }
  return {
    modelType: transformer.modelType,
    architecture: arch,
    vocabSize: transformer.vocabSize,
    hiddenSize: transformer.dEmbed,
    numLayers: transformer.nLayers,
    numHeads: transformer.nHeads,
    maxPositionEmbeddings: transformer.nPositions,
    padTokenId: pad as number,
    labels: parseId2Label(raw),
    transformer,
  };
}

/** The classifier fields config.json holds for `labels` and `padTokenId`. */
function classifierConfigFields(labels: readonly string[], padTokenId: number, modelType: ModelType): Record<string, unknown> {
  return {
    architectures: [CAUSAL_CLASSIFIER_ARCHITECTURES[modelType]],
    id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
    pad_token_id: padTokenId,
    problem_type: 'single_label_classification',
  };
}

/** Index of each row's last non-pad token, as transformers: `argmax(arange(T) · (ids != pad))` → `[B]` int32. */
export function lastNonPadIndex(inputIds: tf.Tensor2D, padTokenId: number): tf.Tensor1D {
  return tf.tidy(() => {
    const T = inputIds.shape[1];
    const notPad = tf.cast(tf.notEqual(inputIds, tf.scalar(padTokenId, 'int32')), 'int32'); // [B, T]
    return tf.argMax(tf.mul(notPad, tf.range(0, T, 1, 'int32')), 1) as tf.Tensor1D; // [B]
  });
}

/** A GPT-2-style sequence classifier: a causal transformer body plus a bias-free score head. */
export class CausalSequenceClassifier implements SequenceClassifier {
  readonly labels: string[];
  /** The score head `[d, num_labels]` (engine layout; the checkpoint stores its transpose). */
  readonly score: tf.Variable;
  private disposed = false;

  constructor(
    readonly config: CausalClassifierConfig,
    readonly body: CausalLM,
    score: tf.Tensor2D,
    public tokenizer: Tokenizer | null,
    private readonly source = 'classifier',
    private readonly tokenizerProblem = 'none was given',
  ) {
    this.labels = [...config.labels];
    this.score = tf.variable(score, true, `${source.replace(/[^A-Za-z0-9_.\-/]/g, '_')}/score_${scoreCounter++}`);
  }

  /**
   * A classifier on `body` with a new score head `N(0, std²)` (transformers' `_init_weights`: initializer_range 0.02).
   * The classifier takes ownership of `body`.
   */
  static fromCausalLM(
    body: CausalLM,
    o: { labels: readonly string[]; padTokenId: number; seed?: number; std?: number; tokenizer?: Tokenizer | null },
  ): CausalSequenceClassifier {
    const t = body.config;
    const raw = { ...toHfConfig(t), ...classifierConfigFields(o.labels, o.padTokenId, t.modelType) };
    const config = parseCausalClassifierConfig(raw);
    const rng = new SeededRandom(o.seed ?? 0);
    const L = o.labels.length;
    const init = tf.tensor2d(rng.normalArray(t.dEmbed * L, o.std ?? 0.02), [t.dEmbed, L]); // [d, L]
    try {
      return new CausalSequenceClassifier({ ...config, transformer: { ...t, raw } }, body, init, o.tokenizer ?? null);
    } finally {
      init.dispose();
    }
  }

  /** Builds a classifier from checkpoint tensors (HF names and layout). Missing tensors are listed. */
  static fromHostTensors(
    config: CausalClassifierConfig,
    tensors: Map<string, HostTensor>,
    source: string,
    tokenizer: Tokenizer | null = null,
    tokenizerProblem = '',
  ): CausalSequenceClassifier {
    const t = config.transformer;
    const score = tensors.get(SCORE_WEIGHT);
    const L = config.labels.length;
    if (!score) throw new Error(`${source}: missing tensor ${SCORE_WEIGHT} (the classification head, [${L}, ${t.dEmbed}])`);
    if (!(score.data instanceof Float32Array))
      throw new Error(`${source}: tensor ${SCORE_WEIGHT} has integer dtype ${score.dtype}; expected a float tensor`);
    if (score.shape.length !== 2 || score.shape[0] !== L || score.shape[1] !== t.dEmbed) {
      throw new Error(
        `${source}: tensor ${SCORE_WEIGHT} has shape [${score.shape}], expected [${L}, ${t.dEmbed}] (num_labels from id2label, hidden size)`,
      );
    }
    // The classifier never uses an lm head; transformers' classification checkpoints do not carry an untied one.
    const filled = new Map(tensors);
    if (!t.tiedEmbeddings && !filled.has(LM_HEAD))
      filled.set(LM_HEAD, { dtype: 'F32', shape: [t.vocabSize, t.dEmbed], data: new Float32Array(t.vocabSize * t.dEmbed) });
    if (t.lmHeadBias && !filled.has(LM_HEAD_BIAS))
      filled.set(LM_HEAD_BIAS, { dtype: 'F32', shape: [t.vocabSize], data: new Float32Array(t.vocabSize) });
    const weights: Map<string, HostWeight> = hfTensorsToEngine(t, filled, source);
    const body = CausalLM.fromHostWeights(t, weights);
    const head = tf.tensor2d(transpose2d(score.data, L, t.dEmbed), [t.dEmbed, L]); // [d, L]
    try {
      return new CausalSequenceClassifier(config, body, head, tokenizer, source, tokenizerProblem);
    } catch (e) {
      body.dispose();
      throw e;
    } finally {
      head.dispose();
    }
  }

  /**
   * The variables training updates: every body weight the classifier uses (not the unused value head) and the head;
   * with `freezeEmbeddings`, not the token and position embeddings.
   */
  trainableVariables(opts: { freezeEmbeddings?: boolean } = {}): tf.Variable[] {
    this.assertAlive();
    const unused = new Set([VHEAD_WEIGHT, VHEAD_BIAS, LM_HEAD, LM_HEAD_BIAS]);
    if (opts.freezeEmbeddings) {
      const names = modelWeightNames(this.config.transformer);
      unused.add(names.wte);
      if (names.wpe) unused.add(names.wpe);
    }
    return [...[...this.body.namedWeights()].filter(([n]) => !unused.has(n)).map(([, v]) => v), this.score];
  }

  /**
   * Logits, differentiable (use inside tf.variableGrads for training; inside tf.tidy otherwise).
   * @param inputIds [B, T] int32, right-padded with pad_token_id
   * @param attentionMask [B, T] int32 (1 token, 0 padding)
   * @returns [B, num_labels]
   */
  logits(inputIds: tf.Tensor2D, attentionMask: tf.Tensor2D): tf.Tensor2D {
    this.assertAlive();
    return tf.tidy(() => {
      const [B, T] = inputIds.shape;
      const d = this.config.transformer.dEmbed;
      const positionIds =
        this.config.modelType === 'opt' || this.config.modelType === 'bloom'
          ? undefined
          : (tf.tile(tf.range(0, T, 1, 'int32').reshape([1, T]), [B, 1]) as tf.Tensor2D); // [B, T]
      const hidden = this.body.hiddenStates(inputIds, attentionMask, positionIds ? { positionIds } : {}); // [B, T, d]
      const last = lastNonPadIndex(inputIds, this.config.padTokenId); // [B]
      // Selecting rows by a one-hot product (not gather) keeps the backward pass to matMuls.
      const pick = tf.cast(tf.equal(tf.range(0, T, 1, 'int32').reshape([1, T]), last.reshape([B, 1])), 'float32'); // [B, T]
      const pooled = tf.matMul(pick.reshape([B, 1, T]), hidden).reshape([B, d]) as tf.Tensor2D; // [B, d]
      return tf.matMul(pooled, this.score as tf.Tensor2D); // [B, L]
    });
  }

  classify(inputIds: tf.Tensor2D | number[][], attentionMask: tf.Tensor2D | number[][]): tf.Tensor2D {
    this.assertAlive();
    if (Array.isArray(inputIds)) this.checkIds(inputIds);
    return tf.tidy(() => {
      const ids = Array.isArray(inputIds) ? tf.tensor2d(inputIds, undefined, 'int32') : (tf.cast(inputIds, 'int32') as tf.Tensor2D); // [B, T]
      const mask = Array.isArray(attentionMask)
        ? tf.tensor2d(attentionMask, undefined, 'int32')
        : (tf.cast(attentionMask, 'int32') as tf.Tensor2D); // [B, T]
      if (ids.rank !== 2 || mask.rank !== 2 || ids.shape[0] !== mask.shape[0] || ids.shape[1] !== mask.shape[1]) {
        throw new Error(`classify: inputIds [${ids.shape}] and attentionMask [${mask.shape}] must both be [B, T]`);
      }
      if (ids.shape[1] > this.config.maxPositionEmbeddings) {
        throw new Error(`classify: sequence length ${ids.shape[1]} exceeds the model's n_positions ${this.config.maxPositionEmbeddings}`);
      }
      return this.logits(ids, mask); // [B, L]
    });
  }

  /** Token ids of each text, right-padded with pad_token_id and truncated to `maxLength` (no special tokens added). */
  encode(texts: readonly string[], maxLength: number): { inputIds: number[][]; attentionMask: number[][] } {
    const tok = this.requireTokenizer();
    const rows = texts.map((t) => tok.encode(t, { addSpecialTokens: false }).slice(0, maxLength));
    return padRight(rows, this.config.padTokenId);
  }

  async classifyTexts(texts: readonly string[], opts: ClassifyTextsOptions = {}): Promise<number[][]> {
    const tok = this.requireTokenizer();
    const limit = Math.min(this.config.maxPositionEmbeddings, tok.modelMaxLength ?? Infinity);
    const maxLength = opts.maxLength ?? limit;
    const batchSize = opts.batchSize ?? 16;
    if (!Number.isInteger(maxLength) || maxLength < 1 || maxLength > this.config.maxPositionEmbeddings) {
      throw new Error(`classifyTexts: maxLength must be an integer in [1, ${this.config.maxPositionEmbeddings}], got ${maxLength}`);
    }
    return classifyInBatches(
      texts,
      batchSize,
      (chunk) => this.encode(chunk, maxLength),
      (ids, mask) => this.classify(ids, mask),
    );
  }

  /** config.json of this classifier (the body's fields plus id2label, label2id, pad_token_id, architectures). */
  hfConfig(): Record<string, unknown> {
    const t = this.config.transformer;
    return { ...toHfConfig(t), ...classifierConfigFields(this.labels, this.config.padTokenId, t.modelType) };
  }

  /** The weights in transformers' names and layout: the body (`transformer.*`) and `score.weight` `[L, d]`. */
  async stateDict(): Promise<Map<string, HostTensor>> {
    this.assertAlive();
    const { base } = await hfStateDict(this.body);
    base.delete(LM_HEAD);
    base.delete(LM_HEAD_BIAS);
    const [d, L] = this.score.shape as [number, number];
    base.set(SCORE_WEIGHT, { dtype: 'F32', shape: [L, d], data: transpose2d((await this.score.data()) as Float32Array, d, L) });
    return base;
  }

  /**
   * Writes the Hugging Face folder atomically (staging folder, then replace): config.json, model.safetensors and any
   * `extraFiles` (name → text), e.g. tokenizer.json, tokenizer_config.json, train.json.
   */
  async save(dir: string, extraFiles: Record<string, string> = {}): Promise<void> {
    const target = path.resolve(dir);
    const staging = `${target}.staging-${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e9)}`;
    await fsp.mkdir(path.dirname(target), { recursive: true });
    await fsp.mkdir(staging);
    try {
      await fsp.writeFile(path.join(staging, CONFIG_FILE), JSON.stringify(this.hfConfig(), null, 2) + '\n');
      await writeSafetensors(path.join(staging, MODEL_FILE), await this.stateDict(), { format: 'pt' });
      if (this.tokenizer && !(TOKENIZER_FILE in extraFiles))
        await fsp.writeFile(path.join(staging, TOKENIZER_FILE), JSON.stringify(this.tokenizer.toJSON()));
      for (const [name, text] of Object.entries(extraFiles)) await fsp.writeFile(path.join(staging, name), text);
    } catch (e) {
      await fsp.rm(staging, { recursive: true, force: true });
      throw e;
    }
    await replaceDir(staging, target);
  }

  /** Host copies of every trainable weight (for keeping the best weights during training). */
  async snapshot(): Promise<Float32Array[]> {
    return Promise.all(this.trainableVariables().map(async (v) => Float32Array.from((await v.data()) as Float32Array)));
  }

  /** Restores weights taken by {@link snapshot}. */
  restore(snap: readonly Float32Array[]): void {
    const vars = this.trainableVariables();
    if (snap.length !== vars.length) throw new Error(`restore: snapshot has ${snap.length} tensors, the classifier ${vars.length}`);
    vars.forEach((v, i) => tf.tidy(() => v.assign(tf.tensor(snap[i]!, v.shape, 'float32'))));
  }

  dispose(): void {
    if (this.disposed) return;
    this.body.dispose();
    this.score.dispose();
    this.disposed = true;
  }

  private requireTokenizer(): Tokenizer {
    if (!this.tokenizer) throw new Error(`classifier ${this.source}: classifyTexts needs a tokenizer, but ${this.tokenizerProblem}`);
    return this.tokenizer;
  }

  private checkIds(ids: number[][]): void {
    const V = this.config.vocabSize;
    for (let b = 0; b < ids.length; b++) {
      for (let t = 0; t < ids[b]!.length; t++) {
        const id = ids[b]![t];
        if (!Number.isInteger(id) || id! < 0 || id! >= V) {
          throw new Error(`classify: inputIds[${b}][${t}] = ${id} is not a token id (allowed: integers in [0, ${V}))`);
        }
      }
    }
  }

  private assertAlive(): void {
    if (this.disposed) throw new Error(`classifier ${this.source}: used after dispose()`);
  }
}

let scoreCounter = 0;

/** Right-pads rows to the longest with `pad` (mask 0 there). */
function padRight(rows: readonly number[][], pad: number): { inputIds: number[][]; attentionMask: number[][] } {
  const width = Math.max(1, ...rows.map((r) => r.length));
  return {
    inputIds: rows.map((r) => [...r, ...new Array<number>(width - r.length).fill(pad)]),
    attentionMask: rows.map((r) => [...new Array<number>(r.length).fill(1), ...new Array<number>(width - r.length).fill(0)]),
  };
}
