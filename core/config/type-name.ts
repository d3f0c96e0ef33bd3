import type { z } from 'zod';

/**
 * How a zod schema is shown to users: the values it allows, in the help text (`--help`, `detox-lab plugins`) and in
 * the validator's messages, so the two always say the same.
 */

interface Def {
  type: string;
  innerType?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  defaultValue?: unknown;
  element?: z.ZodType;
  entries?: Record<string, unknown>;
  items?: z.ZodType[];
  options?: z.ZodType[];
  values?: unknown[];
  keyType?: z.ZodType;
  valueType?: z.ZodType;
  checks?: { _zod: { def: { check: string; value?: number; inclusive?: boolean; format?: string } } }[];
}
export const defOf = (s: z.ZodType) => (s as unknown as { def: Def }).def;
export const descOf = (s: z.ZodType): string | undefined => (s as unknown as { description?: string }).description;

/** `integer`, `number > 0`, `integer in [1, 64]`...: a number schema with its format and bounds. */
function numberName(d: Def): string {
  const checks = (d.checks ?? []).map((c) => c._zod.def);
  const int = checks.some((c) => c.check === 'number_format' && /int/.test(c.format ?? ''));
  const min = checks.find((c) => c.check === 'greater_than');
  const max = checks.find((c) => c.check === 'less_than');
  const name = int ? 'integer' : 'number';
  if (min && max) return `${name} in ${min.inclusive ? '[' : '('}${min.value}, ${max.value}${max.inclusive ? ']' : ')'}`;
  if (min) return `${name} ${min.inclusive ? '≥' : '>'} ${min.value}`;
  if (max) return `${name} ${max.inclusive ? '≤' : '<'} ${max.value}`;
  return name;
}

/**
 * The values a schema allows, as help text and error messages show them: `"auto" | integer in [1, 64]`,
 * `[integer ≥ 1, integer ≥ 2] | null`, `{ [string]: JSON[] }`.
 */
export function typeName(s: z.ZodType): string {
  const d = defOf(s);
  switch (d.type) {
    case 'default':
    case 'optional':
    case 'prefault':
      return typeName(d.innerType!);
    case 'nullable':
      return `${typeName(d.innerType!)} | null`;
    case 'enum':
      return Object.values(d.entries!)
        .map((v) => JSON.stringify(v))
        .join(' | ');
    case 'literal':
      return d.values!.map((v) => JSON.stringify(v)).join(' | ');
    case 'union':
      return d.options!.map(typeName).join(' | ');
    case 'number':
      return numberName(d);
    case 'array':
      return `${typeName(d.element!)}[]`;
    case 'tuple':
      return `[${d.items!.map(typeName).join(', ')}]`;
    case 'record':
      return `{ [${typeName(d.keyType!)}]: ${typeName(d.valueType!)} }`;
    case 'lazy':
      return 'JSON'; // z.json(): any JSON value
    case 'object':
      return 'object';
    case 'pipe':
      return typeName((d as unknown as { in: z.ZodType }).in);
    default:
      return d.type;
  }
}

/** The sub-schema at `path` (object keys, array and tuple indices, record values), through defaults and nullables. */
export function schemaAt(schema: z.ZodType, path: readonly (string | number)[]): z.ZodType | undefined {
  let cur: z.ZodType | undefined = schema;
  for (let i = 0; cur;) {
    const d = defOf(cur);
    if (['default', 'optional', 'nullable', 'prefault'].includes(d.type)) {
      cur = d.innerType;
      continue;
    }
    if (d.type === 'pipe') {
      cur = (d as unknown as { in: z.ZodType }).in;
      continue;
    }
    if (i === path.length) return cur;
    const k = path[i++]!;
    cur =
      d.type === 'object'
        ? d.shape?.[String(k)]
        : d.type === 'array'
          ? d.element
          : d.type === 'tuple'
            ? d.items?.[Number(k)]
            : d.type === 'record'
              ? d.valueType
              : undefined;
  }
  return undefined;
}

/** For a union (e.g. `workers`): its choices joined by "or" (`"auto" or integer in [1, 64]`); otherwise undefined. */
export function unionChoices(schema: z.ZodType): string | undefined {
  const d = defOf(schema);
  return d.type === 'union' ? d.options!.map(typeName).join(' or ') : undefined;
}
