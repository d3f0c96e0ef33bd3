/** The outcome of looking up a dotted path in a parsed JSON value. */
type FieldLookup =
  | { found: true; value: unknown }
  /** `at` is the part of the path that was missing or could not be entered. */
  | { found: false; at: string };

/**
 * Looks up a dotted path (`"prompt.text"`, `"messages.0.content"`) in a JSON value: each part
 * names an object key, or an array index when the value there is an array. A `null` value is
 * found (callers decide whether null is acceptable); a missing key is not.
 */
export function getField(value: unknown, path: string): FieldLookup {
  let cur: unknown = value;
  const parts = path.split('.');
  for (let i = 0; i < parts.length; i++) {
    const key = parts[i]!;
    const at = parts.slice(0, i + 1).join('.');
    if (Array.isArray(cur)) {
      if (!/^\d+$/.test(key) || Number(key) >= cur.length) return { found: false, at };
      cur = cur[Number(key)];
    } else if (typeof cur === 'object' && cur !== null && Object.prototype.hasOwnProperty.call(cur, key)) {
      cur = (cur as Record<string, unknown>)[key];
    } else {
      return { found: false, at };
    }
  }
  return { found: true, value: cur };
}

/** Checks a dotted path option: non-empty parts separated by single dots. */
export function isFieldPath(path: string): boolean {
  return /^[^.]+(\.[^.]+)*$/.test(path);
}

/** A value's JSON type for error messages: `"null"`, `"array"`, `"number"`, ... */
export function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
