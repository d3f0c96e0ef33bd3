/**
 * Fused row-wise and element-wise SIMD kernels for the transformer (built with asm.ts, assembled with the
 * GEMM kernels in simd.ts): masked softmax and its backward, LayerNorm forward/backward, tanh-GELU
 * forward/backward, and the row statistics of a log-softmax. Each replaces a chain of 4-10 tfjs ops (several
 * of which take slow broadcasting or libm paths on the wasm backend) with one pass over memory.
 *
 * exp is computed in SIMD: x clamped to [-88, 88.4], x = n·ln2 + r with |r| ≤ ln2/2, degree-7 Taylor
 * polynomial for e^r (relative error < 1e-7), 2^n built in the exponent bits; a result below the smallest normal
 * float (1.2e-38) is 0.
 *
 * No kernel here hands a subnormal float to a later float operation: WebAssembly cannot switch the CPU to
 * flush-to-zero, and many x86-64 CPUs (Intel's in particular) take a microcode assist of ~100 cycles on every float
 * operation that reads or writes one. They arose where values underflow: exp of a masked attention score (the
 * causal mask's half of every attention matrix), the softmax and log-softmax tails and their gradients, GELU's
 * gate far in the negative tail, Adam's second moment. Each is flushed to +0 with integer operations
 * (FnBuilder.vftz) before it is stored or summed; values that small change no float32 sum of normal numbers.
 */
import { F32, FnBuilder, I32, V128 } from './asm.js';

const LOG2E = 1.4426950408889634;
const LN2_HI = 0.693359375;
const LN2_LO = -2.12194440e-4;
/** sqrt(2/π)·2: gelu_new(x) = x·sigmoid(GELU_K0·(x + GELU_K1·x³)). */
const GELU_K0 = 2 * Math.sqrt(2 / Math.PI);
const GELU_K1 = 0.044715;

/** Leaves exp(v) on the stack for the v128 in local `x` (clobbers x, n, r). */
function emitExp(f: FnBuilder, x: number, n: number, r: number): void {
  // Below -87.34 the result is under the smallest normal float: clamping at -88 gives 2^n with n ≤ -127, whose
  // exponent bits are 0, so the result is exactly 0 (and a subnormal from n = -126 is flushed below).
  f.get(x).vc(-88).vmax().vc(88.37626).vmin().set(x);
  f.get(x).vc(LOG2E).vmul().vnearest().set(n);
  f.get(x).get(n).vc(LN2_HI).vmul().vsub().get(n).vc(LN2_LO).vmul().vsub().set(r);
  // Horner: 1 + r(1 + r(1/2 + r(1/6 + r(1/24 + r(1/120 + r(1/720 + r/5040))))))
  f.vc(1 / 5040).get(r).vmul().vc(1 / 720).vadd();
  for (const c of [1 / 120, 1 / 24, 1 / 6, 1 / 2, 1, 1]) f.get(r).vmul().vc(c).vadd();
  // × 2^n, then below the smallest normal float → 0 (see the module comment)
  f.get(n).vtruncI().vconstI([127, 127, 127, 127]).viadd().i32(23).vishl();
  f.vmul().set(x);
  f.vftz(x);
}

/** Shared locals of one kernel. */
interface Scratch { x: number; n: number; r: number }
function scratchLocals(f: FnBuilder): Scratch {
  return { x: f.local(V128), n: f.local(V128), r: f.local(V128) };
}

/**
 * Emits a loop over one row of `cols` floats in byte offsets `jb`: `vec()` for each aligned group of 4, then
 * `tail()` for the remaining 0-3 elements (handled one lane at a time).
 */
function rowLoop(f: FnBuilder, jb: number, colsB4: number, colsB: number, vec: () => void, tail: () => void): void {
  f.for(jb, () => f.i32(0), () => f.get(colsB4), 16, vec);
  f.for(jb, () => f.get(colsB4), () => f.get(colsB), 4, tail);
}

/**
 * softmax_rows(in, out, rows, cols, ldIn, ldOut, scale, bias, ldBias):
 * out[i, :] = softmax(in[i, :]·scale + bias[i·ldBias, :]) (ldBias 0 broadcasts one bias row). In-place allowed.
 */
