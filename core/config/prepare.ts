import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { loadRawConfig, ConfigFileError, originOf, projectRoot, SET_ORIGIN, type RawConfig } from './load.js';
import { validateConfig, ConfigError, type ConfigIssue, type ResolvedConfig } from './validate.js';
import { slotEntries } from '../plugin/slots.js';
import { isPlainObject, type JsonObject } from './merge.js';
import { getPath } from '../util/get-path.js';
import { PluginRegistry } from '../plugin/registry.js';
import { isPathOption, type AnyPluginDefinition } from '../plugin/define.js';

export interface PreparedExperiment {
  config: ResolvedConfig;
  raw: RawConfig;
  registry: PluginRegistry;
}

/**
 * Config → validated experiment, before any work: loads the file (or searches for
 * .detoxrc.json), applies `--set`, loads the user's plugin modules, validates everything.
 * Throws ConfigFileError / ConfigError (both mean exit code 2).
 */
export async function prepareExperiment(opts: {
  file?: string;
  set?: readonly string[];
  cwd?: string;
  builtins: readonly AnyPluginDefinition[];
}): Promise<PreparedExperiment> {
  const raw = await loadRawConfig(opts);
  // A run folder's resolved-config.json records where its relative paths resolve.
  const recorded = raw.config.$source as { baseDir?: unknown } | undefined;
  if (recorded !== undefined) {
    // Its paths were made relative to that base folder when the run started.
    delete raw.config.$source;
    if (typeof recorded?.baseDir === 'string') raw.baseDir = recorded.baseDir;
  } else {
    resolveCorePaths(raw);
  }
  const source = path.relative(opts.cwd ?? process.cwd(), raw.filepath) || raw.filepath;
  const registry = new PluginRegistry(opts.builtins);
  const plugins = raw.config.plugins;
  if (plugins !== undefined) {
    if (!Array.isArray(plugins) || !plugins.every((p) => typeof p === 'string')) {
      throw new ConfigError(
        [{ path: 'plugins', message: `must be a list of module paths or package names (got ${JSON.stringify(plugins)})` }],
        source,
      );
    }
    try {
      await registry.loadModules(plugins as string[], raw.baseDir);
    } catch (err) {
      throw new ConfigError([{ path: 'plugins', message: (err as Error).message }], source);
    }
  }
  if (recorded === undefined) resolveOptionPaths(raw, registry);
  try {
    return { config: validateConfig(raw.config, registry, source), raw, registry };
  } catch (err) {
    throw err instanceof ConfigError ? blameSet(err, opts.set ?? []) : err;
  }
}

/**
 * Issues at (or inside, or around) a path that a `--set` assigned name that `--set` as their source: the value came
 * from the command line, not the file. The last matching assignment wins, as it does when applied.
 */
function blameSet(err: ConfigError, set: readonly string[]): ConfigError {
  const assigned = set.map((a) => ({ a, p: a.slice(0, a.indexOf('=')).trim() })).reverse();
  const issues = err.issues.map((i) => {
    const hit = assigned.find(({ p }) => i.path === p || i.path.startsWith(`${p}.`) || p.startsWith(`${i.path}.`));
    return hit ? { ...i, source: `--set ${hit.a}` } : i;
  });
  return new ConfigError(issues, err.source);
}

/**
 * Where a relative path written in config file `file` points: `./x` and `../x` against the file's folder, other
 * relative paths against the file's project root (the nearest folder at or above it holding package.json or
 * .detoxrc.json). For the project's own files (.detoxrc.json at the root, experiments/*.json with paths such as
 * `models/x`) that is the project root, as it always was; a config `$import`ed from another project, or a `./x.mjs`
 * next to an experiment file, now means what its author meant. Returned as the value to store in the merged config,
 * whose relative paths all resolve against `baseDir`: unchanged when it already points there, else rewritten relative to
 * `baseDir` (`module`: keeping a leading `./` so it is not read as a package name).
 */
export function resolvePathValue(value: string, file: string | undefined, baseDir: string, module = false): string {
  if (file === undefined || file === SET_ORIGIN || path.isAbsolute(value)) return value;
  const explicit = /^\.\.?([\\/]|$)/.test(value);
  if (module && !explicit) return value; // a package name
  const dir = path.dirname(file);
  const target = path.resolve(explicit ? dir : projectRoot(dir), value);
  if (target === path.resolve(baseDir, value)) return value;
  const rel = path.relative(baseDir, target);
  if (path.isAbsolute(rel)) return target; // another drive
  return module && !/^\.\.?[\\/]/.test(rel) ? `./${rel}` : rel;
}

