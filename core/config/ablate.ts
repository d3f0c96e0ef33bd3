/**
 * Ablation grids declared in the config:
 *
 *   "ablate": { "reward.transform.type": ["raw-logit", "softmax", "log"], "data.promptTokens": [[5, 8], [10, 15]], "seed": [0, 1, 2] },
 *   "ablateMode": "product"            // or "zip": the i-th values of every list go together (lists of equal length)
 *
 * Each combination is an *arm*: the base config with `setPath(path, value)` applied for each of its settings (after
 * `$import` and `--set`, so a plugin slot whose `type` changes starts from that plugin's defaults), and without the
 * `ablate` / `ablateMode` keys. Every arm's resolved config is validated before any arm starts; the problems of all
 * arms are reported together, each naming the ablate path and value that caused it.
 *
 * Arm names (the run folder under `runs/<experiment>/`) are built from the settings, in the order the paths are
 * declared, so they are readable and stable across runs:
 *   - each setting becomes `<key>-<value>` and settings are joined with `_`;
 *   - `<key>` is the path's last segment; a trailing `type` is dropped (`reward.transform.type` → `transform`) and
 *     array indices stick to the segment before them (`memory.0.type` → `memory0`); when two paths of one grid give
 *     the same key, both use their whole path with `-` for `.` (`ppo-lam`, `other-lam`);
 *   - `<value>`: strings as written and numbers as JavaScript prints them (`1e-5` → `0.00001`, `1e21` → `1e21`), with
 *     every character outside `A-Z a-z 0-9 . -` turned into `-` (runs collapsed, `+` dropped, a string's leading and
 *     trailing `-` trimmed, `""` → `empty`); `true` / `false` / `null`; arrays join their elements with
 *     `-` (`[5, 8]` → `5-8`, `[]` → `none`); objects give `<type>` first, then `<key>-<value>` of the other entries;
 *   - a name longer than 120 characters is cut to 110 and given `_h<8 hex digits of a hash of the settings>`; two
 *     arms whose names would still coincide get the same kind of hash suffix.
 * Example: `{"reward.transform.type": "softmax", "seed": 1}` → `transform-softmax_seed-1`. `_` appears only between
 * settings. The exact settings are also written to each arm folder's `arm.json`.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { loadRawConfig } from './load.js';
import { isPlainObject, parsePath, type Json, type JsonObject } from './merge.js';
import { ConfigError, prepareExperiment, runDirOf, type PreparedExperiment } from './prepare.js';
import type { ConfigIssue } from './validate.js';
import type { AnyPluginDefinition } from '../plugin/define.js';

/** How the ablate lists combine. */
export type AblateMode = 'product' | 'zip';

/** One config path and the values it takes across the grid. */
export interface AblateAxis {
  path: string;
  values: Json[];
}

/** One setting of an arm: a config path and its value. */
interface ArmSetting {
  path: string;
  value: Json;
}

/** An arm of the grid, before validation. */
interface Arm {
  /** Filesystem-safe readable name (see the module comment for the rule). */
  name: string;
  settings: ArmSetting[];
}

/** An arm whose config has been resolved and validated. */
export interface PlannedArm extends Arm {
  prepared: PreparedExperiment;
  /** `<runsDir>/<experiment>/<name>`, absolute. */
  runDir: string;
}

/** A validated grid: every arm ready to run. */
export interface AblationPlan {
  experiment: string;
  /** `<runsDir>/<experiment>`, absolute: the arms' parent folder. */
  experimentDir: string;
  mode: AblateMode;
  axes: AblateAxis[];
  arms: PlannedArm[];
  /** The config file (relative to the working folder), for messages. */
  source: string;
}

/** Paths that cannot vary: arms must share one experiment folder, and grids do not nest. */
const FIXED_PATHS = ['experiment', 'runsDir', 'ablate', 'ablateMode', '$schema'];
const MAX_NAME = 120;

const show = (v: unknown): string => {
  const s = JSON.stringify(v);
  return s === undefined ? 'nothing' : s.length > 80 ? `${s.slice(0, 77)}...` : s;
};

