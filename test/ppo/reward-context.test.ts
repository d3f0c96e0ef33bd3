/**
 * The reward API: transforms get the batch's context as a third argument, `onReward` hooks reshape the rewards in
 * config order, and the built-in transforms give bit-identical numbers through it (the reference path's floats).
 */
import test from 'ava';
import rawLogit from '../../plugins/reward-transforms/raw-logit.js';
import softmax from '../../plugins/reward-transforms/softmax.js';
import logPlugin from '../../plugins/reward-transforms/log.js';
import { batchRewards, ZeroVarianceGuard } from '../../core/ppo/reward.js';
import { defaultMemoryPlan } from '../../core/interfaces/memory.js';
import type { RewardContext, RewardTransform } from '../../core/interfaces/reward.js';
import type { Hook } from '../../core/interfaces/hook.js';
import type { AnyPluginDefinition, PluginContext } from '../../core/plugin/define.js';
import { Rng } from '../../core/util/rng.js';
import { PluginRegistry } from '../../core/plugin/registry.js';
import { create } from '../../core/di/container.js';

const pctx: PluginContext = { configDir: '.', seed: 0, memoryPlan: defaultMemoryPlan(), trainSteps: 1, backend: 'cpu', log: () => {} };
const make = async (p: AnyPluginDefinition): Promise<RewardTransform> => (await p.create(p.options.parse({}), pctx)) as RewardTransform;

function context(logits: number[][], over: Partial<RewardContext> = {}): RewardContext {
  return {
    prompts: logits.map((_, i) => `prompt ${i}`),
    responses: logits.map((_, i) => 'word '.repeat(i + 1).trim()),
    promptTokens: logits.map((_, i) => 3 + i),
    responseTokens: logits.map((_, i) => 20 + 2 * i),
    logits,
    rewardModel: { name: 'm', labels: ['neutral', 'toxic'], neutralIndex: 0 },
    step: 1,
    ...over,
  };
}

test('the built-in transforms give bit-identical rewards through the context API (no hook: the very same array)', async (t) => {
  const rng = new Rng(7);
  // 64 random batches of 2- and 3-class logits, including large magnitudes.
  for (let b = 0; b < 64; b++) {
    const classes = 2 + (b % 2);
    const scale = b % 8 === 7 ? 1e3 : 5;
    const logits = Array.from({ length: 8 }, () => Array.from({ length: classes }, () => (rng.next() * 2 - 1) * scale));
    const neutral = b % classes;
    for (const plugin of [rawLogit, softmax, logPlugin]) {
      const tr = await make(plugin);
      const before = tr.transform(
        logits.map((r) => [...r]),
        neutral,
      ); // the call the trainer made until now
      // As the trainer gets it now: through the plugin boundary (core/di/container.ts#create), with the context.
      const bound = await create(new PluginRegistry([plugin]), 'reward-transform', { type: plugin.name }, pctx);
      const r = await batchRewards(bound, [], logits, context(logits, { rewardModel: { name: 'm', labels: [], neutralIndex: neutral } }));
      t.false(r.shaped);
      t.is(r.scores, r.transformScores);
      t.is(r.scores.length, before.length);
      r.scores.forEach((x, i) => t.true(Object.is(x, before[i]), `${plugin.name} batch ${b} sample ${i}: ${x} vs ${before[i]}`));
    }
  }
});

test('a transform written for (logits, neutralIndex) keeps working; one taking the context sees the batch', async (t) => {
  const logits = [
    [2, -1],
    [0.5, 0.25],
    [-3, 1],
  ];
  const old: RewardTransform = { name: 'old', transform: (l, n) => l.map((row) => row[n]! * 2) };
  t.deepEqual((await batchRewards(old, [], logits, context(logits))).scores, [4, 1, -6]);
  let seen: RewardContext | undefined;
  const aware: RewardTransform = {
    name: 'aware',
    transform: (l, n, ctx) => {
      seen = ctx;
      return l.map((row, i) => row[n]! - 0.1 * ctx!.responseTokens[i]!);
    },
  };
  const r = await batchRewards(aware, [], logits, context(logits));
  t.deepEqual(r.scores, [2 - 2, 0.5 - 2.2, -3 - 2.4]);
  t.deepEqual(seen!.responseTokens, [20, 22, 24]);
  t.deepEqual(seen!.prompts, ['prompt 0', 'prompt 1', 'prompt 2']);
  t.deepEqual(seen!.responses, ['word', 'word word', 'word word word']);
  t.deepEqual(seen!.promptTokens, [3, 4, 5]);
  t.is(seen!.logits, logits);
});

test("onReward hooks run in order on the previous hook's rewards; returning nothing keeps them", async (t) => {
  const logits = [
    [1, 0],
    [3, 0],
    [-2, 0],
  ];
  const calls: string[] = [];
  const hooks: Hook[] = [
    { name: 'log-only', onStep: () => {} },
    {
      name: 'length',
      onReward: (r, c) => {
        calls.push('length');
        return r.map((x, i) => x - 0.5 * Math.max(0, c.responseTokens[i]! - 21));
      },
    },
    {
      name: 'watch',
      onReward: () => {
        calls.push('watch');
      },
    },
    {
      name: 'double',
      onReward: async (r) => {
        calls.push('double');
        return r.map((x) => 2 * x);
      },
    },
  ];
  const r = await batchRewards(await make(rawLogit), hooks, logits, context(logits));
  t.deepEqual(calls, ['length', 'watch', 'double']);
  t.true(r.shaped);
  t.deepEqual(r.transformScores, [1, 3, -2]);
  t.deepEqual(r.scores, [2 * 1, 2 * (3 - 0.5), 2 * (-2 - 1.5)]);
});

