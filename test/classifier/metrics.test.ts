import test from 'ava';
import type { LabelledText } from '../../core/classifier/data.js';
import { classifierReport, formatClassifierReport, rocAuc, sourceMetrics } from '../../core/classifier/metrics.js';

/** ROC AUC by its definition: over every (toxic, neutral) pair, 1 when the toxic text scores higher, ½ on a tie. */
function pairwiseAuc(scores: number[], labels: number[]): number {
  let sum = 0,
    pairs = 0;
  scores.forEach((p, i) =>
    scores.forEach((n, j) => {
      if (labels[i] !== 1 || labels[j] !== 0) return;
      pairs++;
      sum += p > n ? 1 : p === n ? 0.5 : 0;
    }),
  );
  return sum / pairs;
}

test('rocAuc equals the pairwise definition, ties included', (t) => {
  t.is(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75);
  t.is(rocAuc([0.5, 0.5, 0.5], [0, 1, 1]), 0.5);
  t.is(rocAuc([0.9, 0.1], [1, 0]), 1);
  t.is(rocAuc([0.9, 0.1], [0, 1]), 0);
  let seed = 7;
  const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let trial = 0; trial < 20; trial++) {
    const labels = Array.from({ length: 60 }, () => (rand() < 0.4 ? 1 : 0));
    // Rounded scores force ties.
    const scores = labels.map((l) => Math.round((rand() + 0.3 * l) * 10) / 10);
    t.true(Math.abs(rocAuc(scores, labels) - pairwiseAuc(scores, labels)) < 1e-12);
  }
  t.true(Number.isNaN(rocAuc([0.2, 0.3], [1, 1])));
  t.throws(() => rocAuc([0.2], [1, 0]), { message: /1 scores for 2 labels/ });
});

test('accuracy and F1 of the toxic class at P ≥ 0.5', (t) => {
  const items: LabelledText[] = [1, 1, 1, 0, 0, 0, 0].map((label) => ({ text: '', label: label as 0 | 1, source: 's' }));
  // TP, TP, FN, FP, TN, TN, TN (0.5 counts as toxic).
  const m = sourceMetrics('s', items, [0.9, 0.5, 0.2, 0.7, 0.1, 0.3, 0.49]);
  t.is(m.accuracy, 5 / 7);
  t.is(m.f1, (2 * 2) / (2 * 2 + 1 + 1));
  t.is(m.toxic, 3);
});

test('report: per source, and false positives per ToxiGen group on neutral statements only', (t) => {
  const items: LabelledText[] = [
    { text: 'a', label: 1, source: 'davidson' },
    { text: 'b', label: 0, source: 'davidson' },
    { text: 'c', label: 0, source: 'toxigen', group: 'women' },
    { text: 'd', label: 0, source: 'toxigen', group: 'women' },
    { text: 'e', label: 1, source: 'toxigen', group: 'women' },
    { text: 'f', label: 0, source: 'toxigen', group: 'asian' },
    { text: 'g', label: 1, source: 'toxigen', group: 'asian' },
  ];
  const r = classifierReport(items, [0.9, 0.2, 0.85, 0.1, 0.95, 0.2, 0.8]);
  t.deepEqual(
    r.sources.map((s) => [s.source, s.n, s.auc]),
    [
      ['davidson', 2, 1],
      ['toxigen', 5, 5 / 6],
    ],
  );
  t.deepEqual(r.groupFpr, [
    { group: 'asian', n: 1, fpr: 0 },
    { group: 'women', n: 2, fpr: 0.5 },
  ]);
  t.is(r.meanGroupFpr, 0.25);
  t.is(r.maxOverMeanFpr, 2);
  const none = classifierReport(
    items,
    items.map((x) => x.label * 0.9),
  );
  t.is(none.maxOverMeanFpr, null);
  const text = formatClassifierReport([
    { name: 'learned', report: r },
    { name: 'lexicon', report: none },
  ]);
  t.regex(text, /learned\s+toxigen\s+5\s+40\.0%\s+0\.833/);
  t.regex(text, /women\s+2\s+50\.0%\s+0\.0%/);
  t.regex(text, /max \/ mean\s+2\.00x\s+—/);
});
