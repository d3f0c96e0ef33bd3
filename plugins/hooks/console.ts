import { z } from 'zod';
import { definePlugin, ConsoleHook } from '../../core/index.js';
import { enabledOption } from './enabled.js';

/**
 * `{ "type": "console" }` — on by default: the progress bar (step, reward, KL, β, s/step, ETA) and each step's
 * warnings on the console. `progress: false` keeps the warnings without the bar; `enabled: false` drops both.
 */
export default definePlugin({
  kind: 'hook',
  name: 'console',
  description: 'console progress bar and per-step warnings (on by default)',
  onByDefault: true,
  options: z.object({
    enabled: enabledOption(),
    progress: z.boolean().optional().describe('draw the progress bar (warnings are printed either way); default: train.progress'),
  }),
  create: (o, ctx) => new ConsoleHook(o.progress ?? ctx.train?.progress ?? true, ctx.out ?? process.stderr),
});
