/**
 * The weights a GPT-2 / GPT-Neo / GPT-J / OPT / BLOOM causal LM with value head holds: Hugging Face tensor names, their shapes in the
 * engine's layout, and whether the engine layout is the Hugging Face tensor transposed.
 *
 * Engine layout: every projection matrix is [in, out] (GPT-2's Conv1D layout), so the forward only runs plain
 * (untransposed) matrix products. GPT-2 checkpoints already store Conv1D weights that way; GPT-Neo's and GPT-J's
 * nn.Linear weights are [out, in] in the checkpoint and are transposed on load and save.
 */
import {
  VHEAD_BIAS,
  VHEAD_WEIGHT,
  type BlockWeightNames,
  type ModelWeightNames,
  type TransformerConfig,
  type WeightSpec,
} from './types.js';
import { ARCHITECTURES } from './architectures.js';

/** The weight-name types live in types.ts (the architectures' files name them without importing this dispatcher). */
export type { WeightSpec } from './types.js';

/** The names every family shares live in types.ts. */
export { BASE_PREFIX, LM_HEAD, LM_HEAD_BIAS, VHEAD_BIAS, VHEAD_WEIGHT } from './types.js';

/** Names of the weights outside the blocks. */
export function modelWeightNames(cfg: TransformerConfig): ModelWeightNames {
  return ARCHITECTURES[cfg.modelType].modelWeightNames(cfg);
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
  return ARCHITECTURES[cfg.modelType].blockWeightNames(cfg, i);
}

/** Every weight of the model (base + value head), in a stable order (embeddings, blocks, final norm, heads). */
export function weightSpecs(cfg: TransformerConfig): WeightSpec[] {
  const vhead: WeightSpec[] = [
    { name: VHEAD_WEIGHT, shape: [1, cfg.dEmbed], transposed: false, kind: 'vhead_weight', layer: -1 },
    { name: VHEAD_BIAS, shape: [1], transposed: false, kind: 'vhead_bias', layer: -1 },
  ];
  return ARCHITECTURES[cfg.modelType].weightSpecs(cfg, vhead);
}
