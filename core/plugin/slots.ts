/**
 * The config's plugin slots, in one table: where each lives in the config, which plugin kind it takes, whether it
 * holds one plugin or a list, and the injection token its instance(s) are bound to. Validation (core/config),
 * the JSON Schema, the container (core/di) and the error labels all read it, so a new slot is one row here (plus its
 * field in core/config/schema.ts, which a test checks against this table).
 */
import { TOKENS } from '../tokens.js';
import type { PluginKind } from './define.js';
import { getPath } from '../util/get-path.js';

interface SlotSpec {
  /** The slot's config path (a list slot: the list's). */
  readonly path: readonly string[];
  readonly kind: PluginKind;
  /** A list of plugins (`memory`, `hooks`, `eval.classifiers`) rather than one. */
  readonly list: boolean;
  /** What the container binds its instance to (multi-bound for a list, in config order). */
  readonly token: symbol;
}

export const SLOTS: readonly SlotSpec[] = [
  { path: ['policy'], kind: 'policy', list: false, token: TOKENS.Policy },
  { path: ['reward', 'model'], kind: 'reward-model', list: false, token: TOKENS.RewardModel },
  { path: ['reward', 'transform'], kind: 'reward-transform', list: false, token: TOKENS.RewardTransform },
  { path: ['data', 'dataset'], kind: 'dataset', list: false, token: TOKENS.Dataset },
  { path: ['optimiser'], kind: 'optimiser', list: false, token: TOKENS.Optimiser },
  // Built before the others: the policy is built from the strategies' combined memory plan (core/di).
  { path: ['memory'], kind: 'memory', list: true, token: TOKENS.MemoryStrategy },
  { path: ['hooks'], kind: 'hook', list: true, token: TOKENS.Hook },
  { path: ['eval', 'classifiers'], kind: 'reward-model', list: true, token: TOKENS.EvalClassifier },
];

/** A slot's config path as written in messages (`reward.model`, `hooks.2`). */
export const slotName = (path: readonly (string | number)[]): string => path.join('.');

/**
 * The slot a plugin of `kind` fills when nothing more precise is known (how errors name a plugin built outside the
 * container, e.g. on a worker): its kind's first slot in {@link SLOTS}.
 */
export function defaultSlotOf(kind: PluginKind): string {
  return slotName(SLOTS.find((s) => s.kind === kind)!.path);
}

/**
 * Every filled slot of a config, each with its full path (a list slot's entries: `['hooks', 2]`) and its kind, in
 * {@link SLOTS} order. Reads any object (validation calls it on raw input): a missing or non-list value has no entries.
 */
export function slotEntries(cfg: unknown): { path: (string | number)[]; kind: PluginKind; spec: SlotSpec }[] {
  return SLOTS.flatMap((spec) => {
    if (!spec.list) return [{ path: [...spec.path], kind: spec.kind, spec }];
    const items = getPath(cfg, spec.path);
    return Array.isArray(items) ? items.map((_, i) => ({ path: [...spec.path, i], kind: spec.kind, spec })) : [];
  });
}
