import * as tf from '@tensorflow/tfjs';
import type { Optimiser, OptimiserState } from '../interfaces/optimiser.js';
import { scheduleMultiplier, validateSchedule, type ScheduleOptions } from './schedule.js';
import { torchAdamUpdate } from '../model/wasm/fused-adam.js';

/** Settings shared by Adam and AdamW (PyTorch's names, camelCased). */
export interface AdamOptions {
  /** Base learning rate (before the schedule's multiplier). TRL's default is 1.41e-5. */
  learningRate: number;
  /** Decay rates of the first and second moment estimates, each in [0, 1). */
  betas: readonly [number, number];
  /** Added to √v̂ (outside the square root, as in PyTorch). */
  eps: number;
  /** Adam: L2 penalty added to the gradient. AdamW: decoupled decay `lr · wd` of the weights. */
  weightDecay: number;
  /** Learning-rate schedule, advanced by `advanceSchedule()`; default constant. */
  schedule?: ScheduleOptions;
}

/** Moment buffers and step count of one variable (PyTorch's per-parameter `state`). */
interface Slot {
  /** First moment, PyTorch's `exp_avg`. */
  m: tf.Variable;
  /** Second moment, PyTorch's `exp_avg_sq`. */
  v: tf.Variable;
  /** Updates applied to this variable (PyTorch's per-parameter `step`). */
  step: number;
}

const CONSTANT: ScheduleOptions = { kind: 'constant', warmupSteps: 0, totalSteps: 1 };
let instances = 0;

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * Adam as `torch.optim.Adam` computes it (torch 1.13, single-tensor path, amsgrad and maximize off),
 * per variable, with `t` the variable's step count after incrementing:
 *
 * ```
 * g ← g + wd · θ                                   (Adam only, when wd ≠ 0)
 * θ ← θ · (1 − lr · wd)                            (AdamW only, before the update)
 * m ← β₁ m + (1 − β₁) g
 * v ← β₂ v + (1 − β₂) g²
 * θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + eps)
 * ```
 *
 * The bias corrections and step size are computed in double precision and enter as float32
 * scalars, like PyTorch's Python-float arguments. Moments are `tf.Variable`s keyed by the
 * variable's name, created (zero) the first time a variable is updated; `lr` is the base rate
 * times the schedule's multiplier (see schedule.ts), advanced once per PPO step.
 * Shape comments write `[S]` for the shape of the variable being updated.
 */
export class Adam implements Optimiser {
  readonly name: string;
  private readonly opts: Required<AdamOptions>;
  private readonly slots = new Map<string, Slot>();
  /** Prefix for the moment variables' names (tf.js variable names are global). */
  private readonly id: string;
  private applied = 0;
  private scheduleSteps = 0;

  /** `decoupled` selects AdamW's weight decay; prefer the `AdamW` class. */
  constructor(
    options: AdamOptions,
    protected readonly decoupled = false,
  ) {
    this.name = decoupled ? 'adamw' : 'adam';
    this.opts = { ...options, schedule: options.schedule ?? CONSTANT };
    validateAdamOptions(this.opts, this.name);
    this.id = `${this.name}#${++instances}`;
  }

  learningRate(): number {
    return this.opts.learningRate * scheduleMultiplier(this.opts.schedule, this.scheduleSteps);
  }

  advanceSchedule(): void {
    this.scheduleSteps += 1;
  }

