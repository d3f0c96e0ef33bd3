import 'reflect-metadata';
import { Container } from 'inversify';
import { TOKENS } from '../tokens.js';
import type { ResolvedConfig } from '../config/validate.js';
import type { SlotConfig } from '../config/schema.js';
import type { PluginRegistry } from '../plugin/registry.js';
import type { PluginContext, PluginKind, PluginKinds } from '../plugin/define.js';
import { defaultMemoryPlan, type MemoryStrategy } from '../interfaces/memory.js';
import { labelled, labelPluginInstance } from '../plugin/errors.js';
import { defaultSlotOf, SLOTS, slotName } from '../plugin/slots.js';
import { getPath } from '../util/get-path.js';

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
 * The composition root's only contact with inversify: one binding per config slot (core/plugin/slots.ts), each a
 * singleton created by its plugin from the validated options. Memory strategies are built
 * first, because the policy is built from their combined plan.
 */
export async function buildContainer(cfg: ResolvedConfig, registry: PluginRegistry, run: RunContext): Promise<Container> {
  const container = new Container({ defaultScope: 'Singleton' });
  const { strategies, ctx } = await buildPluginContext(cfg, registry, run);

  container.bind(TOKENS.Config).toConstantValue(cfg);
  container.bind(TOKENS.Run).toConstantValue(run);
  container.bind(TOKENS.Registry).toConstantValue(registry);
  // One binding per slot of core/plugin/slots.ts, each a singleton built on first use. The memory strategies are
  // built already (the policy is built from their plan); a hook slot with `enabled: false` is not built. The hooks
  // are the effective list (core/config/validate.ts#effectiveHooks: the built-in output hooks are in it unless off).
  for (const spec of SLOTS) {
    const value = getPath(cfg, spec.path);
    if (spec.kind === 'memory') {
      for (const s of strategies) container.bind(spec.token).toConstantValue(s);
    } else if (!spec.list) {
      const slot = value as SlotConfig;
      container
        .bind(spec.token)
        .toDynamicValue(() => create(registry, spec.kind, slot, ctx, slotName(spec.path)))
        .inSingletonScope();
    } else {
      (value as SlotConfig[]).forEach((slot, i) => {
        if (slot.enabled === false) return;
        container
          .bind(spec.token)
          .toDynamicValue(() => create(registry, spec.kind, slot, ctx, slotName([...spec.path, i])))
          .inSingletonScope();
      });
    }
  }
  return container;
}

/**
 * The memory strategies (config order, each applied to the plan) and the context every other plugin is created
 * with. The composition root and each data-parallel worker's replica (core/parallel) are built through it.
 */
export async function buildPluginContext(
  cfg: ResolvedConfig,
  registry: PluginRegistry,
  run: Pick<RunContext, 'configDir' | 'log'> & Partial<Pick<RunContext, 'runDir' | 'out'>>,
): Promise<{ strategies: MemoryStrategy[]; ctx: PluginContext }> {
  const baseCtx: Omit<PluginContext, 'memoryPlan'> = {
    configDir: run.configDir,
    seed: cfg.seed,
    backend: cfg.backend,
    trainSteps: cfg.train.steps,
    log: run.log,
    ...(run.runDir !== undefined ? { runDir: run.runDir } : {}),
    out: run.out ?? process.stderr,
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

/**
 * Creates one plugin instance from a validated slot: the plugin boundary. Whatever the plugin throws, while being
 * created or later from any method of what it created, names the slot, the plugin and the phase
 * (`reward.model (my-plugin) classify: boom`; core/plugin/errors.ts). `slotPath` is the slot's config path
 * (default: the kind's first slot in core/plugin/slots.ts).
 */
export async function create<K extends PluginKind>(
  registry: PluginRegistry,
  kind: K,
  slot: SlotConfig,
  ctx: PluginContext,
  slotPath: string = defaultSlotOf(kind),
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
