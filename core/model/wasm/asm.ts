/**
 * A minimal WebAssembly assembler: enough of the binary format (i32/f32 scalars, 128-bit SIMD, structured
 * loops) to write the engine's compute kernels directly in TypeScript, with no toolchain. Modules import the
 * memory of the tfjs wasm backend so kernels read and write tensors in place.
 */

/** Value types. */
export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;
type ValType = typeof I32 | typeof F32 | typeof V128;

function uleb(n: number, out: number[]): void {
  let v = n >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
}

function sleb(n: number, out: number[]): void {
  let v = n | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return;
    }
    out.push(byte | 0x80);
  }
}

function str(s: string, out: number[]): void {
  const b = new TextEncoder().encode(s);
  uleb(b.length, out);
  out.push(...b);
}

/** SIMD opcodes used by the kernels (after the 0xfd prefix). */
const SIMD = {
  load: 0x00, load32Splat: 0x09, store: 0x0b, const: 0x0c, shuffle: 0x0d, f32x4Splat: 0x13, f32x4ExtractLane: 0x1f,
  f32x4Nearest: 0x6a, f32x4Abs: 0xe0, f32x4Neg: 0xe1, f32x4Sqrt: 0xe3, f32x4Add: 0xe4, f32x4Sub: 0xe5, f32x4Mul: 0xe6, f32x4Div: 0xe7,
  f32x4Min: 0xe8, f32x4Max: 0xe9, f32x4Pmin: 0xea, f32x4Pmax: 0xeb,
  i32x4Add: 0xae, i32x4Shl: 0xab, i32x4TruncSatF32x4S: 0xf8, f32x4ConvertI32x4S: 0xfa, f32x4Gt: 0x44, f32x4Lt: 0x43,
  v128And: 0x4e, v128AndNot: 0x4f, v128Bitselect: 0x52, i32x4Eq: 0x37,
} as const;

/** Exponent bits of a float32: all zero for ±0 and the subnormals. */
const F32_EXPONENT = 0x7f800000;

/** Builder of one function body. Locals are allocated with {@link local}; params come first. */
export class FnBuilder {
  readonly code: number[] = [];
  private readonly localTypes: ValType[] = [];
  private depth = 0;

  constructor(readonly name: string, readonly params: ValType[], readonly results: ValType[] = []) {}

  /** Index of parameter i. */
  param(i: number): number {
    return i;
  }

  /** Allocates a local of the given type; returns its index. */
  local(t: ValType): number {
    this.localTypes.push(t);
    return this.params.length + this.localTypes.length - 1;
  }

  // ----------------------------------------------------------------------------------------- variables ---
  get(i: number): this { this.code.push(0x20); uleb(i, this.code); return this; }
  set(i: number): this { this.code.push(0x21); uleb(i, this.code); return this; }
  tee(i: number): this { this.code.push(0x22); uleb(i, this.code); return this; }
  i32(v: number): this { this.code.push(0x41); sleb(v, this.code); return this; }
  f32(v: number): this {
    this.code.push(0x43);
    const b = new Uint8Array(new Float32Array([v]).buffer);
    this.code.push(...b);
    return this;
  }
  drop(): this { this.code.push(0x1a); return this; }
  select(): this { this.code.push(0x1b); return this; }

  // ---------------------------------------------------------------------------------------- i32 / f32 ---
  add(): this { this.code.push(0x6a); return this; }
  sub(): this { this.code.push(0x6b); return this; }
  mul(): this { this.code.push(0x6c); return this; }
  shl(): this { this.code.push(0x74); return this; }
  shrU(): this { this.code.push(0x76); return this; }
  and(): this { this.code.push(0x71); return this; }
  eqz(): this { this.code.push(0x45); return this; }
  eq(): this { this.code.push(0x46); return this; }
  ne(): this { this.code.push(0x47); return this; }
  ltS(): this { this.code.push(0x48); return this; }
  geS(): this { this.code.push(0x4e); return this; }
  gtS(): this { this.code.push(0x4a); return this; }
  leS(): this { this.code.push(0x4c); return this; }
  ltU(): this { this.code.push(0x49); return this; }
  geU(): this { this.code.push(0x4f); return this; }
  fadd(): this { this.code.push(0x92); return this; }
  fsub(): this { this.code.push(0x93); return this; }
  fmul(): this { this.code.push(0x94); return this; }
  fdiv(): this { this.code.push(0x95); return this; }
  fmin(): this { this.code.push(0x96); return this; }
  fmax(): this { this.code.push(0x97); return this; }
  fsqrt(): this { this.code.push(0x91); return this; }
  fneg(): this { this.code.push(0x8c); return this; }
  fgt(): this { this.code.push(0x5e); return this; }
  fne(): this { this.code.push(0x5c); return this; }
  flt(): this { this.code.push(0x5d); return this; }
  /** i32 → f32 (signed). */
  fFromI(): this { this.code.push(0xb2); return this; }
  /** f32 → i32 (signed, saturating). */
  iFromF(): this { this.code.push(0xfc, 0x00); return this; }
  /** f32 bits → i32 bits. */
  reinterpretF(): this { this.code.push(0xbc); return this; }
  /** i32 bits → f32 bits. */
  reinterpretI(): this { this.code.push(0xbe); return this; }