export function buildSoftmaxRows(): FnBuilder {
  const f = new FnBuilder('softmax_rows', [I32, I32, I32, I32, I32, I32, F32, I32, I32]);
  const [inp, out, rows, cols, ldi, ldo, scale, bias, ldb] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const i = f.local(I32), jb = f.local(I32), pi = f.local(I32), po = f.local(I32), pb = f.local(I32);
  const colsB = f.local(I32), colsB4 = f.local(I32);
  const vm = f.local(V128), vs = f.local(V128), vscale = f.local(V128), v = f.local(V128);
  const m = f.local(F32), s = f.local(F32), inv = f.local(F32);
  const sc = scratchLocals(f);
  f.get(cols).i32(4).mul().set(colsB);
  f.get(cols).i32(~3).and().i32(4).mul().set(colsB4);
  f.get(scale).vsplat().set(vscale);
  f.for(i, () => f.i32(0), () => f.get(rows), 1, () => {
    f.get(inp).get(i).get(ldi).mul().i32(4).mul().add().set(pi);
    f.get(out).get(i).get(ldo).mul().i32(4).mul().add().set(po);
    f.get(bias).get(i).get(ldb).mul().i32(4).mul().add().set(pb);
    f.vc(-3.4e38).set(vm);
    f.f32(-3.4e38).set(m);
    rowLoop(f, jb, colsB4, colsB, () => {
      f.get(pi).get(jb).add().vload().get(vscale).vmul().get(pb).get(jb).add().vload().vadd().set(v);
      f.get(po).get(jb).add().get(v).vstore();
      f.get(vm).get(v).vmax().set(vm);
    }, () => {
      f.get(pi).get(jb).add().loadF().get(scale).fmul().get(pb).get(jb).add().loadF().fadd().set(s);
      f.get(po).get(jb).add().get(s).storeF();
      f.get(m).get(s).fmax().set(m);
    });
    f.vhmax(vm).get(m).fmax().set(m);
    f.get(m).vsplat().set(vm);
    f.vc(0).set(vs);
    f.f32(0).set(s);
    rowLoop(f, jb, colsB4, colsB, () => {
      f.get(po).get(jb).add().vload().get(vm).vsub().set(sc.x);
      emitExp(f, sc.x, sc.n, sc.r);
      f.set(v);
      f.get(po).get(jb).add().get(v).vstore();
      f.get(vs).get(v).vadd().set(vs);
    }, () => {
      f.get(po).get(jb).add().loadF().vsplat().get(vm).vsub().set(sc.x);
      emitExp(f, sc.x, sc.n, sc.r);
      f.set(v);
      f.get(po).get(jb).add().get(v).vextract(0).storeF();
      f.get(s).get(v).vextract(0).fadd().set(s);
    });
    f.f32(1).vhsum(vs).get(s).fadd().fdiv().set(inv);
    f.get(inv).vsplat().set(vs);
    rowLoop(f, jb, colsB4, colsB, () => {
      f.get(po).get(jb).add().get(po).get(jb).add().vload().get(vs).vmul().set(v);
      f.vftz(v).vstore();
    }, () => {
      f.get(po).get(jb).add().get(po).get(jb).add().loadF().get(inv).fmul().vsplat().set(v);
      f.vftz(v).vextract(0).storeF();
    });
  });
  return f;
}

/**
 * softmax_bwd_rows(p, dp, ds, rows, cols, ldP, ldDp, ldDs, scale):
 * ds[i, :] = (dp[i, :] - Σ_j dp[i, j]·p[i, j]) · p[i, :] · scale. `ds` may alias `dp`.
 */
