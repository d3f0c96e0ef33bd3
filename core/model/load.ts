/**
 * Loading a causal LM with value head from a Hugging Face folder: io/hf-io.ts reads the config and the weights
 * (in the engine's layout), this builds the model from them. Saving is io/hf-io.ts's `saveCausalLM`.
 */
import { CausalLM, type CausalLMOptions } from './causal-lm.js';
import { readHfCheckpoint } from './io/hf-io.js';

/** Options of {@link loadCausalLM}. */
type LoadOptions = CausalLMOptions;

/**
 * Loads a causal LM with value head from a Hugging Face folder.
 * The value head comes from value_head.safetensors, or v_head.* tensors in the model file, or is initialised
 * with `opts.vHeadInit` and `opts.seed`.
 */
export async function loadCausalLM(dir: string, opts: LoadOptions = {}): Promise<CausalLM> {
  const { cfg, weights } = await readHfCheckpoint(dir);
  return CausalLM.fromHostWeights(cfg, weights, opts);
}
