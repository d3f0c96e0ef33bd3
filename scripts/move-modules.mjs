#!/usr/bin/env node
// Moves TypeScript modules and rewrites every relative specifier that points at them (static and dynamic imports,
// `export … from`, and `new URL('…', import.meta.url)`), in every source folder. Specifiers are resolved in the
// compiled layout (dist/ mirrors the sources), so resource paths that leave dist/ (package.json, models/) stay right
// when the importing file itself moves. Usage: `node scripts/move-modules.mjs moves.txt` with lines `old.ts new.ts`
// (repo-relative); the files are moved with `git mv`. It prints what it rewrote.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE_ROOTS = ['core', 'plugins', 'test', 'bench'];

const moves = new Map();
for (const line of readFileSync(process.argv[2], 'utf8').split('\n')) {
  const t = line.trim();
  if (!t || t.startsWith('#')) continue;
  const [from, to] = t.split(/\s+/);
  if (!from?.endsWith('.ts') || !to?.endsWith('.ts')) throw new Error(`bad line: ${line}`);
  moves.set(from, to);
}

const jsOf = (p) => `dist/${p.replace(/\.ts$/, '.js')}`;
const distMoves = new Map([...moves].map(([a, b]) => [jsOf(a), jsOf(b)]));

function listFiles(dir) {
  const out = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const p = posix.join(dir, name);
    if (statSync(join(ROOT, p)).isDirectory()) {
      if (name === 'node_modules' || name === 'fixtures') continue;
      out.push(...listFiles(p));
    } else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const SPEC_RE = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\bnew URL\(\s*)(['"])(\.{1,2}\/[^'"]*)\2/g;

let rewritten = 0;
const files = SOURCE_ROOTS.flatMap((r) => listFiles(r));
for (const file of files) {
  const newFile = moves.get(file) ?? file;
  const oldDir = posix.dirname(jsOf(file));
  const newDir = posix.dirname(jsOf(newFile));
  const src = readFileSync(join(ROOT, file), 'utf8');
  const out = src.replace(SPEC_RE, (whole, lead, q, spec) => {
    const target = posix.normalize(posix.join(oldDir, spec));
    const mapped = distMoves.get(target) ?? target;
    if (mapped === target && oldDir === newDir) return whole;
    let next = posix.relative(newDir, mapped);
    if (spec.endsWith('/') && !next.endsWith('/')) next += '/';
    if (!next.startsWith('.')) next = `./${next}`;
    if (next === spec) return whole;
    rewritten++;
    console.log(`${newFile}: ${spec} -> ${next}`);
    return `${lead}${q}${next}${q}`;
  });
  if (out !== src) writeFileSync(join(ROOT, file), out);
}
for (const [from, to] of moves) {
  mkdirSync(join(ROOT, dirname(to)), { recursive: true });
  execFileSync('git', ['mv', from, to], { cwd: ROOT });
}
console.log(`${moves.size} files moved, ${rewritten} specifiers rewritten`);
