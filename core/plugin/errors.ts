/**
 * Errors raised inside a plugin name the plugin and the phase: `reward.model (my-plugin) classify: boom`. The one
 * place this happens is the plugin boundary (core/di/container.ts#create): creation, and every method call on the
 * instance a plugin returns (classify, transform, load, generate, onReward, onStep, ...).
 */

const LABELLED = Symbol.for('detox-lab.plugin-error-labelled');

/** The config slot a plugin fills, e.g. `reward.model` or `hooks.1`, and its type: how errors name it. */
interface PluginLabel {
  slot: string;
  type: string;
}

/**
 * `err` with its message prefixed by `<slot> (<type>) <phase>: `, once (an error passing through two plugins keeps the
 * innermost name). The error object itself is kept (its class decides the exit code: an InputError stays exit 2).
 */
function labelPluginError(err: unknown, who: PluginLabel, phase: string): unknown {
  const named = `${who.slot} (${who.type})`;
  const prefix = `${named} ${phase}: `;
  if (err instanceof Error) {
    if ((err as Error & { [LABELLED]?: true })[LABELLED] || err.message.startsWith(`${named} `)) return err;
    try {
      const stackHead = err.stack?.startsWith(`${err.name}: ${err.message}`) ? `${err.name}: ${err.message}` : undefined;
      // A plugin that already names itself (`data.dataset (prompt-file): ...`) gets the phase added, not a second name.
      err.message = err.message.startsWith(`${named}: `) ? `${prefix}${err.message.slice(named.length + 2)}` : `${prefix}${err.message}`;
      if (stackHead && err.stack) err.stack = `${err.name}: ${err.message}${err.stack.slice(stackHead.length)}`;
      Object.defineProperty(err, LABELLED, { value: true, enumerable: false });
      return err;
    } catch {
      // a frozen error: wrap it instead
    }
  }
  const wrapped = new Error(`${prefix}${err instanceof Error ? err.message : String(err)}`, { cause: err });
  Object.defineProperty(wrapped, LABELLED, { value: true, enumerable: false });
  return wrapped;
}

/** Runs `f`, labelling what it throws or rejects with. */
export async function labelled<T>(who: PluginLabel, phase: string, f: () => T | Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    throw labelPluginError(err, who, phase);
  }
}

/**
 * The instance a plugin created, with each of its methods labelling its errors (sync throws and rejected promises).
 * Properties are read from the instance itself and methods run with the instance as `this`, so classes with private
 * fields, getters and `instanceof` behave as before; the results are the instance's own (no copy, no extra await).
 */
export function labelPluginInstance<T extends object>(instance: T, who: PluginLabel): T {
  if (typeof instance !== 'object' || instance === null) return instance;
  const wrappers = new Map<PropertyKey, unknown>();
  return new Proxy(instance, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function' || typeof prop === 'symbol' || prop === 'constructor') return value;
      const cached = wrappers.get(prop) as { fn: unknown; wrapper: unknown } | undefined;
      if (cached && cached.fn === value) return cached.wrapper;
      const fn = value as (...args: unknown[]) => unknown;
      const wrapper = function labelledMethod(...args: unknown[]): unknown {
        let out: unknown;
        try {
          out = fn.apply(target, args);
        } catch (err) {
          throw labelPluginError(err, who, prop);
        }
        if (out instanceof Promise)
          return out.catch((err: unknown) => {
            throw labelPluginError(err, who, prop);
          });
        return out;
      };
      wrappers.set(prop, { fn: value, wrapper });
      return wrapper;
    },
  });
}
