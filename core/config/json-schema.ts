import { z } from 'zod';
import { configSchema } from './schema.js';
import type { PluginRegistry } from '../plugin/registry.js';
import type { PluginKind } from '../plugin/define.js';
import { SLOTS } from '../plugin/slots.js';

/**
 * The config's JSON Schema for editors (`"$schema": "./schema/detoxrc.schema.json"` in
 * .detoxrc.json): the core fields with their help text, and each plugin slot as a choice
 * between the registered plugins' option schemas (plus any other `type`, for users' plugins).
 *
 * One file may hold only part of a config: `$import` brings the rest, and `--set` and ablation arms change it
 * afterwards. So the schema checks what a file says (unknown keys, types, ranges, plugin options) but requires
 * nothing that could be inherited: no core field is required, and a plugin slot (`policy`, `reward.model`,
 * `reward.transform`, `data.dataset`, `optimiser`) may leave out its `type` (to change options of the inherited
 * plugin) and its plugin's required options. The validator checks completeness after merging. A `memory` or
 * `hooks` entry is not merged (arrays replace), so each one needs its `type` and required options.
 */
export function configJsonSchema(registry: PluginRegistry): Record<string, unknown> {
  const slotSchema = (kind: PluginKind, inherited: boolean) => {
    const defs = registry.all().filter((d) => d.kind === kind);
    const choices = defs.map((d) => {
      const s = z.toJSONSchema(d.options.extend({ type: z.literal(d.name) }), { io: 'input', unrepresentable: 'any' }) as Record<
        string,
        unknown
      >;
      delete s.$schema;
      const required = inherited ? [] : ((s.required as string[] | undefined) ?? []).filter((k) => k !== 'type');
      return { ...s, description: d.description, required: ['type', ...required] };
    });
    const typeless = {
      description: 'options of the plugin this slot inherits through $import (its type unchanged)',
      type: 'object',
      not: { required: ['type'] },
      anyOf: choices.map(({ required: _, ...c }) => c),
    };
    return {
      anyOf: [
        ...choices,
        {
          description: 'a plugin from your own module listed in "plugins"',
          type: 'object',
          required: ['type'],
          properties: { type: { type: 'string', ...(defs.length ? { not: { enum: defs.map((d) => d.name) } } : {}) } },
        },
        ...(inherited ? [typeless] : []),
      ],
    };
  };
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as {
    properties: Record<string, Record<string, unknown>>;
    [k: string]: unknown;
  };
  const p = schema.properties;
  delete schema.required;
  delete p.reward!.required;
  delete p.data!.required;
  const keepDoc = (target: Record<string, unknown>, replacement: Record<string, unknown>) => ({
    description: target.description,
    ...replacement,
  });
  // Each slot of core/plugin/slots.ts: one plugin (its type inheritable) or a list (each entry complete).
  for (const spec of SLOTS) {
    const parent = spec.path.slice(0, -1).reduce((o, k) => (o[k] as { properties: Record<string, Record<string, unknown>> }).properties, p);
    const key = spec.path[spec.path.length - 1]!;
    parent[key] = spec.list ? { ...parent[key], items: slotSchema(spec.kind, false) } : keepDoc(parent[key]!, slotSchema(spec.kind, true));
  }
  // `$import` is read by the loader before validation (load.ts), so it is not in the zod schema.
  const { $schema, ...fields } = p;
  const $import = {
    description: "config file(s) this one inherits, relative to this file: merged in order, then this file's own keys on top",
    anyOf: [
      { type: 'string', minLength: 1 },
      { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
    ],
  };
  return { title: 'detox-lab experiment config', ...schema, properties: { $schema, $import, ...fields } };
}
