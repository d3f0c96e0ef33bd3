/**
 * Perplexity across vocabularies: when the fluency model's tokenizer is not the policy's (the study's candidates
 * each bring their own), evaluate() re-encodes prompt and continuation text with the fluency tokenizer (prompt with
 * its special tokens, continuation without) instead of feeding it the policy's ids.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { evaluate, sameTokenizer } from '../../core/eval/evaluate.js';
import type { Policy } from '../../core/interfaces/policy.js';
import type { RewardModel } from '../../core/interfaces/reward.js';
import type { Tokenizer } from '../../core/interfaces/tokenizer.js';

const ALPHABET = ' abcdefghijklmnopqrstuvwxyz';

/** Characters → ids `offset + index`; with `bos`, encode() starts with it unless addSpecialTokens is false. */
function charTokenizer(offset: number, bos: number | null): Tokenizer & { toJSON(): object } {
  return {
    vocabSize: offset + ALPHABET.length,
    bosTokenId: bos,
    eosTokenId: 0,
    padTokenId: 0,
    encode: (text, opts) => [
      ...(bos !== null && opts?.addSpecialTokens !== false ? [bos] : []),
      ...[...text].map((c) => offset + ALPHABET.indexOf(c)),
    ],
    decode: (ids) => Array.from(ids, (i) => (i >= offset ? ALPHABET[i - offset] : '')).join(''),
    toJSON: () => ({ offset, bos }),
  };
}

test.serial('a fluency model with another tokenizer receives the text re-encoded by that tokenizer', async (t) => {
  await tf.setBackend('cpu');
  const policyTok = charTokenizer(1, null);
  const fluencyTok = charTokenizer(40, 39); // another vocabulary that prepends a bos, like OPT's
  const V = 80;
  const seen: number[][][] = [];
  const policy = {
    tokenizer: policyTok,
    contextLength: 64,
    generate: async (prompts: number[][]) => prompts.map(() => policyTok.encode(' ok')),
  } as unknown as Policy;
  const classifier = {
    labels: ['nothate', 'hate'],
    neutralIndex: 0,
    classify: async (texts: string[]) => texts.map(() => [0, 0]),
  } as unknown as RewardModel;
  const result = await evaluate({
    policy,
    classifier,
    prompts: ['you are', 'hello there'],
    fluencyTokenizer: fluencyTok,
    cfg: {
      enabled: true,
      maxPrompts: null,
      maxNewTokens: 3,
      topK: 50,
      topP: 1,
      temperature: 1,
      samplesPerPrompt: 1,
      batchSize: 1,
      seed: 42,
      every: 0,
    },
    fluency: (ids) => {
      seen.push(ids.arraySync());
      return tf.zeros([ids.shape[0], ids.shape[1], V]) as tf.Tensor3D; // uniform over V
    },
  });
  t.deepEqual(seen, [[fluencyTok.encode('you are ok')], [fluencyTok.encode('hello there ok')]]);
  t.deepEqual(seen[0]![0]!.slice(0, 2), [39, 40 + ALPHABET.indexOf('y')], 'prompt with its bos, continuation without');
  t.true(Math.abs(result.perplexity - V) < 1e-4, `uniform float32 logits over ${V} ids: perplexity ${result.perplexity}`);
  t.true(sameTokenizer(policyTok, charTokenizer(1, null)), 'same tokenizer.json: same ids');
  t.false(sameTokenizer(policyTok, fluencyTok));
});
