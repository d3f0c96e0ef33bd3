/**
 * RoBERTa sequence classifier (Hugging Face `RobertaForSequenceClassification`) on TensorFlow.js, inference only.
 *
 * This is the reward model of the detoxification study (facebook/roberta-hate-speech-dynabench-r4-target). The
 * forward pass follows transformers' modeling_roberta (eager attention, eval mode — dropout off):
 *
 * - embeddings: `LayerNorm(word[ids] + position[pos] + token_type[0])`, with RoBERTa's position ids
 *   `pos = cumsum(ids != pad) * (ids != pad) + pad` — they start at `pad + 1` (= 2) and pad tokens get `pad`.
 *   As in HF they are computed from the input ids, not from the attention mask.
 * - encoder layers, post-LN: `x = LN(x + Wo·attn(x))`, `x = LN(x + W2·gelu(W1·x))`, attention with biases,
 *   scores scaled by `1/sqrt(d_head)` plus `(1 - mask) · float32.min` on padded keys, GELU the exact erf form.
 * - classification head on position 0 (the `<s>` token of right-padded input): `out_proj(tanh(dense(x[:, 0])))`.
 *   Like HF, the head reads position 0 whatever it holds, so inputs must be right-padded (classifyTexts does this).
 *
 * Weights come from `model.safetensors` (or a sharded index) via core/model/io/safetensors.ts; the unused pooler and
 * the `position_ids` buffer some checkpoints carry are ignored. Linear weights are stored transposed to `[in, out]`.
 */
import * as tf from '@tensorflow/tfjs';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { initBackend, type BackendName } from './wasm/backend.js';
import { readSafetensorsFolder, type HostTensor } from './io/safetensors.js';
import { loadTokenizer, type Tokenizer } from './io/tokenizer.js';
import { SUPPORTED_MODEL_TYPES } from './arch/hf-config.js';
import { CausalSequenceClassifier, isCausalClassifierConfig, parseCausalClassifierConfig } from './gpt2-classifier.js';
import type { ClassifyTextsOptions, RobertaConfig, SequenceClassifier } from './sequence-classifier.js';
import { classifyInBatches } from './classify-batches.js';

/** The classifier contract and config types live in sequence-classifier.ts (gpt2-classifier.ts names them too). */
export type { ClassifyTextsOptions, SequenceClassifier } from './sequence-classifier.js';

/** Model types this module implements (RoBERTa here; causal-LM classifiers in gpt2-classifier.ts). */
const SUPPORTED_CLASSIFIER_MODEL_TYPES = ['roberta'] as const;

/**
 * Every classifier `loadSequenceClassifier` loads: `model_type` roberta, or a causal family with
 * `architectures: ["<Family>ForSequenceClassification"]`.
 */
const SUPPORTED_CLASSIFIERS =
  'roberta (RobertaForSequenceClassification); gpt2, gpt_neo, gptj, opt, bloom with architectures ' +
  '["GPT2ForSequenceClassification"] (or the family\'s own ForSequenceClassification class)';

