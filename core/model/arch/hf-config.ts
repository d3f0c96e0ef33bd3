/**
 * Hugging Face `config.json` → the engine's one internal {@link TransformerConfig}, for GPT-2, GPT-Neo and GPT-J
 * (here), OPT (opt.ts) and BLOOM (bloom.ts), and back (for saving).
 */
import { activation, num, posInt, tail, type Activation } from './config-fields.js';
import { SUPPORTED_MODEL_TYPES, type AttentionType, type ModelType, type TransformerConfig } from './types.js';
import { optConfigToHf, parseOptConfig } from './opt.js';
import { bloomConfigToHf, parseBloomConfig } from './bloom.js';

export { SUPPORTED_ACTIVATIONS, type Activation } from './config-fields.js';
/** The config types live in types.ts (the architectures' files name them without importing this dispatcher). */
export { SUPPORTED_MODEL_TYPES, type AttentionType, type ModelType, type TransformerConfig } from './types.js';


/**
 * Expands GPT-Neo's `attention_types` (e.g. `[[["global","local"], 12]]`: the pattern repeated 12 times)
 * into one entry per layer.
 */
export function expandAttentionTypes(spec: unknown, nLayers: number): AttentionType[] {
  if (!Array.isArray(spec)) throw new Error(`config.json: "attention_types" must be a list like [[["global","local"], 12]]`);
  const out: AttentionType[] = [];
  for (const item of spec) {
    if (!Array.isArray(item) || item.length !== 2 || !Array.isArray(item[0]) || !Number.isInteger(item[1])) {
      throw new Error(`config.json: "attention_types" entry ${JSON.stringify(item)} must be [[types...], repeat]`);
    }
    for (let r = 0; r < (item[1] as number); r++) {
      for (const t of item[0] as unknown[]) {
        if (t !== 'global' && t !== 'local') {
          throw new Error(`config.json: attention type ${JSON.stringify(t)} is not supported; use "global" or "local"`);
        }
        out.push(t);
      }
    }
  }
  if (out.length !== nLayers) {
    throw new Error(`config.json: "attention_types" expands to ${out.length} layers but "num_layers" is ${nLayers}`);
  }
  return out;
}

/** Compresses per-layer attention types back to GPT-Neo's run-length form. */
export function compressAttentionTypes(types: AttentionType[]): [AttentionType[], number][] {
  // Prefer the common alternating ["global","local"] pattern when it describes the list exactly.
  if (types.length % 2 === 0 && types.length > 0 && types.every((t, i) => t === (i % 2 === 0 ? 'global' : 'local'))) {
    return [[['global', 'local'], types.length / 2]];
  }
  const out: [AttentionType[], number][] = [];
  for (const t of types) {
    const last = out[out.length - 1];
    if (last && last[0].length === 1 && last[0][0] === t) last[1] += 1;
    else out.push([[t], 1]);
  }
  return out;
}

/** GPT-2's and GPT-Neo's block: learned positions, attention then MLP, biased output projection, no lm_head bias. */
const SEQUENTIAL_BLOCK = { rotaryDim: 0, parallelResidual: false, outBias: true, lmHeadBias: false } as const;

/** What GPT-2, GPT-Neo and GPT-J share beyond their blocks: pre-LN, final LayerNorm, no embedding projections. */
const gptFamily = (d: number) => ({
  dEmbed: d, positionOffset: 0, alibi: false, postLayerNorm: false, finalLayerNorm: true, embedLayerNorm: false, mlpBias: true,
});

/** Sizes as GPT-2 and GPT-J name them (n_embd, n_layer, n_head, n_inner, n_positions); every layer global. */
function gpt2StyleShape(raw: Record<string, unknown>) {
  const d = posInt('n_embd', num(raw, ['n_embd', 'hidden_size']));
  const nLayers = posInt('n_layer', num(raw, ['n_layer', 'num_hidden_layers']));
  const nHeads = posInt('n_head', num(raw, ['n_head', 'num_attention_heads']));
  if (d % nHeads !== 0) throw new Error(`config.json: n_embd ${d} is not divisible by n_head ${nHeads}`);
  const inner = raw.n_inner;
  return {
    vocabSize: posInt('vocab_size', num(raw, ['vocab_size'])),
    nPositions: posInt('n_positions', num(raw, ['n_positions', 'n_ctx', 'max_position_embeddings'])),
    dModel: d,
    nHeads,
    nLayers,
    dInner: typeof inner === 'number' ? posInt('n_inner', inner) : 4 * d,
    layerNormEps: num(raw, ['layer_norm_epsilon'], 1e-5),
    activation: activation(raw, 'activation_function'),
    attentionTypes: new Array<AttentionType>(nLayers).fill('global'),
    windowSize: 0,
  };
}

/**
 * Parses a Hugging Face config.json object.
 * @throws on an unknown `model_type` (naming it and the supported ones) or on missing/invalid fields
 */
