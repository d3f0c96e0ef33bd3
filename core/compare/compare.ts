/**
 * `detox-lab compare`: reads every arm of an experiment folder and assembles the comparison (rows, per-arm figures)
 * and its plot (reward, KL and toxicity curves per arm).
 */
import path from 'node:path';
import type { Json } from '../config/merge.js';
import { compareRows, groupArms, type CompareRow } from './groups.js';
import { armMetrics, armStatus, armSteps, CURVES } from './metrics.js';
import { renderSvg, type Panel } from './plot.js';
import { readArms, type ArmRecord } from './read-arms.js';

/** One arm's own figures. */
export interface CompareArm {
  name: string;
  dir: string;
  settings?: Record<string, Json>;
  config?: Record<string, unknown>;
  status: string;
  steps: number;
  metrics: Record<string, number>;
}

/** Everything `detox-lab compare` reports. */
export interface CompareResult {
  dir: string;
  lastK: number;
  /** Whether rows are seed groups (some setting ran with several seeds). */
  grouped: boolean;
  rows: CompareRow[];
  arms: CompareArm[];
  /** The arm records (curves included), for the plot. */
  records: ArmRecord[];
}

/** Reads `dir` (an experiment folder, or one arm folder) and computes the comparison. */
export function compareExperiment(dir: string, opts: { lastK?: number } = {}): CompareResult {
  const lastK = opts.lastK ?? 10;
  if (!Number.isInteger(lastK) || lastK < 1) throw new Error(`compare: lastK must be an integer ≥ 1, got ${lastK}`);
  const records = readArms(dir);
  const { grouped, rows } = compareRows(records, lastK);
  return {
    dir,
    lastK,
    grouped,
    rows,
    records,
    arms: records.map((a) => ({
      name: a.name,
      dir: a.dir,
      ...(a.settings ? { settings: a.settings } : {}),
      ...(a.config ? { config: a.config } : {}),
      status: armStatus(a),
      steps: armSteps(a),
      metrics: armMetrics(a, lastK),
    })),
  };
}

/**
 * The plot: one panel per training curve (reward, KL, toxicity), one line per arm, coloured by row (the seeds of a
 * setting share a colour); the toxicity panel also marks each arm's evaluation before (○, step 0) and after (●).
 */
export function comparePlot(r: CompareResult): string {
  const groupOf = new Map<string, string>();
  const legend = r.grouped
    ? groupArms(r.records).map((g, i) => {
        const label = r.rows[i]!.label;
        for (const a of g) groupOf.set(a.name, label);
        return { colorKey: label, label: g.length > 1 ? `${label} (${g.length} seeds)` : label };
      })
    : r.records.map((a) => {
        groupOf.set(a.name, a.name);
        return { colorKey: a.name, label: a.name };
      });
  const panels: Panel[] = CURVES.map(({ tag, title }) => ({
    id: tag,
    title,
    series: r.records.map((a) => {
      const evalCurve = a.curves.get('eval/toxicity_mean') ?? [];
      const before = evalCurve.find((p) => p.step === 0);
      const after = [...evalCurve].reverse().find((p) => p.step > 0);
      return {
        name: a.name,
        colorKey: groupOf.get(a.name)!,
        points: (a.curves.get(tag) ?? []).map((p) => [p.step, p.value] as [number, number]),
        markers:
          tag === 'env/toxicity_mean'
            ? [
                ...(before ? [{ x: before.step, y: before.value, filled: false, kind: 'eval-before' }] : []),
                ...(after ? [{ x: after.step, y: after.value, filled: true, kind: 'eval-after' }] : []),
              ]
            : [],
      };
    }),
  }));
  return renderSvg(`detox-lab compare: ${path.basename(path.resolve(r.dir))}`, panels, legend);
}