export function buildSoftmaxBwdRows(): FnBuilder {
  const f = new FnBuilder('softmax_bwd_rows', [I32, I32, I32, I32, I32, I32, I32, I32, F32]);
  const [p, dp, ds, rows, cols, ldp, lddp, ldds, scale] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const i = f.local(I32), jb = f.local(I32), pp = f.local(I32), pd = f.local(I32), po = f.local(I32);
  const colsB = f.local(I32), colsB4 = f.local(I32);
  const vdot = f.local(V128), vscale = f.local(V128), v = f.local(V128);
  const dot = f.local(F32);
  f.get(cols).i32(4).mul().set(colsB);
  f.get(cols).i32(~3).and().i32(4).mul().set(colsB4);
  f.get(scale).vsplat().set(vscale);
  f.for(i, () => f.i32(0), () => f.get(rows), 1, () => {
    f.get(p).get(i).get(ldp).mul().i32(4).mul().add().set(pp);
    f.get(dp).get(i).get(lddp).mul().i32(4).mul().add().set(pd);
    f.get(ds).get(i).get(ldds).mul().i32(4).mul().add().set(po);
    f.vc(0).set(vdot);
    f.f32(0).set(dot);
    rowLoop(f, jb, colsB4, colsB, () => {
      f.get(vdot).get(pp).get(jb).add().vload().get(pd).get(jb).add().vload().vmul().vadd().set(vdot);
    }, () => {
      f.get(dot).get(pp).get(jb).add().loadF().get(pd).get(jb).add().loadF().fmul().fadd().set(dot);
    });
    f.vhsum(vdot).get(dot).fadd().set(dot);
    f.get(dot).vsplat().set(vdot);
    rowLoop(f, jb, colsB4, colsB, () => {
      f.get(po).get(jb).add();
      f.get(pd).get(jb).add().vload().get(vdot).vsub().get(pp).get(jb).add().vload().vmul().get(vscale).vmul().set(v);
      f.vftz(v).vstore();
    }, () => {
      f.get(po).get(jb).add();
      f.get(pd).get(jb).add().loadF().get(dot).fsub().get(pp).get(jb).add().loadF().fmul().get(scale).fmul().vsplat().set(v);
      f.vftz(v).vextract(0).storeF();
    });
  });
  return f;
}

/**
 * layernorm_fwd(x, g, b, y, stats, rows, d, eps): y = (x - mean)·rstd·g + b per row; stats[i] = (mean, rstd).
 * Needs d % 4 == 0.
 */
function buildLayerNormFwd(): FnBuilder {
  const f = new FnBuilder('layernorm_fwd', [I32, I32, I32, I32, I32, I32, I32, F32]);
  const [x, g, b, y, stats, rows, d, eps] = [0, 1, 2, 3, 4, 5, 6, 7];
  const i = f.local(I32), jb = f.local(I32), px = f.local(I32), py = f.local(I32), dB = f.local(I32);
  const vsum = f.local(V128), vmean = f.local(V128), vr = f.local(V128), v = f.local(V128);
  const mean = f.local(F32), rstd = f.local(F32), invd = f.local(F32);
  f.get(d).i32(4).mul().set(dB);
  f.f32(1).get(d).fFromI().fdiv().set(invd);
  f.for(i, () => f.i32(0), () => f.get(rows), 1, () => {
    f.get(x).get(i).get(dB).mul().add().set(px);
    f.get(y).get(i).get(dB).mul().add().set(py);
    f.vc(0).set(vsum);
    f.for(jb, () => f.i32(0), () => f.get(dB), 16, () => f.get(vsum).get(px).get(jb).add().vload().vadd().set(vsum));
    f.vhsum(vsum).get(invd).fmul().set(mean);
    f.get(mean).vsplat().set(vmean);
    f.vc(0).set(vsum);
    f.for(jb, () => f.i32(0), () => f.get(dB), 16, () => {
      f.get(px).get(jb).add().vload().get(vmean).vsub().set(v);
      f.get(vsum).get(v).get(v).vmul().vadd().set(vsum);
    });
    f.f32(1).vhsum(vsum).get(invd).fmul().get(eps).fadd().fsqrt().fdiv().set(rstd);
    f.get(rstd).vsplat().set(vr);
    f.for(jb, () => f.i32(0), () => f.get(dB), 16, () => {
      f.get(py).get(jb).add();
      f.get(px).get(jb).add().vload().get(vmean).vsub().get(vr).vmul().get(g).get(jb).add().vload().vmul().get(b).get(jb).add().vload().vadd();
      f.vstore();
    });
    f.get(stats).get(i).i32(8).mul().add().get(mean).storeF();
    f.get(stats).get(i).i32(8).mul().add().get(rstd).storeF(4);
  });
  return f;
}