export function parseHfConfig(raw: Record<string, unknown>): TransformerConfig {
  const modelType = raw.model_type;
  if (modelType === 'gpt2') {
    const shape = gpt2StyleShape(raw);
    return {
      modelType: 'gpt2',
      ...shape,
      ...gptFamily(shape.dModel),
      scaleAttention: raw.scale_attn_weights !== false,
      scaleByInverseLayerIdx: raw.scale_attn_by_inverse_layer_idx === true,
      qkvBias: true,
      tiedEmbeddings: raw.tie_word_embeddings !== false,
      ...SEQUENTIAL_BLOCK,
      ...tail(raw),
    };
  }
  if (modelType === 'gpt_neo') {
    const d = posInt('hidden_size', num(raw, ['hidden_size']));
    const nLayers = posInt('num_layers', num(raw, ['num_layers']));
    const nHeads = posInt('num_heads', num(raw, ['num_heads']));
    if (d % nHeads !== 0) throw new Error(`config.json: hidden_size ${d} is not divisible by num_heads ${nHeads}`);
    let attentionTypes: AttentionType[];
    if (Array.isArray(raw.attention_layers)) {
      // Hugging Face stores the expanded list too; it must agree with num_layers.
      const layers = raw.attention_layers as unknown[];
      if (layers.length !== nLayers || !layers.every((t) => t === 'global' || t === 'local')) {
        throw new Error(`config.json: "attention_layers" must list "global"/"local" for each of the ${nLayers} layers, got ${JSON.stringify(layers)}`);
      }
      attentionTypes = layers as AttentionType[];
    } else {
      attentionTypes = expandAttentionTypes(raw.attention_types ?? [[['global', 'local'], Math.ceil(nLayers / 2)]], nLayers);
    }
    const inner = raw.intermediate_size;
    const windowSize = num(raw, ['window_size'], 256);
    if (attentionTypes.includes('local')) posInt('window_size', windowSize);
    return {
      modelType: 'gpt_neo',
      vocabSize: posInt('vocab_size', num(raw, ['vocab_size'])),
      nPositions: posInt('max_position_embeddings', num(raw, ['max_position_embeddings'])),
      dModel: d,
      nHeads,
      nLayers,
      dInner: typeof inner === 'number' ? posInt('intermediate_size', inner) : 4 * d,
      layerNormEps: num(raw, ['layer_norm_epsilon'], 1e-5),
      activation: activation(raw, 'activation_function'),
      attentionTypes,
      windowSize,
      scaleAttention: false,
      scaleByInverseLayerIdx: false,
      qkvBias: false,
      tiedEmbeddings: raw.tie_word_embeddings !== false,
      ...SEQUENTIAL_BLOCK,
      ...gptFamily(d),
      ...tail(raw),
    };
  }
  if (modelType === 'gptj') {
    const shape = gpt2StyleShape(raw);
    const headDim = shape.dModel / shape.nHeads;
    // Required: Hugging Face sizes its sin/cos table by the whole n_embd when rotary_dim is null, which only lines
    // up with a head for a single-head model; every released GPT-J checkpoint sets it (gpt-j-6b: 64).
    const rd = posInt('rotary_dim', num(raw, ['rotary_dim']));
    if (rd % 2 !== 0 || rd > headDim) {
      throw new Error(`config.json: "rotary_dim" must be even and at most the head size ${headDim}, got ${rd}`);
    }
    return {
      modelType: 'gptj',
      ...shape,
      scaleAttention: true,
      scaleByInverseLayerIdx: false,
      qkvBias: false,
      // GPT-J's lm_head has its own weight and bias; Hugging Face's GPTJConfig defaults tie_word_embeddings to false.
      tiedEmbeddings: raw.tie_word_embeddings === true,
      rotaryDim: rd,
      parallelResidual: true,
      outBias: false,
      lmHeadBias: raw.tie_word_embeddings !== true,
      ...gptFamily(shape.dModel),
      ...tail(raw),
    };
  }
  if (modelType === 'opt') return parseOptConfig(raw);
  if (modelType === 'bloom') return parseBloomConfig(raw);
  throw new Error(`config.json: model_type ${JSON.stringify(modelType)} is not supported; supported: ${SUPPORTED_MODEL_TYPES.join(', ')}`);
}

