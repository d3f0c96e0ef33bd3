import fs from 'node:fs';
import path from 'node:path';
import { loadRawConfig, ConfigFileError, type RawConfig } from './load.js';
import { validateConfig, ConfigError, type ResolvedConfig } from './validate.js';
import { PluginRegistry } from '../plugin/registry.js';
import type { AnyPluginDefinition } from '../plugin/define.js';

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
  file?: string; set?: readonly string[]; cwd?: string; builtins: readonly AnyPluginDefinition[];
}): Promise<PreparedExperiment> {
  const raw = await loadRawConfig(opts);
  // A run folder's resolved-config.json records where its relative paths resolve.
  const recorded = raw.config.$source as { baseDir?: unknown } | undefined;
  if (recorded !== undefined) {
    delete raw.config.$source;
    if (typeof recorded?.baseDir === 'string') raw.baseDir = recorded.baseDir;
  }
  const source = path.relative(opts.cwd ?? process.cwd(), raw.filepath) || raw.filepath;
  const registry = new PluginRegistry(opts.builtins);
  const plugins = raw.config.plugins;
  if (plugins !== undefined) {
    if (!Array.isArray(plugins) || !plugins.every((p) => typeof p === 'string')) {
      throw new ConfigError([{ path: 'plugins', message: `must be a list of module paths or package names (got ${JSON.stringify(plugins)})` }], source);
    }
    try {
      await registry.loadModules(plugins as string[], raw.baseDir);
    } catch (err) {
      throw new ConfigError([{ path: 'plugins', message: (err as Error).message }], source);
    }
  }
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
