import { z } from 'zod';
import { definePlugin, type RewardModel } from '../../core/index.js';
import { DEFAULT_BIAS, DEFAULT_DECAY, DEFAULT_TARGET_BONUS, LexiconScorer, type LexiconScore } from './lexicon/scorer.js';
import { DEFAULT_TIER_WEIGHTS, type Tier } from './lexicon/terms.js';

const weight = (tier: Tier, what: string) =>
  z.number().min(0).max(20).default(DEFAULT_TIER_WEIGHTS[tier]).describe(`logit added by one ${what}`);

const options = z.object({
  bias: z
    .number()
    .min(-20)
    .max(20)
    .default(DEFAULT_BIAS)
    .describe('toxic − neutral logit of a text with no listed term (−3.3 → p ≈ 0.036)'),
  weights: z
    .strictObject({
      slur: weight('slur', 'identity slur'),
      strong: weight('strong', 'strong swear word or vulgar insult (fuck, cunt, asshole)'),
      threat: weight('threat', 'threat or wish of harm ("kill yourself")'),
      mild: weight('mild', 'everyday swear word (shit, damn, crap)'),
      insult: weight('insult', 'insult word (idiot, stupid, loser)'),
      epithet: weight('epithet', 'word that insults only when aimed at "you" (clown, pig)'),
      sexual: weight('sexual', 'sexually explicit word'),
      cussSure: weight('cussSure', 'other word the cuss list rates 2 (likely profane)'),
      cussMaybe: weight('cussMaybe', 'other word the cuss list rates 1 (maybe profane)'),
    })
    .prefault({})
    .describe('logit weight per tier of the lexicon'),
  targetBonus: z
    .number()
    .min(0)
    .max(20)
    .default(DEFAULT_TARGET_BONUS)
    .describe('added to a term aimed at the reader ("you idiot", "fuck you")'),
  decay: z
    .number()
    .gt(0)
    .max(1)
    .default(DEFAULT_DECAY)
    .describe('diminishing returns: the k-th strongest term counts decay^k of its weight'),
  terms: z
    .record(
      z.string().regex(/^[a-z0-9'*$@!]+( [a-z0-9'*$@!]+)*$/, 'terms are lowercase words separated by single spaces'),
      z.number().min(0).max(20),
    )
    .default({})
    .describe('per-term logit weights: override a listed term (0 = never count it) or add your own words and phrases'),
  useCuss: z.boolean().default(true).describe("include the cuss list's long tail of rated words"),
  useObscenity: z.boolean().default(true).describe("also run obscenity's obfuscation-aware matcher (fuuuck, f u c k, ʃʉck)"),
});

/** The lexicon classifier as a reward model, plus `explain` for reports and debugging. */
interface LexiconToxicityModel extends RewardModel {
  /** Logit, probability and the terms found, for one text. */
  explain(text: string): LexiconScore;
}

/**
 * `"model": { "type": "lexicon-toxicity" }` — an offline, dependency-light toxicity classifier
 * built on word lists: cuss (graded English profanity ratings) plus obscenity's
 * obfuscation-aware matcher (`f*ck`, `fuuuck`, `sh1t`, look-alike letters), with the project's
 * own severity tiers (lexicon/terms.ts). Like a Hugging Face sequence classifier it returns logits
 * for `labels = ["neutral", "toxic"]` (neutralIndex 0), so the reward transforms apply unchanged:
 * with `z` = toxic − neutral logit, the logits are `[−z/2, +z/2]` and softmax gives
 * P(toxic) = sigmoid(z); the `raw-logit` reward is −z/2.
 *
 * Scoring: `z = bias + Σ_k decay^k · w_(k)` over the matched terms' weights, largest first
 * (diminishing returns), where a term's weight is its tier's weight, plus `targetBonus` when it
 * is aimed at the reader ("you idiot", "you are such a stupid little idiot", "fuck you").
 * Calibration targets, tested on a labelled table of sentences:
 * - clean text: P(toxic) ≈ 0.02–0.05 (bias −3.3 → 0.036);
 * - one mild swear word ("shit", "damn"): ≈ 0.5;
 * - one strong swear word ≈ 0.77, aimed at "you" ≈ 0.94;
 * - a slur, or several insults aimed at someone: ≥ 0.9.
 *
 * Limits: it sees explicit language only. It misses implicit hate, sarcasm, dog whistles,
 * threats phrased without listed words, and toxicity spread over ordinary words; it does not
 * understand negation ("you are not an idiot") or quotation (reported speech counts as if said);
 * words with clean senses (hell, screw, cock, prick, pussy) can score where they are harmless;
 * English only. It is a stand-in for a neural classifier when no model can be downloaded, and an
 * easy-to-read reward for tests and small runs — not a moderation tool.
 *
 * Speed: a few microseconds of JavaScript per short text (no tensors).
 */
export default definePlugin({
  kind: 'reward-model',
  name: 'lexicon-toxicity',
  description: 'offline word-list toxicity classifier (cuss ratings + obscenity matcher), logits [neutral, toxic]',
  options,
  create(opts): LexiconToxicityModel {
    const scorer = new LexiconScorer({
      bias: opts.bias,
      targetBonus: opts.targetBonus,
      decay: opts.decay,
      tierWeights: opts.weights,
      termWeights: opts.terms,
      useCuss: opts.useCuss,
      useObscenity: opts.useObscenity,
    });
    return {
      name: 'lexicon-toxicity',
      labels: ['neutral', 'toxic'],
      neutralIndex: 0,
      async classify(texts: string[]): Promise<number[][]> {
        if (!Array.isArray(texts)) throw new Error(`lexicon-toxicity: classify expects an array of strings (got ${typeof texts})`);
        return texts.map((text, i) => {
          if (typeof text !== 'string') throw new Error(`lexicon-toxicity: texts[${i}] is ${typeof text}; expected a string`);
          const zLogit = scorer.score(text).logit;
          return [-zLogit / 2, zLogit / 2];
        });
      },
      explain: (text: string) => scorer.score(text),
    };
  },
});
