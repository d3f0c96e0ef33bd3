/**
 * Gradient checkpointing of one transformer block: the forward keeps only the block's input (and the weights and
 * attention biases it already references); the backward runs the block again under a fresh tape and differentiates
 * it with the incoming gradient. The recomputation runs the same ops on the same inputs, so gradients are
 * bit-identical to those of the plain block.
 */
import * as tf from '@tensorflow/tfjs';

const WEIGHT_KEYS = ['ln1G', 'ln1B', 'qkvW', 'qkvB', 'outW', 'outB', 'ln2G', 'ln2B', 'fcW', 'fcB', 'projW', 'projB'] as const;

/** A block's weights as this module sees them (transformer.ts's BlockWeights is one). */
type CheckpointWeights = Partial<Record<(typeof WEIGHT_KEYS)[number], tf.Tensor>>;

/** The tensors of the attention context the recomputation takes as inputs (transformer.ts's AttentionContext has them). */
interface CheckpointContext {
  globalBias: tf.Tensor4D;
  localBias?: tf.Tensor4D;
  rotary?: { cos: tf.Tensor3D; sin: tf.Tensor3D };
}

interface EngineState {
  activeTape: unknown;
  gradientDepth: number;
}
interface EngineLike {
  state: EngineState;
  gradients(
    f: () => tf.Tensor,
    xs: tf.Tensor[],
    dy?: tf.Tensor,
    allowNoGradients?: boolean,
  ): { value: tf.Tensor; grads: (tf.Tensor | undefined)[] };
}

/**
 * One block whose activations are recomputed in the backward pass.
 * @param block the block's forward (causal-lm.ts hands in transformer.ts's blockForward for one layer), run once
 *   forward and again in the backward, on `w`, `x` and `ctx` or on their saved copies
 * @param x [B*T, d]
 * @returns [B*T, d]
 */
export function checkpointedBlock<W extends CheckpointWeights, C extends CheckpointContext>(
  block: (w: W, x: tf.Tensor2D, ctx: C) => tf.Tensor2D,
  w: W,
  x: tf.Tensor2D,
  ctx: C,
): tf.Tensor2D {
  const keys = WEIGHT_KEYS.filter((k) => w[k] !== undefined);
  // The context's tensors (attention biases, rotary tables) are inputs too, so the backward still holds them.
  const biases: tf.Tensor[] = [
    ctx.globalBias,
    ...(ctx.localBias ? [ctx.localBias] : []),
    ...(ctx.rotary ? [ctx.rotary.cos, ctx.rotary.sin] : []),
  ];
  const nb = biases.length;
  const run = (inputs: readonly tf.Tensor[]): tf.Tensor2D => {
    const ws = Object.fromEntries(keys.map((k, j) => [k, inputs[1 + nb + j]])) as unknown as W;
    let next = 2;
    const localBias = ctx.localBias ? (inputs[next++] as tf.Tensor4D) : undefined;
    const rotary = ctx.rotary ? { cos: inputs[next++] as tf.Tensor3D, sin: inputs[next++] as tf.Tensor3D } : undefined;
    const c: C = { ...ctx, globalBias: inputs[1] as tf.Tensor4D, localBias, rotary };
    return block(ws, inputs[0] as tf.Tensor2D, c); // [B*T, d]
  };
  const forward = (...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const inputs = args.slice(0, -1) as tf.Tensor[];
    save(inputs);
    return {
      value: run(inputs), // [B*T, d] (ops inside a custom op's forward are not taped: nothing else is kept)
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const engine = tf.engine() as unknown as EngineLike;
        // A nested gradient computation starts a new tape when the depth is 0 and drops it at the end, which would
        // clobber the tape the outer backward is still walking: keep it and put it back.
        const outerTape = engine.state.activeTape;
        try {
          const xs = [saved[0]!, ...saved.slice(1 + nb)];
          const { value, grads } = engine.gradients(() => run(saved), xs, dy, true);
          value.dispose();
          const g = grads.map((gr, j) => gr ?? tf.zerosLike(xs[j]!));
          return [g[0]!, ...saved.slice(1, 1 + nb).map((b) => tf.zerosLike(b)), ...g.slice(1)];
        } finally {
          engine.state.activeTape = outerTape;
        }
      },
    };
  };
  const op = tf.customGrad(forward as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (...inputs: tf.Tensor[]) => tf.Tensor;
  return op(x, ...biases, ...keys.map((k) => w[k]!)) as tf.Tensor2D; // [B*T, d]
}