/**
 * Problems of the `ablate` / `ablateMode` fields themselves (shape, paths, duplicates, zip lengths), one issue each.
 * Returns the axes when there are none.
 */
export function parseAblate(ablate: unknown, mode: unknown): { axes: AblateAxis[]; mode: AblateMode; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  let m: AblateMode = 'product';
  if (mode !== undefined) {
    if (mode === 'product' || mode === 'zip') m = mode;
    else issues.push({ path: 'ablateMode', message: `must be "product" or "zip" (got ${show(mode)})` });
  }
  if (ablate === undefined) return { axes: [], mode: m, issues };
  if (!isPlainObject(ablate)) {
    issues.push({
      path: 'ablate',
      message: `must be an object mapping config paths to lists of values, e.g. {"seed": [0, 1, 2]} (got ${show(ablate)})`,
    });
    return { axes: [], mode: m, issues };
  }
  const axes: AblateAxis[] = [];
  for (const [p, values] of Object.entries(ablate)) {
    const at = `ablate[${JSON.stringify(p)}]`;
    try {
      parsePath(p);
    } catch {
      issues.push({
        path: at,
        message: `not a config path: use dot-separated keys, e.g. "ppo.batchSize" or "reward.transform.type" (got ${show(p)})`,
      });
      continue;
    }
    const head = p.split('.')[0]!;
    if (FIXED_PATHS.includes(head)) {
      issues.push({
        path: at,
        message: `"${head}" cannot be ablated (arms share one experiment folder and grids do not nest); allowed: any other config path`,
      });
      continue;
    }
    if (!Array.isArray(values) || values.length === 0) {
      issues.push({ path: at, message: `must be a non-empty list of values to try, e.g. [0, 1, 2] (got ${show(values)})` });
      continue;
    }
    const seen = new Map<string, number>();
    values.forEach((v, i) => {
      const key = canonicalJson(v);
      const j = seen.get(key);
      if (j !== undefined)
        issues.push({ path: `${at}[${i}]`, message: `duplicate value ${show(v)} (same as [${j}]); each value must differ` });
      else seen.set(key, i);
    });
    axes.push({ path: p, values });
  }
  for (const a of axes) {
    for (const b of axes) {
      if (a !== b && b.path.startsWith(`${a.path}.`)) {
        issues.push({
          path: `ablate[${JSON.stringify(b.path)}]`,
          message: `overlaps ablate[${JSON.stringify(a.path)}] (one path inside the other); ablate disjoint paths`,
        });
      }
    }
  }
  if (m === 'zip' && axes.length > 1 && new Set(axes.map((a) => a.values.length)).size > 1) {
    issues.push({
      path: 'ablate',
      message: `ablateMode "zip" needs lists of equal length (got ${axes.map((a) => `${a.path}: ${a.values.length}`).join(', ')}); use "product" for every combination`,
    });
  }
  return { axes, mode: m, issues };
}

/** JSON with object keys sorted, so equal values compare equal. */
export function canonicalJson(v: Json): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isPlainObject(v))
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k]!)}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

/**
 * The settings of every arm: the cartesian product of the axes (first axis varies slowest, like itertools.product),
 * or with `zip` the i-th value of each axis together.
 */
export function expandGrid(axes: readonly AblateAxis[], mode: AblateMode = 'product'): ArmSetting[][] {
  if (axes.length === 0) return [];
  if (mode === 'zip') {
    const n = Math.min(...axes.map((a) => a.values.length));
    return Array.from({ length: n }, (_, i) => axes.map((a) => ({ path: a.path, value: a.values[i]! })));
  }
  let out: ArmSetting[][] = [[]];
  for (const a of axes) out = out.flatMap((prefix) => a.values.map((value) => [...prefix, { path: a.path, value }]));
  return out;
}

/** `<key>` of a path in an arm name (see the module comment). */
function shortKey(p: string): string {
  const parts = p.split('.');
  if (parts.length > 1 && parts[parts.length - 1] === 'type') parts.pop();
  let i = parts.length - 1;
  while (i > 0 && /^\d+$/.test(parts[i]!)) i--;
  return clean(parts.slice(i).join(''));
}

