/**
 * The comparison as text: a markdown table (the console default), CSV (one column per figure plus its `_ci95`), or
 * JSON (rows and every arm's own figures).
 */
import { markdownTable } from './markdown.js';
import type { CompareRow } from './groups.js';
import { METRICS } from './metrics.js';
import type { CompareResult } from './compare.js';

const fixed = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : '—');

/** A row's cell for one figure: `mean ± CI` (n > 1), `mean ± std` (one arm, a figure with a std), or the value. */
export function formatCell(row: CompareRow, key: string): string {
  const def = METRICS.find((m) => m.key === key)!;
  const m = row.metrics[key]!;
  if (!Number.isFinite(m.mean)) return '—';
  const unit = def.unit ?? '';
  if (m.ci95 !== null) return `${fixed(m.mean, def.digits)} ± ${fixed(m.ci95, def.digits)}${unit}`;
  if (def.std && row.n === 1 && Number.isFinite(row.metrics[def.std]!.mean)) {
    return `${fixed(m.mean, def.digits)} ± ${fixed(row.metrics[def.std]!.mean, def.digits)}${unit}`;
  }
  return `${fixed(m.mean, def.digits)}${unit}`;
}

/** The markdown table with a footer saying what ± means. */
export function formatMarkdown(r: CompareResult): string {
  const shown = METRICS.filter((m) => m.title);
  const header = ['arm', ...(r.grouped ? ['n', 'seeds'] : []), 'status', 'steps', ...shown.map((m) => m.title!)];
  const rows = r.rows.map((row) => [
    row.label,
    ...(r.grouped ? [String(row.n), row.seeds.map((s) => s ?? '?').join(' ')] : []),
    row.status,
    row.steps,
    ...shown.map((m) => formatCell(row, m.key)),
  ]);
  const notes = [
    `last-K = mean over the last ${r.lastK} logged steps; reward roughness = mean |change| of the batch reward from one step ` +
      `to the next (lower = smoother); toxicity = classifier P(toxic) of held-out continuations, ` +
      `before and after training; distinct-2 and perplexity (under the initial model) after training.`,
    r.grouped
      ? 'Rows with n > 1 are the seeds of one setting: mean ± 95% CI of the mean across seeds, t(0.975, n−1)·s/√n. ' +
        'In single-arm rows, toxicity is mean ± population std over its continuations.'
      : 'toxicity: mean ± population std over the continuations.',
  ];
  return `${markdownTable(header, rows)}\n\n${notes.join('\n')}`;
}

const csvField = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
const csvNum = (x: number | null) => (x !== null && Number.isFinite(x) ? String(x) : '');

/** CSV: arm, arms, n, seeds, status, steps, then `<figure>,<figure>_ci95` for every figure (full precision). */
export function formatCsv(r: CompareResult): string {
  const header = ['arm', 'arms', 'n', 'seeds', 'status', 'steps', ...METRICS.flatMap((m) => [m.key, `${m.key}_ci95`])];
  const lines = r.rows.map((row) =>
    [
      row.label,
      row.arms.join(' '),
      String(row.n),
      row.seeds.map((s) => s ?? '').join(' '),
      row.status,
      row.steps,
      ...METRICS.flatMap((m) => [csvNum(row.metrics[m.key]!.mean), csvNum(row.metrics[m.key]!.ci95)]),
    ]
      .map(csvField)
      .join(','),
  );
  return [header.join(','), ...lines].join('\n');
}

/** JSON: the rows, and every arm with its settings, status and figures (missing figures are null). */
export function formatJson(r: CompareResult): string {
  return JSON.stringify(
    {
      experimentDir: r.dir,
      lastK: r.lastK,
      grouped: r.grouped,
      rows: r.rows,
      arms: r.arms.map((a) => ({
        name: a.name,
        dir: a.dir,
        settings: a.settings ?? null,
        seed: a.config?.seed ?? null,
        status: a.status,
        steps: a.steps,
        metrics: a.metrics,
      })),
    },
    (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v),
    2,
  );
}
