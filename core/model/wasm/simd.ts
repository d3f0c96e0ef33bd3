/**
 * Hand-assembled WebAssembly SIMD kernels running directly on the tfjs wasm backend's heap (the module imports
 * the backend's memory, so tensors are read and written in place, no copies):
 *
 * - `gemm`: C = A·B (+ bias) for row-major B/C and any A strides (so A or Aᵀ), 4×8 register-blocked micro-kernel
 *   over a packed copy of A, column panels sized to stay in cache. Needs N % 4 == 0.
 * - `transpose`: blocked 2-D transpose.
 *
 * XNNPACK (the stock fast path) re-packs its weight operand on every new tensor and only takes untransposed,
 * unbatched products; these kernels cover every other product the engine runs.
 */
import { assembleModule, FnBuilder, I32, V128 } from './asm.js';
import { fusedKernelBuilders } from './fused.js';
import v8 from 'node:v8';
import { countingSubnormals, countProduct } from './subnormal-count.js';
import { activeNativeBlas, nativeMinMacs } from './native-matmul.js';
import type { WasmBackendLike } from './backend-like.js';

/** Raw exports of the kernel module (heap byte offsets; strides in elements). */
export interface KernelExports {
  gemm(a: number, b: number, c: number, bias: number, m: number, k: number, n: number, sAm: number, sAk: number,
    ldb: number, ldc: number, pack: number, nb: number, packB: number, bTrans: number, accum: number): void;
  transpose(src: number, dst: number, rows: number, cols: number): void;
  gemm_nt(a: number, b: number, c: number, bias: number, m: number, k: number, n: number, lda: number, ldb: number, ldc: number): void;
  softmax_rows(inp: number, out: number, rows: number, cols: number, ldi: number, ldo: number, scale: number, bias: number, ldb: number): void;
  softmax_bwd_rows(p: number, dp: number, ds: number, rows: number, cols: number, ldp: number, lddp: number, ldds: number, scale: number): void;
  layernorm_fwd(x: number, g: number, b: number, y: number, stats: number, rows: number, d: number, eps: number): void;
  layernorm_bwd(x: number, g: number, dy: number, stats: number, dx: number, dg: number, db: number, rows: number, d: number): void;
  gelu_fwd(x: number, y: number, n: number): void;
  gelu_bwd(x: number, dy: number, dx: number, n: number): void;
  row_max_sumexp(x: number, rows: number, cols: number, out: number): void;
  rows_scaled_exp(x: number, shift: number, coef: number, out: number, rows: number, cols: number): void;
  colsum(x: number, out: number, rows: number, cols: number): void;
  pack_panels(src: number, dst: number, k: number, n: number): void;
  add_inplace(y: number, x: number, n: number): void;
  adam(w: number, g: number, m: number, v: number, wOut: number, n: number, lr: number, beta1: number, beta2: number,
    eps: number, bc1: number, bc2: number): void;
  adam_torch(w: number, g: number, m: number, v: number, wOut: number, n: number, l2: number, wd: number, decay: number,
    b1: number, b1c: number, b2: number, b2c: number, bc2Sqrt: number, eps: number, negStep: number): void;
}

// ------------------------------------------------------------------------------------------------ gemm ---