const clean = (s: string): string =>
  s
    .replace(/\+/g, '')
    .replace(/[^A-Za-z0-9.-]+/g, '-')
    .replace(/-{2,}/g, '-');

/** The `<value>` part of an arm name (see the module comment). */
export function slugValue(v: Json): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'number') return clean(String(v));
  if (typeof v === 'string') return clean(v).replace(/^-+|-+$/g, '') || 'empty';
  if (Array.isArray(v)) return v.length ? v.map(slugValue).join('-') : 'none';
  const entries = Object.entries(v);
  if (!entries.length) return 'none';
  const type = typeof v.type === 'string' ? [slugValue(v.type)] : [];
  return [...type, ...entries.filter(([k]) => !(k === 'type' && type.length)).map(([k, x]) => `${clean(k)}-${slugValue(x)}`)].join('-');
}

const hash8 = (settings: readonly ArmSetting[]): string =>
  createHash('sha256')
    .update(settings.map((s) => `${s.path}=${canonicalJson(s.value)}`).join('\n'))
    .digest('hex')
    .slice(0, 8);

/**
 * An arm's folder name from its settings: `transform-softmax_seed-1` (the rule is in the module comment).
 * `keys` (default: from these settings' paths) fixes the key of each path, so all arms of a grid agree.
 */
export function armName(settings: readonly ArmSetting[], keys: Map<string, string> = settingKeys(settings.map((s) => s.path))): string {
  if (settings.length === 0) return 'main';
  const name = settings.map((s) => `${keys.get(s.path) ?? shortKey(s.path)}-${slugValue(s.value)}`).join('_');
  return name.length > MAX_NAME ? `${name.slice(0, MAX_NAME - 10)}_h${hash8(settings)}` : name;
}

/** The name key of each path: its short key, or its whole path when two paths share a short key. */
export function settingKeys(paths: readonly string[]): Map<string, string> {
  const count = new Map<string, number>();
  for (const p of paths) count.set(shortKey(p), (count.get(shortKey(p)) ?? 0) + 1);
  return new Map(
    paths.map((p) => {
      const k = shortKey(p);
      return [p, count.get(k)! > 1 ? clean(p.replace(/\.type$/, '').replace(/\./g, '-')) : k];
    }),
  );
}

/** Every arm of a grid with its name; coinciding names get a hash suffix so each arm has its own folder. */
export function gridArms(axes: readonly AblateAxis[], mode: AblateMode = 'product'): Arm[] {
  const keys = settingKeys(axes.map((a) => a.path));
  const arms = expandGrid(axes, mode).map((settings) => ({ name: armName(settings, keys), settings }));
  const counts = new Map<string, number>();
  for (const a of arms) counts.set(a.name, (counts.get(a.name) ?? 0) + 1);
  return arms.map((a) => (counts.get(a.name)! > 1 ? { ...a, name: `${a.name}_h${hash8(a.settings)}` } : a));
}

/** `path=value` assignments (the `--set` form) applying an arm's settings. */
const armAssignments = (settings: readonly ArmSetting[]): string[] => settings.map((s) => `${s.path}=${JSON.stringify(s.value)}`);

/** One issue of one arm. */
interface ArmIssue {
  arm: Arm;
  issue: ConfigIssue;
}

/**
 * Groups equal issues of several arms into one line each, naming the ablate path and value responsible (an axis
 * whose path is the issue's path, inside it, or around it, and whose value is the same in every arm concerned).
 */