/** `runsDir` and `plugins` resolved against the files that wrote them (see {@link resolvePathValue}, {@link resolvePluginSpec}). */
function resolveCorePaths(raw: RawConfig): void {
  const c = raw.config;
  if (typeof c.runsDir === 'string') c.runsDir = resolvePathValue(c.runsDir, originOf(raw.origins, ['runsDir']), raw.baseDir);
  if (Array.isArray(c.plugins)) {
    const file = originOf(raw.origins, ['plugins']);
    c.plugins = c.plugins.map((spec) => (typeof spec === 'string' ? resolvePluginSpec(spec, file, raw.baseDir) : spec));
  }
}

/**
 * A `plugins` entry written in `file`: a path as {@link resolvePathValue} says; a package name as the listing file's
 * project has it installed (its resolved file), when that project is not the base folder's and has it.
 */
function resolvePluginSpec(spec: string, file: string | undefined, baseDir: string): string {
  const isPackage = !path.isAbsolute(spec) && !/^\.\.?([\\/]|$)/.test(spec);
  if (!isPackage || file === undefined || file === SET_ORIGIN) return resolvePathValue(spec, file, baseDir, true);
  const root = projectRoot(path.dirname(file));
  if (root === baseDir) return spec;
  try {
    return createRequire(path.join(root, 'package.json')).resolve(spec);
  } catch {
    return spec; // not installed there: looked up from the base folder, as before
  }
}

/** Each plugin slot's path options ({@link isPathOption}) resolved against the files that wrote them. */
function resolveOptionPaths(raw: RawConfig, registry: PluginRegistry): void {
  for (const { path: at, kind } of slotEntries(raw.config)) {
    const slot = getPath(raw.config, at);
    if (!isPlainObject(slot) || typeof slot.type !== 'string') continue;
    const def = registry.find(kind, slot.type);
    if (!def) continue;
    for (const [key, value] of Object.entries(slot)) {
      if (key === 'type' || typeof value !== 'string' || !isPathOption(def.options, key)) continue;
      (slot as JsonObject)[key] = resolvePathValue(value, originOf(raw.origins, [...at, key]), raw.baseDir);
    }
  }
}

/**
 * The path options of every plugin slot that name nothing on disk (what `--dry-run` checks, so a config that would
 * fail to build says so before the run): one issue each, naming the field, the value and where it was looked for.
 */
export function missingPaths(prepared: PreparedExperiment): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const cfg = prepared.config as unknown as JsonObject;
  for (const { path: at, kind } of slotEntries(cfg)) {
    const slot = getPath(cfg, at);
    if (!isPlainObject(slot) || typeof slot.type !== 'string') continue;
    const def = prepared.registry.find(kind, slot.type);
    if (!def) continue;
    for (const [key, value] of Object.entries(slot)) {
      if (typeof value !== 'string' || !isPathOption(def.options, key)) continue;
      const abs = path.resolve(prepared.raw.baseDir, value);
      if (!fs.existsSync(abs)) {
        issues.push({
          path: [...at, key].join('.'),
          message: `${JSON.stringify(value)} does not exist (looked for ${abs}; relative paths resolve against the project root ${prepared.raw.baseDir}, or against the config file's folder when written ./ or ../)`,
        });
      }
    }
  }
  return issues;
}

/** `<runsDir>/<experiment>/<arm>`, relative paths against the config's base folder. */
export function runDirOf(prepared: PreparedExperiment, arm = 'main'): string {
  return path.resolve(prepared.raw.baseDir, prepared.config.runsDir, prepared.config.experiment, arm);
}

/** Writes resolved-config.json (with where it came from) into the run folder. */
export function writeResolvedConfig(runDir: string, prepared: PreparedExperiment): string {
  fs.mkdirSync(runDir, { recursive: true });
  const file = path.join(runDir, 'resolved-config.json');
  const body = { ...prepared.config, $source: { files: prepared.raw.files, baseDir: prepared.raw.baseDir } };
  fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(body, null, 2)}\n`);
  fs.renameSync(`${file}.tmp`, file);
  return file;
}

export { ConfigError, ConfigFileError };
