/**
 * The architecture vocabulary every file of arch/ shares: the engine's one internal {@link TransformerConfig}, the
 * types of its weight names, the names every family shares, and {@link Architecture}, what each family's file
 * (gpt2.ts, gpt-neo.ts, gptj.ts, opt.ts, bloom.ts) provides. Types and constants only, so the families' files and
 * the dispatchers that call them through architectures.ts (hf-config.ts, weight-names.ts) import it and not each other.
 */
import type { Activation } from './config-fields.js';

/** Model families the engine implements. */
export const SUPPORTED_MODEL_TYPES = ['gpt2', 'gpt_neo', 'gptj', 'opt', 'bloom'] as const;
export type ModelType = (typeof SUPPORTED_MODEL_TYPES)[number];

/** Attention pattern of one layer: 'global' = causal over all keys, 'local' = causal within `windowSize`. */
export type AttentionType = 'global' | 'local';

/** Architecture description shared by GPT-2, GPT-Neo, GPT-J, OPT and BLOOM. */
export interface TransformerConfig {
  modelType: ModelType;
  vocabSize: number;
  /** Maximum number of positions (size of the learned position table). */
  nPositions: number;
  dModel: number;
  nHeads: number;
  nLayers: number;
  /** Width of the MLP hidden layer (4 * dModel unless the config says otherwise). */
  dInner: number;
  layerNormEps: number;
  activation: Activation;
  /** One entry per layer. */
  attentionTypes: AttentionType[];
  /** Local attention window (keys with q_pos - k_pos >= windowSize are masked); GPT-Neo only. */
  windowSize: number;
  /** Divide scores by sqrt(head_dim) (GPT-2: yes, GPT-Neo: no). */
  scaleAttention: boolean;
  /** GPT-2's scale_attn_by_inverse_layer_idx: also divide scores of layer i by (i + 1). */
  scaleByInverseLayerIdx: boolean;
  /** q/k/v projections carry biases (GPT-2 fused c_attn: yes; GPT-Neo: no). */
  qkvBias: boolean;
  /** Output projection shares the token embedding. */
  tiedEmbeddings: boolean;
  /**
   * Rotary position embedding width per head (GPT-J's rotary_dim: the first `rotaryDim` features of every query
   * and key head are rotated pairwise, the rest pass through); 0 = learned absolute positions (wpe) instead.
   */
  rotaryDim: number;
  /** GPT-J's block: x + attn(ln_1(x)) + mlp(ln_1(x)) (one LayerNorm, attention and MLP side by side). */
  parallelResidual: boolean;
  /** Attention output projection carries a bias (GPT-2, GPT-Neo: yes; GPT-J: no). */
  outBias: boolean;
  /** The untied lm_head carries a bias (GPT-J: yes). */
  lmHeadBias: boolean;
  /**
   * Width of the token embedding, the final hidden states, the lm head and the value head: OPT's
   * word_embed_proj_dim (project_in / project_out map it to and from dModel when it differs); dModel otherwise.
   */
  dEmbed: number;
  /** Learned position table row of position p is p + positionOffset (OPT: 2); 0 otherwise. */
  positionOffset: number;
  /** ALiBi: per-head linear biases on attention scores instead of position embeddings (BLOOM). */
  alibi: boolean;
  /** Post-LayerNorm block: ln_1(x + attn(x)), then ln_2(· + mlp(·)) (OPT with do_layer_norm_before false). */
  postLayerNorm: boolean;
  /** A LayerNorm after the last block (absent in post-LN OPT). */
  finalLayerNorm: boolean;
  /** A LayerNorm right after the token embedding (BLOOM's word_embeddings_layernorm). */
  embedLayerNorm: boolean;
  /** The MLP's two projections carry biases (OPT's enable_bias; every other family: yes). */
  mlpBias: boolean;
  bosTokenId: number | null;
  eosTokenId: number | null;
  /** The parsed config.json, kept so saving round-trips fields the engine does not use. */
  raw: Record<string, unknown>;
}

/** One expected weight. */
export interface WeightSpec {
  /** Hugging Face name, with the `transformer.` prefix (value head: `v_head.summary.*`). */
  name: string;
  /** Shape in the engine's layout. */
  shape: number[];
  /** True when the checkpoint stores the transpose of the engine's tensor (nn.Linear weights). */
  transposed: boolean;
  /** What the weight is, for initialisation. */
  kind: 'embedding' | 'matrix' | 'bias' | 'ln_weight' | 'ln_bias' | 'vhead_weight' | 'vhead_bias';
  /** Block index, or -1 for weights outside the blocks. */
  layer: number;
  /**
   * BLOOM's fused query_key_value: the checkpoint lays the 3·d outputs out per head as [q, k, v] (this many heads);
   * the engine's columns are [q | k | v].
   */
  interleavedHeads?: number;
}

/** Names of the weights outside the blocks (null: the architecture has no such weight). */
export interface ModelWeightNames {
  /** Token embedding [V, dEmbed]. */
  wte: string;
  /** Learned position table (GPT-2, GPT-Neo, OPT). */
  wpe: string | null;
  /** Final LayerNorm. */
  lnfG: string | null;
  lnfB: string | null;
  /** LayerNorm after the token embedding (BLOOM). */
  embLnG: string | null;
  embLnB: string | null;
  /** OPT's projections between word_embed_proj_dim and hidden_size ([dEmbed, d] and [d, dEmbed]). */
  projIn: string | null;
  projOut: string | null;
}

/** Names of one block's weights in the engine's terms. */
export interface BlockWeightNames {
  ln1G: string;
  ln1B: string;
  /** GPT-2, BLOOM: fused [d, 3d] projection and its bias. */
  qkvW?: string;
  qkvB?: string;
  /** GPT-Neo, GPT-J, OPT: separate [d, d] projections (with biases in OPT). */
  qW?: string;
  kW?: string;
  vW?: string;
  qB?: string;
  kB?: string;
  vB?: string;
  outW: string;
  /** Absent in GPT-J. */
  outB?: string;
  /** Absent in GPT-J (one LayerNorm feeds attention and MLP). */
  ln2G?: string;
  ln2B?: string;
  fcW: string;
  projW: string;
  /** Absent in OPT with enable_bias false. */
  fcB?: string;
  projB?: string;
}

/** Prefix of every base-model weight. */
export const BASE_PREFIX = 'transformer.';
export const VHEAD_WEIGHT = 'v_head.summary.weight';
export const VHEAD_BIAS = 'v_head.summary.bias';
export const LM_HEAD = 'lm_head.weight';
/** GPT-J's untied output projection has a bias. */
export const LM_HEAD_BIAS = 'lm_head.bias';

/** What one architecture's file provides; hf-config.ts and weight-names.ts dispatch on `model_type` to it. */
export interface Architecture {
  /** Parses a config.json of this `model_type`. */
  parse(raw: Record<string, unknown>): TransformerConfig;
  /** Writes the config as config.json (fields of `raw` kept, engine fields updated). */
  toHf(c: TransformerConfig): Record<string, unknown>;
  /** Names of the weights outside the blocks. */
  modelWeightNames(c: TransformerConfig): ModelWeightNames;
  /** Names of block `i`'s weights. */
  blockWeightNames(c: TransformerConfig, i: number): BlockWeightNames;
  /** Every weight of the model, `vhead` (the value head's) last, in the order the checkpoint registers them. */
  weightSpecs(c: TransformerConfig, vhead: WeightSpec[]): WeightSpec[];
}
