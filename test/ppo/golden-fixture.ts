/**
 * Loader and comparison helpers for the PPO golden vectors (test/fixtures/ppo/golden.json, produced by
 * running TRL v0.11.4's own functions in float64 with torch 1.13).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { bt, btv, type Float64BT, type Float64BTV } from '../../core/ppo/arrays.js';

export type Nested = number | Nested[];

export interface GoldenConfig {
  kl_penalty: 'kl' | 'abs' | 'mse' | 'full';
  adap_kl_ctrl: boolean;
  init_kl_coef: number;
  target: number;
  horizon: number;
  gamma: number;
  lam: number;
  cliprange: number;
  cliprange_value: number;
  vf_coef: number;
  whiten_rewards: boolean;
  ratio_threshold: number;
  batch_size: number;
  mini_batch_size: number;
}

export interface GoldenCase {
  name: string;
  tolerance_note: string;
  config: GoldenConfig;
  inputs: Record<'logits' | 'ref_logits' | 'new_logits' | 'labels' | 'values' | 'vpreds' | 'mask', Nested[]> & { scores: number[] };
  core: Record<string, Record<string, Nested>>;
  compute_rewards: Record<string, { kl_coef: number; rewards: Nested[]; non_score_reward: Nested[]; kls: Nested[] }>;
  compute_advantages: Record<string, Nested> & { kl_penalty_used: string };
  loss: {
    inputs: Record<string, Nested[]>;
    pg_loss: number;
    vf_loss_times_vf_coef: number;
    stats: Record<string, Nested>;
    ratio_threshold_probe?: Record<string, number>;
  };
  record_step_stats: {
    note: string;
    scalars: Record<string, number>;
    arrays: Record<string, Nested[]>;
    kl_ctl_value_before: number;
    kl_ctl_update_n_steps: number;
    kl_ctl_value_after: number;
  };
}

export interface Golden {
  source: Record<string, unknown>;
  cases: GoldenCase[];
  adaptive_kl_controller: {
    init_kl_coef: number;
    target: number;
    horizon: number;
    updates: { current: number; n_steps: number; value_before: number; value_after: number }[];
  }[];
  fixed_kl_controller: { init_kl_coef: number; after_update: number };
  running_moments_float32: {
    scores: number[];
    returned_batch_mean_std: [number, number];
    mean: number;
    std: number;
    var: number;
    count: number;
    scaled_use_score_scaling: number[];
    scaled_use_score_norm: number[];
  }[];
  length_sampler: Record<string, number[]>;
}

/** Path of a PPO fixture (ava runs with cwd = project root). */
export function ppoFixture(name: string): string {
  return path.resolve(process.cwd(), 'test/fixtures/ppo', name);
}

export function loadGolden(): Golden {
  return JSON.parse(fs.readFileSync(ppoFixture('golden.json'), 'utf8')) as Golden;
}

/** Flattens nested lists row-major. */
export function flat(x: Nested | ArrayLike<number>): number[] {
  if (typeof x === 'number') return [x];
  if (!Array.isArray(x)) return Array.from(x as ArrayLike<number>);
  return (x as Nested[]).flatMap((e) => flat(e));
}

export const toBT = (x: Nested[]): Float64BT => bt(x as number[][]);
export const toBTV = (x: Nested[]): Float64BTV => btv(x as number[][][]);

/** Tolerances: |actual − expected| ≤ abs + rel·|expected|. */
export interface Tol {
  abs: number;
  rel: number;
}

/** float64-derived golden values (brief bound: ≤ 1e-6; we hold them far tighter). */
export const F64: Tol = { abs: 1e-10, rel: 1e-10 };
/** float32 quantities in TRL (clipfrac, tokens/*, RunningMoments). */
export const F32: Tol = { abs: 0, rel: 1e-7 };

export function isClose(actual: number, expected: number, tol: Tol): boolean {
  if (Number.isNaN(expected)) return Number.isNaN(actual);
  return Math.abs(actual - expected) <= tol.abs + tol.rel * Math.abs(expected);
}

/** Asserts elementwise closeness (same length), reporting the worst element. */
export function assertClose(
  t: ExecutionContext,
  actual: Nested | ArrayLike<number>,
  expected: Nested | ArrayLike<number>,
  tol: Tol,
  label: string,
): void {
  const a = flat(actual as Nested);
  const e = flat(expected as Nested);
  if (a.length !== e.length) {
    t.fail(`${label}: length ${a.length} != expected ${e.length}`);
    return;
  }
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < a.length; i++) {
    if (!isClose(a[i], e[i], tol)) {
      const excess = Math.abs(a[i] - e[i]) / (tol.abs + tol.rel * Math.abs(e[i]) || 1e-300);
      if (worst < 0 || excess > worstExcess || Number.isNaN(excess)) {
        worst = i;
        worstExcess = excess;
      }
    }
  }
  if (worst >= 0) {
    t.fail(`${label}: element ${worst} is ${a[worst]}, expected ${e[worst]} (tol abs ${tol.abs}, rel ${tol.rel})`);
  } else {
    t.pass(label);
  }
}