function field(raw: Record<string, unknown>, key: string, fallback: number, integer = true): number {
  const v = raw[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || (integer && (!Number.isInteger(v) || v < 0))) {
    throw new Error(`config.json: "${key}" must be a ${integer ? 'non-negative integer' : 'number'}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * Parse a Hugging Face config.json object of a RoBERTa sequence classifier.
 * Errors name the offending field; `model_type` must be one of {@link SUPPORTED_CLASSIFIER_MODEL_TYPES}.
 */
export function parseRobertaConfig(raw: Record<string, unknown>): RobertaConfig {
  const modelType = raw.model_type;
  if (!(SUPPORTED_CLASSIFIER_MODEL_TYPES as readonly unknown[]).includes(modelType)) {
    throw new Error(
      `config.json: model_type ${JSON.stringify(modelType)} is not supported; supported: ${SUPPORTED_CLASSIFIER_MODEL_TYPES.join(', ')}` +
        ` (classifiers: ${SUPPORTED_CLASSIFIERS})`,
    );
  }
  const act = raw.hidden_act ?? 'gelu';
  if (act !== 'gelu') throw new Error(`config.json: "hidden_act" ${JSON.stringify(act)} is not supported; supported: gelu`);
  const posType = raw.position_embedding_type ?? 'absolute';
  if (posType !== 'absolute') {
    throw new Error(`config.json: "position_embedding_type" ${JSON.stringify(posType)} is not supported; supported: absolute`);
  }
  const hiddenSize = field(raw, 'hidden_size', 768);
  const numHeads = field(raw, 'num_attention_heads', 12);
  if (numHeads === 0 || hiddenSize % numHeads !== 0) {
    throw new Error(`config.json: "hidden_size" ${hiddenSize} is not a multiple of "num_attention_heads" ${numHeads}`);
  }
  let labels: string[];
  const id2label = raw.id2label;
  if (id2label === undefined || id2label === null) {
    const n = field(raw, 'num_labels', 2);
    labels = Array.from({ length: n }, (_, i) => `LABEL_${i}`);
  } else {
    if (typeof id2label !== 'object') throw new Error(`config.json: "id2label" must be an object like {"0": "nothate"}`);
    const entries = Object.entries(id2label as Record<string, unknown>);
    labels = new Array<string>(entries.length);
    for (const [k, v] of entries) {
      const i = Number(k);
      if (!Number.isInteger(i) || i < 0 || i >= entries.length || typeof v !== 'string' || labels[i] !== undefined) {
        throw new Error(`config.json: "id2label" must map 0..${entries.length - 1} to names, got ${JSON.stringify(id2label)}`);
      }
      labels[i] = v;
    }
  }
  return {
    modelType: 'roberta',
    vocabSize: field(raw, 'vocab_size', 50265),
    hiddenSize,
    numLayers: field(raw, 'num_hidden_layers', 12),
    numHeads,
    intermediateSize: field(raw, 'intermediate_size', 3072),
    maxPositionEmbeddings: field(raw, 'max_position_embeddings', 512),
    typeVocabSize: field(raw, 'type_vocab_size', 2),
    layerNormEps: field(raw, 'layer_norm_eps', 1e-12, false),
    padTokenId: field(raw, 'pad_token_id', 1),
    labels,
  };
}

/** Weights of one encoder layer (linear weights as `[in, out]`). */
interface RobertaLayerWeights {
  /** Query, key and value projections side by side: `[H, 3H]`, bias `[3H]`. */
  wQkv: tf.Tensor2D;
  bQkv: tf.Tensor1D;
  wAttnOut: tf.Tensor2D;
  bAttnOut: tf.Tensor1D;
  ln1Gamma: tf.Tensor1D;
  ln1Beta: tf.Tensor1D;
  wIn: tf.Tensor2D;
  bIn: tf.Tensor1D;
  wOut: tf.Tensor2D;
  bOut: tf.Tensor1D;
  ln2Gamma: tf.Tensor1D;
  ln2Beta: tf.Tensor1D;
}

/** All weights the classifier uses. */
interface RobertaWeights {
  wordEmbeddings: tf.Tensor2D;
  positionEmbeddings: tf.Tensor2D;
  /** Row 0 of the token-type table (RoBERTa always uses type 0): `[H]`. */
  tokenType0: tf.Tensor1D;
  embLnGamma: tf.Tensor1D;
  embLnBeta: tf.Tensor1D;
  layers: RobertaLayerWeights[];
  wHeadDense: tf.Tensor2D;
  bHeadDense: tf.Tensor1D;
  wHeadOut: tf.Tensor2D;
  bHeadOut: tf.Tensor1D;
}

/** Every tensor in a {@link RobertaWeights}. */
function allTensors(w: RobertaWeights): tf.Tensor[] {
  const out: tf.Tensor[] = [w.wordEmbeddings, w.positionEmbeddings, w.tokenType0, w.embLnGamma, w.embLnBeta];
  for (const l of w.layers) out.push(...Object.values(l));
  out.push(w.wHeadDense, w.bHeadDense, w.wHeadOut, w.bHeadOut);
  return out;
}

/**
 * Build device tensors from host tensors named as in a Hugging Face checkpoint (`roberta.embeddings...`,
 * `roberta.encoder.layer.N...`, `classifier.dense`, `classifier.out_proj`; names without the `roberta.` prefix and
 * LayerNorm `gamma`/`beta` are accepted too). Missing tensors and wrong shapes are reported by name.
 */
function robertaWeightsFromHost(tensors: Map<string, HostTensor>, config: RobertaConfig, source = 'checkpoint'): RobertaWeights {
  const { hiddenSize: H, intermediateSize: I, vocabSize: V } = config;
  const L = config.labels.length;
  const missing: string[] = [];
  const created: tf.Tensor[] = [];
  const find = (name: string): HostTensor | undefined => {
    const bases = name.startsWith('roberta.') ? [name, name.slice('roberta.'.length)] : [name];
    const legacy = (n: string): string => n.replace(/\.weight$/, '.gamma').replace(/\.bias$/, '.beta');
    const names = /LayerNorm\.(weight|bias)$/.test(name) ? [...bases, ...bases.map(legacy)] : bases;
    for (const n of names) {
      const t = tensors.get(n);
      if (t) return t;
    }
    return undefined;
  };
  const get = (name: string, shape: number[]): tf.Tensor | null => {
    const t = find(name);
    if (!t) {
      missing.push(name);
      return null;
    }
    if (!(t.data instanceof Float32Array))
      throw new Error(`${source}: tensor ${name} has integer dtype ${t.dtype}; expected a float tensor`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`${source}: tensor ${name} has shape [${t.shape}], expected [${shape}]`);
    }
    const out = tf.tensor(t.data, shape, 'float32');
    created.push(out);
    return out;
  };
  /** PyTorch Linear weight `[out, in]` → `[in, out]`. */
  const linear = (prefix: string, nIn: number, nOut: number): [tf.Tensor2D | null, tf.Tensor1D | null] => {
    const w = get(`${prefix}.weight`, [nOut, nIn]);
    const b = get(`${prefix}.bias`, [nOut]) as tf.Tensor1D | null;
    if (!w) return [null, b];
    const wt = tf.transpose(w) as tf.Tensor2D; // [in, out]
    created.push(wt);
    return [wt, b];
  };
  try {
    const word = get('roberta.embeddings.word_embeddings.weight', [V, H]) as tf.Tensor2D;
    const position = get('roberta.embeddings.position_embeddings.weight', [config.maxPositionEmbeddings, H]) as tf.Tensor2D;
    const tokenType = get('roberta.embeddings.token_type_embeddings.weight', [config.typeVocabSize, H]);
    const embLnGamma = get('roberta.embeddings.LayerNorm.weight', [H]) as tf.Tensor1D;
    const embLnBeta = get('roberta.embeddings.LayerNorm.bias', [H]) as tf.Tensor1D;
    const layers: RobertaLayerWeights[] = [];
    for (let i = 0; i < config.numLayers; i++) {
      const p = `roberta.encoder.layer.${i}`;
      const [wq, bq] = linear(`${p}.attention.self.query`, H, H);
      const [wk, bk] = linear(`${p}.attention.self.key`, H, H);
      const [wv, bv] = linear(`${p}.attention.self.value`, H, H);
      const [wAttnOut, bAttnOut] = linear(`${p}.attention.output.dense`, H, H);
      const ln1Gamma = get(`${p}.attention.output.LayerNorm.weight`, [H]);
      const ln1Beta = get(`${p}.attention.output.LayerNorm.bias`, [H]);
      const [wIn, bIn] = linear(`${p}.intermediate.dense`, H, I);
      const [wOut, bOut] = linear(`${p}.output.dense`, I, H);
      const ln2Gamma = get(`${p}.output.LayerNorm.weight`, [H]);
      const ln2Beta = get(`${p}.output.LayerNorm.bias`, [H]);
      if (wq && wk && wv && bq && bk && bv) {
        const wQkv = tf.concat([wq, wk, wv], 1) as tf.Tensor2D; // [H, 3H]
        const bQkv = tf.concat([bq, bk, bv], 0) as tf.Tensor1D; // [3H]
        created.push(wQkv, bQkv);
        layers.push({
          wQkv,
          bQkv,
          wAttnOut: wAttnOut!,
          bAttnOut: bAttnOut!,
          ln1Gamma: ln1Gamma as tf.Tensor1D,
          ln1Beta: ln1Beta as tf.Tensor1D,
          wIn: wIn!,
          bIn: bIn!,
          wOut: wOut!,
          bOut: bOut!,
          ln2Gamma: ln2Gamma as tf.Tensor1D,
          ln2Beta: ln2Beta as tf.Tensor1D,
        });
      }
    }
    const [wHeadDense, bHeadDense] = linear('classifier.dense', H, H);
    const [wHeadOut, bHeadOut] = linear('classifier.out_proj', H, L);
    if (missing.length > 0) {
      const more = missing.length > 12 ? ` … (${missing.length} in all)` : '';
      throw new Error(`${source}: missing tensors ${missing.slice(0, 12).join(', ')}${more}`);
    }
    const tokenType0 = tf.tidy(() => tf.reshape(tf.slice(tokenType!, [0, 0], [1, H]), [H])) as tf.Tensor1D; // [H]
    created.push(tokenType0);
    const weights: RobertaWeights = {
      wordEmbeddings: word,
      positionEmbeddings: position,
      tokenType0,
      embLnGamma,
      embLnBeta,
      layers,
      wHeadDense: wHeadDense!,
      bHeadDense: bHeadDense!,
      wHeadOut: wHeadOut!,
      bHeadOut: bHeadOut!,
    };
    const keep = new Set<tf.Tensor>(allTensors(weights));
    for (const t of created) if (!keep.has(t)) t.dispose();
    return weights;
  } catch (err) {
    for (const t of created) t.dispose();
    throw err;
  }
}

/** `LayerNorm` over the last axis of `x` `[N, H]` (biased variance, as torch). */
function layerNorm(x: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): tf.Tensor2D {
  const mean = tf.mean(x, -1, true); // [N, 1]
  const centered = tf.sub(x, mean); // [N, H]
  const variance = tf.mean(tf.square(centered), -1, true); // [N, 1]
  const normed = tf.mul(centered, tf.rsqrt(tf.add(variance, eps))); // [N, H]
  return tf.add(tf.mul(normed, gamma), beta) as tf.Tensor2D; // [N, H]
}

/** Exact GELU `0.5 · x · (1 + erf(x / √2))` (HF "gelu"). */
function geluErf(x: tf.Tensor2D): tf.Tensor2D {
  const cdf = tf.mul(0.5, tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))); // [N, I]
  return tf.mul(x, cdf) as tf.Tensor2D; // [N, I]
}

/** `x · W + b` for `x` `[N, in]`, `W` `[in, out]`. */
function dense(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D {
  return tf.fused.matMul({ a: x, b: w, bias: b }) as tf.Tensor2D; // [N, out]
}

/** float32's most negative finite value: HF's additive mask value for padded keys. */
const FLOAT32_MIN = -3.4028234663852886e38;

/**
 * The classifier forward pass: logits `[B, num_labels]` for `inputIds` `[B, T]` (int32) and `attentionMask` `[B, T]`
 * (1 = token, 0 = padding). Synchronous; call it inside `tf.tidy` to free the intermediates.
 */
function robertaClassifierLogits(
  weights: RobertaWeights,
  config: RobertaConfig,
  inputIds: tf.Tensor2D,
  attentionMask: tf.Tensor2D,
): tf.Tensor2D {
  const [B, T] = inputIds.shape;
  const H = config.hiddenSize;
  const nH = config.numHeads;
  const d = H / nH;
  const pad = config.padTokenId;
  const ids = tf.cast(inputIds, 'int32'); // [B, T]
  const notPad = tf.cast(tf.notEqual(ids, pad), 'float32'); // [B, T]
  const positions = tf.cast(tf.add(tf.mul(tf.cumsum(notPad, 1), notPad), pad), 'int32'); // [B, T]
  const words = tf.gather(weights.wordEmbeddings, tf.reshape(ids, [B * T])); // [B*T, H]
  const places = tf.gather(weights.positionEmbeddings, tf.reshape(positions, [B * T])); // [B*T, H]
  const embedded = tf.add(tf.add(words, places), weights.tokenType0) as tf.Tensor2D; // [B*T, H]
  let x = layerNorm(embedded, weights.embLnGamma, weights.embLnBeta, config.layerNormEps); // [B*T, H]
  const masked = tf.sub(1, tf.cast(attentionMask, 'float32')); // [B, T]
  const keyMask = tf.reshape(tf.mul(masked, FLOAT32_MIN), [B, 1, 1, T]); // [B, 1, 1, T]
  const scale = 1 / Math.sqrt(d);
  const toHeads = (t: tf.Tensor): tf.Tensor4D => tf.transpose(tf.reshape(t, [B, T, nH, d]), [0, 2, 1, 3]); // [B, nH, T, d]
  for (const layer of weights.layers) {
    // One tidy per layer keeps at most one layer's intermediates alive (the outer scope frees the returned x).
    const input = x;
    x = tf.tidy(() => {
      const qkv = dense(input, layer.wQkv, layer.bQkv); // [B*T, 3H]
      const [q, k, v] = tf.split(qkv, 3, 1); // 3 × [B*T, H]
      const scores = tf.add(tf.mul(tf.matMul(toHeads(q), toHeads(k), false, true), scale), keyMask); // [B, nH, T, T]
      const context = tf.matMul(tf.softmax(scores), toHeads(v)); // [B, nH, T, d]
      const merged = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [B * T, H]) as tf.Tensor2D; // [B*T, H]
      const attnOut = dense(merged, layer.wAttnOut, layer.bAttnOut); // [B*T, H]
      const mid = layerNorm(tf.add(attnOut, input), layer.ln1Gamma, layer.ln1Beta, config.layerNormEps); // [B*T, H]
      const hidden = geluErf(dense(mid, layer.wIn, layer.bIn)); // [B*T, I]
      const out = dense(hidden, layer.wOut, layer.bOut); // [B*T, H]
      return layerNorm(tf.add(out, mid), layer.ln2Gamma, layer.ln2Beta, config.layerNormEps); // [B*T, H]
    });
  }
  const first = tf.reshape(tf.slice(tf.reshape(x, [B, T, H]), [0, 0, 0], [B, 1, H]), [B, H]) as tf.Tensor2D; // [B, H]
  const pooled = tf.tanh(dense(first, weights.wHeadDense, weights.bHeadDense)) as tf.Tensor2D; // [B, H]
  return dense(pooled, weights.wHeadOut, weights.bHeadOut); // [B, L]
}

/** Options of {@link loadSequenceClassifier}. */
export interface LoadSequenceClassifierOptions {
  /** Initialise this TensorFlow.js backend first; default: use the active backend. */
  backend?: BackendName;
  /** Use this tokenizer instead of the folder's tokenizer files. */
  tokenizer?: Tokenizer;
}

class RobertaSequenceClassifier implements SequenceClassifier {
  readonly labels: string[];
  private weights: RobertaWeights | null;

  constructor(
    readonly config: RobertaConfig,
    weights: RobertaWeights,
    readonly tokenizer: Tokenizer | null,
    private readonly source: string,
    private readonly tokenizerProblem: string,
  ) {
    this.labels = [...config.labels];
    this.weights = weights;
  }

  /** Longest sequence the position table allows: positions run up to `T + pad`. */
  get maxSequenceLength(): number {
    return this.config.maxPositionEmbeddings - this.config.padTokenId - 1;
  }

  classify(inputIds: tf.Tensor2D | number[][], attentionMask: tf.Tensor2D | number[][]): tf.Tensor2D {
    const weights = this.weights;
    if (!weights) throw new Error(`classifier ${this.source}: classify() called after dispose()`);
    if (Array.isArray(inputIds)) this.checkIds(inputIds);
    return tf.tidy(() => {
      const ids = Array.isArray(inputIds) ? tf.tensor2d(inputIds, undefined, 'int32') : inputIds; // [B, T]
      const mask = Array.isArray(attentionMask) ? tf.tensor2d(attentionMask, undefined, 'int32') : attentionMask; // [B, T]
      if (ids.rank !== 2 || mask.rank !== 2 || ids.shape[0] !== mask.shape[0] || ids.shape[1] !== mask.shape[1]) {
        throw new Error(`classify: inputIds [${ids.shape}] and attentionMask [${mask.shape}] must both be [B, T]`);
      }
      if (ids.shape[1] > this.maxSequenceLength) {
        throw new Error(
          `classify: sequence length ${ids.shape[1]} exceeds the model's ${this.maxSequenceLength} ` +
            `(max_position_embeddings ${this.config.maxPositionEmbeddings} − pad_token_id ${this.config.padTokenId} − 1)`,
        );
      }
      return robertaClassifierLogits(weights, this.config, ids, mask); // [B, L]
    });
  }

  async classifyTexts(texts: readonly string[], opts: ClassifyTextsOptions = {}): Promise<number[][]> {
    const tok = this.tokenizer;
    if (!tok) throw new Error(`classifier ${this.source}: classifyTexts needs a tokenizer, but ${this.tokenizerProblem}`);
    const modelLimit = Math.min(this.maxSequenceLength, tok.modelMaxLength ?? Infinity);
    const maxLength = opts.maxLength ?? modelLimit;
    const batchSize = opts.batchSize ?? 16;
    if (!Number.isInteger(maxLength) || maxLength < 3 || maxLength > this.maxSequenceLength) {
      throw new Error(`classifyTexts: maxLength must be an integer in [3, ${this.maxSequenceLength}], got ${maxLength}`);
    }
    return classifyInBatches(
      texts,
      batchSize,
      (chunk) => tok.encodeBatch(chunk, { padding: 'right', maxLength, truncation: true }),
      (ids, mask) => this.classify(ids, mask),
    );
  }

  dispose(): void {
    if (this.weights) for (const t of allTensors(this.weights)) t.dispose();
    this.weights = null;
  }

  private checkIds(ids: number[][]): void {
    const V = this.config.vocabSize;
    for (let b = 0; b < ids.length; b++) {
      for (let t = 0; t < ids[b].length; t++) {
        const id = ids[b][t];
        if (!Number.isInteger(id) || id < 0 || id >= V) {
          throw new Error(`classify: inputIds[${b}][${t}] = ${id} is not a token id (allowed: integers in [0, ${V}))`);
        }
      }
    }
  }
}

