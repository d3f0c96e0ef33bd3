import test from 'ava';
import { LengthSampler } from '../../core/ppo/length-sampler.js';
import { Rng } from '../../core/util/rng.js';
import { loadGolden } from './golden-fixture.js';

const golden = loadGolden();

test('values() match TRL (max exclusive) for every golden sampler', (t) => {
  const entries = Object.entries(golden.length_sampler);
  t.is(entries.length, 2);
  for (const [name, values] of entries) {
    const [, min, max] = /^LengthSampler\((\d+),(\d+)\)\.values$/.exec(name)!.map(Number);
    t.deepEqual(new LengthSampler(min, max).values(), values, name);
  }
});

test('sample() is uniform over [min, max), reproducible with a seeded Rng', (t) => {
  const sampler = new LengthSampler(20, 30);
  const rng = new Rng(7);
  const seq = Array.from({ length: 20000 }, () => sampler.sample(rng));
  const again = new Rng(7);
  t.deepEqual(
    seq.slice(0, 50),
    Array.from({ length: 50 }, () => sampler.sample(again)),
  );
  t.true(seq.every((x) => Number.isInteger(x) && x >= 20 && x < 30));
  const counts = new Array(10).fill(0);
  for (const x of seq) counts[x - 20]++;
  const expected = seq.length / 10;
  const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
  t.true(
    counts.every((c) => c > 0),
    'every length occurs, 29 included',
  );
  t.true(chi2 < 27.88, `chi-square ${chi2.toFixed(2)} < 27.88 (df 9, p = 0.001)`);
});

test('bad bounds are rejected: max must exceed min (exclusive), integers only', (t) => {
  t.throws(() => new LengthSampler(5, 5), { message: /max \(5\) must be greater than min \(5\); max is exclusive/ });
  t.throws(() => new LengthSampler(1.5, 4), { message: /must be integers; got min=1.5, max=4/ });
  t.deepEqual(new LengthSampler(3, 4).values(), [3]);
  t.is(new LengthSampler(3, 4).sample(new Rng(1)), 3);
});
