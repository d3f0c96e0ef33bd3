/**
 * The weights a GPT-2 / GPT-Neo / GPT-J / OPT / BLOOM causal LM with value head holds: Hugging Face tensor names, their shapes in the
 * engine's layout, and whether the engine layout is the Hugging Face tensor transposed.
 *
 * Engine layout: every projection matrix is [in, out] (GPT-2's Conv1D layout), so the forward only runs plain
 * (untransposed) matrix products. GPT-2 checkpoints already store Conv1D weights that way; GPT-Neo's and GPT-J's
 * nn.Linear weights are [out, in] in the checkpoint and are transposed on load and save.
 */
import type { BlockWeightNames, ModelWeightNames, TransformerConfig, WeightSpec } from './types.js';
import { optBlockWeightNames, optModelWeightNames, optWeightSpecs } from './opt.js';
import { bloomBlockWeightNames, bloomModelWeightNames, bloomWeightSpecs } from './bloom.js';

/** The weight-name types live in types.ts (the architectures' files name them without importing this dispatcher). */
export type { BlockWeightNames, ModelWeightNames, WeightSpec } from './types.js';

/** Prefix of every base-model weight. */
export const BASE_PREFIX = 'transformer.';
export const VHEAD_WEIGHT = 'v_head.summary.weight';
export const VHEAD_BIAS = 'v_head.summary.bias';
export const LM_HEAD = 'lm_head.weight';
/** GPT-J's untied output projection has a bias. */
export const LM_HEAD_BIAS = 'lm_head.bias';

/** Names of the weights outside the blocks. */
export function modelWeightNames(cfg: TransformerConfig): ModelWeightNames {
  if (cfg.modelType === 'opt') return optModelWeightNames(cfg);
  if (cfg.modelType === 'bloom') return bloomModelWeightNames();
  return {
    wte: `${BASE_PREFIX}wte.weight`, wpe: cfg.rotaryDim === 0 ? `${BASE_PREFIX}wpe.weight` : null,
    lnfG: `${BASE_PREFIX}ln_f.weight`, lnfB: `${BASE_PREFIX}ln_f.bias`, embLnG: null, embLnB: null, projIn: null, projOut: null,
  };
}

/**
 * Weights a reference sharing `numSharedLayers` blocks shares with its policy, as TRL's create_reference_model:
 * every weight the model registers before block N (embeddings, and for OPT its projections and final norm too).
 */
export function sharedWeightNames(cfg: TransformerConfig, numSharedLayers: number): Set<string> {
  const out = new Set<string>();
  for (const s of weightSpecs(cfg)) {
    if (s.layer >= numSharedLayers) break;
    if (s.kind === 'vhead_weight' || s.kind === 'vhead_bias') break;
    out.add(s.name);
  }
  return out;
}

/** Names of block `i`'s weights. */
export function blockWeightNames(cfg: TransformerConfig, i: number): BlockWeightNames {
  if (cfg.modelType === 'opt') return optBlockWeightNames(cfg, i);
  if (cfg.modelType === 'bloom') return bloomBlockWeightNames(i);
  const h = `${BASE_PREFIX}h.${i}.`;
  if (cfg.modelType === 'gptj') {
    const a = `${h}attn.`;
    return {
      ln1G: `${h}ln_1.weight`, ln1B: `${h}ln_1.bias`,
      qW: `${a}q_proj.weight`, kW: `${a}k_proj.weight`, vW: `${a}v_proj.weight`, outW: `${a}out_proj.weight`,
      fcW: `${h}mlp.fc_in.weight`, fcB: `${h}mlp.fc_in.bias`, projW: `${h}mlp.fc_out.weight`, projB: `${h}mlp.fc_out.bias`,
    };
  }
  const common = {
    ln1G: `${h}ln_1.weight`, ln1B: `${h}ln_1.bias`, ln2G: `${h}ln_2.weight`, ln2B: `${h}ln_2.bias`,
    fcW: `${h}mlp.c_fc.weight`, fcB: `${h}mlp.c_fc.bias`, projW: `${h}mlp.c_proj.weight`, projB: `${h}mlp.c_proj.bias`,
  };
  if (cfg.modelType === 'gpt2') {
    return { ...common, qkvW: `${h}attn.c_attn.weight`, qkvB: `${h}attn.c_attn.bias`, outW: `${h}attn.c_proj.weight`, outB: `${h}attn.c_proj.bias` };
  }
  const a = `${h}attn.attention.`;
  return {
    ...common, qW: `${a}q_proj.weight`, kW: `${a}k_proj.weight`, vW: `${a}v_proj.weight`,
    outW: `${a}out_proj.weight`, outB: `${a}out_proj.bias`,
  };
}

/** Every weight of the model (base + value head), in a stable order (embeddings, blocks, final norm, heads). */
export function weightSpecs(cfg: TransformerConfig): WeightSpec[] {
  const vhead: WeightSpec[] = [
    { name: VHEAD_WEIGHT, shape: [1, cfg.dEmbed], transposed: false, kind: 'vhead_weight', layer: -1 },
    { name: VHEAD_BIAS, shape: [1], transposed: false, kind: 'vhead_bias', layer: -1 },
  ];
  if (cfg.modelType === 'opt') return optWeightSpecs(cfg, vhead);
  if (cfg.modelType === 'bloom') return bloomWeightSpecs(cfg, vhead);
  const d = cfg.dModel;
  const ff = cfg.dInner;
  // nn.Linear checkpoints (GPT-Neo, GPT-J) store [out, in]: transposed to the engine's [in, out].
  const linear = cfg.modelType !== 'gpt2';
  const out: WeightSpec[] = [
    { name: `${BASE_PREFIX}wte.weight`, shape: [cfg.vocabSize, d], transposed: false, kind: 'embedding', layer: -1 },
  ];
  if (cfg.rotaryDim === 0) out.push({ name: `${BASE_PREFIX}wpe.weight`, shape: [cfg.nPositions, d], transposed: false, kind: 'embedding', layer: -1 });
  for (let i = 0; i < cfg.nLayers; i++) {
    const n = blockWeightNames(cfg, i);
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
