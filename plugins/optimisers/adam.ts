import { definePlugin, adamOptionsSchema, createAdamFromOptions } from '../../core/index.js';

/**
 * `"optimiser": { "type": "adam", ... }` — torch.optim.Adam (TRL's optimiser: lr 1.41e-5,
 * betas [0.9, 0.999], eps 1e-8, no weight decay), with an optional per-PPO-step schedule.
 */
export default definePlugin({
  kind: 'optimiser',
  name: 'adam',
  description: "Adam as torch.optim.Adam (TRL's default optimiser); L2 weight decay; constant/linear/cosine schedules",
  options: adamOptionsSchema(0),
  create: (options, ctx) => createAdamFromOptions(options, ctx, false),
});
