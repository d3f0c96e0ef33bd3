/**
 * BLOOM (`BloomForCausalLM`, Hugging Face's modeling_bloom): config.json parsing and writing, the checkpoint's
 * weight names in the engine's layout, ALiBi slopes and the fused query_key_value layout.
 *
 * What differs from GPT-2: no position embeddings — ALiBi adds slope_h · key_position to head h's attention scores
 * (key positions from the attention mask, (cumsum(mask) - 1) · mask, as build_alibi_tensor), with slopes for any
 * head count (non-powers of two interleave a second geometric series); a LayerNorm right after the token embedding
 * (`word_embeddings_layernorm`); one fused `query_key_value` nn.Linear whose 3·d outputs are laid out per head as
 * [q, k, v] (reordered on load to the engine's [q | k | v] columns and back on save); bloom_gelu, i.e. tanh-GELU
 * with the constant 0.79788456 (√(2/π) to 7e-10 relative, below float32 resolution, so the engine's gelu_new);
 * MLP width 4·hidden; tied head. Transformers computes the residual stream in the checkpoint's dtype with
 * float32 softmax; the engine computes everything in float32.
 */
import { num, posInt, tail } from './config-fields.js';
import type { Architecture, BlockWeightNames, ModelWeightNames, TransformerConfig, WeightSpec } from './types.js';

/** Prefix of every BLOOM base-model weight. */
const BLOOM_PREFIX = 'transformer.';
/**
 * Context bound when config.json sets no `seq_length`: ALiBi has no position table, so this is the engine's own
 * limit for prompt + new tokens — BLOOM's training length.
 */
const BLOOM_DEFAULT_CONTEXT = 2048;

/** Parses a BLOOM config.json. */
export function parseBloomConfig(raw: Record<string, unknown>): TransformerConfig {
  const d = posInt('hidden_size', num(raw, ['hidden_size', 'n_embed']));
  const nHeads = posInt('n_head', num(raw, ['n_head', 'num_attention_heads']));
  const nLayers = posInt('n_layer', num(raw, ['n_layer', 'num_hidden_layers']));
  if (d % nHeads !== 0) throw new Error(`config.json: hidden_size ${d} is not divisible by n_head ${nHeads}`);
  if (raw.apply_residual_connection_post_layernorm === true) {
    throw new Error('config.json: "apply_residual_connection_post_layernorm" is true; only false (every released BLOOM) is supported');
  }
  return {
    modelType: 'bloom',
    vocabSize: posInt('vocab_size', num(raw, ['vocab_size'])),
    nPositions: posInt('seq_length', num(raw, ['seq_length'], BLOOM_DEFAULT_CONTEXT)),
    dModel: d,
    nHeads,
    nLayers,
    dInner: 4 * d, // BloomMLP: dense_h_to_4h is always 4 * hidden_size
    layerNormEps: num(raw, ['layer_norm_epsilon'], 1e-5),
    activation: 'gelu_new',
    attentionTypes: new Array(nLayers).fill('global'),
    windowSize: 0,
    scaleAttention: true,
    scaleByInverseLayerIdx: false,
    qkvBias: true,
    tiedEmbeddings: raw.tie_word_embeddings !== false,
    rotaryDim: 0,
    parallelResidual: false,
    outBias: true,
    lmHeadBias: false,
    dEmbed: d,
    positionOffset: 0,
    alibi: true,
    postLayerNorm: false,
    finalLayerNorm: true,
    embedLayerNorm: true,
    mlpBias: true,
    ...tail(raw),
  };
}

/** Writes a BLOOM TransformerConfig as config.json (fields of `raw` kept, engine fields updated). */
function bloomConfigToHf(c: TransformerConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { ...c.raw };
  delete out.n_embed; // superseded by hidden_size
  return {
    ...out,
    model_type: 'bloom',
    architectures: c.raw.architectures ?? ['BloomForCausalLM'],
    vocab_size: c.vocabSize,
    hidden_size: c.dModel,
    n_head: c.nHeads,
    n_layer: c.nLayers,
    layer_norm_epsilon: c.layerNormEps,
    apply_residual_connection_post_layernorm: false,
    seq_length: c.nPositions,
    bos_token_id: c.bosTokenId,
    eos_token_id: c.eosTokenId,
    tie_word_embeddings: c.tiedEmbeddings,
  };
}

/**
 * ALiBi slopes of `nHeads` heads (build_alibi_tensor): for the largest power of two p ≤ nHeads, 2^(-8i/p) for
 * i = 1..p; the remaining heads take the odd terms 2^(-4i/p), i = 1, 3, 5, ... of the series for 2p.
 */
export function alibiSlopes(nHeads: number): Float32Array {
  const p = 2 ** Math.floor(Math.log2(nHeads));
  const base = 2 ** -(2 ** -(Math.log2(p) - 3));
  const out = new Float32Array(nHeads);
  for (let i = 0; i < p; i++) out[i] = base ** (i + 1);
  if (p !== nHeads) {
    const extra = 2 ** -(2 ** -(Math.log2(2 * p) - 3));
    const rest = Math.min(p, nHeads - p);
    for (let i = 0; i < rest; i++) out[p + i] = extra ** (2 * i + 1);
  }
  return out;
}

/**
 * Column order of the fused projection: engine column (part·d + h·hd + j), part ∈ {q, k, v}, takes Hugging Face
 * output (h·3·hd + part·hd + j).
 */
function qkvSourceColumns(nHeads: number, d: number): Int32Array {
  const hd = d / nHeads;
  const src = new Int32Array(3 * d);
  for (let part = 0; part < 3; part++) {
    for (let h = 0; h < nHeads; h++) {
      for (let j = 0; j < hd; j++) src[part * d + h * hd + j] = h * 3 * hd + part * hd + j;
    }
  }
  return src;
}