function attribute(found: ArmIssue[], axes: readonly AblateAxis[], arms: readonly Arm[]): ConfigIssue[] {
  const total = arms.length;
  const valueOf = (arm: Arm, p: string) => canonicalJson(arm.settings.find((s) => s.path === p)!.value);
  const groups = new Map<string, ArmIssue[]>();
  for (const f of found) {
    const k = `${f.issue.path}\u0000${f.issue.message}`;
    groups.set(k, [...(groups.get(k) ?? []), f]);
  }
  const out: ConfigIssue[] = [];
  for (const list of groups.values()) {
    const { issue } = list[0]!;
    const shared = (a: AblateAxis) => new Set(list.map((f) => valueOf(f.arm, a.path))).size === 1;
    const failing = new Set(list.map((f) => f.arm.name));
    // The axis at (or around) the issue's path, else the axis whose value the failing arms, and only they, share.
    const axis =
      axes.find(
        (a) => shared(a) && (issue.path === a.path || issue.path.startsWith(`${a.path}.`) || a.path.startsWith(`${issue.path}.`)),
      ) ??
      (list.length < total
        ? axes.find((a) => {
            if (!shared(a)) return false;
            const v = valueOf(list[0]!.arm, a.path);
            return arms.every((arm) => (valueOf(arm, a.path) === v) === failing.has(arm.name));
          })
        : undefined);
    const names = list.map((f) => f.arm.name);
    const armsText = names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;
    let where: string;
    if (axis) {
      const value = list[0]!.arm.settings.find((s) => s.path === axis.path)!.value;
      where = `from ablate[${JSON.stringify(axis.path)}] value ${show(value)}; ${list.length} of ${total} arm${total > 1 ? 's' : ''}: ${armsText}`;
    } else if (list.length === total) {
      where = `in every arm`;
    } else {
      where = `in arm${list.length > 1 ? 's' : ''} ${armsText}`;
    }
    out.push({ path: issue.path, message: `${issue.message} [${where}]`, ...(issue.source ? { source: issue.source } : {}) });
  }
  return out;
}

/**
 * Loads the config and, when it declares a non-empty `ablate`, resolves and validates every arm (all arms' problems
 * are collected into one ConfigError, exit code 2, before anything runs). Returns null for a config without a grid
 * (the caller runs it as the single arm `main`). Throws ConfigFileError / ConfigError like prepareExperiment.
 */
export async function planAblation(opts: {
  file?: string;
  set?: readonly string[];
  cwd?: string;
  builtins: readonly AnyPluginDefinition[];
}): Promise<AblationPlan | null> {
  const raw = await loadRawConfig(opts);
  const cwd = opts.cwd ?? process.cwd();
  const source = path.relative(cwd, raw.filepath) || raw.filepath;
  const { ablate, ablateMode } = raw.config as JsonObject;
  const empty = ablate === undefined || (isPlainObject(ablate) && Object.keys(ablate).length === 0);
  if (empty && ablateMode === undefined) return null;
  const parsed = parseAblate(ablate, ablateMode);
  if (parsed.issues.length) throw new ConfigError(parsed.issues, source);
  if (parsed.axes.length === 0) return null;

  const arms = gridArms(parsed.axes, parsed.mode);
  const found: ArmIssue[] = [];
  const planned: PlannedArm[] = [];
  // The same file is loaded once per arm with the arm's settings as the last `--set`s: the arm's config then goes
  // through exactly the loading, plugin registration and validation of a single run.
  for (const arm of arms) {
    try {
      const prepared = await prepareExperiment({
        file: raw.filepath,
        cwd,
        builtins: opts.builtins,
        set: [...(opts.set ?? []), ...armAssignments(arm.settings)],
      });
      const cfg = prepared.config as unknown as Record<string, unknown>;
      delete cfg.ablate;
      delete cfg.ablateMode;
      planned.push({ ...arm, prepared, runDir: runDirOf(prepared, arm.name) });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      // An issue blamed on the arm's own setting is attributed to its ablate path below, not to a --set.
      const own = new Set(armAssignments(arm.settings).map((a) => `--set ${a}`));
      for (const { source: by, ...issue } of err.issues) found.push({ arm, issue: by && !own.has(by) ? { ...issue, source: by } : issue });
    }
  }
  if (found.length) throw new ConfigError(attribute(found, parsed.axes, arms), source);
  const first = planned[0]!;
  return {
    experiment: first.prepared.config.experiment,
    experimentDir: path.dirname(first.runDir),
    mode: parsed.mode,
    axes: parsed.axes,
    arms: planned,
    source,
  };
}
