import { z } from 'zod';
import { definePlugin, TensorBoardHook } from '../../core/index.js';
import { enabledOption } from './enabled.js';

/**
 * `{ "type": "tensorboard" }` — on by default: TRL's scalars of every `logEvery`-th step, reward/KL/advantage
 * histograms, sample generations as text every `sampleEvery` steps, memory, and every evaluation's `eval/...`
 * figures at its step (before = 0, periodic, after), to `events.out.tfevents.*` in the run folder.
 */
export default definePlugin({
  kind: 'hook',
  name: 'tensorboard',
  description: 'TensorBoard event file in the run folder: step scalars, histograms, sample text, eval figures (on by default)',
  onByDefault: true,
  options: z.object({
    enabled: enabledOption(),
    logEvery: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('write the step scalars and histograms every N steps (and at the last); default: train.logEvery'),
    sampleEvery: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('log sample generations as text every N steps (and at the first and last); default: train.sampleEvery'),
  }),
  create: (o, ctx) =>
    new TensorBoardHook({
      logEvery: o.logEvery ?? ctx.train?.logEvery ?? 1,
      sampleEvery: o.sampleEvery ?? ctx.train?.sampleEvery ?? 10,
    }),
});
