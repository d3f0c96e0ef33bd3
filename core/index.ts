/** detox-lab's public API: what plugin authors and embedding code import. */
export { z } from 'zod';
export { TOKENS } from './tokens.js';
export { definePlugin, pluginList, PLUGIN_KINDS, pathOption, isPathOption } from './plugin/define.js';
export type { PluginDefinition, AnyPluginDefinition, PluginContext, PluginKind, PluginKinds, PluginList } from './plugin/define.js';
export { PluginRegistry } from './plugin/registry.js';
export type { Policy, GenerateOptions } from './interfaces/policy.js';
export type { RewardModel, RewardTransform, RewardContext } from './interfaces/reward.js';
export { toxicProbability } from './interfaces/reward.js';
export type { Dataset, DatasetSplits, PromptRecord, LoadReport } from './interfaces/dataset.js';
export type { Optimiser, OptimiserState } from './interfaces/optimiser.js';
export type { MemoryStrategy, MemoryPlan } from './interfaces/memory.js';
export { defaultMemoryPlan } from './interfaces/memory.js';
export type { Hook, StepReport, StepSample } from './interfaces/hook.js';
export type { EvalReport, EvalRunResult, EvalToxicity } from './interfaces/hook.js';
export type { Tokenizer } from './interfaces/tokenizer.js';
export { configSchema, ppoSchema } from './config/schema.js';
export type { ExperimentConfig, PpoConfig } from './config/schema.js';
export { prepareExperiment, ConfigError, ConfigFileError } from './config/prepare.js';
export { InputError } from './errors.js';

// The kits the built-in plugins are made of (plugins/ imports nothing else from core/), so a plugin in another
// project can do what a built-in does.
/** TensorFlow.js as detox-lab uses it (the same instance and backend as the policy and classifiers). */
export * as tf from '@tensorflow/tfjs';
// Data: readers of prompt files, the load report, the train/held-out split and the datasets' common options.
export { assertReadableFile, readLines, openDataStream } from './data/open-lines.js';
export type { FileOrigin, NumberedLine } from './data/open-lines.js';
export { readCsv } from './data/csv-reader.js';
export type { CsvRow, CsvReadOptions } from './data/csv-reader.js';
export { readJsonl } from './data/jsonl-reader.js';
export type { JsonRow } from './data/jsonl-reader.js';
export { readTextLines } from './data/text-reader.js';
export { LoadReportBuilder, describeReport, ON_BAD_ROW } from './data/load-report.js';
export type { OnBadRow } from './data/load-report.js';
export { buildSplits } from './data/build-splits.js';
export type { KeyedPrompt, BuildSplitsContext } from './data/build-splits.js';
export { commonDatasetOptions } from './data/dataset-options.js';
export type { CommonDatasetOptions } from './data/dataset-options.js';
export { getField, isFieldPath, jsonType } from './data/field-path.js';
// Models: the causal-LM policy (Hugging Face folders), the sequence classifier (RoBERTa) and tokenizers.
export { CausalLMPolicy } from './model/policy.js';
export { loadSequenceClassifier } from './model/roberta.js';
export type { SequenceClassifier, ClassifyTextsOptions, LoadSequenceClassifierOptions } from './model/roberta.js';
export { loadTokenizer } from './model/io/tokenizer.js';
export type { Tokenizer as HfTokenizer } from './model/io/tokenizer.js';
export { loadCausalLM } from './model/load.js';
// Optimisers and memory: Adam/AdamW from options (TRL's defaults), bf16 rounding.
export { adamOptionsSchema, createAdamFromOptions } from './optim/plugin-options.js';
export type { AdamPluginOptions } from './optim/plugin-options.js';
export { roundVariablesToBf16, packBf16, unpackBf16 } from './model/memory/bf16.js';
// Hooks: the run outputs the built-in tensorboard, samples and console hook plugins are made of.
export { TensorBoardHook, SamplesHook, ConsoleHook } from './logging/run-hooks.js';