function buildGemm(fma: boolean): FnBuilder {
  const f = new FnBuilder('gemm', [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const [a, b, c, bias, M, K, N, sAm, sAk, ldb, ldc, pack, nb, packB, bTrans, accum] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
  const col = f.local(I32), width = f.local(I32);
  const pbStep = f.local(I32);
  const i0 = f.local(I32), j0 = f.local(I32), jp = f.local(I32), jend = f.local(I32), jend8 = f.local(I32);
  const M4 = f.local(I32), pa = f.local(I32), paEnd = f.local(I32), pb = f.local(I32), pc = f.local(I32);
  const k = f.local(I32), src = f.local(I32), dst = f.local(I32), ldb4 = f.local(I32), ldc4 = f.local(I32), sAk4 = f.local(I32);
  const r = f.local(I32);
  const acc: number[][] = [0, 1, 2, 3].map(() => [f.local(V128), f.local(V128)]);
  const vb = [f.local(V128), f.local(V128)];
  const vbias = [f.local(V128), f.local(V128)];
  const s = f.local(V128);

  f.get(ldb).i32(4).mul().set(ldb4);
  f.get(ldc).i32(4).mul().set(ldc4);
  f.get(sAk).i32(4).mul().set(sAk4);
  f.get(M).i32(~3).and().set(M4);

  // Pack A rows i0..i0+3 as [k][4] blocks: pack + 16*K*(i0/4) + 16*k + 4*r.
  f.get(sAm).i32(1).eq().if(() => {
    // Aᵀ given (A stored [K, M]): the 4 values of a block at each k are contiguous.
    f.for(i0, () => f.i32(0), () => f.get(M4), 4, () => {
      f.get(a).get(i0).i32(4).mul().add().set(src);
      f.get(pack).get(K).get(i0).mul().i32(4).mul().add().set(dst);
      f.for(k, () => f.i32(0), () => f.get(K), 1, () => {
        f.get(dst).get(src).vload().vstore();
        f.get(src).get(sAk4).add().set(src);
        f.get(dst).i32(16).add().set(dst);
      });
    });
  }, () => {
    f.for(i0, () => f.i32(0), () => f.get(M4), 4, () => {
      f.for(r, () => f.i32(0), () => f.i32(4), 1, () => {
        // src = a + 4*((i0 + r) * sAm); dst = pack + 4*K*i0 + 4*r
        f.get(a).get(i0).get(r).add().get(sAm).mul().i32(4).mul().add().set(src);
        f.get(pack).get(K).get(i0).mul().i32(4).mul().add().get(r).i32(4).mul().add().set(dst);
        f.for(k, () => f.i32(0), () => f.get(K), 1, () => {
          f.get(dst).get(src).loadF().storeF();
          f.get(src).get(sAk4).add().set(src);
          f.get(dst).i32(16).add().set(dst);
        });
      });
    });
  });

  /** Loads the bias (or zeros) for columns j0..j0+4w into vbias. */
  const loadBias = (w: number) => {
    f.get(bias).eqz().if(() => {
      for (let x = 0; x < w; x++) f.vconst([0, 0, 0, 0]).set(vbias[x]!);
    }, () => {
      for (let x = 0; x < w; x++) f.get(bias).get(j0).i32(4).mul().add().vload(16 * x).set(vbias[x]!);
    });
  };

  /** Points pb at B's columns j0.. (packed panel when packB != 0) and sets the per-k step. */
  const setB = (w: number) => {
    f.get(packB).eqz().if(() => {
      f.get(b).get(j0).i32(4).mul().add().set(pb);
      f.get(ldb4).set(pbStep);
    }, () => {
      f.get(packB).get(j0).get(jp).sub().get(K).mul().i32(4).mul().add().set(pb);
      f.i32(16 * w).set(pbStep);
    });
  };

  /** 4-row micro-kernel over packed A for W vectors (8 or 4 columns) at column j0, rows i0..i0+3. */
  const kernel4 = (w: number) => {
    loadBias(w);
    for (let rr = 0; rr < 4; rr++) for (let x = 0; x < w; x++) f.get(vbias[x]!).set(acc[rr]![x]!);
    f.get(accum).if(() => {
      f.get(c).get(i0).get(ldc).mul().get(j0).add().i32(4).mul().add().set(pc);
      for (let rr = 0; rr < 4; rr++) {
        for (let x = 0; x < w; x++) f.get(acc[rr]![x]!).get(pc).vload(16 * x).vadd().set(acc[rr]![x]!);
        if (rr < 3) f.get(pc).get(ldc4).add().set(pc);
      }
    });
    f.get(pack).get(K).get(i0).mul().i32(4).mul().add().set(pa);
    f.get(pa).get(K).i32(16).mul().add().set(paEnd);
    setB(w);
    /** One k step reading A at pa + aOff and B at pb + bOff. */
    const step = (aOff: number, bOff: number) => {
      for (let x = 0; x < w; x++) f.get(pb).vload(bOff + 16 * x).set(vb[x]!);
      for (let rr = 0; rr < 4; rr++) {
        f.get(pa).vloadSplat(aOff + 4 * rr).set(s);
        for (let x = 0; x < w; x++) {
          if (fma) f.get(s).get(vb[x]!).get(acc[rr]![x]!).vmadd().set(acc[rr]![x]!);
          else f.get(acc[rr]![x]!).get(s).get(vb[x]!).vmul().vadd().set(acc[rr]![x]!);
        }
      }
    };
    f.for(pa, () => f.get(pa), () => f.get(paEnd), 16, () => {
      step(0, 0);
      f.get(pb).get(pbStep).add().set(pb);
    });
    // store rows
    f.get(c).get(i0).get(ldc).mul().get(j0).add().i32(4).mul().add().set(pc);
    for (let rr = 0; rr < 4; rr++) {
      for (let x = 0; x < w; x++) f.get(pc).get(acc[rr]![x]!).vstore(16 * x);
      if (rr < 3) f.get(pc).get(ldc4).add().set(pc);
    }
  };

  /** 1-row micro-kernel reading A directly (row i0) for W vectors at column j0. */
  const kernel1 = (w: number) => {
    loadBias(w);
    for (let x = 0; x < w; x++) f.get(vbias[x]!).set(acc[0]![x]!);
    f.get(accum).if(() => {
      f.get(c).get(i0).get(ldc).mul().get(j0).add().i32(4).mul().add().set(pc);
      for (let x = 0; x < w; x++) f.get(acc[0]![x]!).get(pc).vload(16 * x).vadd().set(acc[0]![x]!);
    });
    f.get(a).get(i0).get(sAm).mul().i32(4).mul().add().set(pa);
    setB(w);
    f.for(k, () => f.i32(0), () => f.get(K), 1, () => {
      f.get(pa).vloadSplat(0).set(s);
      for (let x = 0; x < w; x++) {
        if (fma) f.get(s).get(pb).vload(16 * x).get(acc[0]![x]!).vmadd().set(acc[0]![x]!);
        else f.get(acc[0]![x]!).get(s).get(pb).vload(16 * x).vmul().vadd().set(acc[0]![x]!);
      }
      f.get(pa).get(sAk4).add().set(pa);
      f.get(pb).get(pbStep).add().set(pb);
    });
    f.get(c).get(i0).get(ldc).mul().get(j0).add().i32(4).mul().add().set(pc);
    for (let x = 0; x < w; x++) f.get(pc).get(acc[0]![x]!).vstore(16 * x);
  };

  f.for(jp, () => f.i32(0), () => f.get(N), () => f.get(nb), () => {
    // jend = min(jp + nb, N); jend8 = jp + ((jend - jp) & ~7)
    f.get(jp).get(nb).add().get(N).get(jp).get(nb).add().get(N).ltS().select().set(jend);
    f.get(jp).get(jend).get(jp).sub().i32(~7).and().add().set(jend8);
    // Pack B[:, jp:jend] as 8-column micro-panels [k][8] (then one [k][4] panel): contiguous streams for the
    // micro-kernel and no cache-set conflicts from power-of-two row strides.
    f.get(packB).eqz().eqz().get(bTrans).i32(2).ne().and().if(() => {
      f.get(bTrans).eqz().if(() => {
        f.for(j0, () => f.get(jp), () => f.get(jend8), 8, () => {
          f.get(b).get(j0).i32(4).mul().add().set(src);
          f.get(packB).get(j0).get(jp).sub().get(K).mul().i32(4).mul().add().set(dst);
          f.for(k, () => f.i32(0), () => f.get(K), 1, () => {
            f.get(dst).get(src).vload().vstore();
            f.get(dst).get(src).vload(16).vstore(16);
            f.get(src).get(ldb4).add().set(src);
            f.get(dst).i32(32).add().set(dst);
          });
        });
        f.get(jend8).get(jend).ltS().if(() => {
          f.get(b).get(jend8).i32(4).mul().add().set(src);
          f.get(packB).get(jend8).get(jp).sub().get(K).mul().i32(4).mul().add().set(dst);
          f.for(k, () => f.i32(0), () => f.get(K), 1, () => {
            f.get(dst).get(src).vload().vstore();
            f.get(src).get(ldb4).add().set(src);
            f.get(dst).i32(16).add().set(dst);
          });
        });
      }, () => {
        // B given transposed ([N, K], row stride ldb): gather each column of the panel along k.
        f.for(j0, () => f.get(jp), () => f.get(jend), 8, () => {
          // width = 8, or 4 for the tail panel
          f.i32(8).i32(4).get(j0).get(jend8).ltS().select().set(width);
          f.for(col, () => f.i32(0), () => f.get(width), 1, () => {
            f.get(b).get(j0).get(col).add().get(ldb).mul().i32(4).mul().add().set(src);
            f.get(packB).get(j0).get(jp).sub().get(K).mul().i32(4).mul().add().get(col).i32(4).mul().add().set(dst);
            f.for(k, () => f.i32(0), () => f.get(K), 1, () => {
              f.get(dst).get(src).loadF().storeF();
              f.get(src).i32(4).add().set(src);
              f.get(dst).get(width).i32(4).mul().add().set(dst);
            });
          });
        });
      });
    });
    f.for(i0, () => f.i32(0), () => f.get(M4), 4, () => {
      f.for(j0, () => f.get(jp), () => f.get(jend8), 8, () => kernel4(2));
      f.get(jend8).get(jend).ltS().if(() => {
        f.get(jend8).set(j0);
        kernel4(1);
      });
    });
    f.for(i0, () => f.get(M4), () => f.get(M), 1, () => {
      f.for(j0, () => f.get(jp), () => f.get(jend8), 8, () => kernel1(2));
      f.get(jend8).get(jend).ltS().if(() => {
        f.get(jend8).set(j0);
        kernel1(1);
      });
    });
  });
  return f;
}

/**
 * pack_panels(src, dst, K, N): row-major [K, N] → the GEMM's packed-B layout for one panel of all N columns:
 * [N/8][K][8] micro-panels, then a [K][4] tail when N % 8 == 4 (N % 4 == 0). Weights packed once can then be
 * used by many products (gemm with bTrans = 2).
 */
function buildPackPanels(): FnBuilder {
  const f = new FnBuilder('pack_panels', [I32, I32, I32, I32]);
  const [src, dst, K, N] = [0, 1, 2, 3];
  const j0 = f.local(I32), k = f.local(I32), ps = f.local(I32), pd = f.local(I32), nB = f.local(I32), n8B = f.local(I32);
  f.get(N).i32(4).mul().set(nB);
  f.get(N).i32(~7).and().i32(4).mul().set(n8B);
  f.get(dst).set(pd);
  f.for(j0, () => f.i32(0), () => f.get(n8B), 32, () => {
    f.get(src).get(j0).add().set(ps);
    f.for(k, () => f.i32(0), () => f.get(K), 1, () => {
      f.get(pd).get(ps).vload().vstore();
      f.get(pd).get(ps).vload(16).vstore(16);
      f.get(ps).get(nB).add().set(ps);
      f.get(pd).i32(32).add().set(pd);
    });
  });
  f.get(n8B).get(nB).ltS().if(() => {
    f.get(src).get(n8B).add().set(ps);
    f.for(k, () => f.i32(0), () => f.get(K), 1, () => {
      f.get(pd).get(ps).vload().vstore();
      f.get(ps).get(nB).add().set(ps);
      f.get(pd).i32(16).add().set(pd);
    });
  });
  return f;
}

// --------------------------------------------------------------------------------------------- gemm NT ---

/**
 * C[i, j] = Σ_k A[i, k]·B[j, k] (+ bias[j]) with A [M, K] (row stride lda), B [N, K] (row stride ldb),
 * C [M, N] (row stride ldc).
 * Vectorised along k (needs K % 4 == 0): 2×4 blocks of dot products, reduced horizontally at the end.
 */
function buildGemmNT(fma: boolean): FnBuilder {
  const f = new FnBuilder('gemm_nt', [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const [a, b, c, bias, M, K, N, lda, ldb, ldc] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const lda4 = f.local(I32), ldb4 = f.local(I32);
  const i0 = f.local(I32), j0 = f.local(I32), M2 = f.local(I32), N4 = f.local(I32), K4 = f.local(I32);
  const pa0 = f.local(I32), pa1 = f.local(I32), pb = [f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  const pc = f.local(I32), kk = f.local(I32), rows = f.local(I32);
  const acc = [0, 1].map(() => [f.local(V128), f.local(V128), f.local(V128), f.local(V128)]);
  const va = [f.local(V128), f.local(V128)];
  const vb = f.local(V128);
  const t0 = f.local(V128), t1 = f.local(V128), fs = f.local(0x7d);

  f.get(M).i32(~1).and().set(M2);
  f.get(N).i32(~3).and().set(N4);
  f.get(K).i32(4).mul().set(K4);
  f.get(lda).i32(4).mul().set(lda4);
  f.get(ldb).i32(4).mul().set(ldb4);

  /** Horizontal sums of acc[r][0..3] → v128 [s0, s1, s2, s3] left on the stack. */
  const hsum4 = (r: number) => {
    const A = acc[r]!;
    // t0 = [a0+a2, a1+a3, b0+b2, b1+b3]
    f.get(A[0]!).get(A[1]!).vshuffle(lanes([0, 1, 4, 5])).get(A[0]!).get(A[1]!).vshuffle(lanes([2, 3, 6, 7])).vadd().set(t0);
    f.get(A[2]!).get(A[3]!).vshuffle(lanes([0, 1, 4, 5])).get(A[2]!).get(A[3]!).vshuffle(lanes([2, 3, 6, 7])).vadd().set(t1);
    f.get(t0).get(t1).vshuffle(lanes([0, 2, 4, 6])).get(t0).get(t1).vshuffle(lanes([1, 3, 5, 7])).vadd();
  };
  /** Bias vector for columns j0..j0+3 (or zeros) on the stack. */
  const biasVec = () => {
    f.get(bias).eqz().if(() => f.vconst([0, 0, 0, 0]).set(t0), () => f.get(bias).get(j0).i32(4).mul().add().vload(0).set(t0));
    f.get(t0);
  };

  /** `nr` rows (1 or 2) × 4 columns block at (i0, j0). */
  const block = (nr: number) => {
    for (let r = 0; r < nr; r++) for (let x = 0; x < 4; x++) f.vconst([0, 0, 0, 0]).set(acc[r]![x]!);
    f.get(a).get(i0).get(lda4).mul().add().set(pa0);
    if (nr === 2) f.get(pa0).get(lda4).add().set(pa1);
    f.get(b).get(j0).get(ldb4).mul().add().set(pb[0]!);
    for (let x = 1; x < 4; x++) f.get(pb[x - 1]!).get(ldb4).add().set(pb[x]!);
    f.for(kk, () => f.i32(0), () => f.get(K4), 16, () => {
      f.get(pa0).get(kk).add().vload(0).set(va[0]!);
      if (nr === 2) f.get(pa1).get(kk).add().vload(0).set(va[1]!);
      for (let x = 0; x < 4; x++) {
        f.get(pb[x]!).get(kk).add().vload(0).set(vb);
        for (let r = 0; r < nr; r++) {
          if (fma) f.get(va[r]!).get(vb).get(acc[r]![x]!).vmadd().set(acc[r]![x]!);
          else f.get(acc[r]![x]!).get(va[r]!).get(vb).vmul().vadd().set(acc[r]![x]!);
        }
      }
    });
    f.get(c).get(i0).get(ldc).mul().get(j0).add().i32(4).mul().add().set(pc);
    for (let r = 0; r < nr; r++) {
      f.get(pc);
      hsum4(r);
      biasVec();
      f.vadd().vstore(0);
      if (r + 1 < nr) f.get(pc).get(ldc).i32(4).mul().add().set(pc);
    }
  };

  /** Single dot product C[i0, j0] for the column remainder, rows i0..i0+rows-1. */
  const single = () => {
    f.for(pa1, () => f.get(i0), () => f.get(i0).get(rows).add(), 1, () => {
      f.vconst([0, 0, 0, 0]).set(acc[0]![0]!);
      f.get(a).get(pa1).get(lda4).mul().add().set(pa0);
      f.get(b).get(j0).get(ldb4).mul().add().set(pb[0]!);
      f.for(kk, () => f.i32(0), () => f.get(K4), 16, () => {
        f.get(acc[0]![0]!).get(pa0).get(kk).add().vload(0).get(pb[0]!).get(kk).add().vload(0).vmul().vadd().set(acc[0]![0]!);
      });
      f.get(acc[0]![0]!).vextract(0).get(acc[0]![0]!).vextract(1).fadd().get(acc[0]![0]!).vextract(2).fadd()
        .get(acc[0]![0]!).vextract(3).fadd().set(fs);
      f.get(bias).eqz().eqz().if(() => f.get(fs).get(bias).get(j0).i32(4).mul().add().loadF().fadd().set(fs));
      f.get(c).get(pa1).get(ldc).mul().get(j0).add().i32(4).mul().add().get(fs).storeF();
    });
  };

  f.for(i0, () => f.i32(0), () => f.get(M2), 2, () => {
    f.for(j0, () => f.i32(0), () => f.get(N4), 4, () => block(2));
    f.i32(2).set(rows);
    f.for(j0, () => f.get(N4), () => f.get(N), 1, single);
  });
  f.get(M2).get(M).ltS().if(() => {
    f.get(M2).set(i0);
    f.for(j0, () => f.i32(0), () => f.get(N4), 4, () => block(1));
    f.i32(1).set(rows);
    f.for(j0, () => f.get(N4), () => f.get(N), 1, single);
  });
  return f;
}

/** Byte pattern of a 32-bit lane shuffle (lanes 0-3 from the first operand, 4-7 from the second). */
function lanes(l: [number, number, number, number]): number[] {
  const out: number[] = [];
  for (const x of l) for (let b = 0; b < 4; b++) out.push(x * 4 + b);
  return out;
}

// ------------------------------------------------------------------------------------------- transpose ---

function buildTranspose(): FnBuilder {
  const f = new FnBuilder('transpose', [I32, I32, I32, I32]);
  const [src, dst, R, C] = [0, 1, 2, 3];
  const i0 = f.local(I32), j0 = f.local(I32), i = f.local(I32), j = f.local(I32), iend = f.local(I32), jend = f.local(I32);
  const ps = f.local(I32), pd = f.local(I32), C4 = f.local(I32), R4 = f.local(I32);
  const BS = 16;
  f.get(C).i32(4).mul().set(C4);
  f.get(R).i32(4).mul().set(R4);
  f.for(i0, () => f.i32(0), () => f.get(R), BS, () => {
    f.get(i0).i32(BS).add().get(R).get(i0).i32(BS).add().get(R).ltS().select().set(iend);
    f.for(j0, () => f.i32(0), () => f.get(C), BS, () => {
      f.get(j0).i32(BS).add().get(C).get(j0).i32(BS).add().get(C).ltS().select().set(jend);
      f.for(i, () => f.get(i0), () => f.get(iend), 1, () => {
        // ps = src + 4*(i*C + j0); pd = dst + 4*(j0*R + i)
        f.get(src).get(i).get(C).mul().get(j0).add().i32(4).mul().add().set(ps);
        f.get(dst).get(j0).get(R).mul().get(i).add().i32(4).mul().add().set(pd);
        f.for(j, () => f.get(j0), () => f.get(jend), 1, () => {
          f.get(pd).get(ps).loadF().storeF();
          f.get(ps).i32(4).add().set(ps);
          f.get(pd).get(R4).add().set(pd);
        });
      });
    });
  });
  void C4;
  return f;
}

// ------------------------------------------------------------------------------------ two-thread GEMM ---

/** Arguments of one product (heap byte offsets of the tfjs heap). */
export interface ParallelGemmArgs {
  a: number; b: number; c: number; bias: number;
  m: number; k: number; n: number;
  /** A stored [k, m]. */
  transA: boolean;
  /** B stored [n, k]. */
  transB: boolean;
  accumulate: boolean;
}

/**
 * The optional second GEMM thread (threads.ts, which sits above this module and registers itself when loaded):
 * `enabled` says whether its worker runs, `run` takes a product (false: not taken, run it single-threaded).
 */
interface GemmThreads {
  enabled(): boolean;
  run(heap: ArrayBuffer, g: ParallelGemmArgs): boolean;
}

let gemmThreads: GemmThreads | undefined;

/** Called by threads.ts: the products of fastGemm / fastGemmNT offer themselves to it first. */
export function registerGemmThreads(t: GemmThreads): void {
  gemmThreads = t;
}

/** True when threads.ts is loaded and its worker runs. */
function gemmThreadsEnabled(): boolean {
  return gemmThreads !== undefined && gemmThreads.enabled();
}

function parallelGemm(heap: ArrayBuffer, g: ParallelGemmArgs): boolean {
  return gemmThreads!.run(heap, g);
}

// ------------------------------------------------------------------------------------------- instances ---

let moduleBytes: Uint8Array | undefined;
let moduleFma = false;
let compiled: unknown;
const instances = new WeakMap<object, { exports: KernelExports; scratch: number; scratchBytes: number }>();
let enabled = true;

interface WasmGlobal {
  Module: new (bytes: Uint8Array) => unknown;
  Instance: new (module: unknown, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
}

/** The kernel module's bytes, with or without relaxed-SIMD FMA in the GEMM inner loops. */
export function kernelModuleBytes(fma: boolean): Uint8Array {
  return assembleModule([buildGemm(fma), buildTranspose(), buildGemmNT(fma), buildPackPanels(), ...fusedKernelBuilders()]);
}

/** The GEMM alone, importing a shared memory (worker threads); same FMA choice as the main module. */
export function sharedGemmModuleBytes(maxPages: number): Uint8Array {
  return assembleModule([buildGemm(moduleFma)], { sharedMaxPages: maxPages });
}

/**
 * Compiles the kernel module once: with relaxed-SIMD FMA (f32x4.relaxed_madd) when the engine accepts it
 * (Node 20 ships it behind V8's --experimental-wasm-relaxed-simd, which is switched on here before compiling,
 * unless DETOX_WASM_FMA=0), else plain SIMD.
 */
function compileKernels(W: WasmGlobal): unknown {
  const validate = (b: Uint8Array) => (W as unknown as { validate(b: Uint8Array): boolean }).validate(b);
  if (process.env.DETOX_WASM_FMA !== '0') {
    const fmaBytes = kernelModuleBytes(true);
    if (!validate(fmaBytes)) {
      try {
        v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
      } catch {
        // flag unknown to this engine: plain SIMD below
      }
    }
    if (validate(fmaBytes)) {
      moduleBytes = fmaBytes;
      moduleFma = true;
      return new W.Module(fmaBytes);
    }
  }
  moduleBytes = kernelModuleBytes(false);
  moduleFma = false;
  return new W.Module(moduleBytes);
}

/** Whether the compiled kernels use fused multiply-add (relaxed SIMD). */
export function kernelsUseFma(): boolean {
  return moduleFma;
}

function instanceFor(backend: WasmBackendLike) {
  let inst = instances.get(backend);
  if (!inst) {
    const W = (globalThis as unknown as { WebAssembly: WasmGlobal }).WebAssembly;
    compiled ??= compileKernels(W);
    const instance = new W.Instance(compiled, { env: { memory: backend.wasm.asm.memory } });
    inst = { exports: instance.exports as unknown as KernelExports, scratch: 0, scratchBytes: 0 };
    instances.set(backend, inst);
  }
  return inst;
}

/** The kernel module bound to this backend's heap, or undefined when the SIMD kernels are off. */
export function wasmKernels(backend: WasmBackendLike): KernelExports | undefined {
  return fastKernelsAvailable(backend) ? instanceFor(backend).exports : undefined;
}

/** A scratch area of at least `bytes` in the wasm heap, shared by callers that do not nest (see {@link fastGemm}). */
export function kernelScratch(backend: WasmBackendLike, bytes: number, slot: 'pack' | 'work' = 'work'): number {
  return slot === 'pack' ? scratch(backend, bytes) : workScratch(backend, bytes);
}

/** Enables or disables the SIMD kernels (for A/B measurements); returns the previous setting. */
export function setFastKernelsEnabled(on: boolean): boolean {
  const prev = enabled;
  enabled = on;
  return prev;
}

/** True when the SIMD kernels are enabled and usable on this backend. */
export function fastKernelsAvailable(backend: WasmBackendLike): boolean {
  if (!enabled) return false;
  try {
    instanceFor(backend);
    return true;
  } catch {
    enabled = false;
    return false;
  }
}

const workAreas = new WeakMap<object, { p: number; bytes: number }>();
function workScratch(backend: WasmBackendLike, bytes: number): number {
  let w = workAreas.get(backend);
  if (!w || w.bytes < bytes) {
    if (w?.p) backend.wasm._free(w.p);
    const size = Math.max(bytes, (w?.bytes ?? 0) * 2, 1 << 16);
    const p = backend.wasm._malloc(size) >>> 0;
    if (p === 0) throw new Error(`wasm heap exhausted while allocating a ${size}-byte kernel work buffer`);
    w = { p, bytes: size };
    workAreas.set(backend, w);
  }
  return w.p;
}

/** A scratch area of at least `bytes` in the wasm heap (kept between calls). */
function scratch(backend: WasmBackendLike, bytes: number): number {
  const inst = instanceFor(backend);
  if (inst.scratchBytes < bytes) {
    if (inst.scratch) backend.wasm._free(inst.scratch);
    const size = Math.max(bytes, inst.scratchBytes * 2, 1 << 16);
    const p = backend.wasm._malloc(size) >>> 0;
    if (p === 0) throw new Error(`wasm heap exhausted while allocating a ${size}-byte kernel scratch buffer`);
    inst.scratch = p;
    inst.scratchBytes = size;
  }
  return inst.scratch;
}

/** Products with fewer rows than this read B in place (packing would cost as much as the product). */
export const PACK_B_MIN_ROWS = 16;

/** Column-panel width for a GEMM with inner size k: the B panel (k × panel floats) stays within ~128 KiB. */
export function gemmPanel(k: number, n: number): number {
  return Math.max(8, Math.min(n + (8 - (n % 8)) % 8, (Math.floor(32768 / Math.max(k, 1)) & ~7) || 8));
}

/**
 * Batched GEMM on heap byte offsets: for i < batch, C[i] = op(A[i]) · B[i] (+ bias) (+ C[i] when accumulate),
 * C row-major [m, n].
 * A[i] is [m, k] (or [k, m] when transA), B[i] is [k, n] row-major. Strides are in elements (0 = broadcast).
 * Requires n % 4 == 0.
 */
export function fastGemm(backend: WasmBackendLike, a: number, b: number, c: number, batch: number,
  m: number, k: number, n: number, strideA: number, strideB: number, opts: { transA?: boolean; bias?: number; accumulate?: boolean; ldc?: number } = {}): void {
  if (n % 4 !== 0) throw new Error(`fastGemm: n must be a multiple of 4, got ${n}`);
  if (countingSubnormals) {
    countProduct(backend.wasm.HEAPU8.buffer as ArrayBuffer, `NN ${m}x${k}x${n}${opts.transA ? ' tA' : ''}`, batch, a, m * k, strideA, b, k * n, strideB);
  }
  const blas = activeNativeBlas();
  if (blas && m * n * k * batch >= nativeMinMacs()) {
    // Native matmul selected (native-matmul.ts): OpenBLAS sgemm in place on the heap.
    blas.sgemmHeap(backend.wasm.HEAPU8.buffer as ArrayBuffer, !!opts.transA, false, m, n, k, a, opts.transA ? m : k, strideA,
      b, n, strideB, c, n, m * n, batch, opts.bias ? opts.bias : -1, !!opts.accumulate);
    return;
  }
  const inst = instanceFor(backend);
  if (batch === 1 && gemmThreadsEnabled() && parallelGemm(backend.wasm.HEAPU8.buffer as ArrayBuffer,
    { a, b, c, bias: opts.bias ?? 0, m, k, n, transA: !!opts.transA, transB: false, accumulate: !!opts.accumulate })) {
    return;
  }
  const nb = gemmPanel(k, n);
  const packBBytes = m >= PACK_B_MIN_ROWS ? k * nb * 4 : 0;
  const packABytes = Math.max(32 * k, (m & ~3) * k * 4);
  const pack = scratch(backend, packABytes + packBBytes);
  const packB = packBBytes ? pack + packABytes : 0;
  const sAm = opts.transA ? 1 : k;
  const sAk = opts.transA ? m : 1;
  for (let i = 0; i < batch; i++) {
    const ai = a + 4 * i * strideA;
    const bi = b + 4 * i * strideB;
    const ci = c + 4 * i * m * n;
    inst.exports.gemm(ai, bi, ci, opts.bias ?? 0, m, k, n, sAm, sAk, n, n, pack, nb, packB, 0, opts.accumulate ? 1 : 0);
  }
}

/**
 * Batched C[i] = A[i] · B[i]ᵀ (+ bias): A[i] [m, k], B[i] [n, k] row-major, C[i] [m, n]. Requires k % 4 == 0
 * unless m ≥ PACK_B_MIN_ROWS and n % 4 == 0 (then Bᵀ is packed and any k works).
 * Strides in elements (0 = broadcast).
 */
export function fastGemmNT(backend: WasmBackendLike, a: number, b: number, c: number, batch: number,
  m: number, k: number, n: number, strideA: number, strideB: number, bias = 0): void {
  if (countingSubnormals) countProduct(backend.wasm.HEAPU8.buffer as ArrayBuffer, `NT ${m}x${k}x${n}`, batch, a, m * k, strideA, b, n * k, strideB);
  const blas = activeNativeBlas();
  if (blas && m * n * k * batch >= nativeMinMacs()) {
    blas.sgemmHeap(backend.wasm.HEAPU8.buffer as ArrayBuffer, false, true, m, n, k, a, k, strideA, b, k, strideB, c, n, m * n, batch, bias ? bias : -1, false);
    return;
  }
  const inst = instanceFor(backend);
  if (batch === 1 && gemmThreadsEnabled() && parallelGemm(backend.wasm.HEAPU8.buffer as ArrayBuffer,
    { a, b, c, bias, m, k, n, transA: false, transB: true, accumulate: false })) {
    return;
  }
  if (m >= PACK_B_MIN_ROWS && n % 4 === 0) {
    // Pack Bᵀ into panels and run the register-blocked kernel (faster than dot products for tall A).
    const nb = gemmPanel(k, n);
    const packABytes = Math.max(16, (m & ~3) * k * 4);
    const pack = scratch(backend, packABytes + k * nb * 4);
    for (let i = 0; i < batch; i++) {
      inst.exports.gemm(a + 4 * i * strideA, b + 4 * i * strideB, c + 4 * i * m * n, bias, m, k, n, k, 1, k, n, pack, nb, pack + packABytes, 1, 0);
    }
    return;
  }
  if (k % 4 !== 0) throw new Error(`fastGemmNT: k must be a multiple of 4, got ${k}`);
  for (let i = 0; i < batch; i++) {
    inst.exports.gemm_nt(a + 4 * i * strideA, b + 4 * i * strideB, c + 4 * i * m * n, bias, m, k, n, k, k, n);
  }
}

/** Transposes `batch` row-major [rows, cols] matrices from `src` to `dst` (heap byte offsets). */
export function fastTranspose(backend: WasmBackendLike, src: number, dst: number, batch: number, rows: number, cols: number): void {
  const inst = instanceFor(backend);
  for (let i = 0; i < batch; i++) inst.exports.transpose(src + 4 * i * rows * cols, dst + 4 * i * rows * cols, rows, cols);
}

/** out[j] = Σ_i x[i, j] for a row-major [rows, cols] matrix (heap byte offsets). */
export function fastColSum(backend: WasmBackendLike, x: number, out: number, rows: number, cols: number): void {
  instanceFor(backend).exports.colsum(x, out, rows, cols);
}
