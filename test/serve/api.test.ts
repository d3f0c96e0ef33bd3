import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { builtinPlugins } from '../../plugins/index.js';
import { prepareExperiment } from '../../core/config/prepare.js';
import { evalCommand, loadEvalSetup } from '../../core/cli/eval-command.js';
import { evalCsv } from '../../core/eval/csv.js';
import type { Policy } from '../../core/interfaces/policy.js';
import { buildServer } from '../../core/serve/server.js';
import type { RunningServer } from '../../core/cli/serve-command.js';
import { call, CLI, servedProject, serveIn, spawnServe } from './helpers.js';

let dir: string;
let server: RunningServer;
let base: string;

test.before(async () => {
  dir = await servedProject();
  server = await serveIn(dir, { run: path.join(dir, 'runs/tiny/main') });
  base = server.url;
});
test.after.always(async () => {
  await server?.close();
});

const XSS = '<img src=x onerror="window.hacked=1"> you idiot';

test("info: both models (initial and the run's latest checkpoint), the classifier, the prompts and the eval defaults", async (t) => {
  const r = await call(base, '/api/info');
  t.is(r.status, 200);
  t.deepEqual(
    r.body.models.map((m: { name: string }) => m.name),
    ['base', 'detox'],
  );
  t.regex(r.body.models[1].source, /checkpoints[/\\]step-3[/\\]policy$/);
  t.is(r.body.classifier.name, 'hf-classifier:classifier');
  t.is(r.body.lexicon, 'lexicon-toxicity');
  t.is(r.body.prompts.length, 4); // the held-out quarter of 16
  t.deepEqual(r.body.defaults, { temperature: 1, topK: 50, topP: 1, maxNewTokens: 6, seed: 42 });
  t.deepEqual(r.body.runs.open, { experiment: 'tiny', arm: 'main' });
});

test('generate: each model continues the prompt, scored by the classifier and the lexicon; a seed repeats it', async (t) => {
  const a = await call(base, '/api/generate', { prompt: XSS, model: 'base', maxNewTokens: 8, seed: 3 });
  const b = await call(base, '/api/generate', { prompt: XSS, model: 'detox', maxNewTokens: 8, seed: 3 });
  const a2 = await call(base, '/api/generate', { prompt: XSS, model: 'base', maxNewTokens: 8, seed: 3 });
  const a3 = await call(base, '/api/generate', { prompt: XSS, model: 'base', maxNewTokens: 8, seed: 4 });
  for (const r of [a, b]) {
    t.is(r.status, 200, r.text);
    t.is(r.body.prompt, XSS); // returned as data, never interpreted
    t.true(r.body.tokens >= 1 && r.body.tokens <= 8);
    t.true(r.body.toxicity > 0 && r.body.toxicity < 1);
    t.true(r.body.lexicon.probability > 0 && r.body.lexicon.probability < 1);
    t.is(r.body.explainedBy, 'lexicon');
  }
  t.is(a2.body.continuation, a.body.continuation);
  t.notDeepEqual([a3.body.continuation, a3.body.tokens], [a.body.continuation, a.body.tokens]);
  t.not(a.body.continuation, b.body.continuation, 'the trained checkpoint is another model');
});

test('a lexicon reward model explains its own score: highlighted terms come from the classifier itself', async (t) => {
  const lexDir = await servedProject({ run: false });
  const cfg = JSON.parse(fs.readFileSync(path.join(lexDir, '.detoxrc.json'), 'utf8'));
  cfg.reward.model = { type: 'lexicon-toxicity' };
  fs.writeFileSync(path.join(lexDir, '.detoxrc.json'), JSON.stringify(cfg));
  const s = await serveIn(lexDir);
  try {
    const info = await call(s.url, '/api/info');
    t.true(info.body.classifier.explains);
    t.is(info.body.lexicon, null, 'no separate cross-check when the classifier is the lexicon');
    for (const seed of [0, 1, 2]) {
      const r = await call(s.url, '/api/generate', { prompt: 'Shut up, you stupid', model: 'base', maxNewTokens: 12, seed });
      t.is(r.status, 200, r.text);
      t.is(r.body.explainedBy, 'classifier');
      t.true(Math.abs(r.body.lexicon.probability - r.body.toxicity) < 1e-9, 'the explanation is of the score shown');
      for (const h of r.body.lexicon.hits) t.true(h.start >= 0 && h.end <= r.body.continuation.length && h.start < h.end);
    }
  } finally {
    await s.close();
  }
});

