import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PLUGIN_KINDS, type AnyPluginDefinition, type PluginKind, type PluginList } from './define.js';

/** Plugins by kind and name. A second plugin of the same kind and name is an error. */
export class PluginRegistry {
  private readonly byKind = new Map<PluginKind, Map<string, AnyPluginDefinition>>(PLUGIN_KINDS.map((k) => [k, new Map()]));
  /** Where each plugin came from ('built-in' or a module path), for error messages. */
  private readonly origin = new Map<AnyPluginDefinition, string>();
  /** URLs of the modules the definitions came from, in load order (see {@link moduleUrls}). */
  private readonly urls: string[] = [];

  /**
   * A list made by {@link pluginList} carries its module's URL, so that another thread can rebuild this registry
   * with {@link fromModuleUrls}.
   */
  constructor(definitions: readonly AnyPluginDefinition[] | PluginList = [], origin = 'built-in') {
    for (const d of definitions) this.register(d, origin);
    const url = (definitions as Partial<PluginList>).moduleUrl;
    if (url) this.urls.push(url);
  }

  /**
   * A registry built from module URLs alone (what a worker thread receives): each module's `builtinPlugins`
   * export, or else its default export, is registered in order.
   */
  static async fromModuleUrls(urls: readonly string[]): Promise<PluginRegistry> {
    const registry = new PluginRegistry();
    for (const url of urls) await registry.importModule(url, url, true);
    return registry;
  }

  /**
   * The module URLs this registry's definitions came from, in order. Plugins registered one by one with
   * {@link register} are not among them: a worker thread rebuilt from these URLs does not know them.
   */
  moduleUrls(): readonly string[] {
    return this.urls;
  }

  register(def: AnyPluginDefinition, origin = 'built-in'): void {
    const kind = this.byKind.get(def.kind);
    if (!kind) throw new Error(`plugin "${def.name}" from ${origin}: unknown kind "${def.kind}"; known kinds: ${PLUGIN_KINDS.join(', ')}`);
    const existing = kind.get(def.name);
    if (existing) {
      throw new Error(`duplicate ${def.kind} plugin "${def.name}": from ${origin}, already registered from ${this.origin.get(existing)}`);
    }
    kind.set(def.name, def);
    this.origin.set(def, origin);
  }

  has(kind: PluginKind, name: string): boolean {
    return this.byKind.get(kind)!.has(name);
  }

  /** The definition, or undefined. */
  find(kind: PluginKind, name: string): AnyPluginDefinition | undefined {
    return this.byKind.get(kind)!.get(name);
  }

  names(kind: PluginKind): string[] {
    return [...this.byKind.get(kind)!.keys()].sort();
  }

  all(): AnyPluginDefinition[] {
    return PLUGIN_KINDS.flatMap((k) => [...this.byKind.get(k)!.values()]);
  }

  /**
   * Loads users' plugin modules (the config's `"plugins"` list): relative paths resolve
   * against `baseDir` (the project root, see RawConfig.baseDir), other names as packages installed there.
   * Errors name the module as listed; the caller says it came from `plugins`.
   * A module's default export is a plugin definition or a list of them.
   */
  async loadModules(specs: readonly string[], baseDir: string): Promise<void> {
    for (const spec of specs) await this.importModule(resolveModule(spec, baseDir), spec, false);
  }

  private async importModule(url: string, spec: string, listExport: boolean): Promise<void> {
    let mod: { default?: unknown; builtinPlugins?: unknown };
    try {
      mod = (await import(url)) as { default?: unknown; builtinPlugins?: unknown };
    } catch (err) {
      throw new Error(`cannot load "${spec}" (${url}): ${(err as Error).message}`);
    }
    const exported = listExport && mod.builtinPlugins !== undefined ? mod.builtinPlugins : mod.default;
    const defs = Array.isArray(exported) ? exported : [exported];
    if (exported === undefined || defs.some((d) => !isPluginDefinition(d))) {
      throw new Error(`"${spec}" must default-export a plugin definition (definePlugin({...})) or a list of them`);
    }
    for (const d of defs as AnyPluginDefinition[]) this.register(d, spec);
    this.urls.push(url);
  }
}

function resolveModule(spec: string, baseDir: string): string {
  if (spec.startsWith('.') || path.isAbsolute(spec)) return pathToFileURL(path.resolve(baseDir, spec)).href;
  try {
    return pathToFileURL(createRequire(path.join(baseDir, 'package.json')).resolve(spec)).href;
  } catch {
    return spec; // let import() resolve it (and report it) from detox-lab's own node_modules
  }
}

function isPluginDefinition(x: unknown): x is AnyPluginDefinition {
  if (typeof x !== 'object' || x === null) return false;
  const d = x as Record<string, unknown>;
  return (
    typeof d.kind === 'string' &&
    typeof d.name === 'string' &&
    typeof d.create === 'function' &&
    typeof d.options === 'object' &&
    d.options !== null &&
    typeof (d.options as { safeParse?: unknown }).safeParse === 'function'
  );
}
