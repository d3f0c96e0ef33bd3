/**
 * Readers of Hugging Face config.json fields shared by every architecture's parser (gpt2.ts, gpt-neo.ts, gptj.ts, opt.ts, bloom.ts):
 * each names the field, the value and what is allowed when it rejects one.
 */

/** MLP activations the engine implements (Hugging Face ACT2FN names). */
export const SUPPORTED_ACTIVATIONS = ['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast', 'gelu', 'relu', 'quick_gelu'] as const;
export type Activation = (typeof SUPPORTED_ACTIVATIONS)[number];

/** The first of `keys` holding a finite number, else `fallback`, else an error naming the keys. */
export function num(raw: Record<string, unknown>, keys: string[], fallback?: number): number {
  for (const k of keys) {
    const v = raw[k];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  if (fallback !== undefined) return fallback;
  throw new Error(`config.json: missing numeric field ${keys.map((k) => `"${k}"`).join(' or ')}`);
}

export function posInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v <= 0) throw new Error(`config.json: "${name}" must be a positive integer, got ${v}`);
  return v;
}

/** A boolean field, `fallback` when absent or null. */
export function bool(raw: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const v = raw[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw new Error(`config.json: "${key}" must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function tokenId(raw: Record<string, unknown>, key: string): number | null {
  const v = raw[key];
  if (v === undefined || v === null) return null;
  if (Array.isArray(v)) return typeof v[0] === 'number' ? v[0] : null;
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw new Error(`config.json: "${key}" must be an integer or null, got ${JSON.stringify(v)}`);
  return v;
}

export function activation(raw: Record<string, unknown>, key: string, fallback: Activation = 'gelu_new'): Activation {
  const v = raw[key] ?? fallback;
  if (typeof v !== 'string' || !(SUPPORTED_ACTIVATIONS as readonly string[]).includes(v)) {
    throw new Error(`config.json: "${key}" is ${JSON.stringify(v)}; supported: ${SUPPORTED_ACTIVATIONS.join(', ')}`);
  }
  return v as Activation;
}

/** Fields every family reads the same way. */
export const tail = (raw: Record<string, unknown>) => ({
  bosTokenId: tokenId(raw, 'bos_token_id'),
  eosTokenId: tokenId(raw, 'eos_token_id'),
  raw: { ...raw },
});
