import path from 'node:path';
import { z } from 'zod';
import { definePlugin, CausalLMPolicy } from '../../core/index.js';

/**
 * `"policy": { "type": "hf-causal-lm", "path": "models/gpt-neo-125M" }` — a GPT-2, GPT-Neo, GPT-J, OPT or
 * BLOOM Hugging Face folder (config.json, model.safetensors or a sharded index, tokenizer.json) with
 * TRL's value head (read from value_head.safetensors when present, else initialised).
 */
export default definePlugin({
  kind: 'policy',
  name: 'hf-causal-lm',
  description: 'a GPT-2 / GPT-Neo / GPT-J / OPT / BLOOM Hugging Face folder with a value head (TRL AutoModelForCausalLMWithValueHead)',
  options: z.object({
    path: z.string().min(1).describe('model folder, relative to the project root'),
    vHeadInit: z
      .enum(['default', 'normal'])
      .default('default')
      .describe('value head init when the folder has none: nn.Linear default, or N(0, 0.2) with zero bias (TRL v_head_init_strategy)'),
  }),
  create: (o, ctx) =>
    CausalLMPolicy.load(path.resolve(ctx.configDir, o.path), { plan: ctx.memoryPlan, vHeadInit: o.vHeadInit, seed: ctx.seed }),
});
