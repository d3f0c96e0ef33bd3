/** detox-lab's public API: what plugin authors and embedding code import. */
export { z } from 'zod';
export { TOKENS } from './tokens.js';
export { definePlugin, PLUGIN_KINDS } from './plugin/define.js';
export type { PluginDefinition, AnyPluginDefinition, PluginContext, PluginKind, PluginKinds } from './plugin/define.js';
export { PluginRegistry } from './plugin/registry.js';
export type { Policy, GenerateOptions } from './interfaces/policy.js';
export type { RewardModel, RewardTransform } from './interfaces/reward.js';
export { toxicProbability } from './interfaces/reward.js';
export type { Dataset, DatasetSplits, PromptRecord, LoadReport } from './interfaces/dataset.js';
export type { Optimiser, OptimiserState } from './interfaces/optimiser.js';
export type { MemoryStrategy, MemoryPlan } from './interfaces/memory.js';
export { defaultMemoryPlan } from './interfaces/memory.js';
export type { Hook, StepReport } from './interfaces/hook.js';
export type { Tokenizer } from './interfaces/tokenizer.js';
export { configSchema, ppoSchema } from './config/schema.js';
export type { ExperimentConfig, PpoConfig } from './config/schema.js';
export { prepareExperiment, ConfigError, ConfigFileError } from './config/prepare.js';
export { InputError } from './errors.js';