  apply(vars: readonly tf.Variable[], grads: readonly tf.Tensor[]): void {
    if (vars.length !== grads.length) {
      throw new Error(`${this.name}.apply: got ${vars.length} variables but ${grads.length} gradients; they must pair up`);
    }
    const seen = new Set<string>();
    vars.forEach((p, i) => {
      const g = grads[i]!;
      if (seen.has(p.name)) throw new Error(`${this.name}.apply: variable "${p.name}" appears twice`);
      seen.add(p.name);
      if (p.dtype !== 'float32') throw new Error(`${this.name}.apply: variable "${p.name}" is ${p.dtype}; only float32 is supported`);
      if (!sameShape(p.shape, g.shape)) {
        throw new Error(`${this.name}.apply: gradient for "${p.name}" has shape [${g.shape}] but the variable is [${p.shape}]`);
      }
    });
    const slots = vars.map((p) => this.slotFor(p));
    const lr = this.learningRate();
    const [beta1, beta2] = this.opts.betas;
    const { eps, weightDecay: wd } = this.opts;
    // One tidy per variable, so a large model never holds every variable's temporaries at once.
    vars.forEach((p, i) => {
      const slot = slots[i]!;
      slot.step += 1;
      const t = slot.step;
      const stepSize = lr / (1 - beta1 ** t);
      const bc2Sqrt = Math.sqrt(1 - beta2 ** t);
      // The wasm backend runs the same float32 operations in one pass (bit-identical; ~10x less memory traffic).
      const l2 = !this.decoupled ? wd : 0;
      const decay = this.decoupled && lr * wd !== 0 ? 1 - lr * wd : 1;
      if (torchAdamUpdate(p, grads[i]!, slot.m, slot.v, { l2, decay, beta1, beta2, bc2Sqrt, eps, stepSize })) return;
      tf.tidy(() => {
        let g = grads[i]!.asType('float32'); // [S]
        let theta: tf.Tensor = p; // [S]
        if (!this.decoupled && wd !== 0) g = tf.add(g, tf.mul(tf.scalar(wd), theta)); // [S]
        if (this.decoupled && lr * wd !== 0) theta = tf.mul(theta, tf.scalar(1 - lr * wd)); // [S]
        const m = tf.add(tf.mul(slot.m, tf.scalar(beta1)), tf.mul(tf.scalar(1 - beta1), g)); // [S]
        const v = tf.add(tf.mul(slot.v, tf.scalar(beta2)), tf.mul(tf.mul(tf.scalar(1 - beta2), g), g)); // [S]
        const denom = tf.add(tf.div(tf.sqrt(v), tf.scalar(bc2Sqrt)), tf.scalar(eps)); // [S]
        const next = tf.add(theta, tf.div(tf.mul(tf.scalar(-stepSize), m), denom)); // [S]
        slot.m.assign(m);
        slot.v.assign(v);
        p.assign(next);
      });
    });
    this.applied += 1;
  }

  /**
   * Plain copies of the state: `step` = apply() calls, `scalars.scheduleStep`, and per variable
   * `arrays["<name>/m"]`, `arrays["<name>/v"]` (float32) and `scalars["<name>/step"]`.
   * Hyperparameters are not included; they come from the config.
   */
  getState(): OptimiserState {
    const scalars: Record<string, number> = { scheduleStep: this.scheduleSteps };
    const arrays: OptimiserState['arrays'] = {};
    for (const [name, slot] of this.slots) {
      scalars[`${name}/step`] = slot.step;
      arrays[`${name}/m`] = { shape: [...slot.m.shape], data: (slot.m.dataSync() as Float32Array).slice() };
      arrays[`${name}/v`] = { shape: [...slot.v.shape], data: (slot.v.dataSync() as Float32Array).slice() };
    }
    return { step: this.applied, scalars, arrays };
  }