/**
 * layernorm_bwd(x, g, dy, stats, dx, dg, db, rows, d): with xh = (x - mean)·rstd and e = dy·g,
 * dx = rstd·(e - mean(e) - xh·mean(e·xh)); dg = Σ_rows dy·xh; db = Σ_rows dy (dg, db overwritten).
 */
function buildLayerNormBwd(): FnBuilder {
  const f = new FnBuilder('layernorm_bwd', [I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const [x, g, dy, stats, dx, dg, db, rows, d] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const i = f.local(I32), jb = f.local(I32), px = f.local(I32), pdy = f.local(I32), pdx = f.local(I32), dB = f.local(I32);
  const vmean = f.local(V128), vr = f.local(V128), xh = f.local(V128), e = f.local(V128), vdy = f.local(V128);
  const s1 = f.local(V128), s2 = f.local(V128), c1 = f.local(V128), c2 = f.local(V128);
  const invd = f.local(F32);
  f.get(d).i32(4).mul().set(dB);
  f.f32(1).get(d).fFromI().fdiv().set(invd);
  f.for(jb, () => f.i32(0), () => f.get(dB), 16, () => {
    f.get(dg).get(jb).add().vc(0).vstore();
    f.get(db).get(jb).add().vc(0).vstore();
  });
  f.for(i, () => f.i32(0), () => f.get(rows), 1, () => {
    f.get(x).get(i).get(dB).mul().add().set(px);
    f.get(dy).get(i).get(dB).mul().add().set(pdy);
    f.get(dx).get(i).get(dB).mul().add().set(pdx);
    f.get(stats).get(i).i32(8).mul().add().loadF().vsplat().set(vmean);
    f.get(stats).get(i).i32(8).mul().add().loadF(4).vsplat().set(vr);
    f.vc(0).set(s1);
    f.vc(0).set(s2);
    f.for(jb, () => f.i32(0), () => f.get(dB), 16, () => {
      f.get(px).get(jb).add().vload().get(vmean).vsub().get(vr).vmul().set(xh);
      f.get(pdy).get(jb).add().vload().set(vdy);
      f.get(vdy).get(g).get(jb).add().vload().vmul().set(e);
      f.get(s1).get(e).vadd().set(s1);
      f.get(s2).get(e).get(xh).vmul().vadd().set(s2);
      f.get(dg).get(jb).add().get(dg).get(jb).add().vload().get(vdy).get(xh).vmul().vadd().vstore();
      f.get(db).get(jb).add().get(db).get(jb).add().vload().get(vdy).vadd().vstore();
    });
    f.vhsum(s1).get(invd).fmul().vsplat().set(c1);
    f.vhsum(s2).get(invd).fmul().vsplat().set(c2);
    f.for(jb, () => f.i32(0), () => f.get(dB), 16, () => {
      f.get(pdx).get(jb).add();
      f.get(px).get(jb).add().vload().get(vmean).vsub().get(vr).vmul().set(xh);
      f.get(pdy).get(jb).add().vload().get(g).get(jb).add().vload().vmul();
      f.get(c1).vsub().get(xh).get(c2).vmul().vsub().get(vr).vmul();
      f.vstore();
    });
  });
  return f;
}

/** Emits sigmoid(K0·(x + K1·x³)) for the v128 in local `v` (result on the stack). */
function emitGeluGate(f: FnBuilder, v: number, sc: Scratch): void {
  // z = -K0·(x + K1·x³); sigmoid = 1 / (1 + exp(z))
  f.get(v).get(v).get(v).vmul().get(v).vmul().vc(GELU_K1).vmul().vadd().vc(-GELU_K0).vmul().set(sc.x);
  f.vc(1);
  f.vc(1);
  emitExp(f, sc.x, sc.n, sc.r);
  f.vadd().vdiv().set(sc.n);
  f.vftz(sc.n); // far in the negative tail 1 / (1 + e^88) is subnormal
}

/** gelu_fwd(x, y, n): y = x·sigmoid(K0·(x + K1·x³)) (= gelu_new). */
export function buildGeluFwd(): FnBuilder {
  const f = new FnBuilder('gelu_fwd', [I32, I32, I32]);
  const [x, y, n] = [0, 1, 2];
  const jb = f.local(I32), nB = f.local(I32), nB4 = f.local(I32), v = f.local(V128);
  const sc = scratchLocals(f);
  f.get(n).i32(4).mul().set(nB);
  f.get(n).i32(~3).and().i32(4).mul().set(nB4);
  rowLoop(f, jb, nB4, nB, () => {
    f.get(x).get(jb).add().vload().set(v);
    f.get(y).get(jb).add().get(v);
    emitGeluGate(f, v, sc);
    f.vmul().set(v);
    f.vftz(v).vstore();
  }, () => {
    f.get(x).get(jb).add().loadF().vsplat().set(v);
    f.get(y).get(jb).add().get(v);
    emitGeluGate(f, v, sc);
    f.vmul().set(v);
    f.vftz(v).vextract(0).storeF();
  });
  return f;
}

/** gelu_bwd(x, dy, dx, n): dx = dy·(s + x·s·(1 - s)·K0·(1 + 3·K1·x²)), s the gate. */
export function buildGeluBwd(): FnBuilder {
  const f = new FnBuilder('gelu_bwd', [I32, I32, I32, I32]);
  const [x, dy, dx, n] = [0, 1, 2, 3];
  const jb = f.local(I32), nB = f.local(I32), nB4 = f.local(I32), v = f.local(V128), s = f.local(V128), out = f.local(V128);
  const sc = scratchLocals(f);
  f.get(n).i32(4).mul().set(nB);
  f.get(n).i32(~3).and().i32(4).mul().set(nB4);
  // dx is flushed to zero below 1.2e-38 (FnBuilder.vftz): far in GELU's negative tail the derivative underflows.
  const body = () => {
    emitGeluGate(f, v, sc);
    f.set(s);
    // s + x·s·(1-s)·K0·(1 + 3K1x²)
    f.get(s);
    f.get(v).get(s).vmul().vc(1).get(s).vsub().vmul();
    f.get(v).get(v).vmul().vc(3 * GELU_K1).vmul().vc(1).vadd().vc(GELU_K0).vmul().vmul();
    f.vadd();
  };
  rowLoop(f, jb, nB4, nB, () => {
    f.get(x).get(jb).add().vload().set(v);
    f.get(dx).get(jb).add();
    body();
    f.get(dy).get(jb).add().vload().vmul().set(out);
    f.vftz(out).vstore();
  }, () => {
    f.get(x).get(jb).add().loadF().vsplat().set(v);
    f.get(dx).get(jb).add();
    body();
    f.get(dy).get(jb).add().loadF().vsplat().vmul().set(out);
    f.vftz(out).vextract(0).storeF();
  });
  return f;
}

/** row_max_sumexp(x, rows, cols, out): out[i] = (max_j x[i, j], Σ_j exp(x[i, j] - max)). */
function buildRowMaxSumExp(): FnBuilder {
  const f = new FnBuilder('row_max_sumexp', [I32, I32, I32, I32]);
  const [x, rows, cols, out] = [0, 1, 2, 3];
  const i = f.local(I32), jb = f.local(I32), px = f.local(I32), colsB = f.local(I32), colsB4 = f.local(I32);
  const vm = f.local(V128), vs = f.local(V128), v = f.local(V128);
  const m = f.local(F32), s = f.local(F32);
  const sc = scratchLocals(f);
  f.get(cols).i32(4).mul().set(colsB);
  f.get(cols).i32(~3).and().i32(4).mul().set(colsB4);
  f.for(i, () => f.i32(0), () => f.get(rows), 1, () => {
    f.get(x).get(i).get(colsB).mul().add().set(px);
    f.vc(-3.4e38).set(vm);
    f.f32(-3.4e38).set(m);
    rowLoop(f, jb, colsB4, colsB, () => f.get(vm).get(px).get(jb).add().vload().vmax().set(vm),
      () => f.get(m).get(px).get(jb).add().loadF().fmax().set(m));
    f.vhmax(vm).get(m).fmax().set(m);
    f.get(m).vsplat().set(vm);
    f.vc(0).set(vs);
    f.f32(0).set(s);
    rowLoop(f, jb, colsB4, colsB, () => {
      f.get(px).get(jb).add().vload().get(vm).vsub().set(sc.x);
      emitExp(f, sc.x, sc.n, sc.r);
      f.get(vs).vadd().set(vs);
    }, () => {
      f.get(px).get(jb).add().loadF().vsplat().get(vm).vsub().set(sc.x);
      emitExp(f, sc.x, sc.n, sc.r);
      f.set(v);
      f.get(s).get(v).vextract(0).fadd().set(s);
    });
    f.get(out).get(i).i32(8).mul().add().get(m).storeF();
    f.get(out).get(i).i32(8).mul().add().vhsum(vs).get(s).fadd().storeF(4);
  });
  return f;
}

/** rows_scaled_exp(x, shift, coef, out, rows, cols): out[i, j] = coef[i]·exp(x[i, j] - shift[i]). */
export function buildRowsScaledExp(): FnBuilder {
  const f = new FnBuilder('rows_scaled_exp', [I32, I32, I32, I32, I32, I32]);
  const [x, shift, coef, out, rows, cols] = [0, 1, 2, 3, 4, 5];
  const i = f.local(I32), jb = f.local(I32), px = f.local(I32), po = f.local(I32), colsB = f.local(I32), colsB4 = f.local(I32);
  const vsh = f.local(V128), vc = f.local(V128);
  const sc = scratchLocals(f);
  f.get(cols).i32(4).mul().set(colsB);
  f.get(cols).i32(~3).and().i32(4).mul().set(colsB4);
  f.for(i, () => f.i32(0), () => f.get(rows), 1, () => {
    f.get(x).get(i).get(colsB).mul().add().set(px);
    f.get(out).get(i).get(colsB).mul().add().set(po);
    f.get(shift).get(i).i32(4).mul().add().loadF().vsplat().set(vsh);
    f.get(coef).get(i).i32(4).mul().add().loadF().vsplat().set(vc);
    rowLoop(f, jb, colsB4, colsB, () => {
      f.get(px).get(jb).add().vload().get(vsh).vsub().set(sc.x);
      f.get(po).get(jb).add();
      emitExp(f, sc.x, sc.n, sc.r);
      f.get(vc).vmul().set(sc.x);
      f.vftz(sc.x).vstore();
    }, () => {
      f.get(px).get(jb).add().loadF().vsplat().get(vsh).vsub().set(sc.x);
      f.get(po).get(jb).add();
      emitExp(f, sc.x, sc.n, sc.r);
      f.get(vc).vmul().set(sc.x);
      f.vftz(sc.x).vextract(0).storeF();
    });
  });
  return f;
}

/** colsum(x, out, rows, cols): out[j] = Σ_i x[i, j] (x row-major). */
function buildColSum(): FnBuilder {
  const f = new FnBuilder('colsum', [I32, I32, I32, I32]);
  const [x, out, rows, cols] = [0, 1, 2, 3];
  const i = f.local(I32), jb = f.local(I32), px = f.local(I32), colsB = f.local(I32), colsB4 = f.local(I32);
  f.get(cols).i32(4).mul().set(colsB);
  f.get(cols).i32(~3).and().i32(4).mul().set(colsB4);
  rowLoop(f, jb, colsB4, colsB, () => f.get(out).get(jb).add().vc(0).vstore(), () => f.get(out).get(jb).add().f32(0).storeF());
  f.for(i, () => f.i32(0), () => f.get(rows), 1, () => {
    f.get(x).get(i).get(colsB).mul().add().set(px);
    rowLoop(f, jb, colsB4, colsB, () => {
      f.get(out).get(jb).add().get(out).get(jb).add().vload().get(px).get(jb).add().vload().vadd().vstore();
    }, () => {
      f.get(out).get(jb).add().get(out).get(jb).add().loadF().get(px).get(jb).add().loadF().fadd().storeF();
    });
  });
  return f;
}

/**
 * adam(w, g, m, v, wOut, n, lr, beta1, beta2, eps, bc1, bc2): m ← β1·m + (1-β1)·g; v ← β2·v + (1-β2)·g²
 * (in place); wOut = w - lr·(m/bc1) / (sqrt(v/bc2) + eps) (wOut may equal w).
 */
export function buildAdam(): FnBuilder {
  const f = new FnBuilder('adam', [I32, I32, I32, I32, I32, I32, F32, F32, F32, F32, F32, F32]);
  const [w, g, m, v, wo, n, lr, b1, b2, eps, bc1, bc2] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const jb = f.local(I32), nB = f.local(I32), nB4 = f.local(I32);
  const vg = f.local(V128), vm = f.local(V128), vv = f.local(V128);
  const L = [f.local(V128), f.local(V128), f.local(V128), f.local(V128), f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  const [vlr, vb1, vb1c, vb2, vb2c, veps, vbc1, vbc2] = L as [number, number, number, number, number, number, number, number];
  f.get(n).i32(4).mul().set(nB);
  f.get(n).i32(~3).and().i32(4).mul().set(nB4);
  f.get(lr).vsplat().set(vlr);
  f.get(b1).vsplat().set(vb1);
  f.f32(1).get(b1).fsub().vsplat().set(vb1c);
  f.get(b2).vsplat().set(vb2);
  f.f32(1).get(b2).fsub().vsplat().set(vb2c);
  f.get(eps).vsplat().set(veps);
  f.f32(1).get(bc1).fdiv().vsplat().set(vbc1);
  f.f32(1).get(bc2).fdiv().vsplat().set(vbc2);
  /** Update with vg, vm, vv loaded; leaves new w on the stack after storing m and v via `storeMV`. */
  const update = (loadW: () => void, storeMV: () => void) => {
    f.get(vm).get(vb1).vmul().get(vg).get(vb1c).vmul().vadd().set(vm);
    f.get(vv).get(vb2).vmul().get(vg).get(vg).vmul().get(vb2c).vmul().vadd().set(vv);
    // Moments of tiny gradients underflow (g² below 1.2e-38): flushed so later steps never compute on subnormals.
    f.vftz(vm).set(vm);
    f.vftz(vv).set(vv);
    storeMV();
    loadW();
    f.get(vm).get(vbc1).vmul().get(vv).get(vbc2).vmul().vsqrt().get(veps).vadd().vdiv().get(vlr).vmul().vsub();
  };
  rowLoop(f, jb, nB4, nB, () => {
    f.get(g).get(jb).add().vload().set(vg);
    f.get(m).get(jb).add().vload().set(vm);
    f.get(v).get(jb).add().vload().set(vv);
    f.get(wo).get(jb).add();
    update(() => f.get(w).get(jb).add().vload(), () => {
      f.get(m).get(jb).add().get(vm).vstore();
      f.get(v).get(jb).add().get(vv).vstore();
    });
    f.vstore();
  }, () => {
    f.get(g).get(jb).add().loadF().vsplat().set(vg);
    f.get(m).get(jb).add().loadF().vsplat().set(vm);
    f.get(v).get(jb).add().loadF().vsplat().set(vv);
    f.get(wo).get(jb).add();
    update(() => f.get(w).get(jb).add().loadF().vsplat(), () => {
      f.get(m).get(jb).add().get(vm).vextract(0).storeF();
      f.get(v).get(jb).add().get(vv).vextract(0).storeF();
    });
    f.vextract(0).storeF();
  });
  return f;
}

/**
 * adam_torch(w, g, m, v, wOut, n, l2, wd, decay, b1, b1c, b2, b2c, bc2Sqrt, eps, negStep): torch.optim.Adam/AdamW's
 * single-tensor update as core/optim/adam.ts writes it in tensor ops, the same float32 operations in the same order
 * (so bit for bit the composite result; nothing is flushed):
 *   g ← g + wd·w (l2 ≠ 0);  w ← w·decay (decay ≠ 1, AdamW);  m ← m·β1 + (1−β1)·g;  v ← v·β2 + ((1−β2)·g)·g;
 *   wOut = w + (−step·m) / (sqrt(v) / √bc2 + eps)
 * m and v in place; wOut may equal w. Every scalar arrives already rounded to float32 (as tf.scalar rounds it).
 */
function buildAdamTorch(): FnBuilder {
  const f = new FnBuilder('adam_torch', [I32, I32, I32, I32, I32, I32, I32, F32, F32, F32, F32, F32, F32, F32, F32, F32]);
  const [w, g, m, v, wo, n, l2, wd, decay, b1, b1c, b2, b2c, bc2s, eps, neg] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
  const jb = f.local(I32), nB = f.local(I32), nB4 = f.local(I32), useDecay = f.local(I32);
  const vg = f.local(V128), vm = f.local(V128), vv = f.local(V128), vw = f.local(V128);
  const splats = [wd, decay, b1, b1c, b2, b2c, bc2s, eps, neg].map((p) => {
    const l = f.local(V128);
    f.get(p).vsplat().set(l);
    return l;
  });
  const [vwd, vdecay, vb1, vb1c, vb2, vb2c, vbc2s, veps, vneg] = splats as [number, number, number, number, number, number, number, number, number];
  f.get(n).i32(4).mul().set(nB);
  f.get(n).i32(~3).and().i32(4).mul().set(nB4);
  f.get(decay).f32(1).fne().set(useDecay);
  /** With vg, vm, vv, vw loaded: updates vm, vv and leaves the new w on the stack. */
  const update = () => {
    f.get(l2).if(() => { f.get(vg).get(vwd).get(vw).vmul().vadd().set(vg); });
    f.get(useDecay).if(() => { f.get(vw).get(vdecay).vmul().set(vw); });
    f.get(vm).get(vb1).vmul().get(vb1c).get(vg).vmul().vadd().set(vm);
    f.get(vv).get(vb2).vmul().get(vb2c).get(vg).vmul().get(vg).vmul().vadd().set(vv);
    f.get(vw).get(vneg).get(vm).vmul().get(vv).vsqrt().get(vbc2s).vdiv().get(veps).vadd().vdiv().vadd();
  };
  rowLoop(f, jb, nB4, nB, () => {
    f.get(g).get(jb).add().vload().set(vg);
    f.get(m).get(jb).add().vload().set(vm);
    f.get(v).get(jb).add().vload().set(vv);
    f.get(w).get(jb).add().vload().set(vw);
    f.get(wo).get(jb).add();
    update();
    f.vstore();
    f.get(m).get(jb).add().get(vm).vstore();
    f.get(v).get(jb).add().get(vv).vstore();
  }, () => {
    f.get(g).get(jb).add().loadF().vsplat().set(vg);
    f.get(m).get(jb).add().loadF().vsplat().set(vm);
    f.get(v).get(jb).add().loadF().vsplat().set(vv);
    f.get(w).get(jb).add().loadF().vsplat().set(vw);
    f.get(wo).get(jb).add();
    update();
    f.vextract(0).storeF();
    f.get(m).get(jb).add().get(vm).vextract(0).storeF();
    f.get(v).get(jb).add().get(vv).vextract(0).storeF();
  });
  return f;
}

/** add_inplace(y, x, n): y[i] += x[i]. */
function buildAddInplace(): FnBuilder {
  const f = new FnBuilder('add_inplace', [I32, I32, I32]);
  const [y, x, n] = [0, 1, 2];
  const jb = f.local(I32), nB = f.local(I32), nB4 = f.local(I32);
  f.get(n).i32(4).mul().set(nB);
  f.get(n).i32(~3).and().i32(4).mul().set(nB4);
  rowLoop(f, jb, nB4, nB, () => {
    f.get(y).get(jb).add().get(y).get(jb).add().vload().get(x).get(jb).add().vload().vadd().vstore();
  }, () => {
    f.get(y).get(jb).add().get(y).get(jb).add().loadF().get(x).get(jb).add().loadF().fadd().storeF();
  });
  return f;
}

/** Every fused kernel builder, in module order. */
export function fusedKernelBuilders(): FnBuilder[] {
  return [buildSoftmaxRows(), buildSoftmaxBwdRows(), buildLayerNormFwd(), buildLayerNormBwd(), buildGeluFwd(), buildGeluBwd(),
    buildRowMaxSumExp(), buildRowsScaledExp(), buildColSum(), buildAdam(), buildAddInplace(), buildAdamTorch()];
}
