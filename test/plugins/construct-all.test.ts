/**
 * Every built-in plugin can be built from a literal config, through the same path a run takes (validate, then the
 * container binds each slot of core/plugin/slots.ts), and what it builds works: a policy generates, a classifier
 * scores, a transform turns logits into rewards, a dataset loads prompts, an optimiser updates a variable, a memory
 * strategy changes the plan, a hook writes its file. The table must name every registered built-in, so a new one
 * without a literal config fails here (AllenNLP's test_can_construct_from_params).
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { builtinPlugins } from '../../core/cli/builtins.js';
import { PluginRegistry } from '../../core/plugin/registry.js';
import { prepareExperiment } from '../../core/config/prepare.js';
import { buildContainer } from '../../core/di/container.js';
import { SLOTS } from '../../core/plugin/slots.js';
import { configSchema } from '../../core/config/schema.js';
import { schemaAt } from '../../core/config/type-name.js';
import { TOKENS } from '../../core/tokens.js';
import { getPath } from '../../core/util/get-path.js';
import { defaultMemoryPlan, type MemoryStrategy } from '../../core/interfaces/memory.js';
import type { Policy } from '../../core/interfaces/policy.js';
import type { RewardModel, RewardTransform } from '../../core/interfaces/reward.js';
import type { Dataset } from '../../core/interfaces/dataset.js';
import type { Optimiser } from '../../core/interfaces/optimiser.js';
import type { Hook } from '../../core/interfaces/hook.js';
import { fixture } from '../helpers/tmp.js';
import { tinyExperiment, tinyProject } from '../helpers/tiny-project.js';

/** Three experiments that between them fill every slot with every built-in plugin. */
const EXPERIMENTS = (p: { policy: string; classifier: string }) => [
  tinyExperiment(p, {
    memory: [{ type: 'shared-layers', numSharedLayers: 1 }, { type: 'bf16' }, { type: 'checkpointing' }],
    eval: { maxNewTokens: 6, batchSize: 4, classifiers: [{ type: 'lexicon-toxicity' }] },
  }),
  tinyExperiment(p, {
    reward: { model: { type: 'lexicon-toxicity' }, transform: { type: 'softmax' } },
    data: { dataset: { type: 'real-toxicity-prompts', path: 'rtp.jsonl', heldOutFraction: 0.25 }, promptTokens: [4, 8] },
    optimiser: { type: 'adamw', learningRate: 1e-3 },
    hooks: [{ type: 'console', enabled: false }],
  }),
  tinyExperiment(p, {
    reward: { model: { type: 'lexicon-toxicity' }, transform: { type: 'log' } },
    data: { dataset: { type: 'builtin-toxic-prompts', maxTrain: 8, maxHeldOut: 4 }, promptTokens: [4, 8] },
  }),
];

async function project(): Promise<{ dir: string; configs: object[] }> {
  const dir = await tinyProject((p) => tinyExperiment(p));
  fs.copyFileSync(fixture('data/rtp-sample.jsonl'), path.join(dir, 'rtp.jsonl'));
  return { dir, configs: EXPERIMENTS({ policy: 'models/policy', classifier: 'models/classifier' }) };
}

/** `config` as the project's .detoxrc.json, loaded and validated as `detox-lab run` does. */
function prepared(dir: string, config: object) {
  fs.writeFileSync(path.join(dir, '.detoxrc.json'), JSON.stringify(config));
  return prepareExperiment({ file: path.join(dir, '.detoxrc.json'), builtins: builtinPlugins });
}

test('the literal configs use every registered built-in plugin, and every slot of SLOTS is a field of the config schema', async (t) => {
  const { dir, configs } = await project();
  const used = new Set<string>();
  const registry = new PluginRegistry(builtinPlugins);
  for (const c of configs) {
    const { config } = await prepared(dir, c);
    for (const s of SLOTS) {
      const v = getPath(config, s.path);
      for (const slot of (s.list ? v : [v]) as { type: string }[]) used.add(`${s.kind} ${slot.type}`);
    }
  }
  t.deepEqual(
    [...used].sort(),
    registry
      .all()
      .map((d) => `${d.kind} ${d.name}`)
      .sort(),
  );
  for (const s of SLOTS) {
    const field = schemaAt(configSchema, s.path);
    t.truthy(field, `${s.path.join('.')} is in the config schema`);
  }
});

