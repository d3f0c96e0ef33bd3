/**
 * Published config.json fields of well-known checkpoints, so `detox-lab plan` can size a recipe whose model folder
 * is not downloaded yet (keyed by the folder name, case-insensitive).
 */
const GPT_NEO_125M = {
  model_type: 'gpt_neo',
  vocab_size: 50257,
  max_position_embeddings: 2048,
  hidden_size: 768,
  num_layers: 12,
  num_heads: 12,
  attention_types: [[['global', 'local'], 6]],
  window_size: 256,
  intermediate_size: null,
  activation_function: 'gelu_new',
  layer_norm_epsilon: 1e-5,
  bos_token_id: 50256,
  eos_token_id: 50256,
};
const gpt2 = (n_embd: number, n_layer: number, n_head: number) => ({
  model_type: 'gpt2',
  vocab_size: 50257,
  n_positions: 1024,
  n_embd,
  n_layer,
  n_head,
  activation_function: 'gelu_new',
  layer_norm_epsilon: 1e-5,
  bos_token_id: 50256,
  eos_token_id: 50256,
});

// EleutherAI/gpt-j-6b (and the study's ybelkada/gpt-j-6b-sharded-bf16 copy of it).
const GPT_J_6B = {
  model_type: 'gptj',
  vocab_size: 50400,
  n_positions: 2048,
  n_embd: 4096,
  n_layer: 28,
  n_head: 16,
  rotary_dim: 64,
  n_inner: null,
  activation_function: 'gelu_new',
  layer_norm_epsilon: 1e-5,
  bos_token_id: 50256,
  eos_token_id: 50256,
  tie_word_embeddings: false,
};

// facebook/opt-350m: post-LN blocks, 512-wide embeddings projected to 1024 (the study's model-selection candidate).
const OPT_350M = {
  model_type: 'opt',
  architectures: ['OPTForCausalLM'],
  vocab_size: 50272,
  max_position_embeddings: 2048,
  hidden_size: 1024,
  num_attention_heads: 16,
  num_hidden_layers: 24,
  ffn_dim: 4096,
  word_embed_proj_dim: 512,
  do_layer_norm_before: false,
  activation_function: 'relu',
  enable_bias: true,
  bos_token_id: 2,
  eos_token_id: 2,
  pad_token_id: 1,
};

// bigscience/bloom-560m: ALiBi, 250,880-token vocabulary (the study's least toxic candidate).
const BLOOM_560M = {
  model_type: 'bloom',
  architectures: ['BloomForCausalLM'],
  vocab_size: 250880,
  hidden_size: 1024,
  n_head: 16,
  n_layer: 24,
  layer_norm_epsilon: 1e-5,
  apply_residual_connection_post_layernorm: false,
  bos_token_id: 1,
  eos_token_id: 2,
  pad_token_id: 3,
};

export const KNOWN_CONFIGS: Readonly<Record<string, Record<string, unknown>>> = {
  'gpt-neo-125m': GPT_NEO_125M,
  gpt2: gpt2(768, 12, 12),
  'gpt2-medium': gpt2(1024, 24, 16),
  'gpt2-large': gpt2(1280, 36, 20),
  'gpt2-xl': gpt2(1600, 48, 25),
  'gpt-j-6b': GPT_J_6B,
  'gpt-j-6b-sharded-bf16': GPT_J_6B,
  'opt-350m': OPT_350M,
  'bloom-560m': BLOOM_560M,
};

/** The published config.json of a model folder name, if known. */
export function knownConfig(folder: string): Record<string, unknown> | undefined {
  return KNOWN_CONFIGS[folder.toLowerCase()];
}
