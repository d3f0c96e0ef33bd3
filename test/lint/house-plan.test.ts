/**
 * The house plan (scripts/layers.mjs, CONTRIBUTING.md): no import circles, no folder importing one above it, plugins
 * through the public door only — checked on the real sources, and the ESLint rule that enforces it file by file.
 */
import test from 'ava';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { ESLint } from 'eslint';

const ROOT = process.cwd();
type Graph = Map<string, Set<string>>;
const graphMod = (await import(pathToFileURL(path.join(ROOT, 'scripts/import-graph.mjs')).href)) as {
  fileGraph(root?: string): Graph;
  folderGraph(g: Graph): Graph;
  cycles(g: Graph): string[][];
};
const layers = (await import(pathToFileURL(path.join(ROOT, 'scripts/layers.mjs')).href)) as {
  violation(from: string, to: string): string | null;
  folderOf(file: string): string | null;
  LAYERS: string[][];
};

test('the sources have no file or folder import circle and no import against the layers', (t) => {
  const graph = graphMod.fileGraph(ROOT);
  t.true(graph.size > 150, `found the sources (${graph.size} files)`);
  t.deepEqual(graphMod.cycles(graph), [], 'file circles');
  t.deepEqual(graphMod.cycles(graphMod.folderGraph(graph)), [], 'folder circles');
  const bad = [...graph].flatMap(([f, deps]) => [...deps].map((d) => [f, d, layers.violation(f, d)]).filter((x) => x[2]));
  t.deepEqual(bad, []);
  const folders = new Set([...graph.keys()].map(layers.folderOf));
  const planned = new Set(layers.LAYERS.flat());
  t.deepEqual(
    [...folders].filter((f) => f && !planned.has(f)),
    [],
    'every folder is in a layer',
  );
});

test('CONTRIBUTING.md shows the folder graph as it is today (node scripts/import-graph.mjs --graph)', (t) => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts/import-graph.mjs'), '--graph'], { cwd: ROOT, encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  const shown = /```\n(\d+ +core\/cli[\s\S]*?)```/.exec(fs.readFileSync(path.join(ROOT, 'CONTRIBUTING.md'), 'utf8'))?.[1];
  t.is(shown?.trim(), r.stdout.trim(), 'paste the output of `node scripts/import-graph.mjs --graph` into CONTRIBUTING.md');
});

test('cycles() finds a circle in a graph that has one, and only there', (t) => {
  const g: Graph = new Map([
    ['a', new Set(['b'])],
    ['b', new Set(['c'])],
    ['c', new Set(['a'])],
    ['d', new Set(['a'])],
  ]);
  t.deepEqual(graphMod.cycles(g), [['a', 'b', 'c']]);
  t.deepEqual(
    graphMod.cycles(
      new Map([
        ['a', new Set(['b'])],
        ['b', new Set()],
      ]),
    ),
    [],
  );
});

test('violation(): upward imports, plugins past the door, and core importing plugins are refused; downward is fine', (t) => {
  t.regex(layers.violation('core/ppo/step.ts', 'core/training/trainer.ts')!, /core\/ppo \(layer \d+\) must not import core\/training/);
  t.regex(layers.violation('core/model/wasm/simd.ts', 'core/model/causal-lm.ts')!, /core\/model\/wasm .* must not import core\/model /);
  t.is(layers.violation('core/training/trainer.ts', 'core/ppo/step.ts'), null);
  t.is(layers.violation('core/model/causal-lm.ts', 'core/model/wasm/simd.ts'), null);
  t.regex(layers.violation('plugins/optimisers/adam.ts', 'core/optim/plugin-options.ts')!, /public door, core\/index\.ts/);
  t.is(layers.violation('plugins/optimisers/adam.ts', 'core/index.ts'), null);
  t.regex(layers.violation('core/cli/main.ts', 'plugins/index.ts')!, /core never imports plugins/);
  t.is(layers.violation('core/cli/builtins.ts', 'plugins/index.ts'), null);
  t.is(layers.violation('core/index.ts', 'core/cli/main.ts') !== null, true, 'the door does not open onto cli');
  t.regex(layers.violation('core/newroom/x.ts', 'core/util/rng.ts')!, /core\/newroom is not in the house plan/);
  t.is(layers.violation('test/ppo/step.test.ts', 'core/training/trainer.ts'), null, 'tests are not layered');
});

test("npm run lint's ESLint config reports an upward import and a deep plugin import with the rule and the reason", async (t) => {
  const eslint = new ESLint({ cwd: ROOT });
  const [up] = await eslint.lintText("import { Trainer } from '../training/trainer.js';\nexport const x = Trainer;\n", {
    filePath: path.join(ROOT, 'core/ppo/new-file.ts'),
  });
  t.deepEqual(
    up!.messages.map((m) => m.ruleId),
    ['house/layers'],
  );
  t.regex(up!.messages[0]!.message, /core\/ppo \(layer \d+\) must not import core\/training/);
  const [deep] = await eslint.lintText("import { clipGradNorm } from '../../core/optim/clip.js';\nexport const c = clipGradNorm;\n", {
    filePath: path.join(ROOT, 'plugins/optimisers/new-file.ts'),
  });
  t.deepEqual(
    deep!.messages.map((m) => m.ruleId),
    ['house/layers'],
  );
  const [ok] = await eslint.lintText("import { definePlugin } from '../../core/index.js';\nexport const d = definePlugin;\n", {
    filePath: path.join(ROOT, 'plugins/optimisers/new-file.ts'),
  });
  t.deepEqual(ok!.messages, []);
});
