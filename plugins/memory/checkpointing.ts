import { z } from 'zod';
import { definePlugin } from '../../core/index.js';

/**
 * `{ "type": "checkpointing" }` — gradient checkpointing: each transformer block keeps only its input during the
 * training forward and recomputes its activations in the backward pass (same gradients, bit for bit; about half
 * the peak memory of a forward+backward for roughly a fifth more time).
 */
export default definePlugin({
  kind: 'memory',
  name: 'checkpointing',
  description: "recompute each block's activations in the backward pass instead of keeping them",
  options: z.object({}),
  create: () => ({
    name: 'checkpointing',
    apply: (plan) => {
      plan.checkpointBlocks = true;
    },
  }),
});
