/**
 * detox-lab as a dependency of another project, as a user gets it: `npm pack` this checkout, `npm install` the tarball
 * in a fresh temporary project (its `install` script, native/build.mjs, runs from the tarball), write plugins there
 * that import from 'detox-lab' (the README's length-penalty example verbatim, and a text-aware reward transform), then
 * `npx detox-lab run --dry-run` and a one-step run in that project. npm's cache makes the install quick (CI runs
 * `npm ci` first); the test gets its own timeout.
 */
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT } from '../helpers/tmp.js';
import { TINY_PROMPTS, writeTinyGpt2 } from '../helpers/tiny-project.js';

const TRANSFORM = `import { definePlugin, z } from 'detox-lab';
import { builtinPlugins } from 'detox-lab/plugins';

// A text-aware reward transform built on the built-in softmax (P(neutral)), minus a penalty per capital letter.
const softmax = builtinPlugins.find((p) => p.kind === 'reward-transform' && p.name === 'softmax');

export default definePlugin({
  kind: 'reward-transform', name: 'calm-softmax', description: 'neutral probability minus a capitals penalty',
  options: z.object({ perCapital: z.number().min(0).default(0.01) }),
  create: async (o, ctx) => {
    const base = await softmax.create(softmax.options.parse({}), ctx);
    return {
      name: 'calm-softmax',
      transform: (logits, neutral, c) => base.transform(logits, neutral)
        .map((r, i) => r - o.perCapital * (c ? (c.responses[i].match(/[A-Z]/g) ?? []).length : 0)),
    };
  },
});
`;

function sh(cmd: string, args: string[], cwd: string, timeout = 150_000) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, npm_config_update_notifier: 'false' } });
  return { code: r.status, out: r.stdout ?? '', err: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

test('npm pack → npm install in another project → plugins importing from detox-lab → detox-lab run --dry-run and a real step', async (t) => {
  t.timeout(300_000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'detox-lab-pack-'));
  const pack = sh('npm', ['pack', '--ignore-scripts', '--pack-destination', tmp, '--json'], ROOT);
  t.is(pack.code, 0, pack.err);
  const [{ filename, files }] = JSON.parse(pack.out) as [{ filename: string; files: { path: string }[] }];
  const packed = new Set(files.map((f) => f.path));
  for (const f of [
    'bin/detox-lab.js',
    'dist/core/index.js',
    'dist/core/index.d.ts',
    'dist/plugins/index.js',
    'native/build.mjs',
    'native/blas.c',
    'native/binding.gyp',
    'schema/detoxrc.schema.json',
    'experiments/plugins/length-penalty.mjs',
  ]) {
    t.true(packed.has(f), `${f} is in the tarball`);
  }
  t.false(
    [...packed].some((f) => f.startsWith('dist/test/') || f.startsWith('native/build/')),
    'no tests or local native build in the tarball',
  );

  const project = path.join(tmp, 'my-study');
  fs.mkdirSync(path.join(project, 'plugins'), { recursive: true });
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'my-study', private: true, type: 'module' }));
  const install = sh('npm', ['install', path.join(tmp, filename), '--prefer-offline', '--no-audit', '--no-fund'], project, 240_000);
  t.is(install.code, 0, install.err);
  t.true(fs.existsSync(path.join(project, 'node_modules/detox-lab/dist/core/index.js')));

  // The README's example, verbatim, and a transform of our own; a tiny policy; prompts.
  fs.copyFileSync(path.join(ROOT, 'experiments/plugins/length-penalty.mjs'), path.join(project, 'plugins/length-penalty.mjs'));
  fs.writeFileSync(path.join(project, 'plugins/calm-softmax.mjs'), TRANSFORM);
  await writeTinyGpt2(path.join(project, 'models/policy'));
  fs.writeFileSync(path.join(project, 'prompts.txt'), `${TINY_PROMPTS.join('\n')}\n`);
  fs.writeFileSync(
    path.join(project, '.detoxrc.json'),
    JSON.stringify(
      {
        $schema: './node_modules/detox-lab/schema/detoxrc.schema.json',
        experiment: 'outside',
        workers: 1,
        matmul: 'js',
        plugins: ['./plugins/length-penalty.mjs', './plugins/calm-softmax.mjs'],
        policy: { type: 'hf-causal-lm', path: 'models/policy' },
        reward: { model: { type: 'lexicon-toxicity' }, transform: { type: 'calm-softmax' }, zeroVarianceSteps: null },
        hooks: [{ type: 'length-penalty', perToken: 0.1, freeTokens: 2 }],
        data: { dataset: { type: 'prompt-file', path: 'prompts.txt', heldOutFraction: 0.25 }, promptTokens: null },
        optimiser: { type: 'adam' },
        generation: { responseTokens: [3, 6] },
        ppo: { batchSize: 4, miniBatchSize: 2, ppoEpochs: 1 },
        train: { steps: 1, progress: false },
        eval: { enabled: false },
      },
      null,
      2,
    ),
  );

  const dry = sh('npx', ['--no-install', 'detox-lab', 'run', '--dry-run'], project);
  t.is(dry.code, 0, dry.err);
  t.regex(dry.err, /config is valid; a run would start in runs\/outside\/main/);
  // The built-in output hooks stay on when the config lists only its own (the effective list is what the run uses).
  t.deepEqual(JSON.parse(dry.out).hooks, [
    { type: 'tensorboard', enabled: true },
    { type: 'samples', enabled: true },
    { type: 'console', enabled: true },
    { type: 'length-penalty', perToken: 0.1, freeTokens: 2 },
  ]);

  const run = sh('npx', ['--no-install', 'detox-lab', 'run'], project);
  t.is(run.code, 0, run.err);
  const summary = JSON.parse(fs.readFileSync(path.join(project, 'runs/outside/main/summary.json'), 'utf8'));
  t.is(summary.status, 'done');
  t.is(summary.step, 1);
  const samples = fs
    .readFileSync(path.join(project, 'runs/outside/main/samples.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.is(samples.length, 4);
  for (const s of samples) {
    const capitals = (s.response.match(/[A-Z]/g) ?? []).length;
    t.true(Math.abs(s.transformScore - (1 - s.toxicity - 0.01 * capitals)) < 1e-12, JSON.stringify(s));
    t.true(s.score <= s.transformScore); // the length penalty only takes away
    t.is(s.reward, Math.fround(s.score));
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});
