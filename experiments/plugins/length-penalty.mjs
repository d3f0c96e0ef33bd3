// The README's worked example of the `reward` hook point (README "Writing a plugin"): a length penalty.
// Used by experiments/length-penalty.json and run by test/plugins/length-penalty.test.ts.
import { definePlugin, z } from 'detox-lab';

export default definePlugin({
  kind: 'hook',
  name: 'length-penalty',
  description: 'subtracts perToken for every response token beyond freeTokens from the reward',
  options: z.object({
    perToken: z.number().min(0).default(0.05).describe('reward taken off per response token beyond freeTokens'),
    freeTokens: z.number().int().min(0).default(20).describe('response tokens that cost nothing'),
  }),
  create: (o) => ({
    name: 'length-penalty',
    // rewards: [B], the reward transform's output; ctx: prompts, responses, promptTokens, responseTokens, logits, step
    onReward: (rewards, ctx) => rewards.map((r, i) => r - o.perToken * Math.max(0, ctx.responseTokens[i] - o.freeTokens)),
  }),
});
