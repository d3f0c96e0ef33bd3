/**
 * Help text, README and behaviour agree: the README's reference table lists every config field with the schema's
 * defaults, the help says where relative paths resolve as the loader does it, unions read as their choices, and
 * errors name what set the value (the file or a --set) and what is allowed.
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { describeOptions } from '../../core/cli/help.js';
import { configJsonSchema } from '../../core/config/json-schema.js';
import { ConfigError, prepareExperiment, runDirOf } from '../../core/config/prepare.js';
import { configSchema } from '../../core/config/schema.js';
import { PluginRegistry } from '../../core/plugin/registry.js';
import { builtinPlugins } from '../../plugins/index.js';
import { ROOT, tmpProject } from '../helpers/tmp.js';

type JsonSchema = { properties?: Record<string, JsonSchema>; default?: unknown; anyOf?: unknown[] };

/** The README's "Reference" rows: field → default as written (undefined for "—"), `a.b` / `c` expanded to `a.b`, `a.c`. */
function readmeReference(): Map<string, unknown> {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Reference'), readme.indexOf('\n## ', readme.indexOf('### Reference')));
  const rows = new Map<string, unknown>();
  for (const line of section.split('\n').filter((l) => l.startsWith('| `'))) {
    const [fields, defaults] = line
      .split(/(?<!\\)\|/)
      .slice(1, 3)
      .map((c) =>
        c
          .trim()
          .split(' / ')
          .map((x) => x.trim().replace(/^`|`$/g, '')),
      );
    if (fields!.length !== defaults!.length)
      throw new Error(`README reference row with ${fields!.length} fields and ${defaults!.length} defaults: ${line}`);
    const prefix = fields![0]!.includes('.') ? fields![0]!.slice(0, fields![0]!.lastIndexOf('.') + 1) : '';
    fields!.forEach((f, i) =>
      rows.set(i === 0 || f.includes('.') ? f : `${prefix}${f}`, defaults![i] === '—' ? undefined : JSON.parse(defaults![i]!)),
    );
  }
  return rows;
}

/** Every top-level field of the JSON Schema, and every field of the core sections (not of plugin slots), with its default. */
function schemaFields(): Map<string, unknown> {
  const schema = configJsonSchema(new PluginRegistry(builtinPlugins)) as JsonSchema;
  const out = new Map<string, unknown>();
  // A nullable field with a default (data.promptTokens) carries it on its non-null choice.
  const dflt = (f: JsonSchema) =>
    'default' in f ? f.default : (f.anyOf as JsonSchema[] | undefined)?.find((c) => 'default' in c)?.default;
  for (const [k, v] of Object.entries(schema.properties!)) {
    if (v.properties) for (const [n, f] of Object.entries(v.properties)) out.set(`${k}.${n}`, dflt(f));
    else out.set(k, dflt(v));
  }
  return out;
}

test("README reference table: every config field of the schema, with the schema's default", (t) => {
  const readme = readmeReference();
  const schema = schemaFields();
  t.deepEqual(
    [...schema.keys()].filter((k) => !readme.has(k)),
    [],
    'fields missing from the README table',
  );
  t.deepEqual(
    [...readme.keys()].filter((k) => !schema.has(k)),
    [],
    'README rows that are not config fields',
  );
  for (const [field, dflt] of schema) t.deepEqual(readme.get(field), dflt, `default of ${field}`);
});

