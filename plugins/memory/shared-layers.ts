import { z } from 'zod';
import { definePlugin } from '../../core/index.js';

/**
 * `{ "type": "shared-layers", "numSharedLayers": N }` — TRL's `create_reference_model(model,
 * num_shared_layers=N)`: the embeddings and blocks 0..N-1 are frozen in the policy. Unlike TRL,
 * which deep-copies them anyway, the reference here uses the very same weights (one copy in
 * memory), so the reference costs only its unshared blocks; its log-probs are unchanged.
 */
export default definePlugin({
  kind: 'memory',
  name: 'shared-layers',
  description: 'freeze the embeddings and first N blocks and share them with the reference (TRL num_shared_layers)',
  options: z.object({
    numSharedLayers: z
      .number()
      .int()
      .min(0)
      .describe("blocks 0..N-1 and the embeddings are frozen and shared (the study: 20 of GPT-J's 28)"),
  }),
  create: (o) => ({
    name: 'shared-layers',
    apply: (plan) => {
      plan.numSharedLayers = o.numSharedLayers;
    },
  }),
});