  // ---------------------------------------------------------------------------------------- memory ---
  /** i32.load (address on stack). */
  loadI(offset = 0): this { this.code.push(0x28, 2); uleb(offset, this.code); return this; }
  loadF(offset = 0): this { this.code.push(0x2a, 2); uleb(offset, this.code); return this; }
  /** f32.store (address, value on stack). */
  storeF(offset = 0): this { this.code.push(0x38, 2); uleb(offset, this.code); return this; }
  storeI(offset = 0): this { this.code.push(0x36, 2); uleb(offset, this.code); return this; }

  // ------------------------------------------------------------------------------------------ SIMD ---
  private simd(op: number): this { this.code.push(0xfd); uleb(op, this.code); return this; }
  vload(offset = 0): this { this.simd(SIMD.load); this.code.push(4); uleb(offset, this.code); return this; }
  vstore(offset = 0): this { this.simd(SIMD.store); this.code.push(4); uleb(offset, this.code); return this; }
  vloadSplat(offset = 0): this { this.simd(SIMD.load32Splat); this.code.push(2); uleb(offset, this.code); return this; }
  vconst(lanes: [number, number, number, number]): this {
    this.simd(SIMD.const);
    this.code.push(...new Uint8Array(new Float32Array(lanes).buffer));
    return this;
  }
  vconstI(lanes: [number, number, number, number]): this {
    this.simd(SIMD.const);
    this.code.push(...new Uint8Array(new Int32Array(lanes).buffer));
    return this;
  }
  /** Lane shuffle of two v128 (16 byte indices into a‖b). */
  vshuffle(bytes: number[]): this { this.simd(SIMD.shuffle); this.code.push(...bytes); return this; }
  /** Broadcast float lane `l` of the v128 held in local `v`. */
  vlaneSplat(v: number, l: number): this {
    const idx: number[] = [];
    for (let r = 0; r < 4; r++) for (let b = 0; b < 4; b++) idx.push(l * 4 + b);
    return this.get(v).get(v).vshuffle(idx);
  }
  vsplat(): this { return this.simd(SIMD.f32x4Splat); }
  vextract(l: number): this { this.simd(SIMD.f32x4ExtractLane); this.code.push(l); return this; }
  vadd(): this { return this.simd(SIMD.f32x4Add); }
  vsub(): this { return this.simd(SIMD.f32x4Sub); }
  vmul(): this { return this.simd(SIMD.f32x4Mul); }
  vdiv(): this { return this.simd(SIMD.f32x4Div); }
  vmin(): this { return this.simd(SIMD.f32x4Min); }
  vmax(): this { return this.simd(SIMD.f32x4Max); }
  vpmax(): this { return this.simd(SIMD.f32x4Pmax); }
  vpmin(): this { return this.simd(SIMD.f32x4Pmin); }
  vneg(): this { return this.simd(SIMD.f32x4Neg); }
  vabs(): this { return this.simd(SIMD.f32x4Abs); }
  vnearest(): this { return this.simd(SIMD.f32x4Nearest); }
  /** Relaxed SIMD f32x4.relaxed_madd: a·b + c (fused where the CPU has FMA). */
  vmadd(): this { return this.simd(0x105); }
  /** Splat of a float constant. */
  vc(x: number): this { return this.vconst([x, x, x, x]); }
  /** Horizontal sum of the v128 in local `v` → f32 on the stack. */
  vhsum(v: number): this {
    return this.get(v).vextract(0).get(v).vextract(1).fadd().get(v).vextract(2).fadd().get(v).vextract(3).fadd();
  }
  /** Horizontal max of the v128 in local `v` → f32 on the stack. */
  vhmax(v: number): this {
    return this.get(v).vextract(0).get(v).vextract(1).fmax().get(v).vextract(2).fmax().get(v).vextract(3).fmax();
  }
  vsqrt(): this { return this.simd(SIMD.f32x4Sqrt); }
  vgt(): this { return this.simd(SIMD.f32x4Gt); }
  vlt(): this { return this.simd(SIMD.f32x4Lt); }
  vand(): this { return this.simd(SIMD.v128And); }
  vbitselect(): this { return this.simd(SIMD.v128Bitselect); }
  /**
   * The v128 in local `v` with subnormal (and -0) lanes flushed to +0, by integer ops only (no float op ever sees the
   * subnormal). WebAssembly cannot set a CPU's flush-to-zero mode, and on many x86-64 CPUs (Intel's in
   * particular) every float operation with a subnormal operand or result takes a microcode assist of ~100
   * cycles: gradients that decay below 1.2e-38 (GELU's negative tail, softmax tails, Adam's second moment)
   * slow whole training steps several-fold there. Values that small change no float32 sum they are added to.
   */
  vftz(v: number): this {
    this.get(v).get(v).vconstI([F32_EXPONENT, F32_EXPONENT, F32_EXPONENT, F32_EXPONENT]).vand();
    this.vconstI([0, 0, 0, 0]).simd(SIMD.i32x4Eq);
    return this.simd(SIMD.v128AndNot);
  }
  /** i32x4 ← trunc_sat(f32x4). */
  vtruncI(): this { return this.simd(SIMD.i32x4TruncSatF32x4S); }
  /** f32x4 ← i32x4. */
  vconvertI(): this { return this.simd(SIMD.f32x4ConvertI32x4S); }
  viadd(): this { return this.simd(SIMD.i32x4Add); }
  /** i32x4 shift left by the i32 on the stack. */
  vishl(): this { return this.simd(SIMD.i32x4Shl); }

