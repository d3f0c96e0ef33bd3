import { definePlugin, adamOptionsSchema, createAdamFromOptions } from '../../core/index.js';

/**
 * `"optimiser": { "type": "adamw", ... }` — torch.optim.AdamW: decoupled weight decay
 * (θ ← θ·(1 − lr·wd) before the Adam update), default weightDecay 0.01 as in torch.
 */
export default definePlugin({
  kind: 'optimiser',
  name: 'adamw',
  description: 'AdamW as torch.optim.AdamW (decoupled weight decay, default 0.01); constant/linear/cosine schedules',
  options: adamOptionsSchema(0.01),
  create: (options, ctx) => createAdamFromOptions(options, ctx, true),
});
