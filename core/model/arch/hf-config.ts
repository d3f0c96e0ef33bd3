/**
 * Hugging Face `config.json` → the engine's one internal {@link TransformerConfig}, and back (for saving): dispatched
 * on `model_type` through the table of architectures.ts to GPT-2 (gpt2.ts), GPT-Neo (gpt-neo.ts), GPT-J (gptj.ts),
 * OPT (opt.ts) and BLOOM (bloom.ts).
 */
import type { Activation } from './config-fields.js';
import { SUPPORTED_MODEL_TYPES, type AttentionType, type ModelType, type TransformerConfig } from './types.js';
import { ARCHITECTURES } from './architectures.js';
import { gptFamily } from './gpt-family.js';
import { parseOptConfig } from './opt.js';
import { parseBloomConfig } from './bloom.js';

export type { Activation } from './config-fields.js';
/** The config types live in types.ts (the architectures' files name them without importing this dispatcher). */
export { SUPPORTED_MODEL_TYPES, type ModelType, type TransformerConfig } from './types.js';
/** GPT-Neo's run-length attention types (gpt-neo.ts). */
export { expandAttentionTypes } from './gpt-neo.js';

/**
 * Parses a Hugging Face config.json object.
 * @throws on an unknown `model_type` (naming it and the supported ones) or on missing/invalid fields
 */
export function parseHfConfig(raw: Record<string, unknown>): TransformerConfig {
  const modelType = raw.model_type;
  if ((SUPPORTED_MODEL_TYPES as readonly unknown[]).includes(modelType)) return ARCHITECTURES[modelType as ModelType].parse(raw);
  throw new Error(`config.json: model_type ${JSON.stringify(modelType)} is not supported; supported: ${SUPPORTED_MODEL_TYPES.join(', ')}`);
}

/** Builds a TransformerConfig from a few numbers (tests, benchmarks, models made from scratch). */
export function makeConfig(p: {
  modelType?: ModelType;
  vocabSize: number;
  nPositions: number;
  dModel: number;
  nHeads: number;
  nLayers: number;
  dInner?: number;
  layerNormEps?: number;
  activation?: Activation;
  attentionTypes?: AttentionType[];
  windowSize?: number;
  tiedEmbeddings?: boolean;
  bosTokenId?: number | null;
  eosTokenId?: number | null;
  /** GPT-J only (default: the whole head). */
  rotaryDim?: number;
  /** OPT only: word_embed_proj_dim (default dModel) and the post-LN block (default false). */
  wordEmbedProjDim?: number;
  postLayerNorm?: boolean;
}): TransformerConfig {
  const modelType = p.modelType ?? 'gpt2';
  const ids = {
    bos_token_id: p.bosTokenId ?? p.vocabSize - 1,
    eos_token_id: p.eosTokenId ?? p.vocabSize - 1,
    tie_word_embeddings: p.tiedEmbeddings ?? true,
  };
  if (modelType === 'opt') {
    return parseOptConfig({
      model_type: 'opt',
      vocab_size: p.vocabSize,
      max_position_embeddings: p.nPositions,
      hidden_size: p.dModel,
      num_attention_heads: p.nHeads,
      num_hidden_layers: p.nLayers,
      ffn_dim: p.dInner ?? 4 * p.dModel,
      word_embed_proj_dim: p.wordEmbedProjDim ?? p.dModel,
      do_layer_norm_before: !(p.postLayerNorm ?? false),
      activation_function: p.activation ?? 'relu',
      ...ids,
    });
  }
  if (modelType === 'bloom') {
    return parseBloomConfig({
      model_type: 'bloom',
      vocab_size: p.vocabSize,
      hidden_size: p.dModel,
      n_head: p.nHeads,
      n_layer: p.nLayers,
      seq_length: p.nPositions,
      layer_norm_epsilon: p.layerNormEps ?? 1e-5,
      ...ids,
    });
  }
  const gptj = modelType === 'gptj';
  const raw = toHfConfig({
    modelType,
    vocabSize: p.vocabSize,
    nPositions: p.nPositions,
    dModel: p.dModel,
    nHeads: p.nHeads,
    nLayers: p.nLayers,
    dInner: p.dInner ?? 4 * p.dModel,
    layerNormEps: p.layerNormEps ?? 1e-5,
    activation: p.activation ?? 'gelu_new',
    attentionTypes: p.attentionTypes ?? new Array<AttentionType>(p.nLayers).fill('global'),
    windowSize: p.windowSize ?? 256,
    scaleAttention: modelType !== 'gpt_neo',
    scaleByInverseLayerIdx: false,
    qkvBias: modelType === 'gpt2',
    tiedEmbeddings: p.tiedEmbeddings ?? !gptj,
    rotaryDim: gptj ? (p.rotaryDim ?? p.dModel / p.nHeads) : 0,
    parallelResidual: gptj,
    outBias: !gptj,
    lmHeadBias: gptj && p.tiedEmbeddings !== true,
    bosTokenId: p.bosTokenId ?? p.vocabSize - 1,
    eosTokenId: p.eosTokenId ?? p.vocabSize - 1,
    ...gptFamily(p.dModel),
    raw: {},
  });
  return parseHfConfig(raw);
}

/** Writes a TransformerConfig as a Hugging Face config.json object (fields of `raw` kept, engine fields updated). */
export function toHfConfig(c: TransformerConfig): Record<string, unknown> {
  return ARCHITECTURES[c.modelType].toHf(c);
}