  /**
   * Restores a `getState()` result (bit for bit). `vars` are the variables the state belongs to;
   * every stored moment must name one of them with the same shape. Variables without stored
   * moments start fresh, as they would have. The arrays are copied, not kept.
   */
  setState(state: OptimiserState, vars: readonly tf.Variable[]): void {
    const where = `${this.name}.setState`;
    const byName = new Map(vars.map((p) => [p.name, p]));
    const isCount = (x: unknown, min: number): x is number => typeof x === 'number' && Number.isInteger(x) && x >= min;
    if (!isCount(state.step, 0)) throw new Error(`${where}: step must be an integer ≥ 0 (got ${state.step})`);
    const scheduleStep = state.scalars['scheduleStep'];
    if (!isCount(scheduleStep, 0)) {
      throw new Error(`${where}: scalars.scheduleStep must be an integer ≥ 0 (got ${scheduleStep})`);
    }
    const names = new Set<string>();
    for (const key of Object.keys(state.arrays)) {
      const m = /^(.*)\/(m|v)$/.exec(key);
      if (!m) throw new Error(`${where}: arrays key "${key}" must be "<variable name>/m" or "<variable name>/v"`);
      names.add(m[1]!);
    }
    for (const key of Object.keys(state.scalars)) {
      if (key === 'scheduleStep') continue;
      const m = /^(.*)\/step$/.exec(key);
      if (!m) throw new Error(`${where}: scalars key "${key}" must be "scheduleStep" or "<variable name>/step"`);
      names.add(m[1]!);
    }
    for (const name of names) {
      const p = byName.get(name);
      if (!p) throw new Error(`${where}: state has moments for variable "${name}", which is not among the ${vars.length} variables given`);
      const step = state.scalars[`${name}/step`];
      if (!isCount(step, 1)) throw new Error(`${where}: scalars["${name}/step"] must be an integer ≥ 1 (got ${step})`);
      for (const k of ['m', 'v'] as const) {
        const a = state.arrays[`${name}/${k}`];
        if (!a) throw new Error(`${where}: arrays["${name}/${k}"] is missing`);
        if (!sameShape(a.shape, p.shape)) {
          throw new Error(`${where}: arrays["${name}/${k}"] has shape [${a.shape}] but variable "${name}" is [${p.shape}]`);
        }
        if (!(a.data instanceof Float32Array) || a.data.length !== p.size) {
          throw new Error(`${where}: arrays["${name}/${k}"].data must be a Float32Array of ${p.size} values`);
        }
      }
    }
    this.disposeSlots();
    for (const name of names) {
      const p = byName.get(name)!;
      const load = (k: 'm' | 'v') => this.moment(name, k, p.shape, state.arrays[`${name}/${k}`]!.data);
      this.slots.set(name, { m: load('m'), v: load('v'), step: state.scalars[`${name}/step`]! });
    }
    this.applied = state.step;
    this.scheduleSteps = scheduleStep;
  }

  dispose(): void {
    this.disposeSlots();
  }

  private disposeSlots(): void {
    for (const s of this.slots.values()) {
      s.m.dispose();
      s.v.dispose();
    }
    this.slots.clear();
  }

  /** The variable's moments, created as zeros on first use. */
  private slotFor(p: tf.Variable): Slot {
    let slot = this.slots.get(p.name);
    if (!slot) {
      slot = { m: this.moment(p.name, 'm', p.shape), v: this.moment(p.name, 'v', p.shape), step: 0 };
      this.slots.set(p.name, slot);
    }
    return slot;
  }

  /** A moment variable of `shape`, holding a copy of `data` (zeros without it). */
  private moment(name: string, k: 'm' | 'v', shape: readonly number[], data?: Float32Array): tf.Variable {
    const init = data ? tf.tensor(new Float32Array(data), [...shape], 'float32') : tf.zeros([...shape], 'float32'); // [S]
    const variable = tf.variable(init, false, `${this.id}/${name}/${k}`);
    init.dispose();
    return variable;
  }
}

/** AdamW as `torch.optim.AdamW` computes it: Adam with decoupled weight decay (see `Adam`). */
export class AdamW extends Adam {
  constructor(options: AdamOptions) {
    super(options, true);
  }
}

/** Throws on settings PyTorch would reject (and a few it would not, like NaN); messages name the field. */
function validateAdamOptions(o: Required<AdamOptions>, where = 'adam'): void {
  if (!Number.isFinite(o.learningRate) || o.learningRate < 0) {
    throw new Error(`${where}: learningRate must be a finite number ≥ 0 (got ${o.learningRate})`);
  }
  if (!Array.isArray(o.betas) || o.betas.length !== 2) {
    throw new Error(`${where}: betas must be two numbers [beta1, beta2] (got ${JSON.stringify(o.betas)})`);
  }
  o.betas.forEach((b, i) => {
    if (!(b >= 0 && b < 1)) throw new Error(`${where}: betas[${i}] must be in [0, 1) (got ${b})`);
  });
  if (!Number.isFinite(o.eps) || o.eps < 0) throw new Error(`${where}: eps must be a finite number ≥ 0 (got ${o.eps})`);
  if (!Number.isFinite(o.weightDecay) || o.weightDecay < 0) {
    throw new Error(`${where}: weightDecay must be a finite number ≥ 0 (got ${o.weightDecay})`);
  }
  validateSchedule(o.schedule, `${where}: schedule`);
}
