/**
 * Adam with the whole per-variable update in one SIMD pass on the wasm backend (tfjs's AdamOptimizer runs ~12
 * element-wise ops per variable). Same state, same math, same serialisation as tf.train.adam — the update is
 * w ← w - lr·m̂/(sqrt(v̂) + eps) with bias-corrected moments (PyTorch's Adam) — and it falls back to the stock
 * implementation on other backends.
 */
import * as tf from '@tensorflow/tfjs';
import { allocOutput, heapOffset, type WasmBackendLike } from './kernels.js';
import { wasmKernels } from './simd.js';

/** A named gradient (tfjs's NamedTensor). */
interface NamedGrad {
  name: string;
  tensor: tf.Tensor;
}

/** The private state of tfjs's AdamOptimizer this class shares. */
interface AdamInternals {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: { originalName: string; variable: tf.Variable }[];
  accumulatedSecondMoment: { originalName: string; variable: tf.Variable }[];
}

/** Drop-in replacement for `tf.train.adam(lr, beta1, beta2, eps)`. */
export class FusedAdam extends tf.AdamOptimizer {
  constructor(learningRate: number, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8) {
    super(learningRate, beta1, beta2, epsilon);
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | NamedGrad[]): void {
    const backend = tf.getBackend() === 'wasm' ? (tf.backend() as unknown as WasmBackendLike) : undefined;
    const k = backend ? wasmKernels(backend) : undefined;
    const list: NamedGrad[] = Array.isArray(variableGradients)
      ? variableGradients
      : Object.keys(variableGradients).map((name) => ({ name, tensor: variableGradients[name]! }));
    const map = backend?.dataIdMap as unknown as { has(id: object): boolean } | undefined;
    const registered = tf.engine().registeredVariables;
    const usable = k && list.every(({ name, tensor }) => tensor == null
      || (tensor.dtype === 'float32' && map!.has(tensor.dataId) && registered[name] && map!.has(registered[name]!.dataId)));
    if (!usable) {
      super.applyGradients(variableGradients as Parameters<tf.AdamOptimizer['applyGradients']>[0]);
      return;
    }
    const self = this as unknown as AdamInternals;
    const t = this.iterations + 1;
    const bc1 = 1 - this.beta1 ** t;
    const bc2 = 1 - this.beta2 ** t;
    list.forEach(({ name, tensor: grad }, i) => {
      const value = registered[name]!;
      if (self.accumulatedFirstMoment[i] == null) {
        self.accumulatedFirstMoment[i] = { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
      }
      if (self.accumulatedSecondMoment[i] == null) {
        self.accumulatedSecondMoment[i] = { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
      }
      if (grad == null) return;
      const m = self.accumulatedFirstMoment[i]!.variable;
      const v = self.accumulatedSecondMoment[i]!.variable;
      if (grad.size !== value.size) throw new Error(`FusedAdam: gradient of ${name} has ${grad.size} values, the variable ${value.size}`);
      // Moments are private to the optimizer and updated in place; the weight gets a new tensor (other tensors,
      // e.g. a reference model's copy, may share its data).
      const info = allocOutput(backend!, value.shape, 'float32', `Adam update of ${name}`);
      k!.adam(heapOffset(backend!, value), heapOffset(backend!, grad), heapOffset(backend!, m), heapOffset(backend!, v),
        heapOffset(backend!, info), value.size, this.learningRate, this.beta1, this.beta2, this.epsilon, bc1, bc2);
      const next = tf.engine().makeTensorFromTensorInfo(info);
      value.assign(next);
      next.dispose();
    });
    tf.tidy(() => {
      self.accBeta1.assign(tf.mul(self.accBeta1, this.beta1));
      self.accBeta2.assign(tf.mul(self.accBeta2, this.beta2));
    });
    this.incrementIterations();
  }
}

/** The float32 scalars of one torch.optim.Adam/AdamW update (see core/optim/adam.ts), as JS numbers. */
interface TorchAdamScalars {
  /** Adam's L2 penalty added to the gradient (0: none). */
  l2: number;
  /** AdamW's weight factor 1 − lr·wd applied before the update (1: none). */
  decay: number;
  beta1: number;
  beta2: number;
  /** √(1 − β₂ᵗ) */
  bc2Sqrt: number;
  eps: number;
  /** lr / (1 − β₁ᵗ) */
  stepSize: number;
}

/**
 * torch.optim.Adam's update of one variable in one SIMD pass on the wasm heap, bit for bit what core/optim/adam.ts's
 * tensor ops compute: m and v are updated in place (they must be the optimiser's private buffers) and the weight
 * gets a new tensor (other tensors, e.g. a reference model's copy, may share its data). Returns false, doing
 * nothing, when the wasm kernels cannot take it (another backend, kernels off, a non-float32 gradient); the caller
 * then runs the tensor ops.
 */
export function torchAdamUpdate(p: tf.Variable, grad: tf.Tensor, m: tf.Variable, v: tf.Variable, s: TorchAdamScalars): boolean {
  if (tf.getBackend() !== 'wasm' || grad.dtype !== 'float32' || p.dtype !== 'float32' || grad.size !== p.size) return false;
  const backend = tf.backend() as unknown as WasmBackendLike;
  const k = wasmKernels(backend);
  if (!k) return false;
  const info = allocOutput(backend, [...p.shape], 'float32', `Adam update of ${p.name}`);
  k.adam_torch(heapOffset(backend, p), heapOffset(backend, grad), heapOffset(backend, m), heapOffset(backend, v),
    heapOffset(backend, info), p.size, s.l2 !== 0 ? 1 : 0, s.l2, s.decay, s.beta1, 1 - s.beta1, s.beta2, 1 - s.beta2,
    s.bc2Sqrt, s.eps, -s.stepSize);
  const next = tf.engine().makeTensorFromTensorInfo(info);
  p.assign(next);
  next.dispose();
  return true;
}
