/**
 * GPT-2 (`GPT2LMHeadModel`): config.json parsing and writing, and the checkpoint's weight names. The reference
 * family: fused c_attn [d, 3d] with bias, scores scaled by 1/sqrt(head_dim) (optionally also by 1/(layer + 1)),
 * learned positions, Conv1D weights already stored [in, out] (nothing transposed).
 */
import { tail } from './config-fields.js';
import {
  gpt2StyleShape,
  gptFamily,
  gptHfFields,
  gptModelWeightNames,
  gptWeightSpecs,
  SEQUENTIAL_BLOCK,
  sequentialBlockNames,
} from './gpt-family.js';
import { BASE_PREFIX, type Architecture, type BlockWeightNames, type TransformerConfig } from './types.js';

/** Parses a GPT-2 config.json. */
function parseGpt2Config(raw: Record<string, unknown>): TransformerConfig {
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

/** Writes a GPT-2 TransformerConfig as config.json (fields of `raw` kept, engine fields updated). */
function gpt2ConfigToHf(c: TransformerConfig): Record<string, unknown> {
  const { base, common } = gptHfFields(c);
  return {
    ...base,
    model_type: 'gpt2',
    architectures: base.architectures ?? ['GPT2LMHeadModel'],
    ...common,
    n_positions: c.nPositions,
    n_ctx: c.nPositions,
    n_embd: c.dModel,
    n_layer: c.nLayers,
    n_head: c.nHeads,
    n_inner: c.dInner === 4 * c.dModel ? null : c.dInner,
    scale_attn_weights: c.scaleAttention,
    scale_attn_by_inverse_layer_idx: c.scaleByInverseLayerIdx,
  };
}

/** Names of block `i`'s weights. */
function gpt2BlockWeightNames(_cfg: TransformerConfig, i: number): BlockWeightNames {
  const h = `${BASE_PREFIX}h.${i}.`;
  const common = sequentialBlockNames(h);
  return {
    ...common,
    qkvW: `${h}attn.c_attn.weight`,
    qkvB: `${h}attn.c_attn.bias`,
    outW: `${h}attn.c_proj.weight`,
    outB: `${h}attn.c_proj.bias`,
  };
}

/** GPT-2: config.json and weight names. */
export const GPT2: Architecture = {
  parse: parseGpt2Config,
  toHf: gpt2ConfigToHf,
  modelWeightNames: gptModelWeightNames,
  blockWeightNames: gpt2BlockWeightNames,
  weightSpecs: (c, vhead) => gptWeightSpecs(c, vhead, gpt2BlockWeightNames, false),
};
