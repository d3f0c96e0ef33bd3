#!/usr/bin/env node
/**
 * Builds the optional native matmul addon (native/blas.c → native/build/Release/detox_blas.node) when a BLAS is
 * present, with npm's bundled node-gyp against this machine's Node headers. Runs as the package's `install`
 * script; never downloads anything and never fails the install: on any problem it prints one line
 * ("native matmul not built: <reason>; the JS matmul is used") and exits 0.
 *
 * DETOX_NATIVE_BUILD=0 skips the build. BLAS_INCLUDE_DIR / BLAS_LIB_DIR point at a non-standard OpenBLAS.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const addon = path.join(here, 'build', 'Release', 'detox_blas.node');

function skip(reason) {
  console.log(`native matmul not built: ${reason}; the JS matmul is used`);
  process.exit(0);
}

function multiarchDirs(root) {
  try {
    return readdirSync(root)
      .filter((d) => /-linux-gnu/.test(d))
      .map((d) => path.join(root, d));
  } catch {
    return [];
  }
}

/** Directory holding cblas.h, preferring OpenBLAS's own header. */
function findHeader() {
  const roots = ['/usr/include', '/usr/local/include'];
  const cands = [
    process.env.BLAS_INCLUDE_DIR,
    ...multiarchDirs('/usr/include').flatMap((d) => [
      path.join(d, 'openblas-pthread'),
      path.join(d, 'openblas-openmp'),
      path.join(d, 'openblas-serial'),
      d,
    ]),
    '/usr/include/openblas',
    '/usr/local/include/openblas',
    '/opt/homebrew/opt/openblas/include',
    '/usr/local/opt/openblas/include',
    ...roots,
  ].filter(Boolean);
  return cands.find((d) => existsSync(path.join(d, 'cblas.h')));
}

/** Directory holding libopenblas (shared or static). */
function findLib() {
  const cands = [
    process.env.BLAS_LIB_DIR,
    ...multiarchDirs('/usr/lib'),
    '/usr/lib64',
    '/usr/lib',
    '/usr/local/lib',
    '/opt/homebrew/opt/openblas/lib',
    '/usr/local/opt/openblas/lib',
  ].filter(Boolean);
  return cands.find((d) => ['libopenblas.so', 'libopenblas.dylib', 'libopenblas.a'].some((f) => existsSync(path.join(d, f))));
}

/** npm's bundled node-gyp (npm sets npm_config_node_gyp for install scripts). */
function findNodeGyp() {
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  const cands = [
    process.env.npm_config_node_gyp,
    process.env.npm_execpath && path.resolve(path.dirname(process.env.npm_execpath), '../node_modules/node-gyp/bin/node-gyp.js'),
    path.join(prefix, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
    path.join(prefix, 'node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  ].filter(Boolean);
  return cands.find((p) => existsSync(p));
}

/** Node's own headers (installed with node), so node-gyp downloads nothing. */
function findNodeDir() {
  const cands = [process.env.npm_config_nodedir, path.resolve(path.dirname(process.execPath), '..')].filter(Boolean);
  return cands.find(
    (d) => existsSync(path.join(d, 'include', 'node', 'node_api.h')) && existsSync(path.join(d, 'include', 'node', 'common.gypi')),
  );
}

if (process.env.DETOX_NATIVE_BUILD === '0') skip('DETOX_NATIVE_BUILD=0');
const include = findHeader();
if (!include) skip('no cblas.h found (install libopenblas-dev)');
const libDir = findLib();
if (!libDir) skip('no libopenblas found (install libopenblas-dev)');
const gyp = findNodeGyp();
if (!gyp) skip("npm's node-gyp not found");
const nodedir = findNodeDir();
if (!nodedir) skip(`Node headers not found next to ${process.execPath} (include/node/node_api.h)`);

const env = {
  ...process.env,
  npm_config_nodedir: nodedir,
  LIBRARY_PATH: [libDir, process.env.LIBRARY_PATH].filter(Boolean).join(path.delimiter),
};
const r = spawnSync(
  process.execPath,
  [gyp, 'rebuild', `--directory=${here}`, `--nodedir=${nodedir}`, '--loglevel=error', '--', `-Dblas_include=${include}`],
  { env, encoding: 'utf8', timeout: 300_000 },
);
if (r.status !== 0) {
  const lines = `${r.stderr ?? ''}\n${r.stdout ?? ''}\n${r.error?.message ?? ''}`
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const why =
    lines.find((l) => /error/i.test(l) && !/^gyp ERR! (stack|System|command|cwd|node -v|node-gyp -v|not ok)/.test(l)) ??
    lines[0] ??
    `exit ${r.status}`;
  rmSync(path.join(here, 'build'), { recursive: true, force: true });
  skip(`node-gyp failed (${why.slice(0, 200)})`);
}

// Load it once in a fresh process: a library that links but does not load is reported here, not at run time.
const check = spawnSync(process.execPath, ['-e', `const b = require(${JSON.stringify(addon)}); console.log(b.getConfig().config)`], {
  encoding: 'utf8',
  timeout: 60_000,
});
if (check.status !== 0) {
  const why =
    (check.stderr || '')
      .trim()
      .split('\n')
      .find((l) => /Error/.test(l)) ?? `exit ${check.status}`;
  rmSync(path.join(here, 'build'), { recursive: true, force: true });
  skip(`the built addon does not load (${why.slice(0, 200)})`);
}
console.log(`native matmul built: ${path.relative(process.cwd(), addon) || addon} (${check.stdout.trim()})`);
