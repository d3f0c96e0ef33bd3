/**
 * How experiment files combine (`$import`, `--set`, ablation arms):
 * - objects merge key by key, deeply;
 * - arrays and scalars replace (never append);
 * - a plugin slot (an object with `"type"`) whose type changes is replaced whole, so options
 *   meant for the old plugin never leak into the new one.
 */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

export function isPlainObject(x: unknown): x is JsonObject {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function mergeConfig(base: Json | undefined, over: Json): Json {
  if (!isPlainObject(base) || !isPlainObject(over)) return structuredClone(over);
  if ('type' in over && 'type' in base && over.type !== base.type) return structuredClone(over);
  const out: JsonObject = structuredClone(base);
  for (const [k, v] of Object.entries(over)) {
    if (k === '__proto__' || k === 'constructor') continue;
    out[k] = mergeConfig(out[k], v);
  }
  return out;
}

/** Splits `a.b.0.c` into keys; numeric parts index arrays. */
export function parsePath(p: string): string[] {
  if (!/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/.test(p)) {
    throw new Error(`bad config path "${p}": use dot-separated keys, e.g. ppo.batchSize or memory.0.type`);
  }
  return p.split('.');
}

/**
 * Returns a copy of `obj` with `value` at `path` (creating what is missing on the way: a list where the next key is
 * a number, an object otherwise). A numeric key indexes a list: an entry it has, or the next one (`memory.<length>`
 * appends); a gap is an error. Setting `<slot>.type` to a different plugin resets that slot's options.
 */
export function setPath(obj: JsonObject, path: string, value: Json): JsonObject {
  const keys = parsePath(path);
  const copy = structuredClone(obj);
  let cur: Json = copy;
  for (let i = 0; i < keys.length - 1; i++) {
    const k = keys[i]!;
    const container = cur as JsonObject | Json[];
    let next: Json | undefined = Array.isArray(container) ? container[Number(k)] : container[k];
    if (Array.isArray(container)) checkIndex(container, k, keys.slice(0, i + 1));
    if (next === undefined || next === null || typeof next !== 'object') {
      next = /^\d+$/.test(keys[i + 1]!) ? [] : {};
      if (Array.isArray(container)) container[Number(k)] = next;
      else container[k] = next;
    }
    cur = next;
  }
  const last = keys[keys.length - 1]!;
  const parent = cur as JsonObject | Json[];
  if (Array.isArray(parent)) {
    checkIndex(parent, last, keys);
    parent[Number(last)] = mergeConfig(parent[Number(last)], value);
  } else if (last === 'type' && isPlainObject(parent) && 'type' in parent && parent.type !== value) {
    for (const k of Object.keys(parent)) delete parent[k];
    parent.type = value;
  } else {
    parent[last] = structuredClone(value);
  }
  return copy;
}

/** A list's key must be a number naming an entry it has or the next one (no gaps). */
function checkIndex(list: Json[], key: string, at: string[]): void {
  if (!/^\d+$/.test(key)) throw new Error(`config path ${at.join('.')}: an array is indexed by a number, got "${key}"`);
  if (Number(key) <= list.length) return;
  const name = at.slice(0, -1).join('.');
  throw new Error(
    list.length === 0
      ? `config path ${at.join('.')}: the list ${name} is empty; ${name}.0 adds its first entry`
      : `config path ${at.join('.')}: the list ${name} has ${list.length} entr${list.length === 1 ? 'y' : 'ies'}; ` +
          `give an index from 0 to ${list.length} (${list.length} appends)`,
  );
}

/**
 * Parses `--set path=value`: the value is JSON when it parses as JSON (numbers, booleans,
 * null, arrays, objects, quoted strings), otherwise a plain string.
 */
export function parseAssignment(text: string): { path: string; value: Json } {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new Error('expected path=value, e.g. --set ppo.batchSize=16');
  const path = text.slice(0, eq).trim();
  parsePath(path);
  const raw = text.slice(eq + 1);
  let value: Json;
  try {
    value = JSON.parse(raw) as Json;
  } catch {
    value = raw;
  }
  return { path, value };
}
