/** In-process setup of the data-parallel tests: a tiny project, its config, and policies built through the plugin path. */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { prepareExperiment, type PreparedExperiment } from '../../core/config/prepare.js';
import { buildPluginContext, create } from '../../core/di/container.js';
import type { SlotConfig } from '../../core/config/schema.js';
import type { Policy } from '../../core/interfaces/policy.js';
import type { Optimiser } from '../../core/interfaces/optimiser.js';
import type { MemoryStrategy } from '../../core/interfaces/memory.js';
import { builtinPlugins } from '../../plugins/index.js';
import { initBackend } from '../../core/model/wasm/backend.js';
import { tinyExperiment, tinyProject } from '../helpers/tiny-project.js';

/** A tiny project (2-layer GPT-2, d 32, byte vocabulary) and its validated config with `over` merged in. */
export async function tinySetup(over: Record<string, unknown> = {}): Promise<{ dir: string; prepared: PreparedExperiment }> {
  const dir = await tinyProject((p) => tinyExperiment(p, over));
  const prepared = await prepareExperiment({ file: path.join(dir, '.detoxrc.json'), builtins: builtinPlugins });
  return { dir, prepared };
}

/** Main-thread policy, optimiser and memory strategies, built as the composition root builds them. */
export async function buildMain(
  prepared: PreparedExperiment,
  dir: string,
): Promise<{ policy: Policy; optimiser: Optimiser; memory: MemoryStrategy[] }> {
  const cfg = prepared.config;
  if (tf.getBackend() !== cfg.backend) {
    tf.env().set('PROD', true);
    await initBackend(cfg.backend, { matmul: cfg.matmul });
  }
  const { strategies, ctx } = await buildPluginContext(cfg, prepared.registry, { configDir: dir, log: () => {} });
  const policy = await create(prepared.registry, 'policy', cfg.policy as SlotConfig, ctx);
  const optimiser = await create(prepared.registry, 'optimiser', cfg.optimiser as SlotConfig, ctx);
  return { policy, optimiser, memory: strategies };
}

/** A fixed PPO batch over the byte vocabulary: `B` queries and responses of varied lengths, and raw scores. */
export function fixedBatch(B: number): { queries: number[][]; responses: number[][]; scores: number[] } {
  const queries = Array.from({ length: B }, (_, i) => Array.from({ length: 4 + (i % 3) }, (_, t) => 97 + ((i * 7 + t * 3) % 26)));
  const responses = Array.from({ length: B }, (_, i) => Array.from({ length: 3 + ((i * 5) % 4) }, (_, t) => 65 + ((i * 11 + t * 5) % 26)));
  const scores = Array.from({ length: B }, (_, i) => Math.sin(i + 1) * 2);
  return { queries, responses, scores };
}

/** Largest |a − b| / (|b| + abs) over the keys both share; NaN on both sides counts as equal. */
export function worstRelative(
  a: Record<string, number>,
  b: Record<string, number>,
  keys: string[],
  abs = 1e-6,
): { key: string; err: number } {
  let worst = { key: '', err: 0 };
  for (const k of keys) {
    const x = a[k]!;
    const y = b[k]!;
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    const err = Math.abs(x - y) / (Math.abs(y) + abs);
    if (!(err <= worst.err)) worst = { key: k, err };
  }
  return worst;
}

/** Largest absolute difference between two policies' trainable weights. */
export function maxWeightDiff(a: Policy, b: Policy): number {
  const va = a.trainableVariables();
  const vb = b.trainableVariables();
  let worst = 0;
  va.forEach((v, i) => {
    const x = v.dataSync();
    const y = vb[i]!.dataSync();
    for (let j = 0; j < x.length; j++) worst = Math.max(worst, Math.abs(x[j]! - y[j]!));
  });
  return worst;
}
