import type { z } from 'zod';
import { configSchema, type ExperimentConfig, type SlotConfig } from './schema.js';
import { isPlainObject, type JsonObject } from './merge.js';
import { getPath } from '../util/get-path.js';
import type { PluginRegistry } from '../plugin/registry.js';
import { slotEntries } from '../plugin/slots.js';
import { schemaAt, unionChoices } from './type-name.js';

/** One problem in a config: where, what was there, what is allowed. */
export interface ConfigIssue {
  path: string;
  message: string;
  /** What set the value, when not the config file: `--set <path=value>`. */
  source?: string;
}

/** Bad config: every issue found, one line each. The CLI exits with code 2. */
export class ConfigError extends Error {
  constructor(
    readonly issues: ConfigIssue[],
    readonly source?: string,
  ) {
    super(issues.map((i) => `${(i.source ?? source) ? `${i.source ?? source}: ` : ''}${i.path || '(root)'}: ${i.message}`).join('\n'));
    this.name = 'ConfigError';
  }
}

/** Config after validation: defaults filled in, every slot's options parsed by its plugin. */
export type ResolvedConfig = ExperimentConfig;

const show = (v: unknown): string => {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
};

/** zod issues → one readable line each, naming the path, the value found and what is allowed. */
function formatZodIssues(error: z.ZodError, raw: unknown, prefix: (string | number)[] = [], schema?: z.ZodType): ConfigIssue[] {
  const hints = new Map<string, string>();
  if (schema) collectKeyHints(schema, [], hints);
  const out: ConfigIssue[] = [];
  for (const issue of error.issues) {
    const at = [...prefix, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
    const value = getPath(raw, issue.path as (string | number)[]);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        out.push({
          path: [...at, key].join('.'),
          message: `unknown key (got ${show((value as JsonObject | undefined)?.[key])}); allowed keys: ${hints.get(issue.path.map(String).join('.')) ?? 'see the config reference'}`,
        });
      }
      continue;
    }
    let message = issue.message;
    if (issue.code === 'invalid_value') message = `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    // A union's issue tells only of the branch zod tried last: name every choice instead.
    const choices = schema && unionAt(schema, issue.path);
    if (choices) message = `must be ${choices}`;
    out.push({ path: at.join('.'), message: `${message} (got ${show(value)})` });
  }
  return out;
}

/** The choices of the union at `path` (or undefined when the schema there is not a union). */
function unionAt(schema: z.ZodType, path: readonly PropertyKey[]): string | undefined {
  const at = schemaAt(
    schema,
    path.filter((k): k is string | number => typeof k !== 'symbol'),
  );
  return at && unionChoices(at);
}

/** Object path → its allowed keys, so unknown-key messages can list them. */
function collectKeyHints(schema: z.ZodType, at: string[], into: Map<string, string>): void {
  const def = (schema as unknown as { def: { type: string; innerType?: z.ZodType; shape?: Record<string, z.ZodType> } }).def;
  if (def.type === 'default' || def.type === 'optional' || def.type === 'nullable' || def.type === 'prefault') {
    collectKeyHints(def.innerType!, at, into);
    return;
  }
  if (def.type === 'object' && def.shape) {
    into.set(at.join('.'), Object.keys(def.shape).join(', ') || '(none)');
    for (const [k, v] of Object.entries(def.shape)) collectKeyHints(v, [...at, k], into);
  }
}

/**
 * Validates a raw config against the core schema and every slot against its plugin's
 * options. Collects all issues before failing, so one run shows everything to fix.
 */
export function validateConfig(raw: unknown, registry: PluginRegistry, source?: string): ResolvedConfig {
  const issues: ConfigIssue[] = [];
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) issues.push(...formatZodIssues(parsed.error, raw, [], configSchema));
  const base: JsonObject = isPlainObject(raw) ? raw : {};
  const resolved = (parsed.success ? parsed.data : undefined) as ResolvedConfig | undefined;

  for (const { path, kind } of slotEntries(base)) {
    const slot = getPath(base, path);
    if (!isPlainObject(slot) || typeof slot.type !== 'string') continue; // reported by the core schema
    const def = registry.find(kind, slot.type);
    if (!def) {
      const known = registry.names(kind);
      issues.push({
        path: [...path, 'type'].join('.'),
        message: `unknown ${kind} plugin ${show(slot.type)}; known: ${known.length ? known.join(', ') : '(none registered)'}`,
      });
      continue;
    }
    const { type, ...options } = slot;
    const r = def.options.safeParse(options);
    if (!r.success) {
      issues.push(...formatZodIssues(r.error, options, path, def.options));
    } else if (resolved) {
      setSlot(resolved, path, { type, ...(r.data as object) });
    }
  }
  if (resolved) {
    issues.push(...duplicateDefaultHooks(resolved.hooks as SlotConfig[], registry));
    resolved.hooks = effectiveHooks(resolved.hooks as SlotConfig[], registry);
    issues.push(...crossFieldIssues(resolved));
  }
  if (issues.length) throw new ConfigError(issues, source);
  return resolved!;
}

/**
 * A config an earlier run recorded (its resolved-config.json, a checkpoint's trainer state) read with today's schema
 * and registry: fields added since it was written take their defaults and the default-on hooks their entries, exactly
 * as the current config got them, so a run recorded before those existed still compares equal to the same experiment
 * today (users keep run folders for months). A recorded config that no longer validates is returned as it was, so a
 * comparison shows what differs instead of failing. The result is plain JSON.
 */
export function asRecordedToday(recorded: unknown, registry: PluginRegistry): unknown {
  try {
    return JSON.parse(JSON.stringify(validateConfig(recorded, registry))) as unknown;
  } catch {
    return recorded;
  }
}

/** The hooks the registry has that are on by default (`onByDefault`: the built-in output hooks), in registry order. */
function defaultHooks(registry: PluginRegistry): string[] {
  return registry
    .all()
    .filter((d) => d.kind === 'hook' && d.onByDefault === true)
    .map((d) => d.name);
}

/**
 * The effective `hooks` list (config `hooks`' rule, see its description in schema.ts): each built-in output hook the
 * config does not list is added, with its default options, ahead of the listed ones (which keep their order, an
 * `{ "enabled": false }` one included, so resolving the resolved config again changes nothing). A registry without
 * them (a test's) adds none.
 */
function effectiveHooks(hooks: readonly SlotConfig[], registry: PluginRegistry): SlotConfig[] {
  const listed = new Set(hooks.map((h) => h.type));
  const added = defaultHooks(registry)
    .filter((name) => !listed.has(name))
    .map((name) => ({ type: name, ...(registry.find('hook', name)!.options.parse({}) as object) }));
  return [...added, ...hooks];
}

/** A default-on hook listed twice would write its files twice. */
function duplicateDefaultHooks(hooks: readonly SlotConfig[], registry: PluginRegistry): ConfigIssue[] {
  const defaults = new Set(defaultHooks(registry));
  const first = new Map<string, number>();
  const out: ConfigIssue[] = [];
  hooks.forEach((h, i) => {
    if (!defaults.has(h.type)) return;
    const at = first.get(h.type);
    if (at === undefined) first.set(h.type, i);
    else
      out.push({
        path: `hooks.${i}.type`,
        message: `the built-in "${h.type}" hook is already listed at hooks.${at}; list it once (got ${show(h.type)})`,
      });
  });
  return out;
}

function setSlot(cfg: ResolvedConfig, path: (string | number)[], value: SlotConfig): void {
  let cur = cfg as unknown as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
  cur[path[path.length - 1]!] = value;
}

/** Rules that span fields (TRL checks the same ones at start-up). */
function crossFieldIssues(cfg: ResolvedConfig): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const { batchSize, miniBatchSize, gradientAccumulationSteps } = cfg.ppo;
  const backward = miniBatchSize * gradientAccumulationSteps;
  if (batchSize % backward !== 0) {
    out.push({
      path: 'ppo.batchSize',
      message: `must be a multiple of miniBatchSize × gradientAccumulationSteps = ${miniBatchSize} × ${gradientAccumulationSteps} = ${backward} (got ${batchSize})`,
    });
  }
  if (cfg.eval.every > 0 && !cfg.eval.enabled) {
    out.push({
      path: 'eval.every',
      message: `periodic evaluation needs eval.enabled: true; set eval.every to 0 or enable evaluation (got ${cfg.eval.every})`,
    });
  }
  if (cfg.ppo.useScoreNorm && !cfg.ppo.useScoreScaling) {
    out.push({
      path: 'ppo.useScoreNorm',
      message: 'only takes effect with ppo.useScoreScaling: true (as in TRL); set both or neither (got true)',
    });
  }
  return out;
}