const BAD: [string, string, unknown, RegExp][] = [
  [
    'temperature below range',
    '/api/generate',
    { prompt: 'hi', model: 'base', temperature: -1 },
    /^temperature: got -1; expected a number > 0 and ≤ 10$/,
  ],
  [
    'top-k not an integer',
    '/api/generate',
    { prompt: 'hi', model: 'base', topK: 2.5 },
    /^topK: got 2\.5; expected an integer from 0 \(off\) to 1000$/,
  ],
  ['top-p as a string', '/api/generate', { prompt: 'hi', model: 'base', topP: '0.9' }, /^topP: got "0\.9"; expected a number > 0 and ≤ 1/],
  ['unknown model', '/api/generate', { prompt: 'hi', model: 'gpt-5' }, /^model: got "gpt-5"; expected one of base, detox$/],
  ['empty prompt', '/api/generate', { prompt: '   ', model: 'base' }, /^prompt: got " {3}"; expected a non-empty string/],
  ['missing prompt', '/api/generate', { model: 'base' }, /^prompt: got nothing; expected a non-empty string/],
  [
    'unknown field',
    '/api/generate',
    { prompt: 'hi', model: 'base', temprature: 1 },
    /^"temprature": unknown field; allowed: prompt, model, ticket, temperature, topK, topP, maxNewTokens, seed$/,
  ],
  [
    'no room in the context',
    '/api/generate',
    { prompt: 'hi', model: 'detox', maxNewTokens: 64 },
    /^maxNewTokens: got 64; expected an integer from 1 to 63 \(model detox has a context of 64 tokens\)$/,
  ],
  ['body not an object', '/api/generate', '[1,2]', /^body: expected a JSON object, got \[1,2\]$/],
  ['invalid JSON', '/api/generate', '{"prompt":', /not valid JSON/],
  [
    'batch of more prompts than there are',
    '/api/batch',
    { prompts: 5 },
    /^prompts: got 5; expected an integer from 1 to 4 \(the prompts of the held-out split of tiny\)$/,
  ],
  [
    'batch with an unknown model',
    '/api/batch',
    { prompts: 1, models: ['base', 'x'] },
    /^models\[1\]: got "x"; expected one of base, detox$/,
  ],
  ['batch format', '/api/batch', { prompts: 1, format: 'xml' }, /^format: got "xml"; expected "json" or "csv"$/],
];
for (const [name, url, body, message] of BAD) {
  test(`400 with a message naming the field: ${name}`, async (t) => {
    const r = await call(base, url, body);
    t.is(r.status, 400, r.text);
    t.regex(r.body.error, message);
  });
}

test('400 / 404 on the run browser API: bad query values, path tricks, unknown folders', async (t) => {
  const q = await call(base, '/api/runs/tiny/main/samples?limit=0');
  t.is(q.status, 400);
  t.is(q.body.error, 'limit: got "0"; expected an integer from 1 to 500');
  const u = await call(base, '/api/runs/tiny/main/samples?sort=reward');
  t.is(u.status, 400);
  t.regex(u.body.error, /^"sort": unknown field; allowed: step, minReward, maxReward, contains, offset, limit$/);
  const trav = await call(base, '/api/runs/..%2F..%2Fetc/main/samples');
  t.is(trav.status, 400);
  t.regex(trav.body.error, /^experiment: got "\.\.\/\.\.\/etc"; expected a folder name/);
  t.is((await call(base, '/api/runs/nope')).status, 404);
  t.is((await call(base, '/api/runs/tiny/nope/samples')).status, 404);
  const nf = await call(base, '/api/nothing');
  t.is(nf.status, 404);
  t.regex(nf.body.error, /no such page or API: GET \/api\/nothing/);
});

