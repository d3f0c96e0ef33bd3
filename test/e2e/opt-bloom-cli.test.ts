/**
 * OPT and BLOOM through the command line: `detox-lab inspect --input-ids --attention-mask --json` reproduces the
 * float64 reference logits of left-padded batches, and `detox-lab eval experiments/model-selection.json` scores one
 * tiny random checkpoint of each of the study's candidate architectures (GPT-2, OPT, BLOOM, GPT-Neo) in one table, and
 * `detox-lab run` trains OPT and BLOOM policies (PPO with value head, shared-layer reference, checkpointing).
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { makeConfig } from '../../core/model/arch/hf-config.js';
import { ROOT, fixture, tmpProject } from '../helpers/tmp.js';
import { byteTokenizerJson, TINY_PROMPTS, tinyExperiment, tinyProject, writeTinyModel } from '../helpers/tiny-project.js';
import { readSafetensors, readSafetensorsFolder } from '../../core/model/io/safetensors.js';
import { fixturePath, maxAbsDiffMasked, references } from '../fixtures/model/helpers.js';

const CLI = path.join(ROOT, 'bin', 'detox-lab.js');
const cli = (cwd: string, ...args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 2 ** 20 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

for (const ckpt of ['opt-tiny-postln-bf16-sharded', 'bloom-tiny']) {
  test(`inspect --json on ${ckpt}: logits of a left-padded batch within 1e-4 of the reference`, (t) => {
    const c = references()[ckpt]!.cases.find((x) => x.name === 'left_padded')!;
    const r = cli(
      ROOT,
      'inspect',
      fixturePath(ckpt),
      '--input-ids',
      JSON.stringify(c.input_ids),
      '--attention-mask',
      JSON.stringify(c.attention_mask),
      '--json',
    );
    t.is(r.code, 0, r.stderr);
    const logits = (JSON.parse(r.stdout) as { logits: number[][][] }).logits;
    const V = logits[0]![0]!.length;
    const err = maxAbsDiffMasked(Float32Array.from(logits.flat(2)), c.logits, c.attention_mask, V);
    t.true(err <= 1e-4, `max |logit error| ${err}`);
    const about = cli(ROOT, 'inspect', fixturePath(ckpt));
    t.is(about.code, 0, about.stderr);
    t.regex(
      about.stdout,
      ckpt.startsWith('opt')
        ? /blocks: post-LayerNorm, no final LayerNorm, relu, embeddings 16 wide \(project_in \/ project_out\)/
        : /positions: ALiBi over 6 heads/,
    );
  });
}

test('eval experiments/model-selection.json: one table over a GPT-2, an OPT, a BLOOM and a GPT-Neo checkpoint', async (t) => {
  const rows = [...TINY_PROMPTS, 'Hey you dumb', 'Why are you so', 'Stop being a', 'Look at this'].map((text, i) =>
    JSON.stringify({
      filename: `doc${i}.txt`,
      begin: 0,
      end: text.length,
      prompt: { text, toxicity: 0.5 },
      continuation: { text: ' and more.', toxicity: 0.1 },
    }),
  );
  const dir = tmpProject({
    'package.json': { name: 'selection', private: true },
    'data/real-toxicity-prompts/prompts.jsonl': `${rows.join('\n')}\n`,
  });
  for (const f of ['model-selection.json', 'gpt-neo-125m.json'])
    fs.cpSync(path.join(ROOT, 'experiments', f), path.join(dir, 'experiments', f));
  fs.cpSync(fixture('roberta'), path.join(dir, 'models/roberta-hate-speech-dynabench-r4-target'), { recursive: true });
  const base = { vocabSize: 257, nPositions: 64, dModel: 32, nHeads: 4, nLayers: 2 };
  // BLOOM gets a tokenizer of its own (one merge more): its continuations are re-encoded for the perplexity.
  const byte = byteTokenizerJson() as { model: { vocab: Record<string, number>; merges: string[] }; added_tokens: { id: number }[] };
  const bloomTok = {
    ...byte,
    added_tokens: [{ ...byte.added_tokens[0]!, id: 257 }],
    model: { ...byte.model, vocab: { ...byte.model.vocab, '<|endoftext|>': 257, th: 256 }, merges: ['t h'] },
  };
  const models: [string, ReturnType<typeof makeConfig>, object?][] = [
    ['gpt2', makeConfig({ ...base, modelType: 'gpt2' })],
    ['opt-350m', makeConfig({ ...base, modelType: 'opt', wordEmbedProjDim: 16, postLayerNorm: true, bosTokenId: 256, eosTokenId: 256 })],
    ['bloom-560m', makeConfig({ ...base, vocabSize: 258, modelType: 'bloom', nHeads: 8, bosTokenId: 257, eosTokenId: 257 }), bloomTok],
    ['gpt-neo-125M', makeConfig({ ...base, modelType: 'gpt_neo', attentionTypes: ['global', 'local'], windowSize: 8 })],
  ];
  for (const [name, cfg, tok] of models)
    await writeTinyModel(path.join(dir, 'models', name), cfg, { seed: 7, std: 0.3, ...(tok ? { tokenizerJson: tok } : {}) });
  const r = cli(
    dir,
    'eval',
    'experiments/model-selection.json',
    ...models.flatMap(([name]) => ['-m', `models/${name}`]),
    '--max-new-tokens',
    '6',
    '--set',
    'eval.batchSize=2',
  );
  t.is(r.code, 0, r.stderr);
  const table = r.stdout.trim().split('\n');
  t.is(table.length, 2 + models.length, r.stdout);
  models.forEach(([name], i) => t.true(table[2 + i]!.startsWith(`| models/${name} |`), table[2 + i]));
  const out = path.join(dir, 'runs/model-selection/eval');
  const json = JSON.parse(fs.readFileSync(path.join(out, 'eval.json'), 'utf8')) as {
    model: string;
    result: { toxicity: { mean: number; n: number }; perplexity: number };
  }[];
  for (const row of json) {
    t.is(row.result.toxicity.n, 4, `${row.model}: the 4 held-out prompts (last 20% of 20)`);
    const samples = fs
      .readFileSync(path.join(out, `samples-${row.model.replace(/[^A-Za-z0-9._-]+/g, '_')}.jsonl`), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { toxicity: number; continuation: string });
    const mean = samples.reduce((a, s) => a + s.toxicity, 0) / samples.length;
    t.true(Math.abs(mean - row.result.toxicity.mean) < 1e-12, `${row.model}: table mean = mean of its samples`);
    t.true(Number.isFinite(row.result.perplexity) && row.result.perplexity > 1, `${row.model}: perplexity ${row.result.perplexity}`);
  }
  t.is(new Set(json.map((row) => row.result.toxicity.mean)).size, models.length, 'four different models, four different figures');
});

// OPT on two data-parallel workers (replicas built from the same folder), BLOOM on the main thread alone.
for (const [arch, workers, cfg] of [
  [
    'an OPT (post-LN, projected embeddings)',
    2,
    makeConfig({
      modelType: 'opt',
      vocabSize: 257,
      nPositions: 64,
      dModel: 32,
      nHeads: 4,
      nLayers: 2,
      wordEmbedProjDim: 16,
      postLayerNorm: true,
      bosTokenId: 256,
      eosTokenId: 256,
    }),
  ],
  [
    'a BLOOM (ALiBi)',
    1,
    makeConfig({ modelType: 'bloom', vocabSize: 257, nPositions: 64, dModel: 24, nHeads: 3, nLayers: 2, bosTokenId: 256, eosTokenId: 256 }),
  ],
] as const) {
  test(`detox-lab run trains ${arch} policy with its value head, a shared-layer reference and checkpointing`, async (t) => {
    const dir = await tinyProject((p) =>
      tinyExperiment(p, {
        workers,
        train: { steps: 2, checkpointEvery: 2, sampleEvery: 1, progress: false },
        memory: [{ type: 'shared-layers', numSharedLayers: 1 }, { type: 'checkpointing' }],
        eval: { enabled: false },
      }),
    );
    const policyDir = path.join(dir, 'models/policy');
    fs.rmSync(policyDir, { recursive: true });
    await writeTinyModel(policyDir, cfg, { seed: 3 });
    const r = cli(dir, 'run');
    t.is(r.code, 0, r.stderr);
    const saved = path.join(dir, 'runs/tiny/main/checkpoints/step-2/policy');
    const savedCfg = JSON.parse(fs.readFileSync(path.join(saved, 'config.json'), 'utf8')) as Record<string, unknown>;
    t.is(savedCfg.model_type, cfg.modelType);
    const before = await readSafetensorsFolder(policyDir);
    const after = await readSafetensorsFolder(saved);
    const vhead = await readSafetensors(path.join(saved, 'value_head.safetensors'));
    t.deepEqual(vhead.get('v_head.summary.weight')!.shape, [1, cfg.dEmbed], 'value head on the final (projected) hidden states');
    const changed = (name: string) => before.get(name)!.data.some((x, i) => x !== after.get(name)!.data[i]);
    const names = [...before.keys()];
    const block = (i: number) => names.filter((n) => n.includes(cfg.modelType === 'opt' ? `.layers.${i}.` : `.h.${i}.`));
    t.true(block(1).some(changed), 'the unshared block was trained');
    t.false(block(0).some(changed), 'the shared block stayed frozen');
    t.false(
      changed(names.find((n) => n.endsWith('embed_tokens.weight') || n.endsWith('word_embeddings.weight'))!),
      'the shared embedding stayed frozen',
    );
  });
}
