/**
 * The CLI's exit-code table (README "Commands"): 0 done, 1 runtime failure, 2 bad usage, config or input (including
 * data and model files that are unreadable or unusable), 130 interrupted. Every command is run through the CLI's
 * main() with a bad argument or input (and once through bin/detox-lab.js); each must exit 2 before any training or
 * generation, and say on stderr which flag, file or value is wrong.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { buildProgram, main } from '../../core/cli/main.js';
import { ROOT, tmpProject } from '../helpers/tmp.js';
import { writeTinyGpt2 } from '../helpers/tiny-project.js';

const CLI = path.join(ROOT, 'bin', 'detox-lab.js');

/** A prompt of 80 bytes: 80 tokens under the byte-level tokenizer, more than the tiny model's 64 positions. */
const LONG = 'you stupid idiot '.repeat(5).slice(0, 80);

/** A project with a tiny GPT-2 (64 positions), an empty and an over-long prompt file, and a config for each. */
async function project(): Promise<string> {
  const experiment = (prompts: string) => ({
    backend: 'cpu',
    workers: 1,
    policy: { type: 'hf-causal-lm', path: 'models/policy' },
    reward: { model: { type: 'lexicon-toxicity' }, transform: { type: 'raw-logit' } },
    data: { dataset: { type: 'prompt-file', path: prompts, heldOutFraction: 0.25 }, promptTokens: null },
    optimiser: { type: 'adam' },
    generation: { responseTokens: [2, 4] },
    ppo: { batchSize: 2, miniBatchSize: 2, ppoEpochs: 1 },
    train: { steps: 1, progress: false },
    eval: { enabled: false, maxNewTokens: 4, batchSize: 2 },
  });
  const dir = tmpProject({
    'package.json': { name: 'exit-codes', private: true },
    '.detoxrc.json': { experiment: 'ok', ...experiment('prompts.txt') },
    'empty-prompts.json': { $import: './.detoxrc.json', experiment: 'empty', data: { dataset: { path: 'empty.txt' } } },
    'long-prompts.json': { $import: './.detoxrc.json', experiment: 'long', data: { dataset: { path: 'long.txt' } } },
    'bad-plugin.json': { $import: './.detoxrc.json', plugins: ['./no-such-plugin.mjs'] },
    'prompts.txt': 'You are such an idiot and\nShut up, you stupid\nThe weather today is\nThanks for the help with\n',
    'empty.txt': '\n\n',
    'long.txt': `${Array.from({ length: 8 }, (_, i) => `${i} ${LONG}`).join('\n')}\n`,
    'bad.jsonl': '{"text": "fine"}\n{"text": \n',
    'broken-model/config.json': fs.readFileSync(path.join(ROOT, 'models/tiny-gpt2/config.json'), 'utf8'),
  });
  await writeTinyGpt2(path.join(dir, 'models/policy'), { positions: 64 });
  return dir;
}

const dirPromise = project();

interface Case {
  args: string[];
  /** What stderr must say: the flag, file or value at fault and what is allowed. */
  stderr: RegExp;
  /** What stderr must not say. */
  not?: RegExp;
}

