/**
 * One whole pre-LayerNorm transformer block as a single differentiable op on the wasm backend: the forward runs
 * LayerNorm, the fused q|k|v product, attention, the output projection, LayerNorm, the MLP with tanh-GELU and both
 * residual adds as direct kernel calls, and the backward is written out by hand (the same chain rule autodiff
 * would apply to the ops of transformer.ts, without ~40 tfjs ops and tape entries per block). It saves the same
 * activations autodiff would; the block boundary is where activation recomputation can later hook in.
 */
import * as tf from '@tensorflow/tfjs';
import type { TransformerConfig } from './arch/hf-config.js';
import type { AttentionContext, BlockWeights } from './block-types.js';
import { activeKernels, attentionBackwardRaw, attentionForwardRaw, customOp, newTensor, onHeap, rawAttention } from './wasm/fused-ops.js';
import { heapOffset } from './wasm/kernels.js';
import { fastColSum, fastGemm, fastGemmNT } from './wasm/simd.js';

const GELU_ACTIVATIONS = new Set(['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast']);
let enabled = true;

/** Enables or disables the whole-block op (A/B measurements); returns the previous setting. */
export function setFusedBlockEnabled(on: boolean): boolean {
  const prev = enabled;
  enabled = on;
  return prev;
}

/**
 * The block as one fused op, or undefined when it does not apply (other backend, no gradient-free shapes,
 * activation other than tanh-GELU) — the caller then runs the composite block.
 * @param x [B*T, d]
 * @returns [B*T, d]
 */
