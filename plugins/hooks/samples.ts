import { z } from 'zod';
import { definePlugin, SamplesHook } from '../../core/index.js';
import { enabledOption } from './enabled.js';

/** `{ "type": "samples" }` — on by default: every prompt, response, score and reward of every step, to samples.jsonl. */
export default definePlugin({
  kind: 'hook',
  name: 'samples',
  description: 'samples.jsonl in the run folder: every prompt, response, score and reward of every step (on by default)',
  onByDefault: true,
  options: z.object({ enabled: enabledOption() }),
  create: () => new SamplesHook(),
});