/** Builds a TransformerConfig from a few numbers (tests, benchmarks, models made from scratch). */
export function makeConfig(p: {
  modelType?: ModelType; vocabSize: number; nPositions: number; dModel: number; nHeads: number; nLayers: number;
  dInner?: number; layerNormEps?: number; activation?: Activation; attentionTypes?: AttentionType[]; windowSize?: number;
  tiedEmbeddings?: boolean; bosTokenId?: number | null; eosTokenId?: number | null;
  /** GPT-J only (default: the whole head). */
  rotaryDim?: number;
  /** OPT only: word_embed_proj_dim (default dModel) and the post-LN block (default false). */
  wordEmbedProjDim?: number;
  postLayerNorm?: boolean;
}): TransformerConfig {
  const modelType = p.modelType ?? 'gpt2';
  const ids = { bos_token_id: p.bosTokenId ?? p.vocabSize - 1, eos_token_id: p.eosTokenId ?? p.vocabSize - 1, tie_word_embeddings: p.tiedEmbeddings ?? true };
  if (modelType === 'opt') {
    return parseOptConfig({
      model_type: 'opt', vocab_size: p.vocabSize, max_position_embeddings: p.nPositions, hidden_size: p.dModel,
      num_attention_heads: p.nHeads, num_hidden_layers: p.nLayers, ffn_dim: p.dInner ?? 4 * p.dModel,
      word_embed_proj_dim: p.wordEmbedProjDim ?? p.dModel, do_layer_norm_before: !(p.postLayerNorm ?? false),
      activation_function: p.activation ?? 'relu', ...ids,
    });
  }
  if (modelType === 'bloom') {
    return parseBloomConfig({
      model_type: 'bloom', vocab_size: p.vocabSize, hidden_size: p.dModel, n_head: p.nHeads, n_layer: p.nLayers,
      seq_length: p.nPositions, layer_norm_epsilon: p.layerNormEps ?? 1e-5, ...ids,
    });
  }
  const gptj = modelType === 'gptj';
  const raw = toHfConfig({
    modelType, vocabSize: p.vocabSize, nPositions: p.nPositions, dModel: p.dModel, nHeads: p.nHeads, nLayers: p.nLayers,
    dInner: p.dInner ?? 4 * p.dModel, layerNormEps: p.layerNormEps ?? 1e-5, activation: p.activation ?? 'gelu_new',
    attentionTypes: p.attentionTypes ?? new Array<AttentionType>(p.nLayers).fill('global'), windowSize: p.windowSize ?? 256,
    scaleAttention: modelType !== 'gpt_neo', scaleByInverseLayerIdx: false, qkvBias: modelType === 'gpt2',
    tiedEmbeddings: p.tiedEmbeddings ?? !gptj, rotaryDim: gptj ? (p.rotaryDim ?? p.dModel / p.nHeads) : 0,
    parallelResidual: gptj, outBias: !gptj, lmHeadBias: gptj && p.tiedEmbeddings !== true, bosTokenId: p.bosTokenId ?? p.vocabSize - 1, eosTokenId: p.eosTokenId ?? p.vocabSize - 1,
    ...gptFamily(p.dModel), raw: {},
  });
  return parseHfConfig(raw);
}

/** Writes a TransformerConfig as a Hugging Face config.json object (fields of `raw` kept, engine fields updated). */
export function toHfConfig(c: TransformerConfig): Record<string, unknown> {
  if (c.modelType === 'opt') return optConfigToHf(c);
  if (c.modelType === 'bloom') return bloomConfigToHf(c);
  const base: Record<string, unknown> = { ...c.raw };
  const common = {
    vocab_size: c.vocabSize, activation_function: c.activation, layer_norm_epsilon: c.layerNormEps,
    bos_token_id: c.bosTokenId, eos_token_id: c.eosTokenId, tie_word_embeddings: c.tiedEmbeddings,
  };
  if (c.modelType === 'gpt2') {
    return {
      ...base, model_type: 'gpt2', architectures: base.architectures ?? ['GPT2LMHeadModel'], ...common,
      n_positions: c.nPositions, n_ctx: c.nPositions, n_embd: c.dModel, n_layer: c.nLayers, n_head: c.nHeads,
      n_inner: c.dInner === 4 * c.dModel ? null : c.dInner, scale_attn_weights: c.scaleAttention,
      scale_attn_by_inverse_layer_idx: c.scaleByInverseLayerIdx,
    };
  }
  if (c.modelType === 'gptj') {
    return {
      ...base, model_type: 'gptj', architectures: base.architectures ?? ['GPTJForCausalLM'], ...common,
      n_positions: c.nPositions, n_embd: c.dModel, n_layer: c.nLayers, n_head: c.nHeads,
      n_inner: c.dInner === 4 * c.dModel ? null : c.dInner, rotary_dim: c.rotaryDim,
    };
  }
  const out: Record<string, unknown> = {
    ...base, model_type: 'gpt_neo', architectures: base.architectures ?? ['GPTNeoForCausalLM'], ...common,
    max_position_embeddings: c.nPositions, hidden_size: c.dModel, num_layers: c.nLayers, num_heads: c.nHeads,
    intermediate_size: c.dInner === 4 * c.dModel ? null : c.dInner, attention_types: compressAttentionTypes(c.attentionTypes),
    attention_layers: [...c.attentionTypes], window_size: c.windowSize,
  };
  return out;
}