export function fusedBlock(
  cfg: TransformerConfig,
  layer: number,
  w: BlockWeights,
  x: tf.Tensor2D,
  ctx: AttentionContext,
): tf.Tensor2D | undefined {
  const env = activeKernels();
  const d = cfg.dModel;
  const ff = cfg.dInner;
  const H = cfg.nHeads;
  const hd = d / H;
  const { batch: B, queryLen: T, keyLen: Tk } = ctx;
  if (!enabled || !env || T !== Tk || hd % 4 !== 0 || d % 4 !== 0 || ff % 4 !== 0 || !GELU_ACTIVATIONS.has(cfg.activation))
    return undefined;
  const bias = cfg.attentionTypes[layer] === 'local' ? ctx.localBias! : ctx.globalBias;
  // GPT-J's parallel block, OPT's post-LN block and BLOOM's per-head ALiBi biases run composite.
  if (!w.outB || !w.ln2G || !w.ln2B || !w.fcB || !w.projB || ctx.rotary || cfg.postLayerNorm || bias.shape[1] !== 1) return undefined;
  const weights: tf.Tensor[] = [w.ln1G, w.ln1B, w.qkvW, w.outW, w.outB, w.ln2G, w.ln2B, w.fcW, w.fcB, w.projW, w.projB];
  const hasQkvBias = w.qkvB !== undefined;
  if (hasQkvBias) weights.push(w.qkvB!);
  const { backend, k } = env;
  if (!onHeap(backend, x, bias, ...weights)) return undefined;
  let scale = cfg.scaleAttention ? 1 / Math.sqrt(hd) : 1;
  if (cfg.scaleByInverseLayerIdx) scale /= layer + 1;
  const N = B * T;
  const eps = cfg.layerNormEps;
  const o = (t: tf.Tensor) => heapOffset(backend, t);
  const heap = () => new Float32Array(backend.wasm.HEAPU8.buffer);
  const copy = (dst: number, src: number, n: number) => heap().copyWithin(dst >> 2, src >> 2, (src >> 2) + n);
  const g = rawAttention(backend, { batch: B, queryLen: T, keyLen: Tk, nHeads: H, headDim: hd, scale, bias });

  const op = customOp((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const [xi, ln1G, ln1B, qkvW, outW, outB, ln2G, ln2B, fcW, fcB, projW, projB, qkvB] = args.slice(0, -1) as (tf.Tensor | undefined)[];
    const h1 = newTensor(backend, [N, d], 'block ln1'); // [N, d]
    const st1 = newTensor(backend, [N, 2], 'block ln1 stats'); // [N, 2]
    const qkv = newTensor(backend, [N, 3 * d], 'block qkv'); // [N, 3d]
    const probs = newTensor(backend, [B, H, T, T], 'block attention probabilities'); // [B, H, T, T]
    const att = newTensor(backend, [N, d], 'block attention'); // [N, d]
    const x1 = newTensor(backend, [N, d], 'block residual'); // [N, d]
    const h2 = newTensor(backend, [N, d], 'block ln2'); // [N, d]
    const st2 = newTensor(backend, [N, 2], 'block ln2 stats'); // [N, 2]
    const f = newTensor(backend, [N, ff], 'block mlp pre-activation'); // [N, ff]
    const gl = newTensor(backend, [N, ff], 'block mlp activation'); // [N, ff]
    const y = newTensor(backend, [N, d], 'block output'); // [N, d]
    k.layernorm_fwd(o(xi!), o(ln1G!), o(ln1B!), h1.off, st1.off, N, d, eps);
    fastGemm(backend, h1.off, o(qkvW!), qkv.off, 1, N, d, 3 * d, 0, 0, { bias: qkvB ? o(qkvB) : 0 });
    attentionForwardRaw(backend, k, g, qkv.off, probs.off, att.off);
    copy(x1.off, o(xi!), N * d);
    fastGemm(backend, att.off, o(outW!), x1.off, 1, N, d, d, 0, 0, { bias: o(outB!), accumulate: true });
    k.layernorm_fwd(x1.off, o(ln2G!), o(ln2B!), h2.off, st2.off, N, d, eps);
    fastGemm(backend, h2.off, o(fcW!), f.off, 1, N, d, ff, 0, 0, { bias: o(fcB!) });
    k.gelu_fwd(f.off, gl.off, N * ff);
    copy(y.off, x1.off, N * d);
    fastGemm(backend, gl.off, o(projW!), y.off, 1, N, ff, d, 0, 0, { bias: o(projB!), accumulate: true });
    save([xi!, ln1G!, qkvW!, outW!, ln2G!, fcW!, projW!, h1.t, st1.t, qkv.t, probs.t, att.t, x1.t, h2.t, st2.t, f.t, gl.t]);
    return {
      value: y.t,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sg1, sW1, sWo, sg2, sWfc, sWp, sh1, sst1, sqkv, sprobs, satt, sx1, sh2, sst2, sf, sgl] = saved as tf.Tensor[];
        const dyc = onHeap(backend, dy) ? dy : tf.add(dy, 0); // [N, d]
        const gy = o(dyc);
        const dProjW = newTensor(backend, [ff, d], 'grad proj'); // [ff, d]
        const dProjB = newTensor(backend, [d], 'grad proj bias'); // [d]
        const dF = newTensor(backend, [N, ff], 'grad mlp'); // [N, ff]
        const dFcW = newTensor(backend, [d, ff], 'grad fc'); // [d, ff]
        const dFcB = newTensor(backend, [ff], 'grad fc bias'); // [ff]
        const dH = newTensor(backend, [N, d], 'grad normed'); // [N, d] (dh2, then dh1)
        const dX1 = newTensor(backend, [N, d], 'grad residual'); // [N, d]
        const dLn2G = newTensor(backend, [d], 'grad ln2'); // [d]
        const dLn2B = newTensor(backend, [d], 'grad ln2 bias'); // [d]
        const dOutW = newTensor(backend, [d, d], 'grad out'); // [d, d]
        const dOutB = newTensor(backend, [d], 'grad out bias'); // [d]
        const dAtt = newTensor(backend, [N, d], 'grad attention'); // [N, d]
        const dQkv = newTensor(backend, [N, 3 * d], 'grad qkv'); // [N, 3d]
        const dQkvW = newTensor(backend, [d, 3 * d], 'grad qkv weight'); // [d, 3d]
        const dQkvB = newTensor(backend, [3 * d], 'grad qkv bias'); // [3d]
        const dX = newTensor(backend, [N, d], 'grad input'); // [N, d]
        const dLn1G = newTensor(backend, [d], 'grad ln1'); // [d]
        const dLn1B = newTensor(backend, [d], 'grad ln1 bias'); // [d]
        // MLP: y = x1 + gelu(h2·Wfc + bfc)·Wp + bp
        fastGemm(backend, o(sgl!), gy, dProjW.off, 1, ff, N, d, 0, 0, { transA: true }); // glᵀ·dy
        fastColSum(backend, gy, dProjB.off, N, d);
        fastGemmNT(backend, gy, o(sWp!), dF.off, 1, N, d, ff, 0, 0); // dy·Wpᵀ
        k.gelu_bwd(o(sf!), dF.off, dF.off, N * ff);
        fastGemm(backend, o(sh2!), dF.off, dFcW.off, 1, d, N, ff, 0, 0, { transA: true }); // h2ᵀ·df
        fastColSum(backend, dF.off, dFcB.off, N, ff);
        fastGemmNT(backend, dF.off, o(sWfc!), dH.off, 1, N, ff, d, 0, 0); // df·Wfcᵀ
        k.layernorm_bwd(o(sx1!), o(sg2!), dH.off, o(sst2!), dX1.off, dLn2G.off, dLn2B.off, N, d);
        k.add_inplace(dX1.off, gy, N * d); // residual
        // Attention: x1 = x + attn(ln1(x))·Wo + bo
        fastGemm(backend, o(satt!), dX1.off, dOutW.off, 1, d, N, d, 0, 0, { transA: true }); // attᵀ·dx1
        fastColSum(backend, dX1.off, dOutB.off, N, d);
        fastGemmNT(backend, dX1.off, o(sWo!), dAtt.off, 1, N, d, d, 0, 0); // dx1·Woᵀ
        attentionBackwardRaw(backend, k, g, o(sqkv!), o(sprobs!), dAtt.off, dQkv.off);
        fastGemm(backend, o(sh1!), dQkv.off, dQkvW.off, 1, d, N, 3 * d, 0, 0, { transA: true }); // h1ᵀ·dqkv
        fastColSum(backend, dQkv.off, dQkvB.off, N, 3 * d);
        fastGemmNT(backend, dQkv.off, o(sW1!), dH.off, 1, N, 3 * d, d, 0, 0); // dqkv·W1ᵀ
        k.layernorm_bwd(o(sx!), o(sg1!), dH.off, o(sst1!), dX.off, dLn1G.off, dLn1B.off, N, d);
        k.add_inplace(dX.off, dX1.off, N * d); // residual
        tf.dispose([dF.t, dH.t, dX1.t, dAtt.t, dQkv.t]);
        const grads = [dX.t, dLn1G.t, dLn1B.t, dQkvW.t, dOutW.t, dOutB.t, dLn2G.t, dLn2B.t, dFcW.t, dFcB.t, dProjW.t, dProjB.t];
        if (hasQkvBias) grads.push(dQkvB.t);
        else dQkvB.t.dispose();
        return grads;
      },
    };
  });
  return op(x, ...weights) as tf.Tensor2D;
}
