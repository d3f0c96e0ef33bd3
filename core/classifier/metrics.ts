// THROWAWAY SHIM of the lead's core/classifier/metrics.ts (same API); deleted before merging main.
import type { LabelledText } from './data.js';

export function rocAuc(scores: number[], labels: number[]): number {
  const idx = scores.map((_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let rankSum = 0; let pos = 0;
  for (let i = 0; i < idx.length;) {
    let j = i; while (j < idx.length && scores[idx[j]!] === scores[idx[i]!]) j++;
    const r = (i + j + 1) / 2;
    for (let k = i; k < j; k++) if (labels[idx[k]!] === 1) { rankSum += r; pos++; }
    i = j;
  }
  const neg = labels.length - pos;
  return pos && neg ? (rankSum - pos * (pos + 1) / 2) / (pos * neg) : NaN;
}

export interface SourceReport { n: number; auc: number; accuracy: number; f1: number }
export interface ClassifierReport {
  sources: Record<string, SourceReport>;
  groupFpr: { groups: Record<string, { n: number; fpr: number }>; mean: number; max: number; maxOverMean: number };
}

export function classifierReport(items: LabelledText[], pToxic: number[]): ClassifierReport {
  const sources: Record<string, SourceReport> = {};
  for (const s of [...new Set(items.map((x) => x.source))]) {
    const ix = items.map((x, i) => (x.source === s ? i : -1)).filter((i) => i >= 0);
    const sc = ix.map((i) => pToxic[i]!); const lb = ix.map((i) => items[i]!.label);
    let tp = 0, fp = 0, fn = 0, ok = 0;
    ix.forEach((i) => { const p = pToxic[i]! >= 0.5 ? 1 : 0; const y = items[i]!.label; if (p === y) ok++; if (p && y) tp++; if (p && !y) fp++; if (!p && y) fn++; });
    sources[s] = { n: ix.length, auc: rocAuc(sc, lb), accuracy: ok / ix.length, f1: tp ? 2 * tp / (2 * tp + fp + fn) : 0 };
  }
  const groups: Record<string, { n: number; fpr: number }> = {};
  items.forEach((x, i) => {
    if (x.source !== 'toxigen' || x.label !== 0 || !x.group) return;
    const g = (groups[x.group] ??= { n: 0, fpr: 0 }); g.n++; if (pToxic[i]! >= 0.5) g.fpr++;
  });
  for (const g of Object.values(groups)) g.fpr /= g.n;
  const fprs = Object.values(groups).map((g) => g.fpr);
  const mean = fprs.length ? fprs.reduce((a, b) => a + b, 0) / fprs.length : NaN;
  const max = fprs.length ? Math.max(...fprs) : NaN;
  return { sources, groupFpr: { groups, mean, max, maxOverMean: max / mean } };
}

export function formatClassifierReport(rows: { name: string; report: ClassifierReport }[]): string {
  const lines: string[] = [];
  for (const { name, report } of rows) {
    for (const [s, r] of Object.entries(report.sources)) lines.push(`${name} ${s}: n ${r.n} auc ${r.auc.toFixed(4)} acc ${r.accuracy.toFixed(4)} f1 ${r.f1.toFixed(4)}`);
    const g = report.groupFpr;
    lines.push(`${name} group FPR: ${Object.entries(g.groups).map(([k, v]) => `${k} ${v.fpr.toFixed(3)} (${v.n})`).join(', ')}; mean ${g.mean.toFixed(4)} max ${g.max.toFixed(4)} max/mean ${g.maxOverMean.toFixed(2)}`);
  }
  return lines.join('\n');
}
