/**
 * What GPT-2 (gpt2.ts), GPT-Neo (gpt-neo.ts) and GPT-J (gptj.ts) share: the sequential block's switches, the
 * family's common config fields and sizes, config.json fields written the same way, the names of the weights
 * outside the blocks, and the order of every weight.
 */
import { activation, num, posInt } from './config-fields.js';
import {
  BASE_PREFIX,
  LM_HEAD,
  LM_HEAD_BIAS,
  type AttentionType,
  type BlockWeightNames,
  type ModelWeightNames,
  type TransformerConfig,
  type WeightSpec,
} from './types.js';

/** GPT-2's and GPT-Neo's block: learned positions, attention then MLP, biased output projection, no lm_head bias. */
export const SEQUENTIAL_BLOCK = { rotaryDim: 0, parallelResidual: false, outBias: true, lmHeadBias: false } as const;

/** What GPT-2, GPT-Neo and GPT-J share beyond their blocks: pre-LN, final LayerNorm, no embedding projections. */
export const gptFamily = (d: number) => ({
  dEmbed: d,
  positionOffset: 0,
  alibi: false,
  postLayerNorm: false,
  finalLayerNorm: true,
  embedLayerNorm: false,
  mlpBias: true,
});

/** Sizes as GPT-2 and GPT-J name them (n_embd, n_layer, n_head, n_inner, n_positions); every layer global. */
export function gpt2StyleShape(raw: Record<string, unknown>) {
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

/** The config.json fields GPT-2, GPT-Neo and GPT-J write alike: `raw` kept, and the shared engine fields. */
export function gptHfFields(c: TransformerConfig) {
  const base: Record<string, unknown> = { ...c.raw };
  const common = {
    vocab_size: c.vocabSize,
    activation_function: c.activation,
    layer_norm_epsilon: c.layerNormEps,
    bos_token_id: c.bosTokenId,
    eos_token_id: c.eosTokenId,
    tie_word_embeddings: c.tiedEmbeddings,
  };
  return { base, common };
}

/** The names GPT-2's and GPT-Neo's blocks share under prefix `h` (`transformer.h.<i>.`): both LayerNorms and the MLP. */
export function sequentialBlockNames(h: string) {
  return {
    ln1G: `${h}ln_1.weight`,
    ln1B: `${h}ln_1.bias`,
    ln2G: `${h}ln_2.weight`,
    ln2B: `${h}ln_2.bias`,
    fcW: `${h}mlp.c_fc.weight`,
    fcB: `${h}mlp.c_fc.bias`,
    projW: `${h}mlp.c_proj.weight`,
    projB: `${h}mlp.c_proj.bias`,
  };
}

/** Names of the weights outside the blocks (GPT-2, GPT-Neo, GPT-J). */
export function gptModelWeightNames(cfg: TransformerConfig): ModelWeightNames {
  return {
    wte: `${BASE_PREFIX}wte.weight`,
    wpe: cfg.rotaryDim === 0 ? `${BASE_PREFIX}wpe.weight` : null,
    lnfG: `${BASE_PREFIX}ln_f.weight`,
    lnfB: `${BASE_PREFIX}ln_f.bias`,
    embLnG: null,
    embLnB: null,
    projIn: null,
    projOut: null,
  };
}

/**
 * Every weight of a GPT-2 / GPT-Neo / GPT-J model (base + value head), in a stable order (embeddings, blocks, final
 * norm, heads).
 * @param blockNames the family's block weight names
 * @param linear nn.Linear checkpoints (GPT-Neo, GPT-J) store [out, in]: transposed to the engine's [in, out]
 */
export function gptWeightSpecs(
  cfg: TransformerConfig,
  vhead: WeightSpec[],
  blockNames: (cfg: TransformerConfig, i: number) => BlockWeightNames,
  linear: boolean,
): WeightSpec[] {
  const d = cfg.dModel;
  const ff = cfg.dInner;
  const out: WeightSpec[] = [
    { name: `${BASE_PREFIX}wte.weight`, shape: [cfg.vocabSize, d], transposed: false, kind: 'embedding', layer: -1 },
  ];
  if (cfg.rotaryDim === 0)
    out.push({ name: `${BASE_PREFIX}wpe.weight`, shape: [cfg.nPositions, d], transposed: false, kind: 'embedding', layer: -1 });
  for (let i = 0; i < cfg.nLayers; i++) {
    const n = blockNames(cfg, i);
    out.push({ name: n.ln1G, shape: [d], transposed: false, kind: 'ln_weight', layer: i });
    out.push({ name: n.ln1B, shape: [d], transposed: false, kind: 'ln_bias', layer: i });
    if (linear) {
      // HF order in GPT-Neo's attention module: k, v, q, out (GPT-J's is the same set).
      out.push({ name: n.kW!, shape: [d, d], transposed: true, kind: 'matrix', layer: i });
      out.push({ name: n.vW!, shape: [d, d], transposed: true, kind: 'matrix', layer: i });
      out.push({ name: n.qW!, shape: [d, d], transposed: true, kind: 'matrix', layer: i });
    } else {
      out.push({ name: n.qkvW!, shape: [d, 3 * d], transposed: false, kind: 'matrix', layer: i });
      out.push({ name: n.qkvB!, shape: [3 * d], transposed: false, kind: 'bias', layer: i });
    }
    out.push({ name: n.outW, shape: [d, d], transposed: linear, kind: 'matrix', layer: i });
    if (n.outB) out.push({ name: n.outB, shape: [d], transposed: false, kind: 'bias', layer: i });
    if (n.ln2G) out.push({ name: n.ln2G, shape: [d], transposed: false, kind: 'ln_weight', layer: i });
    if (n.ln2B) out.push({ name: n.ln2B, shape: [d], transposed: false, kind: 'ln_bias', layer: i });
    out.push({ name: n.fcW, shape: [d, ff], transposed: linear, kind: 'matrix', layer: i });
    out.push({ name: n.fcB!, shape: [ff], transposed: false, kind: 'bias', layer: i });
    out.push({ name: n.projW, shape: [ff, d], transposed: linear, kind: 'matrix', layer: i });
    out.push({ name: n.projB!, shape: [d], transposed: false, kind: 'bias', layer: i });
  }
  out.push({ name: `${BASE_PREFIX}ln_f.weight`, shape: [d], transposed: false, kind: 'ln_weight', layer: -1 });
  out.push({ name: `${BASE_PREFIX}ln_f.bias`, shape: [d], transposed: false, kind: 'ln_bias', layer: -1 });
  if (!cfg.tiedEmbeddings) out.push({ name: LM_HEAD, shape: [cfg.vocabSize, d], transposed: false, kind: 'embedding', layer: -1 });
  if (cfg.lmHeadBias) out.push({ name: LM_HEAD_BIAS, shape: [cfg.vocabSize], transposed: false, kind: 'bias', layer: -1 });
  return [...out, ...vhead];
}
