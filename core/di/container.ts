import 'reflect-metadata';
import { Container } from 'inversify';
import { TOKENS } from '../tokens.js';
import type { ResolvedConfig } from '../config/validate.js';
import type { SlotConfig } from '../config/schema.js';
import type { PluginRegistry } from '../plugin/registry.js';
import type { PluginContext, PluginKind, PluginKinds } from '../plugin/define.js';
import { defaultMemoryPlan, type MemoryStrategy } from '../interfaces/memory.js';
import { labelled, labelPluginInstance } from '../plugin/errors.js';

/** Everything a run needs besides the config: where it writes and how it talks to the user. */
export interface RunContext {
  /** The run folder: <runsDir>/<experiment>/<arm>. */
  runDir: string;
  /** Base folder of relative paths in the config. */
  configDir: string;
  log(message: string): void;
  /** The console stream (default stderr): what the `console` hook draws on. */
  out?: NodeJS.WriteStream;
}

/**
 * The composition root's only contact with inversify: one binding per config slot, each a
 * singleton created by its plugin from the validated options. Memory strategies are built
 * first, because the policy is built from their combined plan.
 */
export async function buildContainer(cfg: ResolvedConfig, registry: PluginRegistry, run: RunContext): Promise<Container> {
  const container = new Container({ defaultScope: 'Singleton' });
  const { strategies, ctx } = await buildPluginContext(cfg, registry, run);

  container.bind(TOKENS.Config).toConstantValue(cfg);
  container.bind(TOKENS.Run).toConstantValue(run);
  container.bind(TOKENS.Registry).toConstantValue(registry);
  for (const s of strategies) container.bind(TOKENS.MemoryStrategy).toConstantValue(s);
  const single = <K extends PluginKind>(token: symbol, kind: K, slot: SlotConfig) =>
    container.bind(token).toDynamicValue(() => create(registry, kind, slot, ctx)).inSingletonScope();
  single(TOKENS.Policy, 'policy', cfg.policy as SlotConfig);
  single(TOKENS.RewardModel, 'reward-model', cfg.reward.model as SlotConfig);
  single(TOKENS.RewardTransform, 'reward-transform', cfg.reward.transform as SlotConfig);
  single(TOKENS.Dataset, 'dataset', cfg.data.dataset as SlotConfig);
  single(TOKENS.Optimiser, 'optimiser', cfg.optimiser as SlotConfig);
  (cfg.eval.classifiers as SlotConfig[]).forEach((slot, i) => {
    container.bind(TOKENS.EvalClassifier).toDynamicValue(() => create(registry, 'reward-model', slot, ctx, `eval.classifiers.${i}`)).inSingletonScope();
  });
  // The effective list (core/config/validate.ts#effectiveHooks: the built-in output hooks are in it unless turned off); a slot with
  // `enabled: false` is not built.
  (cfg.hooks as SlotConfig[]).forEach((slot, i) => {
    if (slot.enabled === false) return;
    container.bind(TOKENS.Hook).toDynamicValue(() => create(registry, 'hook', slot, ctx, `hooks.${i}`)).inSingletonScope();
  });
  return container;
}

/**
 * The memory strategies (config order, each applied to the plan) and the context every other plugin is created
 * with. The composition root and each data-parallel worker's replica (core/parallel) are built through it.
 */
export async function buildPluginContext(
  cfg: ResolvedConfig, registry: PluginRegistry, run: Pick<RunContext, 'configDir' | 'log'> & Partial<Pick<RunContext, 'runDir' | 'out'>>,
): Promise<{ strategies: MemoryStrategy[]; ctx: PluginContext }> {
  const baseCtx: Omit<PluginContext, 'memoryPlan'> = {
    configDir: run.configDir, seed: cfg.seed, backend: cfg.backend, trainSteps: cfg.train.steps, log: run.log,
    ...(run.runDir !== undefined ? { runDir: run.runDir } : {}), out: run.out ?? process.stderr,
    train: { logEvery: cfg.train.logEvery, sampleEvery: cfg.train.sampleEvery, progress: cfg.train.progress },
  };
  const memoryPlan = defaultMemoryPlan();
  const strategies: MemoryStrategy[] = [];
  for (const [i, slot] of (cfg.memory as SlotConfig[]).entries()) {
    const s = await create(registry, 'memory', slot, { ...baseCtx, memoryPlan }, `memory.${i}`);
    s.apply(memoryPlan);
    strategies.push(s);
  }
  return { strategies, ctx: { ...baseCtx, memoryPlan } };
}

/** The config slot of each single-slot kind (how errors name a plugin; list slots pass `memory.<i>` / `hooks.<i>`). */
export const SLOT_OF_KIND: Record<PluginKind, string> = {
  policy: 'policy', 'reward-model': 'reward.model', 'reward-transform': 'reward.transform', dataset: 'data.dataset',
  optimiser: 'optimiser', memory: 'memory', hook: 'hooks',
};

/**
 * Creates one plugin instance from a validated slot: the plugin boundary. Whatever the plugin throws, while being
 * created or later from any method of what it created, names the slot, the plugin and the phase
 * (`reward.model (my-plugin) classify: boom`; core/plugin/errors.ts). `slotPath` is the slot's config path
 * (default: the kind's slot, see {@link SLOT_OF_KIND}).
 */
export async function create<K extends PluginKind>(
  registry: PluginRegistry, kind: K, slot: SlotConfig, ctx: PluginContext, slotPath: string = SLOT_OF_KIND[kind],
): Promise<PluginKinds[K]> {
  const def = registry.find(kind, slot.type);
  if (!def) throw new Error(`no ${kind} plugin "${slot.type}" (known: ${registry.names(kind).join(', ')})`);
  const { type: _type, ...options } = slot;
  // Options were validated up front; parsing again fills defaults for slots built outside validateConfig.
  const parsed = def.options.parse(options);
  const who = { slot: slotPath, type: slot.type };
  const instance = await labelled(who, 'create', () => def.create(parsed, ctx));
  return labelPluginInstance(instance as object, who) as PluginKinds[K];
}
