/**
 * GPT-Neo (`GPTNeoForCausalLM`): config.json parsing and writing (with the run-length `attention_types`), and the
 * checkpoint's weight names. What differs from GPT-2: separate q/k/v projections without bias and out_proj with
 * bias (nn.Linear, [out, in]: transposed on load and save), NO score scaling, 'local' layers that mask keys more
 * than `window_size` back.
 */
import { activation, num, posInt, tail } from './config-fields.js';
import { gptFamily, gptHfFields, gptModelWeightNames, gptWeightSpecs, SEQUENTIAL_BLOCK, sequentialBlockNames } from './gpt-family.js';
import { BASE_PREFIX, type Architecture, type AttentionType, type BlockWeightNames, type TransformerConfig } from './types.js';

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
function compressAttentionTypes(types: AttentionType[]): [AttentionType[], number][] {
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

/** Parses a GPT-Neo config.json. */
function parseGptNeoConfig(raw: Record<string, unknown>): TransformerConfig {
  const d = posInt('hidden_size', num(raw, ['hidden_size']));
  const nLayers = posInt('num_layers', num(raw, ['num_layers']));
  const nHeads = posInt('num_heads', num(raw, ['num_heads']));
  if (d % nHeads !== 0) throw new Error(`config.json: hidden_size ${d} is not divisible by num_heads ${nHeads}`);
  let attentionTypes: AttentionType[];
  if (Array.isArray(raw.attention_layers)) {
    // Hugging Face stores the expanded list too; it must agree with num_layers.
    const layers = raw.attention_layers as unknown[];
    if (layers.length !== nLayers || !layers.every((t) => t === 'global' || t === 'local')) {
      throw new Error(
        `config.json: "attention_layers" must list "global"/"local" for each of the ${nLayers} layers, got ${JSON.stringify(layers)}`,
      );
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

/** Writes a GPT-Neo TransformerConfig as config.json (fields of `raw` kept, engine fields updated). */
function gptNeoConfigToHf(c: TransformerConfig): Record<string, unknown> {
  const { base, common } = gptHfFields(c);
  const out: Record<string, unknown> = {
    ...base,
    model_type: 'gpt_neo',
    architectures: base.architectures ?? ['GPTNeoForCausalLM'],
    ...common,
    max_position_embeddings: c.nPositions,
    hidden_size: c.dModel,
    num_layers: c.nLayers,
    num_heads: c.nHeads,
    intermediate_size: c.dInner === 4 * c.dModel ? null : c.dInner,
    attention_types: compressAttentionTypes(c.attentionTypes),
    attention_layers: [...c.attentionTypes],
    window_size: c.windowSize,
  };
  return out;
}

/** Names of block `i`'s weights. */
function gptNeoBlockWeightNames(_cfg: TransformerConfig, i: number): BlockWeightNames {
  const h = `${BASE_PREFIX}h.${i}.`;
  const common = sequentialBlockNames(h);
  const a = `${h}attn.attention.`;
  return {
    ...common,
    qW: `${a}q_proj.weight`,
    kW: `${a}k_proj.weight`,
    vW: `${a}v_proj.weight`,
    outW: `${a}out_proj.weight`,
    outB: `${a}out_proj.bias`,
  };
}

/** GPT-Neo: config.json and weight names. */
export const GPT_NEO: Architecture = {
  parse: parseGptNeoConfig,
  toHf: gptNeoConfigToHf,
  modelWeightNames: gptModelWeightNames,
  blockWeightNames: gptNeoBlockWeightNames,
  weightSpecs: (c, vhead) => gptWeightSpecs(c, vhead, gptNeoBlockWeightNames, true),
};
