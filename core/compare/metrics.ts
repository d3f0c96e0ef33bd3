/**
 * The figures `detox-lab compare` reports per arm, taken from the arm's TensorBoard curves (training) and summary.json
 * (evaluation, wall time, peak memory), each falling back to the other source when one is missing.
 */
import type { ScalarPoint } from '../logging/tfevents.js';
import type { ArmRecord, EvalFiguresLike } from './read-arms.js';
import { mean } from './stats.js';

/** One reported figure. */
interface MetricDef {
  key: string;
  /** Column title in the markdown table (omitted: CSV/JSON only). */
  title?: string;
  /** Decimal places in the markdown table. */
  digits: number;
  /** Key of the within-run standard deviation shown as ± in single-arm rows. */
  std?: string;
  /** Unit appended in the markdown table. */
  unit?: string;
}

/** Every figure, in column order. Keys are the CSV / JSON names. */
export const METRICS: readonly MetricDef[] = [
  { key: 'reward_final', title: 'reward (final)', digits: 4 },
  { key: 'reward_lastk', title: 'reward (last-K)', digits: 4 },
  { key: 'kl_final', title: 'KL (final)', digits: 4 },
  { key: 'kl_lastk', title: 'KL (last-K)', digits: 4 },
  { key: 'reward_roughness', title: 'reward roughness', digits: 4 },
  { key: 'toxicity_before', title: 'toxicity before', digits: 4, std: 'toxicity_before_std' },
  { key: 'toxicity_before_std', digits: 4 },
  { key: 'toxicity_after', title: 'toxicity after', digits: 4, std: 'toxicity_after_std' },
  { key: 'toxicity_after_std', digits: 4 },
  { key: 'distinct2_before', digits: 4 },
  { key: 'distinct2_after', title: 'distinct-2 (after)', digits: 4 },
  { key: 'perplexity_before', digits: 2 },
  { key: 'perplexity_after', title: 'perplexity (after)', digits: 2 },
  { key: 'wall_s', title: 'wall time', digits: 1, unit: ' s' },
  { key: 'peak_rss_mib', title: 'peak RSS', digits: 0, unit: ' MiB' },
];

/** Training curves shown in the plot: tag and panel title. */
export const CURVES = [
  { tag: 'env/reward_mean', title: 'reward (env/reward_mean)' },
  { tag: 'objective/kl', title: 'KL (objective/kl)' },
  { tag: 'env/toxicity_mean', title: 'toxicity (env/toxicity_mean; ○ eval before, ● eval after)' },
] as const;

const last = (c: ScalarPoint[] | undefined): number => (c && c.length ? c[c.length - 1]!.value : NaN);
const lastKMean = (c: ScalarPoint[] | undefined, k: number): number => (c && c.length ? mean(c.slice(-k).map((p) => p.value)) : NaN);
/** Mean |c[k] − c[k−1]| over the curve: how jagged it is (lower = smoother). */
const roughness = (c: ScalarPoint[] | undefined): number =>
  c && c.length > 1 ? mean(c.slice(1).map((p, i) => Math.abs(p.value - c[i]!.value))) : NaN;
const num = (x: unknown): number => (typeof x === 'number' ? x : NaN);
const firstFinite = (...xs: number[]): number => xs.find(Number.isFinite) ?? NaN;

/** The evaluation scalar at the start (step 0) or the end (last step > 0) of an arm's curves. */
function evalPoint(arm: ArmRecord, tag: string, which: 'before' | 'after'): number {
  const c = arm.curves.get(tag) ?? [];
  const p = which === 'before' ? c.find((x) => x.step === 0) : [...c].reverse().find((x) => x.step > 0);
  return p ? p.value : NaN;
}

/** Status of an arm: its summary's, or "no summary" (still running, or the process died before writing it). */
export function armStatus(arm: ArmRecord): string {
  return arm.summary?.status ?? 'no summary';
}

/** Steps an arm trained: its summary's count, else the last step of its reward curve. */
export function armSteps(arm: ArmRecord): number {
  const c = arm.curves.get('env/reward_mean');
  return arm.summary?.step ?? (c && c.length ? c[c.length - 1]!.step : 0);
}

/** Every figure of {@link METRICS} for one arm (NaN where the arm has no such figure). */
export function armMetrics(arm: ArmRecord, lastK: number): Record<string, number> {
  const s = arm.summary ?? {};
  const c = (tag: string) => arm.curves.get(tag);
  const ev = (e: EvalFiguresLike | undefined, f: (e: EvalFiguresLike) => number, tag: string, which: 'before' | 'after') =>
    firstFinite(e ? num(f(e)) : NaN, evalPoint(arm, tag, which));
  const rss = c('memory/rss_bytes');
  return {
    reward_final: firstFinite(last(c('env/reward_mean')), num(s.final?.['env/reward_mean'])),
    reward_lastk: firstFinite(lastKMean(c('env/reward_mean'), lastK), lastK === 10 ? num(s.lastK?.['env/reward_mean']) : NaN),
    kl_final: firstFinite(last(c('objective/kl')), num(s.final?.['objective/kl'])),
    kl_lastk: firstFinite(lastKMean(c('objective/kl'), lastK), lastK === 10 ? num(s.lastK?.['objective/kl']) : NaN),
    reward_roughness: roughness(c('env/reward_mean')),
    toxicity_before: ev(s.evalBefore, (e) => e.toxicity.mean, 'eval/toxicity_mean', 'before'),
    toxicity_before_std: ev(s.evalBefore, (e) => e.toxicity.std, 'eval/toxicity_std', 'before'),
    toxicity_after: ev(s.evalAfter, (e) => e.toxicity.mean, 'eval/toxicity_mean', 'after'),
    toxicity_after_std: ev(s.evalAfter, (e) => e.toxicity.std, 'eval/toxicity_std', 'after'),
    distinct2_before: ev(s.evalBefore, (e) => e.distinct2, 'eval/distinct_2', 'before'),
    distinct2_after: ev(s.evalAfter, (e) => e.distinct2, 'eval/distinct_2', 'after'),
    perplexity_before: ev(s.evalBefore, (e) => e.perplexity, 'eval/perplexity', 'before'),
    perplexity_after: ev(s.evalAfter, (e) => e.perplexity, 'eval/perplexity', 'after'),
    wall_s: num(s.elapsedMs) / 1000,
    peak_rss_mib: firstFinite(num(s.peakRssBytes), rss && rss.length ? Math.max(...rss.map((p) => p.value)) : NaN) / 2 ** 20,
  };
}
