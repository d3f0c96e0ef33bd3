/**
 * Rows of the comparison: arms whose configs are identical except for `seed` form one group, reported as the mean
 * ± 95% CI across its seeds; any other arm is its own row with plain values.
 */
import { armName, settingKeys } from '../config/ablate.js';
import type { Json } from '../config/merge.js';
import { armMetrics, armStatus, armSteps, METRICS } from './metrics.js';
import type { ArmRecord } from './read-arms.js';
import { meanCi95, type MeanCi } from './stats.js';

/** One figure of a row: mean ± CI over its arms, and each arm's value. */
export interface RowMetric extends MeanCi {
  values: number[];
}

/** One row of the comparison (one arm, or the seeds of one setting). */
export interface CompareRow {
  /** The arm's name, or for a seed group the name of its settings without the seed. */
  label: string;
  arms: string[];
  n: number;
  /** The `seed` of each arm (null where the config is unknown). */
  seeds: (number | null)[];
  status: string;
  steps: string;
  metrics: Record<string, RowMetric>;
}

/** JSON with sorted object keys. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** What must be equal for two arms to be seeds of one setting: the whole config except `seed`. */
function groupKey(arm: ArmRecord): string {
  if (!arm.config) return `\u0000${arm.dir}`; // unknown config: its own group
  const { seed: _seed, ...rest } = arm.config;
  return canonical(rest);
}

/** Label of a seed group: its grid settings without the seed, named like an arm; "all" when seed is the only axis. */
function groupLabel(members: readonly ArmRecord[]): string {
  if (members.length === 1) return members[0]!.name;
  const settings = members[0]!.settings;
  if (settings && members.every((m) => m.settings)) {
    const keys = settingKeys(Object.keys(settings));
    const rest = Object.entries(settings)
      .filter(([p]) => p !== 'seed')
      .map(([p, value]) => ({ path: p, value: value as Json }));
    return rest.length ? armName(rest, keys) : 'all';
  }
  const stripped = members[0]!.name.replace(/(^|_)seed-[^_]*/g, '').replace(/^_+/, '');
  return stripped || 'all';
}

/** Groups arms by {@link groupKey}, keeping the order of each group's first arm. */
export function groupArms(arms: readonly ArmRecord[]): ArmRecord[][] {
  const groups = new Map<string, ArmRecord[]>();
  for (const a of arms) {
    const k = groupKey(a);
    groups.set(k, [...(groups.get(k) ?? []), a]);
  }
  return [...groups.values()];
}

/** A row from a list of arms: each figure's mean ± 95% CI (plain for one arm). */
function rowOf(members: readonly ArmRecord[], lastK: number): CompareRow {
  const per = members.map((a) => armMetrics(a, lastK));
  const statuses = members.map(armStatus);
  const counts = new Map<string, number>();
  for (const s of statuses) counts.set(s, (counts.get(s) ?? 0) + 1);
  const steps = members.map(armSteps);
  const lo = Math.min(...steps);
  const hi = Math.max(...steps);
  return {
    label: groupLabel(members),
    arms: members.map((a) => a.name),
    n: members.length,
    seeds: members.map((a) => (typeof a.config?.seed === 'number' ? a.config.seed : null)),
    status: counts.size === 1 ? statuses[0]! : [...counts].map(([s, k]) => `${k} ${s}`).join(', '),
    steps: lo === hi ? String(lo) : `${lo}–${hi}`,
    metrics: Object.fromEntries(
      METRICS.map((m) => {
        const values = per.map((p) => p[m.key]!);
        return [m.key, { ...meanCi95(values), values }];
      }),
    ),
  };
}

/**
 * The comparison's rows: one per seed group when seed is an axis (some group has several arms), else one per arm.
 */
export function compareRows(arms: readonly ArmRecord[], lastK: number): { grouped: boolean; rows: CompareRow[] } {
  const groups = groupArms(arms);
  const grouped = groups.some((g) => g.length > 1);
  return { grouped, rows: (grouped ? groups : arms.map((a) => [a])).map((g) => rowOf(g, lastK)) };
}
