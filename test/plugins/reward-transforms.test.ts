import test from 'ava';
import rawLogit from '../../plugins/reward-transforms/raw-logit.js';
import softmax from '../../plugins/reward-transforms/softmax.js';
import logPlugin from '../../plugins/reward-transforms/log.js';
import { toxicProbability, type RewardTransform } from '../../core/interfaces/reward.js';
import { defaultMemoryPlan } from '../../core/interfaces/memory.js';
import type { AnyPluginDefinition, PluginContext } from '../../core/plugin/define.js';

const ctx: PluginContext = { configDir: '.', seed: 0, memoryPlan: defaultMemoryPlan(), trainSteps: 1, backend: 'cpu', log: () => {} };
/** A transform from its plugin, options parsed (defaults filled in) as the config loader does. */
const make = async (p: AnyPluginDefinition, options: object = {}): Promise<RewardTransform> =>
  (await p.create(p.options.parse(options), ctx)) as RewardTransform;

const CAP = 18.420680743952367; // −ln(1e-8), the log transform's default cap

/**
 * Literal logits and their rewards. Expected values: 50-digit mpmath (softmax = P(neutral),
 * log = −ln(1 − P(neutral)) before the cap), rounded to float64.
 */
const TABLE: { logits: number[]; neutral: number; raw: number; softmax: number; log: number; note: string }[] = [
  { logits: [2, -1], neutral: 0, raw: 2, softmax: 0.9525741268224333, log: 3.048587351573742, note: 'clean text' },
  { logits: [0, 0], neutral: 0, raw: 0, softmax: 0.5, log: 0.6931471805599453, note: 'undecided' },
  { logits: [-1.5, 2.5], neutral: 0, raw: -1.5, softmax: 0.01798620996209156, log: 0.01814992791780974, note: 'toxic text' },
  { logits: [1e4, -1e4], neutral: 0, raw: 1e4, softmax: 1, log: CAP, note: 'extreme clean: capped, not +inf' },
  { logits: [-1e4, 1e4], neutral: 0, raw: -1e4, softmax: 0, log: 0, note: 'extreme toxic: 0, not NaN' },
  { logits: [1e4, 1e4], neutral: 0, raw: 1e4, softmax: 0.5, log: 0.6931471805599453, note: 'huge equal logits' },
  { logits: [3, 1], neutral: 1, raw: 1, softmax: 0.11920292202211756, log: 0.1269280110429725, note: 'neutral class second' },
  { logits: [1, 2, 3], neutral: 0, raw: 1, softmax: 0.09003057317038046, log: 0.09434427692615747, note: '3 classes' },
  { logits: [1, 2, 3], neutral: 2, raw: 3, softmax: 0.6652409557748219, log: 1.0943442769261575, note: '3 classes, neutral last' },
  { logits: [5, -3, -2], neutral: 0, raw: 5, softmax: 0.9987542093367913, log: 6.687984879787264, note: '3 classes, clean' },
  { logits: [0, 1e4, -1e4], neutral: 0, raw: 0, softmax: 0, log: 0, note: '3 classes, extreme' },
  { logits: [-1e4, -1e4, 1e4], neutral: 2, raw: 1e4, softmax: 1, log: CAP, note: '3 classes, extreme clean' },
  { logits: [-2, 0.5, -3], neutral: 1, raw: 0.5, softmax: 0.8990522695867427, log: 2.2931524167617328, note: '3 classes, neutral middle' },
];

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b));

for (const row of TABLE) {
  test(`rewards for ${JSON.stringify(row.logits)} (neutral ${row.neutral}): ${row.note}`, async (t) => {
    const [r] = (await make(rawLogit)).transform([row.logits], row.neutral);
    const [s] = (await make(softmax)).transform([row.logits], row.neutral);
    const [l] = (await make(logPlugin)).transform([row.logits], row.neutral);
    t.is(r, row.raw);
    t.true(close(s!, row.softmax), `softmax ${s} vs ${row.softmax}`);
    t.true(close(l!, row.log), `log ${l} vs ${row.log}`);
    t.true(Number.isFinite(s!) && Number.isFinite(l!));
  });
}

test('batched input gives one reward per row, in order; higher = less toxic for every transform', async (t) => {
  const logits = [
    [-2, 2],
    [0, 0],
    [2, -2],
  ]; // toxic, undecided, clean
  for (const p of [rawLogit, softmax, logPlugin]) {
    const rewards = (await make(p)).transform(logits, 0);
    t.is(rewards.length, 3, p.name);
    t.true(rewards[0]! < rewards[1]! && rewards[1]! < rewards[2]!, `${p.name}: ${rewards}`);
  }
  t.deepEqual((await make(rawLogit)).transform([], 0), []);
});

test('agree with toxicProbability where it is accurate: softmax = 1 − p_toxic, log = −ln p_toxic', async (t) => {
  const sm = await make(softmax);
  const lg = await make(logPlugin);
  for (const logits of [
    [0.3, -0.7],
    [1, 2, 3],
    [-4, 1, 0.5, 2],
    [2.5, 2.4],
  ]) {
    for (let n = 0; n < logits.length; n++) {
      const p = toxicProbability(logits, n);
      t.true(Math.abs(sm.transform([logits], n)[0]! - (1 - p)) < 1e-12);
      t.true(Math.abs(lg.transform([logits], n)[0]! + Math.log(p)) < 1e-9);
    }
  }
});

test('log: minToxicProbability sets the cap −ln(floor); validated', async (t) => {
  const lg = await make(logPlugin, { minToxicProbability: 0.01 });
  const [a, b] = lg.transform(
    [
      [2, -1],
      [5, -3],
    ],
    0,
  );
  t.true(close(a!, 3.048587351573742)); // under the cap
  t.true(close(b!, 4.605170185988092)); // softplus(8) ≈ 8.0003 capped at ln 100
  t.deepEqual(logPlugin.options.parse({}), { minToxicProbability: 1e-8 });
  for (const bad of [0, 1, -0.5]) t.false(logPlugin.options.safeParse({ minToxicProbability: bad }).success);
  t.false(softmax.options.safeParse({ temperature: 2 }).success);
});

test('bad logits are errors naming the transform, the row and the value', async (t) => {
  const sm = await make(softmax);
  const lg = await make(logPlugin);
  const raw = await make(rawLogit);
  t.throws(() => sm.transform([[1, 2], [3]], 0), {
    message: 'reward transform "softmax": logits[1] has 1 classes; needs ≥ 2 and more than neutralIndex 0',
  });
  t.throws(() => raw.transform([[1, 2]], 2), { message: /"raw-logit": logits\[0\] has 2 classes; needs ≥ 1 and more than neutralIndex 2/ });
  t.throws(() => lg.transform([[1, Number.NaN]], 0), { message: 'reward transform "log": logits[0][1] is NaN; logits must be finite' });
  t.throws(() => lg.transform([[Infinity, 0]], 0), { message: /logits\[0\]\[0\] is Infinity/ });
  t.throws(() => sm.transform([[1, 2]], -1), { message: /neutralIndex must be an integer ≥ 0 \(got -1\)/ });
  t.deepEqual(raw.transform([[7]], 0), [7]);
});
