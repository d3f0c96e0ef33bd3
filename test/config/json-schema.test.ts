import test from 'ava';
import { Ajv2020 } from 'ajv/dist/2020.js';
import fs from 'node:fs';
import path from 'node:path';
import { builtinPlugins } from '../../plugins/index.js';
import { configJsonSchema } from '../../core/config/json-schema.js';
import { PluginRegistry } from '../../core/plugin/registry.js';
import { ROOT } from '../helpers/tmp.js';

type Schema = { properties: Record<string, any> };

test('the JSON Schema lists every built-in plugin per slot, with the options and help text', (t) => {
  const schema = configJsonSchema(new PluginRegistry(builtinPlugins)) as Schema;
  const names = (anyOf: any[]) =>
    anyOf
      .map((c) => c.properties?.type?.const)
      .filter(Boolean)
      .sort();
  const byKind = (k: string) =>
    builtinPlugins
      .filter((d) => d.kind === k)
      .map((d) => d.name)
      .sort();
  t.deepEqual(names(schema.properties.policy.anyOf), byKind('policy'));
  t.deepEqual(names(schema.properties.optimiser.anyOf), byKind('optimiser'));
  t.deepEqual(names(schema.properties.reward.properties.transform.anyOf), byKind('reward-transform'));
  t.deepEqual(names(schema.properties.reward.properties.model.anyOf), byKind('reward-model'));
  t.deepEqual(names(schema.properties.data.properties.dataset.anyOf), byKind('dataset'));
  t.deepEqual(names(schema.properties.memory.items.anyOf), byKind('memory'));
  const adam = schema.properties.optimiser.anyOf.find((c: any) => c.properties?.type?.const === 'adam');
  t.is(adam.properties.learningRate.default, 1.41e-5);
  const ppo = schema.properties.ppo.properties;
  for (const [k, v] of Object.entries<any>(ppo)) t.truthy(v.description, `ppo.${k} has help text`);
  t.is(ppo.lam.default, 0.95);
});

const SCHEMA_FILE = path.join(ROOT, 'schema', 'detoxrc.schema.json');

// Nothing regenerates the file before this test: `npm run build` leaves it alone, only `npm run schema` writes it.
test('the committed schema/detoxrc.schema.json equals a fresh generation from the zod schema and the plugins', (t) => {
  const committed = fs.readFileSync(SCHEMA_FILE, 'utf8');
  const fresh = `${JSON.stringify(configJsonSchema(new PluginRegistry(builtinPlugins)), null, 2)}\n`;
  t.true(committed === fresh, 'schema/detoxrc.schema.json is out of date: run npm run schema and commit it');
});

/** The committed schema compiled by ajv in strict mode (on first use, so a schema ajv rejects fails those tests only). */
let compiled: ReturnType<Ajv2020['compile']> | undefined;
const errorsOf = (config: unknown): string[] => {
  compiled ??= new Ajv2020({ allErrors: true, strict: true }).compile(JSON.parse(fs.readFileSync(SCHEMA_FILE, 'utf8')));
  return compiled(config) ? [] : compiled.errors!.map((e) => `${e.instancePath || '/'} ${e.message}`);
};

/** The ```json blocks of README.md. */
const readmeExamples = (): string[] =>
  [...fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8').matchAll(/^```json\n([\s\S]*?)^```/gm)].map((m) => m[1]!);

test('ajv: every shipped config, inheriting or not, and every JSON example of the README validates', (t) => {
  const files = [
    '.detoxrc.json',
    ...fs
      .readdirSync(path.join(ROOT, 'experiments'))
      .filter((f) => f.endsWith('.json'))
      .map((f) => `experiments/${f}`),
  ];
  t.true(files.length >= 9);
  t.true(
    files.some((f) => 'ablate' in JSON.parse(fs.readFileSync(path.join(ROOT, f), 'utf8'))),
    'a grid among them',
  );
  for (const f of files) t.deepEqual(errorsOf(JSON.parse(fs.readFileSync(path.join(ROOT, f), 'utf8'))), [], f);
  const examples = readmeExamples();
  t.true(examples.length >= 2);
  for (const e of examples) t.deepEqual(errorsOf(JSON.parse(e)), [], e);
});

test('ajv: a partial config is fine, as the loader merges it ($import as a path or a list; a slot without its type)', (t) => {
  for (const config of [
    {},
    { $import: '../.detoxrc.json', experiment: 'x' },
    { $import: ['a.json', 'b.json'], seed: 3 },
    { optimiser: { learningRate: 1e-4 }, reward: { transform: { type: 'softmax' } }, data: { promptTokens: [5, 8] } },
    { policy: { type: 'hf-causal-lm' }, data: { dataset: { heldOutFraction: 0.1 } } },
    { ablate: { seed: [0, 1] }, ablateMode: 'zip' },
  ])
    t.deepEqual(errorsOf(config), [], JSON.stringify(config));
});

test('ajv: unknown keys, wrong types and bad values are still rejected', (t) => {
  const rejected: [unknown, RegExp][] = [
    [{ experimnet: 'x' }, /must NOT have additional properties/],
    [{ seed: 'one' }, /\/seed must be integer/],
    [{ workers: 0 }, /\/workers/],
    [{ $import: 3 }, /\/\$import/],
    [{ $import: [] }, /\/\$import/],
    [{ ppo: { batchsize: 4 } }, /\/ppo must NOT have additional properties/],
    [{ optimiser: { type: 'adam', lr: 1e-4 } }, /\/optimiser/],
    [{ optimiser: { learningRat: 1e-4 } }, /\/optimiser/],
    [{ memory: [{ numSharedLayers: 2 }] }, /\/memory\/0/],
    [{ ablateMode: 'cross' }, /\/ablateMode must be equal to one of the allowed values/],
    [{ ablate: { seed: [] } }, /\/ablate/],
  ];
  for (const [config, error] of rejected) {
    const errors = errorsOf(config);
    t.true(
      errors.some((e) => error.test(e)),
      `${JSON.stringify(config)}: ${errors.join('; ') || 'accepted'}`,
    );
  }
});