/**
 * Reorders the 3·d columns of a row-major [rows, 3d] matrix (or a [3d] bias) between BLOOM's per-head [q, k, v]
 * layout and the engine's [q | k | v] layout.
 * @param width 3·d
 * @param toEngine true: Hugging Face order → engine order; false: the reverse
 */
export function reorderQkvColumns(data: Float32Array, width: number, nHeads: number, toEngine: boolean): Float32Array {
  if (width % 3 !== 0 || (width / 3) % nHeads !== 0 || data.length % width !== 0) {
    throw new Error(`reorderQkvColumns: ${data.length} values are not rows of 3·d = ${width} columns over ${nHeads} heads`);
  }
  const src = qkvSourceColumns(nHeads, width / 3);
  const out = new Float32Array(data.length);
  for (let r = 0; r < data.length; r += width) {
    for (let c = 0; c < width; c++) {
      if (toEngine) out[r + c] = data[r + src[c]!]!;
      else out[r + src[c]!] = data[r + c]!;
    }
  }
  return out;
}

/** Names of BLOOM's weights outside the blocks. */
function bloomModelWeightNames(): ModelWeightNames {
  const p = BLOOM_PREFIX;
  return {
    wte: `${p}word_embeddings.weight`,
    wpe: null,
    lnfG: `${p}ln_f.weight`,
    lnfB: `${p}ln_f.bias`,
    embLnG: `${p}word_embeddings_layernorm.weight`,
    embLnB: `${p}word_embeddings_layernorm.bias`,
    projIn: null,
    projOut: null,
  };
}

/** Names of block `i`'s weights. */
function bloomBlockWeightNames(i: number): BlockWeightNames {
  const h = `${BLOOM_PREFIX}h.${i}.`;
  return {
    ln1G: `${h}input_layernorm.weight`,
    ln1B: `${h}input_layernorm.bias`,
    qkvW: `${h}self_attention.query_key_value.weight`,
    qkvB: `${h}self_attention.query_key_value.bias`,
    outW: `${h}self_attention.dense.weight`,
    outB: `${h}self_attention.dense.bias`,
    ln2G: `${h}post_attention_layernorm.weight`,
    ln2B: `${h}post_attention_layernorm.bias`,
    fcW: `${h}mlp.dense_h_to_4h.weight`,
    fcB: `${h}mlp.dense_h_to_4h.bias`,
    projW: `${h}mlp.dense_4h_to_h.weight`,
    projB: `${h}mlp.dense_4h_to_h.bias`,
  };
}

/** Every BLOOM weight in the order BloomForCausalLM registers them. */
function bloomWeightSpecs(c: TransformerConfig, vhead: WeightSpec[]): WeightSpec[] {
  const d = c.dModel;
  const ff = c.dInner;
  const g = bloomModelWeightNames();
  const out: WeightSpec[] = [
    { name: g.wte, shape: [c.vocabSize, d], transposed: false, kind: 'embedding', layer: -1 },
    { name: g.embLnG!, shape: [d], transposed: false, kind: 'ln_weight', layer: -1 },
    { name: g.embLnB!, shape: [d], transposed: false, kind: 'ln_bias', layer: -1 },
  ];
  for (let i = 0; i < c.nLayers; i++) {
    const n = bloomBlockWeightNames(i);
    out.push({ name: n.ln1G, shape: [d], transposed: false, kind: 'ln_weight', layer: i });
    out.push({ name: n.ln1B, shape: [d], transposed: false, kind: 'ln_bias', layer: i });
    out.push({ name: n.qkvW!, shape: [d, 3 * d], transposed: true, kind: 'matrix', layer: i, interleavedHeads: c.nHeads });
    out.push({ name: n.qkvB!, shape: [3 * d], transposed: false, kind: 'bias', layer: i, interleavedHeads: c.nHeads });
    out.push({ name: n.outW, shape: [d, d], transposed: true, kind: 'matrix', layer: i });
    out.push({ name: n.outB!, shape: [d], transposed: false, kind: 'bias', layer: i });
    out.push({ name: n.ln2G!, shape: [d], transposed: false, kind: 'ln_weight', layer: i });
    out.push({ name: n.ln2B!, shape: [d], transposed: false, kind: 'ln_bias', layer: i });
    out.push({ name: n.fcW, shape: [d, ff], transposed: true, kind: 'matrix', layer: i });
    out.push({ name: n.fcB!, shape: [ff], transposed: false, kind: 'bias', layer: i });
    out.push({ name: n.projW, shape: [ff, d], transposed: true, kind: 'matrix', layer: i });
    out.push({ name: n.projB!, shape: [d], transposed: false, kind: 'bias', layer: i });
  }
  out.push({ name: g.lnfG!, shape: [d], transposed: false, kind: 'ln_weight', layer: -1 });
  out.push({ name: g.lnfB!, shape: [d], transposed: false, kind: 'ln_bias', layer: -1 });
  if (!c.tiedEmbeddings) out.push({ name: 'lm_head.weight', shape: [c.vocabSize, d], transposed: false, kind: 'embedding', layer: -1 });
  return [...out, ...vhead];
}

/** BLOOM: config.json and weight names. */
export const BLOOM: Architecture = {
  parse: parseBloomConfig,
  toHf: bloomConfigToHf,
  modelWeightNames: () => bloomModelWeightNames(),
  blockWeightNames: (_c, i) => bloomBlockWeightNames(i),
  weightSpecs: bloomWeightSpecs,
};