  // ------------------------------------------------------------------------------------------ control ---
  /**
   * `for (v = from; v < to; v += step) body()`; `from`, `to`, `step` emit one i32 each. Comparison is unsigned
   * (loop variables are counts or heap addresses, which may exceed 2^31).
   */
  for(v: number, from: () => void, to: () => void, step: number | (() => void), body: () => void): this {
    from();
    this.set(v);
    this.code.push(0x02, 0x40); // block
    this.code.push(0x03, 0x40); // loop
    this.depth += 2;
    this.get(v);
    to();
    this.geU();
    this.code.push(0x0d, 1); // br_if to block end
    body();
    this.get(v);
    if (typeof step === 'number') this.i32(step);
    else step();
    this.add();
    this.set(v);
    this.code.push(0x0c, 0); // br loop
    this.code.push(0x0b, 0x0b);
    this.depth -= 2;
    return this;
  }

  /** `if (cond) then()` with the i32 condition already on the stack. */
  if(then: () => void, otherwise?: () => void): this {
    this.code.push(0x04, 0x40);
    this.depth++;
    then();
    if (otherwise) {
      this.code.push(0x05);
      otherwise();
    }
    this.code.push(0x0b);
    this.depth--;
    return this;
  }

  /** Encoded body (locals + code + end). */
  encode(): number[] {
    const out: number[] = [];
    // compress locals into runs of equal type
    const runs: [number, number][] = [];
    for (const t of this.localTypes) {
      const last = runs[runs.length - 1];
      if (last && last[1] === t) last[0]++;
      else runs.push([1, t]);
    }
    uleb(runs.length, out);
    for (const [n, t] of runs) {
      uleb(n, out);
      out.push(t);
    }
    out.push(...this.code, 0x0b);
    const sized: number[] = [];
    uleb(out.length, sized);
    return [...sized, ...out];
  }
}

/**
 * Assembles functions into a module that imports `env.memory` and exports each function by name.
 * @param opts.sharedMaxPages import a shared memory with this maximum (for worker threads) instead of a plain one
 */
export function assembleModule(fns: FnBuilder[], opts: { sharedMaxPages?: number } = {}): Uint8Array {
  const bytes: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const section = (id: number, body: number[]) => {
    bytes.push(id);
    uleb(body.length, bytes);
    bytes.push(...body);
  };
  // types: one per function
  const types: number[] = [];
  uleb(fns.length, types);
  for (const f of fns) {
    types.push(0x60);
    uleb(f.params.length, types);
    types.push(...f.params);
    uleb(f.results.length, types);
    types.push(...f.results);
  }
  section(1, types);
  // import env.memory: min 1 page and no maximum (matches any memory), or shared with a maximum
  const imports: number[] = [];
  uleb(1, imports);
  str('env', imports);
  str('memory', imports);
  if (opts.sharedMaxPages) {
    imports.push(0x02, 0x03);
    uleb(1, imports);
    uleb(opts.sharedMaxPages, imports);
  } else {
    imports.push(0x02, 0x00);
    uleb(1, imports);
  }
  section(2, imports);
  // functions
  const funcs: number[] = [];
  uleb(fns.length, funcs);
  fns.forEach((_, i) => uleb(i, funcs));
  section(3, funcs);
  // exports
  const exps: number[] = [];
  uleb(fns.length, exps);
  fns.forEach((f, i) => {
    str(f.name, exps);
    exps.push(0x00);
    uleb(i, exps);
  });
  section(7, exps);
  // code
  const code: number[] = [];
  uleb(fns.length, code);
  for (const f of fns) code.push(...f.encode());
  section(10, code);
  return Uint8Array.from(bytes);
}