for (const [i, name] of [
  'hf-classifier, raw-logit, prompt-file, adam, all memory strategies, default hooks, a cross-check',
  'lexicon-toxicity, softmax, real-toxicity-prompts, adamw, console off',
  'log, builtin-toxic-prompts',
].entries()) {
  test.serial(`built from literal config ${i + 1} (${name}), every slot's plugin works`, async (t) => {
    await tf.setBackend('cpu');
    const before = tf.memory().numTensors;
    const { dir, configs } = await project();
    const { config, registry } = await prepared(dir, configs[i]!);
    const runDir = path.join(dir, 'runs/tiny/main');
    const container = await buildContainer(config, registry, { runDir, configDir: dir, log: () => {} });

    const memory = container.isBound(TOKENS.MemoryStrategy) ? container.getAll<MemoryStrategy>(TOKENS.MemoryStrategy) : [];
    for (const m of memory) {
      const plan = defaultMemoryPlan();
      m.apply(plan);
      t.notDeepEqual(plan, defaultMemoryPlan(), `memory ${m.name} changes the plan`);
    }

    const policy = await container.getAsync<Policy>(TOKENS.Policy);
    const ids = policy.tokenizer.encode('You are such an');
    const [response] = await policy.generate([ids], {
      maxNewTokens: 3,
      minNewTokens: 3,
      temperature: 1,
      topK: 0,
      topP: 1,
      rng: { next: () => 0.5 },
    });
    t.is(response!.length, 3, 'the policy generates');

    const model = await container.getAsync<RewardModel>(TOKENS.RewardModel);
    const logits = await model.classify(['you are a kind person', 'you stupid idiot']);
    t.is(logits.length, 2);
    for (const row of logits) t.true(row.length === model.labels.length && row.every(Number.isFinite), `${model.name} scores`);
    const transform = await container.getAsync<RewardTransform>(TOKENS.RewardTransform);
    const rewards = transform.transform(logits, model.neutralIndex);
    t.true(rewards.length === 2 && rewards.every(Number.isFinite), `${transform.name} gives one finite reward per text`);
    const modelType = (config.reward.model as { type: string }).type;
    if (modelType === 'lexicon-toxicity') t.true(rewards[0]! > rewards[1]!, 'the word list rewards the clean text above the insult');
    for (const c of container.isBound(TOKENS.EvalClassifier) ? await container.getAllAsync<RewardModel>(TOKENS.EvalClassifier) : []) {
      t.is((await c.classify(['hello'])).length, 1, `cross-check ${c.name} scores`);
    }

    const splits = await (await container.getAsync<Dataset>(TOKENS.Dataset)).load();
    t.true(splits.train.length > 0 && splits.heldOut.length > 0, 'the dataset loads both splits');

    const optimiser = await container.getAsync<Optimiser>(TOKENS.Optimiser);
    const v = tf.variable(tf.tensor1d([1, 2]));
    const g = tf.tensor1d([0.5, -0.5]);
    optimiser.apply([v], [g]);
    const moved = v.dataSync();
    t.true(moved[0]! < 1 && moved[1]! > 2, `${optimiser.name} steps against the gradient`);
    v.dispose();
    g.dispose();
    optimiser.dispose();

    const hooks = container.isBound(TOKENS.Hook) ? await container.getAllAsync<Hook>(TOKENS.Hook) : [];
    fs.mkdirSync(runDir, { recursive: true });
    for (const h of hooks) await h.onRunStart?.({ runDir, totalSteps: 1, startStep: 0 });
    for (const h of hooks) await h.onRunEnd?.({ reason: 'done', step: 0 });
    const names = hooks.map((h) => h.name);
    t.deepEqual(
      names,
      i === 1 ? ['tensorboard', 'samples'] : ['tensorboard', 'samples', 'console'],
      'the default hooks, minus one turned off',
    );
    t.true(
      fs.readdirSync(runDir).some((f) => f.startsWith('events.out.tfevents')),
      'the tensorboard hook writes its event file',
    );

    (policy as { dispose?: () => void }).dispose?.();
    (model as { dispose?: () => void }).dispose?.();
    t.true(tf.memory().numTensors <= before + 2, `no tensors left behind (${tf.memory().numTensors - before})`);
  });
}