test('help and plugin options say paths are relative to the project root, which is where the loader resolves them', async (t) => {
  const help = describeOptions(configSchema);
  t.regex(
    help,
    /^ {2}runsDir {2}string {2}\(default "runs"\) {2}— where run folders are written; relative to the project root \(the nearest folder at or above the config file that holds package\.json or \.detoxrc\.json\)/m,
  );
  t.regex(help, /^ {2}plugins {2}string\[\] {2}\(default \[\]\) {2}— your plugin modules: paths relative to the project root/m);
  const plugins = builtinPlugins.map((d) => describeOptions(d.options, '    ')).join('\n');
  t.notRegex(`${help}\n${plugins}`, /relative to the config/);
  for (const name of ['prompt-file', 'real-toxicity-prompts', 'hf-classifier', 'hf-causal-lm']) {
    t.regex(
      describeOptions(builtinPlugins.find((d) => d.name === name)!.options),
      /path {2}string {2}— .*relative to the project root/,
      name,
    );
  }
  // A config two folders below the project root: runsDir and a dataset path resolve against the root.
  const root = tmpProject({
    'package.json': { name: 'p' },
    'lines.txt': 'a\nb\n',
    'experiments/deep/x.json': {
      experiment: 'x',
      runsDir: 'out',
      policy: { type: 'hf-causal-lm', path: 'models/m' },
      reward: { model: { type: 'lexicon-toxicity' }, transform: { type: 'raw-logit' } },
      data: { dataset: { type: 'prompt-file', path: 'lines.txt' } },
      optimiser: { type: 'adam' },
    },
  });
  const prepared = await prepareExperiment({ file: 'experiments/deep/x.json', cwd: root, builtins: builtinPlugins });
  t.is(prepared.raw.baseDir, root);
  t.is(runDirOf(prepared), path.join(root, 'out', 'x', 'main'));
  const dataset = builtinPlugins.find((d) => d.name === 'prompt-file')!;
  t.notThrows(() => dataset.create(dataset.options.parse({ path: 'lines.txt' }) as never, { configDir: prepared.raw.baseDir } as never));
  t.throws(
    () =>
      dataset.create(dataset.options.parse({ path: 'lines.txt' }) as never, { configDir: path.join(root, 'experiments/deep') } as never),
    { message: /data file not found/ },
  );
});

test('unions and literals read as their choices in the help, never as zod type names', (t) => {
  const help = describeOptions(configSchema);
  t.regex(help, /^ {2}workers {2}"auto" \| integer in \[1, 64\] {2}\(default "auto"\)/m);
  t.regex(help, /^ {2}data\.promptTokens {2}\[integer ≥ 1, integer ≥ 2\] \| null/m);
  t.regex(help, /^ {2}ablate {2}\{ \[string\]: JSON\[\] \}/m);
  const all = [help, ...builtinPlugins.map((d) => describeOptions(d.options, '    '))].join('\n');
  const types = all.split('\n').map((l) => l.trim().split('  ')[1]);
  t.deepEqual(
    types.filter((ty) => /\b(union|literal|record|lazy|pipe|intersection)\b/.test(ty ?? '')),
    [],
  );
});

async function issuesOf(set: string[], files: Record<string, object> = {}) {
  const cwd = tmpProject({ 'package.json': { name: 'p' }, ...files });
  const err = await prepareExperiment({ cwd, file: path.join(ROOT, '.detoxrc.json'), set, builtins: builtinPlugins }).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${String(err)}`);
  return { err, issues: err.issues };
}

test('a bad workers value says what is allowed', async (t) => {
  for (const v of ['0', '"many"', '1.5', '65']) {
    const { issues } = await issuesOf([`workers=${v}`]);
    t.deepEqual(
      issues.map((i) => [i.path, i.message]),
      [['workers', `must be "auto" or integer in [1, 64] (got ${v})`]],
    );
  }
});

test('an error in a value given by --set is blamed on that --set, one from the file on the file', async (t) => {
  const { err, issues } = await issuesOf(['ppo.batchSize=abc', 'seed=1', 'train={"steps": 0}']);
  const by = Object.fromEntries(issues.map((i) => [i.path, i.source]));
  t.deepEqual(by, { 'ppo.batchSize': '--set ppo.batchSize=abc', 'train.steps': '--set train={"steps": 0}' });
  t.regex(err.message, /^--set ppo\.batchSize=abc: ppo\.batchSize: .*expected number.* \(got "abc"\)$/m);
  const file = tmpProject({ 'package.json': { name: 'p' }, 'x.json': { $import: path.join(ROOT, '.detoxrc.json'), seed: 'zero' } });
  const fromFile = await prepareExperiment({ cwd: file, file: 'x.json', set: ['train.steps=5'], builtins: builtinPlugins }).catch(
    (e: ConfigError) => e,
  );
  t.true(fromFile instanceof ConfigError);
  t.deepEqual(
    (fromFile as ConfigError).issues.map((i) => [i.path, i.source]),
    [['seed', undefined]],
  );
  t.regex((fromFile as ConfigError).message, /^x\.json: seed: /);
});
