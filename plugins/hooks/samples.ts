import { z } from 'zod';
import { definePlugin } from '../../core/plugin/define.js';
import { SamplesHook } from '../../core/logging/run-hooks.js';
import { enabledOption } from './enabled.js';

/** `{ "type": "samples" }` — on by default: every prompt, response, score and reward of every step, to samples.jsonl. */
export default definePlugin({
  kind: 'hook',
  name: 'samples',
  description: 'samples.jsonl in the run folder: every prompt, response, score and reward of every step (on by default)',
  options: z.object({ enabled: enabledOption() }),
  create: () => new SamplesHook(),
});
