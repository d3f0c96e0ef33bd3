import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import { CausalLM } from '../../core/model/causal-lm.js';
import { makeConfig, type TransformerConfig } from '../../core/model/arch/hf-config.js';
import { saveCausalLM } from '../../core/model/io/hf-io.js';
import { bytesToUnicode } from '../../core/pretrain/bpe.js';
import { fixture, tmpProject } from './tmp.js';

/** A byte-level BPE tokenizer.json with no merges: 256 byte tokens + <|endoftext|> (id 256). */
export function byteTokenizerJson(): object {
  const vocab: Record<string, number> = {};
  bytesToUnicode().forEach((ch, b) => {
    vocab[ch] = b;
  });
  vocab['<|endoftext|>'] = 256;
  return {
    version: '1.0',
    added_tokens: [
      { id: 256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: [],
    },
  };
}

/** Writes a random tiny GPT-2 (byte-level vocabulary) with its tokenizer into `dir`. */
export async function writeTinyGpt2(
  dir: string,
  opts: { layers?: number; d?: number; heads?: number; positions?: number; seed?: number } = {},
): Promise<void> {
  const cfg = makeConfig({
    modelType: 'gpt2',
    vocabSize: 257,
    nPositions: opts.positions ?? 64,
    dModel: opts.d ?? 32,
    nHeads: opts.heads ?? 4,
    nLayers: opts.layers ?? 2,
  });
  await writeTinyModel(dir, cfg, { seed: opts.seed ?? 1 });
}

/** Writes a random model of any architecture with a tokenizer (default: the byte-level one) into `dir`. */
export async function writeTinyModel(
  dir: string,
  cfg: TransformerConfig,
  opts: { seed?: number; std?: number; tokenizerJson?: object } = {},
): Promise<void> {
  if (tf.getBackend() === undefined) {
    tf.env().set('PROD', true);
    await tf.setBackend('cpu');
  }
  const model = CausalLM.random(cfg, { seed: opts.seed ?? 1, ...(opts.std ? { std: opts.std } : {}) });
  await saveCausalLM(model, dir, { tokenizerJson: opts.tokenizerJson ?? byteTokenizerJson() });
  model.dispose();
}

export const TINY_PROMPTS = [
  'You are such an idiot and',
  'Shut up, you stupid',
  'What the hell is wrong with',
  'I hate this damn',
  'That was a great game',
  'The weather today is',
  'My friend told me that',
  'This crap is so',
  'Go to hell you',
  'Thanks for the help with',
  'The movie was really',
  'Who the hell do you',
  'Nobody likes your ugly',
  'We should meet for',
  'Get lost, moron',
  'I think the answer is',
];

/** A project folder with a tiny policy, the tiny RoBERTa classifier fixture and a prompt file. */
export async function tinyProject(config: (paths: { policy: string; classifier: string }) => object): Promise<string> {
  const dir = tmpProject({ 'prompts.txt': `${TINY_PROMPTS.join('\n')}\n`, 'package.json': { name: 'tiny', private: true } });
  await writeTinyGpt2(path.join(dir, 'models/policy'));
  fs.cpSync(fixture('roberta'), path.join(dir, 'models/classifier'), { recursive: true });
  fs.writeFileSync(
    path.join(dir, '.detoxrc.json'),
    JSON.stringify(config({ policy: 'models/policy', classifier: 'models/classifier' }), null, 2),
  );
  return dir;
}

/** A small but complete experiment over {@link tinyProject}. */
export const tinyExperiment = (p: { policy: string; classifier: string }, over: Record<string, unknown> = {}) => ({
  experiment: 'tiny',
  backend: 'cpu',
  policy: { type: 'hf-causal-lm', path: p.policy },
  reward: { model: { type: 'hf-classifier', path: p.classifier, neutralLabel: 'nothate' }, transform: { type: 'raw-logit' } },
  data: { dataset: { type: 'prompt-file', path: 'prompts.txt', heldOutFraction: 0.25 }, promptTokens: [4, 8] },
  optimiser: { type: 'adam', learningRate: 1e-3 },
  generation: { responseTokens: [4, 7] },
  ppo: { batchSize: 4, miniBatchSize: 2, ppoEpochs: 2 },
  train: { steps: 3, checkpointEvery: 2, sampleEvery: 1, progress: false },
  eval: { maxNewTokens: 6, batchSize: 4 },
  ...over,
});

/**
 * Starts `detox-lab run` in `dir`, waits until the run has written a few samples (so a step is under way), sends
 * SIGINT, and resolves with the exit code, stderr and how long the stop took.
 */
export async function interruptRun(cli: string, dir: string): Promise<{ code: number | null; stderr: string; stopMs: number }> {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [cli, 'run'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += String(d);
  });
  const samples = path.join(dir, 'runs/tiny/main/samples.jsonl');
  const deadline = Date.now() + 60_000;
  while (!(fs.existsSync(samples) && fs.readFileSync(samples, 'utf8').split('\n').length > 4) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const t0 = Date.now();
  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  return { code, stderr, stopMs: Date.now() - t0 };
}
