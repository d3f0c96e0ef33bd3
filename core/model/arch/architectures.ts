/**
 * The table of architectures: `model_type` → the family's file. hf-config.ts (config.json) and weight-names.ts
 * (weight names and order) dispatch through it; a new family is one file plus one line here.
 */
import type { Architecture, ModelType } from './types.js';
import { GPT2 } from './gpt2.js';
import { GPT_NEO } from './gpt-neo.js';
import { GPTJ } from './gptj.js';
import { OPT } from './opt.js';
import { BLOOM } from './bloom.js';

/** Every family the engine implements, by `model_type` (the keys are SUPPORTED_MODEL_TYPES). */
export const ARCHITECTURES: Readonly<Record<ModelType, Architecture>> = {
  gpt2: GPT2,
  gpt_neo: GPT_NEO,
  gptj: GPTJ,
  opt: OPT,
  bloom: BLOOM,
};
