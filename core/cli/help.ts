import type { z } from 'zod';
import { defOf, descOf, typeName } from '../config/type-name.js';

function unwrap(s: z.ZodType): { inner: z.ZodType; dflt?: unknown; description?: string } {
  let description = descOf(s);
  let dflt: unknown;
  let cur = s;
  for (;;) {
    const d = defOf(cur);
    if (d.type === 'default') dflt = typeof d.defaultValue === 'function' ? (d.defaultValue as () => unknown)() : d.defaultValue;
    if (d.type === 'default' || d.type === 'optional' || d.type === 'nullable' || d.type === 'prefault') {
      cur = d.innerType!;
      description ??= descOf(cur);
      continue;
    }
    return { inner: cur, dflt, description };
  }
}

/**
 * Renders an object schema as an indented field reference: `name  type  (default X)  help`.
 * Used by `--help` and `detox-lab plugins`, so the help text and the validator never disagree.
 */
export function describeOptions(schema: z.ZodType, indent = '  '): string {
  const lines: string[] = [];
  const walk = (s: z.ZodType, prefix: string) => {
    const { inner } = unwrap(s);
    const shape = defOf(inner).shape ?? {};
    for (const [key, field] of Object.entries(shape)) {
      if (key === '$schema') continue;
      const { inner: fi, dflt, description } = unwrap(field);
      const name = prefix ? `${prefix}.${key}` : key;
      const nested = defOf(fi).type === 'object' && Object.keys(defOf(fi).shape ?? {}).some((k) => k !== 'type');
      const dfltText =
        dflt === undefined || (typeof dflt === 'object' && dflt !== null && !Array.isArray(dflt))
          ? ''
          : `  (default ${JSON.stringify(dflt)})`;
      lines.push(`${indent}${name}  ${nested ? 'object' : typeName(field)}${dfltText}${description ? `  — ${description}` : ''}`);
      if (nested) walk(fi, name);
    }
  };
  walk(schema, '');
  return lines.length ? lines.join('\n') : `${indent}(no options)`;
}