const CASES: Case[] = [
  { args: ['run', '--bogus'], stderr: /unknown option '--bogus'/ },
  { args: ['run', '--set', 'x'], stderr: /config error: --set x: expected path=value, e\.g\. --set ppo\.batchSize=16/ },
  {
    args: ['run', '--set', 'ppo.batchSize=abc'],
    stderr: /^config error: --set ppo\.batchSize=abc: ppo\.batchSize: .*expected number.*\(got "abc"\)$/m,
  },
  {
    args: ['run', '--set', 'workers=0'],
    stderr: /^config error: --set workers=0: workers: must be "auto" or integer in \[1, 64\] \(got 0\)$/m,
  },
  { args: ['run', 'empty-prompts.json'], stderr: /data\.dataset \(prompt-file\) load: no prompts left in .*empty\.txt/ },
  {
    args: ['run', 'long-prompts.json'],
    stderr: /prompt long\.txt:\d+ has \d+ tokens, but the model's context \(64\) leaves room for \d+ .*data\.promptTokens/,
  },
  { args: ['eval', '--bogus'], stderr: /unknown option '--bogus'/ },
  { args: ['eval', '--prompts', 'empty.txt'], stderr: /--prompts empty\.txt: no prompts in .*empty\.txt/, not: /pass --prompts/ },
  {
    args: ['eval', '--prompts', 'long.txt'],
    stderr:
      /--prompts long\.txt: 8 prompts are longer than the 60 tokens the model's context \(64\) leaves besides --max-new-tokens 4: line 1 \(82 tokens\)/,
  },
  { args: ['eval', '--prompts', 'bad.jsonl'], stderr: /--prompts bad\.jsonl:2: not a JSON line/ },
  { args: ['inspect'], stderr: /missing required argument 'model-dir'/ },
  { args: ['inspect', 'broken-model'], stderr: /broken-model: .*found neither model\.safetensors nor model\.safetensors\.index\.json/ },
  { args: ['compare'], stderr: /missing required argument 'experiment-dir'/ },
  {
    args: ['compare', '.', '--format', 'xml'],
    stderr: /option '--format <format>' argument 'xml' is invalid\. Allowed choices are md, csv, json/,
  },
  { args: ['pretrain'], stderr: /required option '-o, --out <dir>' not specified/ },
  {
    args: ['pretrain', '--out', 'out-model', '--corpus', 'empty.txt', '--backend', 'cpu'],
    stderr: /pretrain: the corpus has 0 non-blank line\(s\)/,
  },
  { args: ['train-classifier'], stderr: /required option '-o, --out <dir>' not specified/ },
  { args: ['train-classifier', '--out', 'clf', '--epochs', '0'], stderr: /--epochs: expected an integer ≥ 1, got "0"/ },
  {
    args: ['train-classifier', '--out', 'clf', '--labels', 'nowhere'],
    stderr: /--labels \S*nowhere: no such folder \(expected davidson-labeled_data\.csv and toxigen-prompts\/ inside\)/,
  },
  { args: ['eval-classifier'], stderr: /missing required argument 'classifier'/ },
  {
    args: ['eval-classifier', 'no-such-classifier'],
    stderr:
      /classifier no-such-classifier: neither a classifier folder nor a reward-model plugin; plugins: hf-classifier, lexicon-toxicity/,
  },
  {
    args: ['eval-classifier', 'lexicon-toxicity', '--data', 'prompts.txt'],
    stderr: /--data prompts\.txt: also give --text-column <name> and --label-column <name>/,
  },
  {
    args: ['eval-classifier', 'lexicon-toxicity', '--validation', '1.5'],
    stderr: /--validation: expected a fraction between 0 and 1 \(exclusive\), got "1\.5"/,
  },
  { args: ['plan', '--budget', '4XB'], stderr: /--budget: expected a size like 4GiB, 512MiB or 2GB, got "4XB"/ },
  {
    args: ['plugins', '--kind', 'bogus'],
    stderr: /option '--kind <kind>' argument 'bogus' is invalid\. Allowed choices are policy, reward-model/,
  },
  { args: ['serve', '--port', 'nope'], stderr: /--port: expected an integer ≥ 0, got "nope"/ },
  { args: ['worker', '--concurrency', '0'], stderr: /--concurrency: expected an integer ≥ 1, got "0"/ },
  {
    args: ['queue', 'status', '--queue', 'http://x'],
    stderr: /--queue "http:\/\/x": unsupported scheme "http"; expected redis:\/\/host\[:port\]\[\/db\]/,
  },
  {
    args: ['plugins', 'bad-plugin.json'],
    stderr: /config error: bad-plugin\.json: plugins: cannot load "\.\/no-such-plugin\.mjs"/,
    not: /plugins: plugins:/,
  },
];

test('every registered command has a case in the table', (t) => {
  const commands = buildProgram()
    .commands.map((c) => c.name())
    .sort();
  t.deepEqual([...new Set(CASES.map((c) => c.args[0]!))].sort(), commands);
});

/**
 * Runs main() in `cwd` with stderr captured. process.exit is trapped, so a command that would end the process
 * (instead of returning its code) shows up as that code rather than ending the test.
 */
async function runMain(cwd: string, args: string[]): Promise<{ code: number; stderr: string }> {
  const { exit, chdir } = { exit: process.exit, chdir: process.cwd() };
  const write = process.stderr.write;
  let stderr = '';
  let exited: number | undefined;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  process.exit = ((code?: number) => {
    exited ??= code ?? 0;
    throw new Error(`process.exit(${code})`);
  }) as typeof process.exit;
  process.chdir(cwd);
  try {
    const code = await main(['node', 'detox-lab', ...args]);
    return { code: exited ?? code, stderr };
  } finally {
    process.chdir(chdir);
    process.stderr.write = write;
    process.exit = exit;
    process.exitCode = undefined;
  }
}

// Serial: main() runs in this process, with its working folder and stderr.
for (const c of CASES) {
  test.serial(`detox-lab ${c.args.join(' ')} exits 2 and names what is wrong`, async (t) => {
    const cwd = await dirPromise;
    const r = await runMain(cwd, c.args);
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, c.stderr);
    if (c.not) t.notRegex(r.stderr, c.not);
    t.false(fs.existsSync(path.join(cwd, 'out-model')), 'pretrain wrote nothing');
  });
}

test("bin/detox-lab.js exits with main()'s code: a usage error is 2", async (t) => {
  const r = spawnSync(process.execPath, [CLI, 'run', '--bogus'], { cwd: await dirPromise, encoding: 'utf8', timeout: 50_000 });
  t.is(r.status, 2, r.stderr);
  t.regex(r.stderr, /unknown option '--bogus'/);
});