/**
 * Load a Hugging Face sequence classifier folder: `config.json`, `model.safetensors` (or a sharded
 * `model.safetensors.index.json`), and — for {@link SequenceClassifier.classifyTexts} — a tokenizer
 * (tokenizer.json, or vocab.json + merges.txt; see core/model/io/tokenizer.ts). Dispatches on config.json:
 * `model_type` roberta → RobertaForSequenceClassification (this module); a causal family (gpt2, gpt_neo, gptj, opt,
 * bloom) with `architectures: ["…ForSequenceClassification"]` → core/model/gpt2-classifier.ts.
 */
export async function loadSequenceClassifier(dir: string, opts: LoadSequenceClassifierOptions = {}): Promise<SequenceClassifier> {
  if (opts.backend) await initBackend(opts.backend);
  const configPath = path.join(dir, 'config.json');
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(await fsp.readFile(configPath, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`classifier ${dir}: cannot read config.json: ${(err as Error).message}`);
  }
  let tokenizer: Tokenizer | null = opts.tokenizer ?? null;
  let tokenizerProblem = '';
  const readTokenizer = async () => {
    if (tokenizer) return;
    try {
      tokenizer = await loadTokenizer(dir);
    } catch (err) {
      tokenizerProblem = `the folder has no usable tokenizer (${(err as Error).message})`;
    }
  };
  if (isCausalClassifierConfig(raw)) {
    const config = parseCausalClassifierConfig(raw);
    const tensors = await readSafetensorsFolder(dir);
    await readTokenizer();
    if (tokenizer && (tokenizer as Tokenizer).vocabSize > config.vocabSize) {
      throw new Error(
        `classifier ${dir}: tokenizer has ${(tokenizer as Tokenizer).vocabSize} ids but config.json vocab_size is ${config.vocabSize}`,
      );
    }
    return CausalSequenceClassifier.fromHostTensors(config, tensors, `classifier ${dir}`, tokenizer, tokenizerProblem);
  }
  if ((SUPPORTED_MODEL_TYPES as readonly unknown[]).includes(raw.model_type)) {
    const arch = Array.isArray(raw.architectures) ? JSON.stringify(raw.architectures) : 'none';
    throw new Error(
      `classifier ${dir}: config.json describes a ${raw.model_type} model with architectures ${arch}, not a sequence ` +
        `classifier (a causal LM?); supported: ${SUPPORTED_CLASSIFIERS}`,
    );
  }
  const config = parseRobertaConfig(raw);
  const tensors = await readSafetensorsFolder(dir);
  const weights = robertaWeightsFromHost(tensors, config, `classifier ${dir}`);
  await readTokenizer();
  if (tokenizer && tokenizer.vocabSize > config.vocabSize) {
    for (const t of allTensors(weights)) t.dispose();
    throw new Error(`classifier ${dir}: tokenizer has ${tokenizer.vocabSize} ids but config.json vocab_size is ${config.vocabSize}`);
  }
  return new RobertaSequenceClassifier(config, weights, tokenizer, dir, tokenizerProblem);
}
