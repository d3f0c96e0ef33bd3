/**
 * The request bodies and queries `detox-lab serve` accepts, and their errors as one line naming the field, the value
 * received and what is allowed.
 */
import { z } from 'zod';

const allowed = (what: string) => ({ error: () => `expected ${what}` });
const num = (what: string, min: number, max: number, opts: { int?: boolean; exclusiveMin?: boolean } = {}) => {
  const e = allowed(what);
  let s = z.number(e);
  s = opts.int ? s.int(e) : s;
  return (opts.exclusiveMin ? s.gt(min, e) : s.gte(min, e)).lte(max, e);
};
const ticket = z
  .string(allowed('a string of 1–64 letters, digits, "-" or "_"'))
  .regex(/^[A-Za-z0-9_-]{1,64}$/, allowed('a string of 1–64 letters, digits, "-" or "_"'));

/** Sampling settings shared by one generation and a batch; unset fields take the experiment's eval settings. */
const sampling = {
  temperature: num('a number > 0 and ≤ 10', 0, 10, { exclusiveMin: true }).optional(),
  topK: num('an integer from 0 (off) to 1000', 0, 1000, { int: true }).optional(),
  topP: num('a number > 0 and ≤ 1 (1 = off)', 0, 1, { exclusiveMin: true }).optional(),
  maxNewTokens: num('an integer from 1 to 512', 1, 512, { int: true }).optional(),
  seed: num('an integer from 0 to 2147483647', 0, 2147483647, { int: true }).optional(),
};

export const generateBody = z.strictObject({
  prompt: z
    .string(allowed('a non-empty string of at most 4000 characters'))
    .max(4000, allowed('a non-empty string of at most 4000 characters'))
    .refine((s) => s.trim().length > 0, allowed('a non-empty string of at most 4000 characters')),
  model: z.string(allowed('the name of a served model')),
  ticket: ticket.optional(),
  ...sampling,
});

export const batchBody = z.strictObject({
  prompts: num('an integer ≥ 1: how many prompts, from the first, of the prompt list', 1, 1e6, { int: true }),
  models: z
    .array(z.string(allowed('model names')), allowed('an array of served model names'))
    .min(1, allowed('at least one model name'))
    .optional(),
  format: z.enum(['json', 'csv'], allowed('"json" or "csv"')).optional(),
  ticket: ticket.optional(),
  ...sampling,
});

const queryInt = (what: string, min: number, max: number) =>
  z.coerce.number(allowed(what)).int(allowed(what)).gte(min, allowed(what)).lte(max, allowed(what));
const queryNum = (what: string) => z.coerce.number(allowed(what)).refine(Number.isFinite, allowed(what));

export const samplesQuery = z.strictObject({
  step: queryInt('an integer step ≥ 0', 0, Number.MAX_SAFE_INTEGER).optional(),
  minReward: queryNum('a number').optional(),
  maxReward: queryNum('a number').optional(),
  contains: z.string(allowed('a word')).max(200, allowed('at most 200 characters')).optional(),
  offset: queryInt('an integer ≥ 0', 0, Number.MAX_SAFE_INTEGER).default(0),
  limit: queryInt('an integer from 1 to 500', 1, 500).default(50),
});
export type SamplesQuery = z.output<typeof samplesQuery>;

/** An error the client caused: answered with this status and message. */
export class RequestError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const valueAt = (input: unknown, p: readonly PropertyKey[]): unknown =>
  p.reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined), input);

const show = (v: unknown): string => {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}…` : s;
};

/** Parses `input` with `schema`, or throws a 400 {@link RequestError}: `field: got <value>; expected …`. */
export function parseRequest<S extends z.ZodType>(schema: S, input: unknown, where: string): z.output<S> {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new RequestError(`${where}: expected a JSON object, got ${show(input)}`);
  }
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const messages = r.error.issues.map((i) => {
    if (i.code === 'unrecognized_keys') {
      const shape = (schema as unknown as { shape?: Record<string, unknown> }).shape ?? {};
      return `${i.keys.map((k) => `"${k}"`).join(', ')}: unknown field${i.keys.length > 1 ? 's' : ''}; allowed: ${Object.keys(shape).join(', ')}`;
    }
    const field = i.path.map(String).join('.') || where;
    return `${field}: got ${show(valueAt(input, i.path))}; ${i.message}`;
  });
  throw new RequestError([...new Set(messages)].join('; '));
}
