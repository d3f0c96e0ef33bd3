/**
 * The composition root's one link to plugins/ (nothing else in core/ imports it): the built-in plugin list (which
 * carries its module URL, so worker threads import the same list) and a registry holding it.
 */
import { PluginRegistry } from '../plugin/registry.js';
import { builtinPlugins } from '../../plugins/index.js';

export { builtinPlugins, loadBuiltinCorpus } from '../../plugins/index.js';

/** A registry holding the built-in plugins. */
export function builtinRegistry(): PluginRegistry {
  return new PluginRegistry(builtinPlugins);
}