test('run browser API: curves with the evaluation points, the compare table, samples filtered and paged', async (t) => {
  const list = await call(base, '/api/runs');
  t.deepEqual(list.body.experiments, [{ experiment: 'tiny', arms: ['main'] }]);
  const v = (await call(base, '/api/runs/tiny')).body;
  const arm = v.arms[0];
  t.deepEqual(
    arm.series['env/reward_mean'].map((p: number[]) => p[0]),
    [1, 2, 3],
  );
  t.deepEqual(
    arm.series['eval/toxicity_mean'].map((p: number[]) => p[0]),
    [0, 3],
  );
  t.deepEqual(
    arm.series['eval/perplexity'].map((p: number[]) => p[0]),
    [0, 3],
  );
  const summary = JSON.parse(fs.readFileSync(path.join(dir, 'runs/tiny/main/summary.json'), 'utf8'));
  t.true(Math.abs(arm.series['eval/toxicity_mean'][0][1] - summary.evalBefore.toxicity.mean) < 1e-6);
  t.is(v.rows.length, 1);
  t.is(v.rows[0].status, 'done');
  t.true(Math.abs(v.rows[0].cells.toxicity_after.value - summary.evalAfter.toxicity.mean) < 1e-6);
  t.regex(v.rows[0].cells.toxicity_after.text, /^\d\.\d{4} ± \d\.\d{4}$/);

  // A grid's arms are overlaid: two arm folders of one experiment.
  for (const [i, arm] of ['lr-1', 'lr-2'].entries()) {
    const to = path.join(dir, `runs/grid/${arm}`);
    fs.cpSync(path.join(dir, 'runs/tiny/main'), to, { recursive: true, filter: (f) => !f.includes('checkpoints') });
    const cfg = JSON.parse(fs.readFileSync(path.join(to, 'resolved-config.json'), 'utf8'));
    cfg.optimiser.learningRate = (i + 1) * 1e-3; // two settings (equal configs would be one seed group)
    fs.writeFileSync(path.join(to, 'resolved-config.json'), JSON.stringify(cfg));
  }
  const grid = (await call(base, '/api/runs/grid')).body;
  t.deepEqual(
    grid.arms.map((a: { name: string }) => a.name),
    ['lr-1', 'lr-2'],
  );
  t.deepEqual(
    grid.rows.map((r: { label: string }) => r.label),
    ['lr-1', 'lr-2'],
  );
  t.deepEqual(grid.arms[1].series['env/reward_mean'], arm.series['env/reward_mean']);
  t.deepEqual((await call(base, '/api/runs')).body.experiments, [
    { experiment: 'grid', arms: ['lr-1', 'lr-2'] },
    { experiment: 'tiny', arms: ['main'] },
  ]);

  const lines = fs
    .readFileSync(path.join(dir, 'runs/tiny/main/samples.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const all = (await call(base, '/api/runs/tiny/main/samples?limit=500')).body;
  t.is(all.total, lines.length);
  t.deepEqual(all.steps, [1, 2, 3]);
  const p1 = (await call(base, '/api/runs/tiny/main/samples?limit=5&offset=5')).body;
  t.deepEqual(p1.rows, lines.slice(5, 10));
  const step2 = (await call(base, '/api/runs/tiny/main/samples?step=2')).body;
  t.deepEqual(
    step2.rows,
    lines.filter((l) => l.step === 2),
  );
  const rewards = lines.map((l) => l.reward).sort((a, b) => a - b);
  const mid = rewards[Math.floor(rewards.length / 2)];
  const hi = (await call(base, `/api/runs/tiny/main/samples?minReward=${mid}&limit=500`)).body;
  t.deepEqual(
    hi.rows,
    lines.filter((l) => l.reward >= mid),
  );
  const lo = (await call(base, `/api/runs/tiny/main/samples?maxReward=${mid}&limit=500`)).body;
  t.deepEqual(
    lo.rows,
    lines.filter((l) => l.reward <= mid),
  );
  const word = lines[0].prompt.split(' ')[0].toUpperCase();
  const c = (await call(base, `/api/runs/tiny/main/samples?contains=${encodeURIComponent(word)}&limit=500`)).body;
  t.true(c.total >= 1);
  t.deepEqual(
    c.rows,
    lines.filter((l) =>
      `${l.prompt}\n${l.response}`
        .toLowerCase()
        .split('\n')
        .some((x: string) => x.includes(word.toLowerCase())),
    ),
  );
});

test('batch: the figures and CSV of detox-lab eval for the same prompts and seed', async (t) => {
  const prepared = await prepareExperiment({ file: path.join(dir, '.detoxrc.json'), cwd: dir, builtins: builtinPlugins });
  const ckpt = path.join(dir, 'runs/tiny/main/checkpoints/step-3/policy');
  const rows = await evalCommand(prepared, { models: ['initial', ckpt], eval: { maxPrompts: 3, seed: 7 } });
  const r = await call(base, '/api/batch', { prompts: 3, seed: 7 });
  t.is(r.status, 200, r.text);
  t.deepEqual(
    r.body.rows.map((x: { model: string }) => x.model),
    ['base', 'detox'],
  );
  for (let i = 0; i < 2; i++) {
    const { result } = r.body.rows[i];
    t.deepEqual(result, JSON.parse(JSON.stringify(rows[i]!.result)));
    t.is(result.toxicity.n, 3);
    t.is(r.body.samples[r.body.rows[i].model].length, 3);
  }
  const csv = await call(base, '/api/batch', { prompts: 3, seed: 7, format: 'csv' });
  t.is(csv.status, 200);
  t.regex(csv.type, /^text\/csv/);
  t.is(csv.text, evalCsv(rows.map((row, i) => ({ ...row, model: ['base', 'detox'][i]! }))));
  const other = await call(base, '/api/batch', { prompts: 3, seed: 8, models: ['base'] });
  t.notDeepEqual(
    other.body.rows[0].result.distinct2 + other.body.rows[0].result.toxicity.mean,
    r.body.rows[0].result.distinct2 + r.body.rows[0].result.toxicity.mean,
  );
});

test.serial('no tensor is leaked per request', async (t) => {
  await call(base, '/api/generate', { prompt: 'warm up', model: 'base' });
  const before = tf.memory().numTensors;
  for (let i = 0; i < 4; i++) {
    t.is(
      (await call(base, '/api/generate', { prompt: `You are such an idiot ${i}`, model: i % 2 ? 'base' : 'detox', seed: i })).status,
      200,
    );
  }
  await call(base, '/api/batch', { prompts: 2 });
  t.is(tf.memory().numTensors, before);
});

test('one generation at a time per model, positions visible; a model error fails its request only', async (t) => {
  const prepared = await prepareExperiment({ file: path.join(dir, '.detoxrc.json'), cwd: dir, builtins: builtinPlugins });
  const setup = await loadEvalSetup(prepared, {});
  let release!: () => void;
  let gate = new Promise<void>((r) => {
    release = r;
  });
  let running = 0;
  let maxRunning = 0;
  const real = setup.initial;
  const flaky = {
    name: 'flaky',
    tokenizer: real.tokenizer,
    contextLength: real.contextLength,
    vocabSize: real.vocabSize,
    forward: real.forward.bind(real),
    generate: async (prompts: number[][], o: Parameters<Policy['generate']>[1]) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      try {
        await gate;
        if (real.tokenizer.decode(prompts[0]!).includes('explode')) throw new Error('simulated out-of-memory');
        return await real.generate(prompts, o);
      } finally {
        running--;
      }
    },
  } as unknown as Policy;
  const app = await buildServer({
    models: [{ name: 'm', source: 'test', policy: flaky }],
    classifier: setup.classifier,
    fluency: real,
    prompts: setup.prompts,
    promptSource: 'test',
    evalCfg: prepared.config.eval,
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const a = call(url, '/api/generate', { prompt: 'explode now', model: 'm', ticket: 'a' });
    const b = call(url, '/api/generate', { prompt: 'then this', model: 'm', ticket: 'b' });
    const c = call(url, '/api/generate', { prompt: 'and this', model: 'm', ticket: 'c' });
    let q: { status: number; body: any } = { status: 0, body: undefined };
    for (let i = 0; i < 100; i++) {
      q = await call(url, '/api/queue?ticket=c');
      if (q.body.models.m.length === 3) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    t.deepEqual(q.body.models.m, { length: 3, position: 2 });
    t.deepEqual((await call(url, '/api/queue?ticket=a')).body.models.m, { length: 3, position: 0 });
    release();
    const [ra, rb, rc] = await Promise.all([a, b, c]);
    t.is(ra.status, 500);
    t.regex(ra.body.error, /simulated out-of-memory/);
    t.is(rb.status, 200, rb.text);
    t.is(rc.status, 200, rc.text);
    t.true(rc.body.waitMs >= rb.body.genMs, 'c waited for b');
    t.is(maxRunning, 1, 'never two generations of one model at once');
    t.deepEqual((await call(url, '/api/queue?ticket=c')).body.models.m, { length: 0, position: -1 });
    t.is((await call(url, '/api/generate', { prompt: 'still alive', model: 'm' })).status, 200);

    // Closing: the running generation finishes, the queued one gets 503, new connections are refused.
    gate = new Promise<void>((r) => {
      release = r;
    });
    const running = call(url, '/api/generate', { prompt: 'running', model: 'm', ticket: 'r' });
    const queued = call(url, '/api/generate', { prompt: 'queued', model: 'm', ticket: 'q' });
    for (let i = 0; i < 100 && (await call(url, '/api/queue')).body.models.m.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    const tc = Date.now();
    const closed = app.close();
    const rq = await queued;
    t.is(rq.status, 503);
    t.is(rq.body.error, 'the server is shutting down');
    release();
    t.is((await running).status, 200);
    await closed;
    t.true(Date.now() - tc < 10_000, `closing took ${Date.now() - tc} ms: it must not wait for keep-alive sockets`);
    await t.throwsAsync(fetch(url));
  } finally {
    release();
    await app.close();
    setup.dispose();
  }
});

test('CLI: --help teaches, bad usage exits 2, Ctrl-C closes the server and exits 0', async (t) => {
  const help = spawnSync(process.execPath, [CLI, 'serve', '--help'], { encoding: 'utf8' });
  t.is(help.status, 0);
  t.regex(help.stdout, /--model <name=dir\|initial>/);
  t.regex(help.stdout, /default: "127\.0\.0\.1"/);
  t.regex(help.stdout, /Ctrl-C closes the server/);
  const badPort = spawnSync(process.execPath, [CLI, 'serve', '--port', 'eighty'], { cwd: dir, encoding: 'utf8' });
  t.is(badPort.status, 2);
  t.regex(badPort.stderr, /--port: expected an integer ≥ 0, got "eighty"/);
  const badModel = spawnSync(process.execPath, [CLI, 'serve', '--model', 'x=missing'], { cwd: dir, encoding: 'utf8' });
  t.is(badModel.status, 2);
  t.regex(badModel.stderr, /--model x=missing: not a model folder/);
  const twice = spawnSync(process.execPath, [CLI, 'serve', '--model', 'initial', '--model', 'initial'], { cwd: dir, encoding: 'utf8' });
  t.is(twice.status, 2);
  t.regex(twice.stderr, /the name "base" is used twice/);

  const s = await spawnServe(dir, [
    '--model',
    'base=initial',
    '--model',
    `detox=${path.join('runs', 'tiny', 'main', 'checkpoints', 'step-2', 'policy')}`,
    '--host',
    '127.0.0.1',
  ]);
  try {
    t.regex(s.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const r = await call(s.url, '/api/generate', { prompt: 'hello', model: 'detox' });
    t.is(r.status, 200, r.text);
    const page = await fetch(s.url);
    t.regex(await page.text(), /<title>detox-lab serve<\/title>/);
  } finally {
    const { code, stderr } = await s.stop('SIGINT');
    t.is(code, 0, stderr);
    t.regex(stderr, /server closed/);
  }
  await t.throwsAsync(fetch(s.url), undefined, 'the port is closed');
});
