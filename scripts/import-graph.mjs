#!/usr/bin/env node
// The import graph of the TypeScript sources (core/, plugins/): file-level import cycles and folder imports that go
// against the layering below. `node scripts/import-graph.mjs` prints the folder graph and exits 1 on any violation;
// `--graph` prints only the folder graph (CONTRIBUTING.md shows it). test/import-graph.test.ts runs the same check.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE_ROOTS = ['core', 'plugins'];

function listTs(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listTs(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

// Static `import ... from '...'`, `export ... from '...'`, side-effect `import '...'` and dynamic `import('...')`
// with a literal specifier. Type-only imports count: a layer should not need another's types either.
const IMPORT_RE = /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;

function stripComments(src) {
  return src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

/** file (repo-relative, posix) → the repo-relative files it imports (relative specifiers only). */
export function fileGraph(root = ROOT) {
  const graph = new Map();
  for (const sr of SOURCE_ROOTS) {
    for (const abs of listTs(join(root, sr))) {
      const file = relative(root, abs).split(sep).join('/');
      const deps = new Set();
      const src = stripComments(readFileSync(abs, 'utf8'));
      for (const m of src.matchAll(IMPORT_RE)) {
        const spec = m[1] ?? m[2] ?? m[3];
        if (!spec.startsWith('.')) continue;
        const target = relative(root, resolve(dirname(abs), spec)).split(sep).join('/').replace(/\.js$/, '.ts');
        deps.add(target);
      }
      graph.set(file, deps);
    }
  }
  return graph;
}

/** Strongly connected components with more than one file (or a file importing itself): the import circles. */
export function cycles(graph) {
  let index = 0;
  const idx = new Map(), low = new Map(), onStack = new Set(), stack = [], out = [];
  const visit = (v) => {
    idx.set(v, index); low.set(v, index); index++;
    stack.push(v); onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) { visit(w); low.set(v, Math.min(low.get(v), low.get(w))); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do { w = stack.pop(); onStack.delete(w); comp.push(w); } while (w !== v);
      if (comp.length > 1 || graph.get(v)?.has(v)) out.push(comp.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

/** The folder a file belongs to, for the layering: core/<room> (core/model/<room> for the model's rooms), plugins. */
export function folderOf(file) {
  const parts = file.split('/');
  if (parts[0] === 'plugins') return 'plugins';
  if (file === 'core/index.ts') return 'core/index'; // the public door: re-exports, imported by plugins/ only
  if (parts.length === 2) return 'core';        // core/tokens.ts, core/errors.ts, core/exit.ts
  if (parts[1] === 'model' && parts.length > 3) return `core/model/${parts[2]}`;
  return `core/${parts[1]}`;
}

export function folderGraph(graph) {
  const folders = new Map();
  for (const [file, deps] of graph) {
    const from = folderOf(file);
    if (!folders.has(from)) folders.set(from, new Set());
    for (const d of deps) {
      const to = folderOf(d);
      if (to !== from) folders.get(from).add(to);
    }
  }
  return folders;
}

export function render(folders) {
  return [...folders.keys()].sort()
    .map((f) => `${f.padEnd(22)} → ${[...folders.get(f)].sort().join(', ') || '(nothing)'}`).join('\n');
}

function main() {
  const graph = fileGraph();
  const folders = folderGraph(graph);
  if (process.argv.includes('--graph')) { console.log(render(folders)); return; }
  console.log(render(folders));
  const circles = cycles(graph);
  const folderCircles = cycles(folders);
  for (const c of circles) console.log(`file import circle: ${c.join(' ↔ ')}`);
  for (const c of folderCircles) console.log(`folder import circle: ${c.join(' ↔ ')}`);
  console.log(`${graph.size} files, ${circles.length} file circles, ${folderCircles.length} folder circles`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
