/**
 * How well a toxicity classifier separates toxic from neutral text: ROC AUC (threshold-free ranking quality),
 * accuracy and F1 of the toxic class at P(toxic) ≥ 0.5, per source; and the study's "limitations" concern, identity
 * terms scored as toxic, as the false-positive rate per ToxiGen target group on its neutral statements.
 */
import type { LabelledText } from './data.js';

/** The decision threshold on P(toxic) for accuracy, F1 and false positives. */
const TOXIC_THRESHOLD = 0.5;

/**
 * ROC AUC: the probability that a random toxic text scores above a random neutral one, ties counting one half
 * (the Mann–Whitney U statistic over average ranks). NaN when one class is absent.
 */
export function rocAuc(scores: readonly number[], labels: readonly number[]): number {
  if (scores.length !== labels.length) throw new Error(`rocAuc: ${scores.length} scores for ${labels.length} labels`);
  const order = scores.map((_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const averageRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[order[k]!] === 1) {
        positives++;
        rankSum += averageRank;
      }
    }
    i = j + 1;
  }
  const negatives = scores.length - positives;
  if (positives === 0 || negatives === 0) return NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** One source's figures. */
export interface SourceMetrics {
  source: string;
  n: number;
  toxic: number;
  auc: number;
  accuracy: number;
  /** F1 of the toxic class. */
  f1: number;
}

/** False positives on one ToxiGen group's neutral statements. */
export interface GroupFpr {
  group: string;
  n: number;
  fpr: number;
}

export interface ClassifierReport {
  sources: SourceMetrics[];
  /** Per group, on ToxiGen's neutral statements; empty without ToxiGen rows. */
  groupFpr: GroupFpr[];
  /** Mean of the groups' rates (each group weighs the same). */
  meanGroupFpr: number;
  /** Highest group rate over the mean (the bound: ≤ 2); null when the mean is 0 (no false positives). */
  maxOverMeanFpr: number | null;
}

/** Figures of one set of rows. */
export function sourceMetrics(source: string, items: readonly LabelledText[], pToxic: readonly number[]): SourceMetrics {
  let tp = 0,
    fp = 0,
    fn = 0,
    correct = 0,
    toxic = 0;
  items.forEach((item, i) => {
    const predicted = pToxic[i]! >= TOXIC_THRESHOLD ? 1 : 0;
    toxic += item.label;
    if (predicted === item.label) correct++;
    if (predicted === 1 && item.label === 1) tp++;
    else if (predicted === 1) fp++;
    else if (item.label === 1) fn++;
  });
  return {
    source,
    n: items.length,
    toxic,
    auc: rocAuc(
      pToxic,
      items.map((x) => x.label),
    ),
    accuracy: items.length ? correct / items.length : NaN,
    f1: tp + fp + fn === 0 ? NaN : (2 * tp) / (2 * tp + fp + fn),
  };
}

/** The report of a classifier's P(toxic) for `items` (same order): per source, then the group false-positive table. */
export function classifierReport(items: readonly LabelledText[], pToxic: readonly number[]): ClassifierReport {
  if (items.length !== pToxic.length) throw new Error(`classifierReport: ${pToxic.length} scores for ${items.length} texts`);
  const bySource = new Map<string, number[]>();
  items.forEach((item, i) => {
    const list = bySource.get(item.source) ?? [];
    list.push(i);
    bySource.set(item.source, list);
  });
  const sources = [...bySource].map(([source, idx]) =>
    sourceMetrics(
      source,
      idx.map((i) => items[i]!),
      idx.map((i) => pToxic[i]!),
    ),
  );
  const byGroup = new Map<string, { n: number; fp: number }>();
  items.forEach((item, i) => {
    if (item.label !== 0 || item.group === undefined) return;
    const g = byGroup.get(item.group) ?? { n: 0, fp: 0 };
    g.n++;
    if (pToxic[i]! >= TOXIC_THRESHOLD) g.fp++;
    byGroup.set(item.group, g);
  });
  const groupFpr = [...byGroup].map(([group, g]) => ({ group, n: g.n, fpr: g.fp / g.n })).sort((a, b) => a.group.localeCompare(b.group));
  const meanGroupFpr = groupFpr.length ? groupFpr.reduce((s, g) => s + g.fpr, 0) / groupFpr.length : NaN;
  const maxFpr = Math.max(...groupFpr.map((g) => g.fpr));
  return {
    sources,
    groupFpr,
    meanGroupFpr,
    maxOverMeanFpr: groupFpr.length && meanGroupFpr > 0 ? maxFpr / meanGroupFpr : null,
  };
}

const fmt = (x: number, digits = 3): string => (Number.isFinite(x) ? x.toFixed(digits) : '—');
const pct = (x: number): string => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : '—');

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]): string =>
    cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/**
 * The reports of one or more classifiers as plain-text tables, for the console and the README: one row per
 * classifier and source (AUC, accuracy, F1), then the group false-positive table with one column per classifier.
 */
export function formatClassifierReport(rows: readonly { name: string; report: ClassifierReport }[]): string {
  const metricRows: string[][] = [];
  for (const { name, report } of rows) {
    for (const s of report.sources) {
      metricRows.push([name, s.source, s.n.toLocaleString('en-US'), pct(s.toxic / s.n), fmt(s.auc), fmt(s.accuracy), fmt(s.f1)]);
    }
  }
  const parts = [table(['classifier', 'source', 'texts', 'toxic', 'ROC AUC', 'accuracy', 'F1'], metricRows)];
  const groups = [...new Set(rows.flatMap((r) => r.report.groupFpr.map((g) => g.group)))].sort();
  if (groups.length) {
    const nOf = (group: string) => rows.map((r) => r.report.groupFpr.find((g) => g.group === group)?.n).find((n) => n !== undefined) ?? 0;
    const fprRows = groups.map((group) => [
      group,
      String(nOf(group)),
      ...rows.map((r) => pct(r.report.groupFpr.find((g) => g.group === group)?.fpr ?? NaN)),
    ]);
    fprRows.push(['mean', '', ...rows.map((r) => pct(r.report.meanGroupFpr))]);
    fprRows.push([
      'max / mean',
      '',
      ...rows.map((r) => (r.report.maxOverMeanFpr === null ? '—' : `${r.report.maxOverMeanFpr.toFixed(2)}x`)),
    ]);
    parts.push(
      `false positives (P(toxic) ≥ ${TOXIC_THRESHOLD}) on ToxiGen's neutral statements, per target group (n = neutral statements scored):`,
    );
    parts.push(table(['group', 'n', ...rows.map((r) => r.name)], fprRows));
  }
  return parts.join('\n\n');
}