test('a hook returning the wrong number of rewards or a non-finite one is an error naming it, the sample and the value', async (t) => {
  const logits = [
    [1, 0],
    [2, 0],
  ];
  const tr = await make(rawLogit);
  const short = await t.throwsAsync(batchRewards(tr, [{ name: 'short', onReward: () => [1] }], logits, context(logits)));
  t.is(short!.message, 'hook "short" onReward: returned 1 rewards for a batch of 2; expected 2 numbers (or nothing to keep the rewards)');
  const nan = await t.throwsAsync(batchRewards(tr, [{ name: 'nan', onReward: (r) => [r[0]!, NaN] }], logits, context(logits)));
  t.is(nan!.message, 'hook "nan" onReward: reward 1 is NaN (response "word word"); rewards must be finite numbers');
  const bad = await t.throwsAsync(batchRewards({ name: 'x', transform: () => [1, 2, 3] }, [], logits, context(logits)));
  t.regex(bad!.message, /^reward\.transform \(x\) transform: returned 3 rewards for a batch of 2/);
});

test('zero-variance guard: a reward constant from the start warns once (model, labels, transform) and fails after N steps', (t) => {
  const g = new ZeroVarianceGuard(3, { model: 'my-classifier', labels: ['toxic', 'neutral'], neutralIndex: 1, transform: 'raw-logit' });
  const flat = [0, 0, 0, 0];
  const first = g.check(flat, 1);
  t.regex(
    first.warning!,
    /^every reward of step 1 is 0 \(zero variance across the batch of 4\): PPO learns from the KL penalty alone\. Likely cause: reward\.model "my-classifier" \(labels \["toxic","neutral"\], neutral class 1\) scores every response the same under reward\.transform "raw-logit"/,
  );
  t.regex(first.warning!, /The run stops if the first 3 steps all are so \(reward\.zeroVarianceSteps; null allows it\)\.$/);
  t.is(first.failure, undefined);
  t.deepEqual(g.check(flat, 2), {}); // warned once only
  const fail = g.check([7, 7, 7, 7], 3);
  t.is(fail.warning, undefined);
  t.is(
    fail.failure,
    'the rewards had zero variance for the first 3 steps (every reward 7; reward.model "my-classifier", reward.transform "raw-logit"): ' +
      'the policy was training on the KL penalty alone. Fix the reward (e.g. the neutral label the transform reads), or set reward.zeroVarianceSteps to null to allow it',
  );
  t.false(g.varied);

  const allow = new ZeroVarianceGuard(null, { model: 'm', labels: ['a', 'b'], neutralIndex: 0, transform: 'softmax' });
  t.regex(allow.check(flat, 1).warning!, /reward\.zeroVarianceSteps is null: the run goes on\.$/);
  for (let s = 2; s < 50; s++) t.deepEqual(allow.check(flat, s), {});
});

test('zero-variance guard: once the reward has varied (or varied before a resume), equal batches only warn, never fail', (t) => {
  const who = { model: 'lexicon-toxicity', labels: ['neutral', 'toxic'], neutralIndex: 0, transform: 'raw-logit' };
  const g = new ZeroVarianceGuard(2, who);
  t.deepEqual(g.check([1.65, -0.4, 1.65], 1), {});
  t.true(g.varied);
  const w = g.check([1.65, 1.65, 1.65], 2);
  t.is(
    w.warning,
    'every reward of step 2 is 1.65 (zero variance across the batch of 3): PPO learns from the KL penalty alone at this step. ' +
      'The reward varied before, so the policy may have learnt all that reward.model "lexicon-toxicity" under reward.transform "raw-logit" can tell apart ' +
      '(e.g. every response clean for a word list)',
  );
  t.is(w.failure, undefined);
  for (let s = 3; s < 40; s++) t.deepEqual(g.check([1.65, 1.65, 1.65], s), {});
  const resumed = new ZeroVarianceGuard(2, who, true);
  resumed.check([1, 1], 41);
  t.deepEqual(resumed.check([1, 1], 42), {});
});

test('zero variance means equal to 1e-12 of the magnitude; a batch of one is never counted', (t) => {
  t.true(ZeroVarianceGuard.constant([1.65, 1.65, 1.65]));
  t.true(ZeroVarianceGuard.constant([1e6, 1e6 + 1e-7]));
  t.false(ZeroVarianceGuard.constant([0, 1e-9]));
  t.false(ZeroVarianceGuard.constant([1.65, 1.6500001]));
  t.false(ZeroVarianceGuard.constant([3]));
  const g = new ZeroVarianceGuard(1, { model: 'm', labels: ['a', 'b'], neutralIndex: 0, transform: 't' });
  t.deepEqual(g.check([3], 1), {});
});
