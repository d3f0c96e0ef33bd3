/**
 * OPT (`OPTForCausalLM`, Hugging Face's modeling_opt): config.json parsing and writing, and the checkpoint's weight
 * names in the engine's layout.
 *
 * What differs from GPT-2: learned positions looked up at row position + 2 (OPTLearnedPositionalEmbedding's offset;
 * positions come from the attention mask); separate q/k/v/out projections with biases (nn.Linear, [out, in]);
 * ReLU MLP (fc1 → fc2) of width `ffn_dim`; `enable_bias: false` drops every projection bias; pre-LN blocks unless
 * `do_layer_norm_before` is false (opt-350m), in which case each sub-block is followed by its LayerNorm and the
 * decoder has no final LayerNorm; when `word_embed_proj_dim` differs from `hidden_size` (opt-350m: 512 vs 1024)
 * the token embedding is narrower and `project_in` / `project_out` (no bias) map to and from the blocks' width, so
 * the final hidden states, the tied lm head and TRL's value head all have width word_embed_proj_dim.
 *
 * Positions: every real token gets row (cumsum(mask) - 1) + 2, as in transformers; padding gets row 2 here (the
 * engine clips padding positions at 0) where transformers uses row 1 — padding is masked as a key and its own outputs
 * are never read, so no real token's output depends on the difference.
 */
import { activation, bool, num, posInt, tail } from './config-fields.js';
import type { Architecture, BlockWeightNames, ModelWeightNames, TransformerConfig, WeightSpec } from './types.js';

/** Prefix of every OPT base-model weight (OPTForCausalLM's `model.decoder`). */
const OPT_PREFIX = 'model.decoder.';
/** OPTLearnedPositionalEmbedding's offset: position p is row p + 2 of the table. */
const OPT_POSITION_OFFSET = 2;

/** Parses an OPT config.json. */
export function parseOptConfig(raw: Record<string, unknown>): TransformerConfig {
  const d = posInt('hidden_size', num(raw, ['hidden_size']));
  const nHeads = posInt('num_attention_heads', num(raw, ['num_attention_heads']));
  const nLayers = posInt('num_hidden_layers', num(raw, ['num_hidden_layers']));
  if (d % nHeads !== 0) throw new Error(`config.json: hidden_size ${d} is not divisible by num_attention_heads ${nHeads}`);
  const dEmbed = posInt('word_embed_proj_dim', num(raw, ['word_embed_proj_dim'], d));
  if (!bool(raw, 'layer_norm_elementwise_affine', true)) {
    throw new Error(
      'config.json: "layer_norm_elementwise_affine" is false; only OPT LayerNorms with weight and bias (true, every released OPT) are supported',
    );
  }
  const preLn = bool(raw, 'do_layer_norm_before', true);
  const bias = bool(raw, 'enable_bias', true);
  return {
    modelType: 'opt',
    vocabSize: posInt('vocab_size', num(raw, ['vocab_size'])),
    nPositions: posInt('max_position_embeddings', num(raw, ['max_position_embeddings'])),
    dModel: d,
    nHeads,
    nLayers,
    dInner: posInt('ffn_dim', num(raw, ['ffn_dim'])),
    layerNormEps: 1e-5, // nn.LayerNorm's default; OPTConfig has no epsilon field
    activation: activation(raw, 'activation_function', 'relu'),
    attentionTypes: new Array(nLayers).fill('global'),
    windowSize: 0,
    scaleAttention: true,
    scaleByInverseLayerIdx: false,
    qkvBias: bias,
    tiedEmbeddings: raw.tie_word_embeddings !== false,
    rotaryDim: 0,
    parallelResidual: false,
    outBias: bias,
    lmHeadBias: false,
    dEmbed,
    positionOffset: OPT_POSITION_OFFSET,
    alibi: false,
    postLayerNorm: !preLn,
    finalLayerNorm: preLn && !bool(raw, '_remove_final_layer_norm', false),
    embedLayerNorm: false,
    mlpBias: bias,
    ...tail(raw),
  };
}

/** Writes an OPT TransformerConfig as config.json (fields of `raw` kept, engine fields updated). */
function optConfigToHf(c: TransformerConfig): Record<string, unknown> {
  return {
    ...c.raw,
    model_type: 'opt',
    architectures: c.raw.architectures ?? ['OPTForCausalLM'],
    vocab_size: c.vocabSize,
    max_position_embeddings: c.nPositions,
    hidden_size: c.dModel,
    num_attention_heads: c.nHeads,
    num_hidden_layers: c.nLayers,
    ffn_dim: c.dInner,
    word_embed_proj_dim: c.dEmbed,
    activation_function: c.activation,
    do_layer_norm_before: !c.postLayerNorm,
    _remove_final_layer_norm: !c.postLayerNorm && !c.finalLayerNorm,
    enable_bias: c.mlpBias,
    layer_norm_elementwise_affine: true,
    bos_token_id: c.bosTokenId,
    eos_token_id: c.eosTokenId,
    tie_word_embeddings: c.tiedEmbeddings,
  };
}

