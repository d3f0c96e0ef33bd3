import { z } from 'zod';
import { definePlugin, roundVariablesToBf16 } from '../../core/index.js';

/**
 * `{ "type": "bf16" }` — the study's bfloat16 regime on an engine without a bfloat16 dtype: frozen weights (the
 * reference's copies) are held packed as bfloat16 and expanded block by block on use (half their memory), and
 * trainable weights are rounded to bfloat16 after every optimiser step ("pure bf16"), unless
 * `"keepFloat32Masters": true` keeps them float32.
 */
export default definePlugin({
  kind: 'memory',
  name: 'bf16',
  description: 'frozen weights packed as bfloat16; trainable weights rounded to bfloat16 after each step (pure bf16)',
  options: z.object({
    keepFloat32Masters: z
      .boolean()
      .default(false)
      .describe('keep trainable weights float32 (only frozen weights are bfloat16) instead of rounding them after each step'),
  }),
  create: (o) => ({
    name: 'bf16',
    apply: (plan) => {
      plan.frozenStorage = 'bfloat16';
      plan.roundTrainableToBf16 = !o.keepFloat32Masters;
    },
    ...(o.keepFloat32Masters ? {} : { afterUpdate: (vars) => roundVariablesToBf16(vars) }),
  }),
});
