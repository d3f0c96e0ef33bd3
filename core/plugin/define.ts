import { z } from 'zod';
import type { Policy } from '../interfaces/policy.js';
import type { RewardModel, RewardTransform } from '../interfaces/reward.js';
import type { Dataset } from '../interfaces/dataset.js';
import type { Optimiser } from '../interfaces/optimiser.js';
import type { MemoryPlan, MemoryStrategy } from '../interfaces/memory.js';
import type { Hook } from '../interfaces/hook.js';

/** What each plugin kind creates. The key is the `kind` of a plugin definition. */
export interface PluginKinds {
  policy: Policy;
  'reward-model': RewardModel;
  'reward-transform': RewardTransform;
  dataset: Dataset;
  optimiser: Optimiser;
  memory: MemoryStrategy;
  hook: Hook;
}
export type PluginKind = keyof PluginKinds;
export const PLUGIN_KINDS: readonly PluginKind[] = ['policy', 'reward-model', 'reward-transform', 'dataset', 'optimiser', 'memory', 'hook'];

/** Options that name a file or folder (see {@link pathOption}). */
const PATH_OPTIONS = z.registry<{ pathKind: 'file' | 'folder' | 'file-or-folder' }>();

/**
 * A plugin option naming a file or folder: a non-empty string that, when relative, is resolved against the config
 * file that wrote it (`./x` and `../x` against that file's folder, other relative paths against its project root) and
 * that `detox-lab run --dry-run` checks exists. Plugins still read it with `path.resolve(ctx.configDir, value)`.
 * (A string option named `path` is treated the same way even when declared with plain `z.string()`.)
 *
 * ```ts
 * options: z.object({ path: pathOption('the model folder', 'folder') })
 * ```
 */
export function pathOption(description: string, pathKind: 'file' | 'folder' | 'file-or-folder' = 'file-or-folder'): z.ZodString {
  const s = z.string().min(1).describe(description);
  PATH_OPTIONS.add(s, { pathKind });
  return s;
}

/** Whether option `key` of a plugin schema names a file or folder ({@link pathOption}, or a string option named `path`). */
export function isPathOption(options: z.ZodObject, key: string): boolean {
  const shape = (options as { shape?: unknown } | undefined)?.shape;
  if (key === 'type' || typeof shape !== 'object' || shape === null) return false; // not a zod object (a hand-written schema)
  let s = (shape as Record<string, z.ZodType | undefined>)[key];
  for (let i = 0; s && i < 8; i++) {
    if ((s as { _zod?: unknown })._zod && PATH_OPTIONS.get(s)) return true;
    const def = (s as unknown as { def?: { type: string; innerType?: z.ZodType } }).def;
    if (!def) return false;
    if (def.type === 'string') return key === 'path';
    if (!def.innerType) return false;
    s = def.innerType;
  }
  return false;
}

/** What a plugin's `create` receives besides its options. */
export interface PluginContext {
  /**
   * The project root (the nearest folder at or above the config file holding package.json or .detoxrc.json):
   * relative paths in options resolve against it (path options written by another file, e.g. an `$import`ed
   * config in another folder, have already been rewritten relative to it, see {@link pathOption}).
   */
  configDir: string;
  /** The experiment's seed (plugins derive their own streams from it). */
  seed: number;
  /** Combined plan of the configured memory strategies (policies honour it). */
  memoryPlan: MemoryPlan;
  /** PPO steps the run will take (`train.steps`), e.g. for learning-rate schedules. */
  trainSteps: number;
  /** TensorFlow.js backend in use ('wasm', 'cpu', 'tensorflow', ...). */
  backend: string;
  /** Console/log line for the user. */
  log(message: string): void;
  /**
   * The run folder (`<runsDir>/<experiment>/<arm>`), when plugins are built for a training run (`detox-lab run`);
   * absent elsewhere (`detox-lab eval`, worker-thread replicas). It is not yet taken when `create` runs: hooks open
   * their files in `onRunStart`, which receives it too.
   */
  runDir?: string;
  /** The console stream progress and warnings go to (stderr unless a caller redirects it). */
  out?: NodeJS.WriteStream;
  /** The loop settings hooks default to (`train.logEvery`, `train.sampleEvery`, `train.progress`); absent outside a run. */
  train?: Readonly<{ logEvery: number; sampleEvery: number; progress: boolean }>;
}

/** A plugin: a name, a kind, an options schema (the type and the validator in one) and a factory. */
export interface PluginDefinition<K extends PluginKind = PluginKind, S extends z.ZodObject = z.ZodObject> {
  kind: K;
  /** kebab-case; what config's `"type"` names. */
  name: string;
  /** One line, shown by `detox-lab plugins` and in the config schema. */
  description: string;
  /** Options besides `type`; unknown keys are rejected, defaults filled in. */
  options: S;
  /**
   * Hooks only: on in every run unless the config turns it off (`{ "type": <name>, "enabled": false }`); its
   * options must then include `enabled`. The built-in tensorboard, samples and console hooks are.
   */
  onByDefault?: boolean;
  create(options: z.output<S>, ctx: PluginContext): PluginKinds[K] | Promise<PluginKinds[K]>;
}

/** A list of plugin definitions that knows the URL of the module exporting it (see {@link pluginList}). */
export type PluginList = readonly AnyPluginDefinition[] & { readonly moduleUrl: string };

/**
 * Marks a module's exported plugin list with that module's URL (`pluginList([...], import.meta.url)`), so that a
 * registry built from it can be rebuilt in a worker thread by importing the module (PluginRegistry.moduleUrls).
 */
export function pluginList(definitions: readonly AnyPluginDefinition[], moduleUrl: string): PluginList {
  return Object.freeze(Object.assign([...definitions], { moduleUrl }));
}

/** Any plugin definition, whatever its kind and options (what registries and module lists hold). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyPluginDefinition = PluginDefinition<PluginKind, any>;

/**
 * Declares a plugin. The options schema is made strict, so a misspelt option is an error
 * rather than silently ignored.
 *
 * ```ts
 * export default definePlugin({
 *   kind: 'reward-transform', name: 'clipped-logit', description: 'neutral logit clipped to ±c',
 *   options: z.object({ c: z.number().positive().default(3) }),
 *   create: (o) => ({ name: 'clipped-logit', transform: (logits, n) => logits.map((l) => Math.max(-o.c, Math.min(o.c, l[n]!))) }),
 * });
 * ```
 */
export function definePlugin<K extends PluginKind, S extends z.ZodObject>(def: PluginDefinition<K, S>): PluginDefinition<K, S> {
  if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(def.name)) {
    throw new Error(`plugin name "${def.name}" must be kebab-case (lowercase letters, digits and single dashes)`);
  }
  if (!PLUGIN_KINDS.includes(def.kind)) {
    throw new Error(`plugin "${def.name}": unknown kind "${String(def.kind)}"; known kinds: ${PLUGIN_KINDS.join(', ')}`);
  }
  return { ...def, options: def.options.strict() as unknown as S };
}
