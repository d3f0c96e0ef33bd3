#!/usr/bin/env node
// The import graph of the TypeScript sources (core/, plugins/): file import circles, folder circles and imports
// against the house plan (scripts/layers.mjs). `node scripts/import-graph.mjs` prints the folder graph by layer
// and every problem, and exits 1 on any; `--graph` prints only the graph (CONTRIBUTING.md shows it), `--check` only
// the problems. `npm run lint`
// enforces the same rules file by file (eslint.config.js).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAYERS, folderOf, layerOf, violation } from './layers.mjs';

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
const IMPORT_RE =
  /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;

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
        const target = relative(root, resolve(dirname(abs), spec))
          .split(sep)
          .join('/')
          .replace(/\.js$/, '.ts');
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
  const idx = new Map(),
    low = new Map(),
    onStack = new Set(),
    stack = [],
    out = [];
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || graph.get(v)?.has(v)) out.push(comp.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
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
  const lines = [];
  for (let i = LAYERS.length - 1; i >= 0; i--) {
    for (const f of LAYERS[i]) {
      if (!folders.has(f)) continue;
      const deps = [...folders.get(f)].sort((x, y) => (layerOf(y) ?? -1) - (layerOf(x) ?? -1) || x.localeCompare(y));
      lines.push(`${String(i).padStart(2)}  ${f.padEnd(18)} → ${deps.join(', ') || '(nothing)'}`);
    }
  }
  return lines.join('\n');
}

function main() {
  const graph = fileGraph();
  const folders = folderGraph(graph);
  if (!process.argv.includes('--check')) console.log(render(folders));
  if (process.argv.includes('--graph')) return;
  const problems = [];
  for (const c of cycles(graph)) problems.push(`file import circle: ${c.join(' ↔ ')}`);
  for (const c of cycles(folders)) problems.push(`folder import circle: ${c.join(' ↔ ')}`);
  for (const [file, deps] of graph) {
    for (const d of deps) {
      const why = violation(file, d);
      if (why) problems.push(`${file} imports ${d}: ${why}`);
    }
  }
  for (const p of problems) console.log(p);
  console.log(`${graph.size} files, ${problems.length} problems`);
  if (problems.length) process.exitCode = 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