/** Names of OPT's weights outside the blocks. */
function optModelWeightNames(c: TransformerConfig): ModelWeightNames {
  const p = OPT_PREFIX;
  const proj = c.dEmbed !== c.dModel;
  return {
    wte: `${p}embed_tokens.weight`,
    wpe: `${p}embed_positions.weight`,
    lnfG: c.finalLayerNorm ? `${p}final_layer_norm.weight` : null,
    lnfB: c.finalLayerNorm ? `${p}final_layer_norm.bias` : null,
    embLnG: null,
    embLnB: null,
    projIn: proj ? `${p}project_in.weight` : null,
    projOut: proj ? `${p}project_out.weight` : null,
  };
}

/** Names of block `i`'s weights. */
function optBlockWeightNames(c: TransformerConfig, i: number): BlockWeightNames {
  const h = `${OPT_PREFIX}layers.${i}.`;
  const a = `${h}self_attn.`;
  const b = c.qkvBias;
  return {
    ln1G: `${h}self_attn_layer_norm.weight`,
    ln1B: `${h}self_attn_layer_norm.bias`,
    qW: `${a}q_proj.weight`,
    kW: `${a}k_proj.weight`,
    vW: `${a}v_proj.weight`,
    ...(b ? { qB: `${a}q_proj.bias`, kB: `${a}k_proj.bias`, vB: `${a}v_proj.bias` } : {}),
    outW: `${a}out_proj.weight`,
    ...(c.outBias ? { outB: `${a}out_proj.bias` } : {}),
    ln2G: `${h}final_layer_norm.weight`,
    ln2B: `${h}final_layer_norm.bias`,
    fcW: `${h}fc1.weight`,
    projW: `${h}fc2.weight`,
    ...(c.mlpBias ? { fcB: `${h}fc1.bias`, projB: `${h}fc2.bias` } : {}),
  };
}

/**
 * Every OPT weight in the order OPTForCausalLM registers them (embeddings, projections and final norm before the
 * layers, as OPTDecoder declares them: TRL's shared-layer reference shares everything before block N).
 */
function optWeightSpecs(c: TransformerConfig, vhead: WeightSpec[]): WeightSpec[] {
  const d = c.dModel;
  const ff = c.dInner;
  const g = optModelWeightNames(c);
  const out: WeightSpec[] = [
    { name: g.wte, shape: [c.vocabSize, c.dEmbed], transposed: false, kind: 'embedding', layer: -1 },
    { name: g.wpe!, shape: [c.nPositions + OPT_POSITION_OFFSET, d], transposed: false, kind: 'embedding', layer: -1 },
  ];
  // nn.Linear(hidden, proj, bias=False) stores [proj, hidden]: the engine keeps [hidden, proj] (and the reverse for project_in).
  if (g.projOut) out.push({ name: g.projOut, shape: [d, c.dEmbed], transposed: true, kind: 'matrix', layer: -1 });
  if (g.projIn) out.push({ name: g.projIn, shape: [c.dEmbed, d], transposed: true, kind: 'matrix', layer: -1 });
  if (g.lnfG) {
    out.push({ name: g.lnfG, shape: [d], transposed: false, kind: 'ln_weight', layer: -1 });
    out.push({ name: g.lnfB!, shape: [d], transposed: false, kind: 'ln_bias', layer: -1 });
  }
  for (let i = 0; i < c.nLayers; i++) {
    const n = optBlockWeightNames(c, i);
    for (const [w, bias] of [
      [n.kW!, n.kB],
      [n.vW!, n.vB],
      [n.qW!, n.qB],
    ] as const) {
      out.push({ name: w, shape: [d, d], transposed: true, kind: 'matrix', layer: i });
      if (bias) out.push({ name: bias, shape: [d], transposed: false, kind: 'bias', layer: i });
    }
    out.push({ name: n.outW, shape: [d, d], transposed: true, kind: 'matrix', layer: i });
    if (n.outB) out.push({ name: n.outB, shape: [d], transposed: false, kind: 'bias', layer: i });
    out.push({ name: n.ln1G, shape: [d], transposed: false, kind: 'ln_weight', layer: i });
    out.push({ name: n.ln1B, shape: [d], transposed: false, kind: 'ln_bias', layer: i });
    out.push({ name: n.fcW, shape: [d, ff], transposed: true, kind: 'matrix', layer: i });
    if (n.fcB) out.push({ name: n.fcB, shape: [ff], transposed: false, kind: 'bias', layer: i });
    out.push({ name: n.projW, shape: [ff, d], transposed: true, kind: 'matrix', layer: i });
    if (n.projB) out.push({ name: n.projB, shape: [d], transposed: false, kind: 'bias', layer: i });
    out.push({ name: n.ln2G!, shape: [d], transposed: false, kind: 'ln_weight', layer: i });
    out.push({ name: n.ln2B!, shape: [d], transposed: false, kind: 'ln_bias', layer: i });
  }
  if (!c.tiedEmbeddings)
    out.push({ name: 'lm_head.weight', shape: [c.vocabSize, c.dEmbed], transposed: false, kind: 'embedding', layer: -1 });
  return [...out, ...vhead];
}

/** OPT: config.json and weight names. */
export const OPT: Architecture = {
  parse: parseOptConfig,
  toHf: optConfigToHf,
  modelWeightNames: optModelWeightNames,
  blockWeightNames: optBlockWeightNames,
  weightSpecs: optWeightSpecs,
};
