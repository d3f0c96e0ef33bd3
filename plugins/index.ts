import { pluginList, type PluginList } from '../core/index.js';
import hfCausalLm from './policies/hf-causal-lm.js';
import hfClassifier from './reward-models/hf-classifier.js';
import lexiconToxicity from './reward-models/lexicon-toxicity.js';
import rawLogit from './reward-transforms/raw-logit.js';
import softmax from './reward-transforms/softmax.js';
import log from './reward-transforms/log.js';
import realToxicityPrompts from './datasets/real-toxicity-prompts.js';
import promptFile from './datasets/prompt-file.js';
import builtinToxicPrompts from './datasets/builtin-toxic-prompts.js';
import adam from './optimisers/adam.js';
import adamw from './optimisers/adamw.js';
import sharedLayers from './memory/shared-layers.js';
import bf16 from './memory/bf16.js';
import checkpointing from './memory/checkpointing.js';
import tensorboard from './hooks/tensorboard.js';
import samples from './hooks/samples.js';
import consoleHook from './hooks/console.js';

/** The built-in plugins, explicitly listed (no directory scanning): what `"type"` can name out of the box. */
export const builtinPlugins: PluginList = pluginList(
  [
    hfCausalLm,
    hfClassifier,
    lexiconToxicity,
    rawLogit,
    softmax,
    log,
    realToxicityPrompts,
    promptFile,
    builtinToxicPrompts,
    adam,
    adamw,
    sharedLayers,
    bf16,
    checkpointing,
    tensorboard,
    samples,
    consoleHook,
  ],
  import.meta.url,
);

/** The embedded default's npm text corpus (also what `detox-lab pretrain --builtin-corpus` trains on). */
export { loadBuiltinCorpus } from './datasets/builtin/corpus.js';
