/**
 * GPT-J (`GPTJForCausalLM`): config.json parsing and writing, and the checkpoint's weight names. What differs from
 * GPT-2: separate q/k/v/out projections without bias (nn.Linear, [out, in]: transposed on load and save), rotary
 * position embeddings on the first `rotary_dim` features of every head instead of learned positions, the parallel
 * block x + attn(ln_1(x)) + mlp(ln_1(x)) (one LayerNorm per block), an untied lm_head with a bias.
 */
import { num, posInt, tail } from './config-fields.js';
import { gpt2StyleShape, gptFamily, gptHfFields, gptModelWeightNames, gptWeightSpecs } from './gpt-family.js';
import { BASE_PREFIX, type Architecture, type BlockWeightNames, type TransformerConfig } from './types.js';

/** Parses a GPT-J config.json. */
function parseGptjConfig(raw: Record<string, unknown>): TransformerConfig {
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

/** Writes a GPT-J TransformerConfig as config.json (fields of `raw` kept, engine fields updated). */
function gptjConfigToHf(c: TransformerConfig): Record<string, unknown> {
  const { base, common } = gptHfFields(c);
  return {
    ...base,
    model_type: 'gptj',
    architectures: base.architectures ?? ['GPTJForCausalLM'],
    ...common,
    n_positions: c.nPositions,
    n_embd: c.dModel,
    n_layer: c.nLayers,
    n_head: c.nHeads,
    n_inner: c.dInner === 4 * c.dModel ? null : c.dInner,
    rotary_dim: c.rotaryDim,
  };
}

/** Names of block `i`'s weights. */
function gptjBlockWeightNames(_cfg: TransformerConfig, i: number): BlockWeightNames {
  const h = `${BASE_PREFIX}h.${i}.`;
  const a = `${h}attn.`;
  return {
    ln1G: `${h}ln_1.weight`,
    ln1B: `${h}ln_1.bias`,
    qW: `${a}q_proj.weight`,
    kW: `${a}k_proj.weight`,
    vW: `${a}v_proj.weight`,
    outW: `${a}out_proj.weight`,
    fcW: `${h}mlp.fc_in.weight`,
    fcB: `${h}mlp.fc_in.bias`,
    projW: `${h}mlp.fc_out.weight`,
    projB: `${h}mlp.fc_out.bias`,
  };
}

/** GPT-J: config.json and weight names. */
export const GPTJ: Architecture = {
  parse: parseGptjConfig,
  toHf: gptjConfigToHf,
  modelWeightNames: gptModelWeightNames,
  blockWeightNames: gptjBlockWeightNames,
  weightSpecs: (c, vhead) => gptWeightSpecs(c, vhead, gptjBlockWeightNames, true),
};
