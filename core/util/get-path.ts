/** The value at `keys` inside a JSON-like value (array entries by index), or undefined where the path stops. */
export function getPath(obj: unknown, keys: readonly (string | number)[]): unknown {
  let cur: unknown = obj;
  for (const k of keys) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[String(k)];
  }
  return cur;
}
