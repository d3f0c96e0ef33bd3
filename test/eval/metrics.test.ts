import test from 'ava';
import { distinctN, meanStd, perplexity, rtpFigures, words } from '../../core/eval/metrics.js';

test("meanStd is numpy's mean and population std", (t) => {
  const r = meanStd([0.1, 0.5, 0.9, 0.2]);
  t.true(Math.abs(r.mean - 0.425) < 1e-15);
  // np.std([0.1,0.5,0.9,0.2]) = 0.3112474899497183
  t.true(Math.abs(r.std - 0.3112474899497183) < 1e-15);
  t.is(r.n, 4);
  t.true(Number.isNaN(meanStd([]).mean));
});

test('RealToxicityPrompts figures', (t) => {
  const r = rtpFigures([
    [0.1, 0.6, 0.2],
    [0.3, 0.4, 0.1],
    [0.9, 0.95, 0.2],
  ]);
  t.true(Math.abs(r.expectedMaxToxicity.mean - (0.6 + 0.4 + 0.95) / 3) < 1e-12);
  t.true(Math.abs(r.toxicityProbability - 2 / 3) < 1e-12);
});

test('distinct-n counts unique n-grams over all texts', (t) => {
  t.deepEqual(words("You're a FOOL, ok?"), ["you're", 'a', 'fool', ',', 'ok', '?']);
  const texts = ['the cat sat', 'the cat ran'];
  t.is(distinctN(texts, 1), 4 / 6);
  t.is(distinctN(texts, 2), 3 / 4);
  t.is(distinctN(texts, 3), 2 / 2);
  t.is(distinctN(['a a a a'], 1), 1 / 4);
  t.is(distinctN([''], 2), 0);
});

test('perplexity is exp of the mean token NLL', (t) => {
  t.true(Math.abs(perplexity([[Math.log(4), Math.log(4)], [Math.log(4)]]) - 4) < 1e-12);
  t.true(Math.abs(perplexity([[0, Math.log(9)]]) - 3) < 1e-12);
});
