import { cosmiconfig } from 'cosmiconfig';
import fs from 'node:fs';
import path from 'node:path';
import { isPlainObject, mergeConfig, setPath, parseAssignment, type Json, type JsonObject } from './merge.js';

/**
 * Only these places are searched (upwards to the project root): other tools also read
 * `.detoxrc.js`, `.detoxrc` and the `detox` key of package.json, so detox-lab never does.
 */
const SEARCH_PLACES = ['.detoxrc.json', '.config/detoxrc.json', 'package.json'] as const;
const PACKAGE_PROP = 'detoxLab';

/** Raw (unvalidated) config with where it came from. */
export interface RawConfig {
  config: JsonObject;
  /** The file the config was read from (its `$import` paths are relative to it; other paths to `baseDir`). */
  filepath: string;
  /** Every file read, in order: imports first. */
  files: string[];
  /**
   * Where relative paths in the config resolve: the nearest folder at or above the config
   * file that holds a package.json or .detoxrc.json (the project root), so an experiment in
   * experiments/ and the .detoxrc.json it imports mean the same files.
   */
  baseDir: string;
  /**
   * Which file wrote each value: config path (`policy.path`, `plugins`, `hooks`) → the file, or {@link SET_ORIGIN} for
   * a `--set`. A value inside an array or a replaced object is found under the longest recorded prefix
   * ({@link originOf}). Relative paths are resolved against the file that wrote them (see resolvePathValue).
   */
  origins: Map<string, string>;
}

/** The origin of a value given by `--set` (relative paths in it resolve against the project root, as always). */
export const SET_ORIGIN = '--set';

/** The file (or {@link SET_ORIGIN}) that wrote the value at `keys`, or undefined when no file did. */
export function originOf(origins: ReadonlyMap<string, string>, keys: readonly (string | number)[]): string | undefined {
  for (let n = keys.length; n > 0; n--) {
    const hit = origins.get(keys.slice(0, n).join('.'));
    if (hit !== undefined) return hit;
  }
  return undefined;
}

function setOrigin(origins: Map<string, string>, at: string, origin: string): void {
  for (const k of [...origins.keys()]) if (k.startsWith(`${at}.`)) origins.delete(k);
  origins.set(at, origin);
}

/** Records `file` as the writer of every value `own` sets on top of `base` (mirroring mergeConfig). */
function recordOrigins(base: Json | undefined, own: JsonObject, prefix: string, file: string, origins: Map<string, string>): void {
  for (const [k, v] of Object.entries(own)) {
    const at = prefix ? `${prefix}.${k}` : k;
    const under = isPlainObject(base) ? base[k] : undefined;
    // An object merges key by key (mergeConfig), unless it is a plugin slot whose type changes: that replaces it whole.
    const merges = isPlainObject(v) && !(isPlainObject(under) && 'type' in v && 'type' in under && v.type !== under.type);
    if (merges) recordOrigins(under, v, at, file, origins);
    else setOrigin(origins, at, file);
  }
}

export class ConfigFileError extends Error {}

function explorer() {
  return cosmiconfig('detoxlab', {
    searchPlaces: [...SEARCH_PLACES],
    packageProp: PACKAGE_PROP,
    searchStrategy: 'project',
    cache: false,
    // `$import` is resolved by detox-lab itself (see merge.ts for why): hide it from cosmiconfig.
    loaders: { '.json': loadJson, noExt: loadJson },
  });
}

const IMPORT_KEY = '$import';
const HIDDEN_IMPORT_KEY = '\u0000detox-lab-import';

function loadJson(filepath: string, content: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(content);
  } catch (err) {
    throw new ConfigFileError(`${filepath}: not valid JSON: ${(err as Error).message}`);
  }
  if (isPlainObject(parsed) && IMPORT_KEY in parsed) {
    parsed[HIDDEN_IMPORT_KEY] = parsed[IMPORT_KEY]!;
    delete parsed[IMPORT_KEY];
  }
  return parsed;
}

/**
 * Loads the experiment config: `file` if given, else the nearest `.detoxrc.json`,
 * `.config/detoxrc.json` or package.json `"detoxLab"` from `cwd` up to the project root.
 * `$import` (a path or list of paths, relative to the importing file) is merged first,
 * then the file's own keys, then `--set` overrides.
 */
export async function loadRawConfig(opts: { file?: string; cwd?: string; set?: readonly string[] }): Promise<RawConfig> {
  const cwd = opts.cwd ?? process.cwd();
  const ex = explorer();
  let filepath: string;
  if (opts.file) {
    filepath = path.resolve(cwd, opts.file);
    if (!fs.existsSync(filepath)) throw new ConfigFileError(`config file not found: ${filepath}`);
  } else {
    const found = await ex.search(cwd);
    if (!found) {
      throw new ConfigFileError(
        `no config found from ${cwd} upwards (looked for ${SEARCH_PLACES.join(', ')} with a "${PACKAGE_PROP}" key); ` +
          'pass an experiment file: detox-lab run experiments/<name>.json',
      );
    }
    filepath = found.filepath;
  }
  const files: string[] = [];
  const origins = new Map<string, string>();
  let config = await resolveFile(ex, filepath, [], files, origins);
  for (const assignment of opts.set ?? []) {
    try {
      const { path: p, value } = parseAssignment(assignment);
      config = setPath(config, p, value);
      setOrigin(origins, p, SET_ORIGIN);
    } catch (err) {
      throw new ConfigFileError(`--set ${assignment}: ${(err as Error).message}`);
    }
  }
  return { config, filepath, files, baseDir: projectRoot(path.dirname(filepath)), origins };
}

export function projectRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json')) || fs.existsSync(path.join(dir, '.detoxrc.json'))) return dir;
    if (path.dirname(dir) === dir) return start;
  }
}

async function resolveFile(
  ex: ReturnType<typeof explorer>,
  filepath: string,
  chain: string[],
  files: string[],
  origins: Map<string, string>,
): Promise<JsonObject> {
  if (chain.includes(filepath)) {
    throw new ConfigFileError(`circular $import: ${[...chain, filepath].join(' → ')}`);
  }
  let result;
  try {
    result = await ex.load(filepath);
  } catch (err) {
    if (err instanceof ConfigFileError) throw err;
    throw new ConfigFileError(`${filepath}: ${(err as Error).message}`);
  }
  const content = result?.config as Json | undefined;
  if (!isPlainObject(content)) {
    throw new ConfigFileError(`${filepath}: the config must be a JSON object${result?.isEmpty ? ' (the file is empty)' : ''}`);
  }
  const own = { ...content };
  const imports = own[HIDDEN_IMPORT_KEY];
  delete own[HIDDEN_IMPORT_KEY];
  let merged: Json = {};
  if (imports !== undefined) {
    const list = Array.isArray(imports) ? imports : [imports];
    if (!list.every((x): x is string => typeof x === 'string')) {
      throw new ConfigFileError(`${filepath}: $import must be a path or a list of paths, got ${JSON.stringify(imports)}`);
    }
    for (const rel of list) {
      const target = path.resolve(path.dirname(filepath), rel);
      if (!fs.existsSync(target)) throw new ConfigFileError(`${filepath}: $import "${rel}" not found (${target})`);
      merged = mergeConfig(merged, await resolveFile(ex, target, [...chain, filepath], files, origins));
    }
  }
  files.push(filepath);
  recordOrigins(merged, own, '', filepath, origins);
  return mergeConfig(merged, own) as JsonObject;
}
