// The row kernels of the CPU's WebAssembly module (built with the matmul in kernels/cpu/wasm/matmul.ts,
// so each thread has one instance and one memory): GELU and SiLU over a run of floats, softmax and
// LayerNorm(+modulate) over rows, all in f32x4. They work in place in the module's memory; the
// drivers in kernels/cpu/wasm/rows.ts copy tensors in and out. Each is tested against the TypeScript
// kernel it replaces (kernels/cpu/activations.ts, elementwise.ts, attention.ts).
//
// exp is Cephes' expf, lane-wise: n = round(x log2 e), r = x - n ln 2 (ln 2 in two parts, so r is
// exact), exp(r) by a degree-7 polynomial on |r| <= ln(2)/2, times 2^n built in the exponent bits.
// About 2 ulp. Inputs are clamped to [-87.3, 89], so n stays in [-126, 128]: below, 2^n is a normal
// float and exp is ~1e-38 instead of smaller; above 88.4 or so (n = 128), 2^n's bits are those of
// infinity, and exp is infinity a little before f32's own overflow at 88.72. Both ends only ever feed
// a 1 + e or a sum of exponentials here, where the difference vanishes. NaN stays NaN (min/max
// propagate it).
//
// GELU (tanh) and SiLU are written with one exp and no cancellation: 0.5 (1 + tanh(u)) = 1 / (1 +
// exp(-2u)), so gelu(v) = v / (1 + exp(-2u)), u = sqrt(2/pi) (v + 0.044715 v^3); silu(v) = v / (1 +
// exp(-v)). For very negative v the TypeScript form is 0.5 v (1 + tanh(u)), which is 0 once tanh
// rounds to -1; this one is v / infinity = -0 there too, and -infinity gives NaN as the reference does.

import type { FunctionBuilder, Local } from './module.js';

const LOG2E = Math.LOG2E;
const LN2_HI = 0.693359375;
const LN2_LO = -2.12194440e-4;
const EXP_POLY = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];
const EXP_MIN = -87.3;
const EXP_MAX = 89;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** Scratch vectors for emitExp. */
export interface ExpTemps {
  n: Local<'v128'>;
  p: Local<'v128'>;
}

function splat(f: FunctionBuilder, v: number): void {
  f.f32Const(v).f32x4Splat();
}

/** x = exp(x), lane-wise (see the header). */
export function emitExp(f: FunctionBuilder, x: Local<'v128'>, t: ExpTemps): void {
  f.get(x);
  splat(f, EXP_MAX);
  f.f32x4Min();
  splat(f, EXP_MIN);
  f.f32x4Max().set(x);
  f.get(x);
  splat(f, LOG2E);
  f.f32x4Mul().f32x4Nearest().set(t.n);
  f.get(x).get(t.n);
  splat(f, LN2_HI);
  f.f32x4Mul().f32x4Sub().get(t.n);
  splat(f, LN2_LO);
  f.f32x4Mul().f32x4Sub().set(x); // x = r
  splat(f, EXP_POLY[0]);
  for (const c of EXP_POLY.slice(1)) {
    f.get(x).f32x4Mul();
    splat(f, c);
    f.f32x4Add();
  }
  f.set(t.p);
  // p r^2 + r + 1
  f.get(t.p).get(x).f32x4Mul().get(x).f32x4Mul().get(x).f32x4Add();
  splat(f, 1);
  f.f32x4Add();
  // times 2^n: (n + 127) << 23 is 2^n's bit pattern.
  f.get(t.n).i32x4TruncSatF32x4S().i32Const(127).i32x4Splat().i32x4Add().i32Const(23).i32x4Shl();
  f.f32x4Mul().set(x);
}

/**
 * gelu(p, groups) and silu(p, groups): in place over `groups` >= 1 vectors of 4 floats from p.
 * `kind` picks the argument of the exp: gelu -2u(v), silu -v.
 */
export function emitActivation(f: FunctionBuilder, kind: 'gelu' | 'silu'): void {
  const p = f.param(0, 'i32'), groups = f.param(1, 'i32');
  const v = f.local('v128'), e = f.local('v128');
  const t: ExpTemps = { n: f.local('v128'), p: f.local('v128') };
  f.loop(() => {
    f.get(p).v128Load(0).set(v);
    if (kind === 'gelu') {
      // -2u = v (a + b v^2), a = -2 sqrt(2/pi), b = a * 0.044715
      f.get(v).get(v).f32x4Mul();
      splat(f, -2 * SQRT_2_OVER_PI * 0.044715);
      f.f32x4Mul();
      splat(f, -2 * SQRT_2_OVER_PI);
      f.f32x4Add().get(v).f32x4Mul().set(e);
    } else {
      splat(f, 0);
      f.get(v).f32x4Sub().set(e);
    }
    emitExp(f, e, t);
    f.get(p).get(v);
    splat(f, 1);
    f.get(e).f32x4Add().f32x4Div().v128Store(0);
    f.get(p).i32Const(16).i32Add().set(p);
    f.get(groups).i32Const(1).i32Sub().tee(groups).brIf(0);
  });
}

/** Kahan summation state: sums, their running compensations, and a temporary. */
interface Kahan {
  sum: Local<'v128'>;
  comp: Local<'v128'>;
  t: Local<'v128'>;
}

function kahan(f: FunctionBuilder): Kahan {
  return { sum: f.local('v128'), comp: f.local('v128'), t: f.local('v128') };
}

function kahanZero(f: FunctionBuilder, k: Kahan): void {
  splat(f, 0);
  f.set(k.sum);
  splat(f, 0);
  f.set(k.comp);
}

/**
 * k.sum += v with Kahan's compensation, lane-wise. A row's sum runs 4 lanes over dim / 4 values in f32;
 * plain, its error grows with the row (2e-5 relative at 70,000 values, against the reference's f64),
 * compensated it stays at a few ulps whatever the length. (WebAssembly never reassociates floats.)
 */
function kahanAdd(f: FunctionBuilder, k: Kahan, v: Local<'v128'>): void {
  f.get(v).get(k.comp).f32x4Sub().set(v); // y = v - c
  f.get(k.sum).get(v).f32x4Add().set(k.t); // t = sum + y
  f.get(k.t).get(k.sum).f32x4Sub().get(v).f32x4Sub().set(k.comp); // c = (t - sum) - y
  f.get(k.t).set(k.sum);
}

/** Pushes the sum or max of the lanes of v as an f32. */
function horizontal(f: FunctionBuilder, v: Local<'v128'>, op: 'add' | 'max'): void {
  f.get(v).f32x4ExtractLane(0);
  for (let l = 1; l < 4; l++) {
    f.get(v).f32x4ExtractLane(l);
    if (op === 'add') f.f32Add();
    else f.f32Max();
  }
}

/**
 * The loop of the row kernels: for each of `rows` >= 1 rows of `groups` >= 1 vectors from p (which it
 * advances), body(overRow, q), where overRow(step) emits a loop running step with q at each vector.
 */
function emitRowLoop(
  f: FunctionBuilder, p: Local<'i32'>, rows: Local<'i32'>, groups: Local<'i32'>,
  body: (overRow: (step: () => void) => void, q: Local<'i32'>) => void,
): void {
  const q = f.local('i32'), end = f.local('i32');
  const overRow = (step: () => void) => {
    f.get(p).set(q);
    f.loop(() => {
      step();
      f.get(q).i32Const(16).i32Add().tee(q).get(end).i32LtU().brIf(0);
    });
  };
  f.loop(() => {
    f.get(p).get(groups).i32Const(16).i32Mul().i32Add().set(end);
    body(overRow, q);
    f.get(end).set(p);
    f.get(rows).i32Const(1).i32Sub().tee(rows).brIf(0);
  });
}

/**
 * softmax(p, rows, groups, scale): each of `rows` rows of `groups` vectors (stride 16 groups bytes)
 * becomes softmax(scale * row), in place: e = exp((x - max) scale), then e / sum(e). Padding lanes
 * must hold -infinity (they contribute ~1e-38 each to the sum; see the header).
 */
export function emitSoftmax(f: FunctionBuilder): void {
  const p = f.param(0, 'i32'), rows = f.param(1, 'i32'), groups = f.param(2, 'i32'), scale = f.param(3, 'f32');
  const acc = f.local('v128'), v = f.local('v128'), s = f.local('v128');
  const t: ExpTemps = { n: f.local('v128'), p: f.local('v128') };
  const k = kahan(f);
  const m = f.local('f32');
  emitRowLoop(f, p, rows, groups, (overRow, q) => {
    f.get(p).v128Load(0).set(acc);
    overRow(() => f.get(acc).get(q).v128Load(0).f32x4Max().set(acc));
    horizontal(f, acc, 'max');
    f.set(m);
    f.get(scale).f32x4Splat().set(s);
    kahanZero(f, k);
    overRow(() => {
      f.get(q).v128Load(0).get(m).f32x4Splat().f32x4Sub().get(s).f32x4Mul().set(v);
      emitExp(f, v, t);
      f.get(q).get(v).v128Store(0);
      kahanAdd(f, k, v);
    });
    splat(f, 1);
    horizontal(f, k.sum, 'add');
    f.f32x4Splat().f32x4Div().set(s);
    overRow(() => f.get(q).get(q).v128Load(0).get(s).f32x4Mul().v128Store(0));
  });
}

/**
 * layerNorm(p, rows, dim, groups, invDim, eps, shift, scale): each of `rows` rows of `dim` floats
 * (stride 16 groups bytes, padding lanes zero) becomes (x - mean) / sqrt(var + eps) * (1 + scale) +
 * shift, with shift and scale rows of `groups` vectors (zeros for a plain LayerNorm: exact). The
 * variance is the mean of (x - mean)^2 over a second pass (as the TypeScript kernel; in f32 with
 * compensated sums where it has f64).
 */
export function emitLayerNorm(f: FunctionBuilder): void {
  const p = f.param(0, 'i32'), rows = f.param(1, 'i32'), dim = f.param(2, 'i32'), groups = f.param(3, 'i32');
  const invDim = f.param(4, 'f32'), eps = f.param(5, 'f32'), shift = f.param(6, 'i32'), scale = f.param(7, 'i32');
  const i = f.local('i32'), mp = f.local('i32');
  const d = f.local('v128'), mean = f.local('v128'), inv = f.local('v128');
  const k = kahan(f);
  const m = f.local('f32');
  emitRowLoop(f, p, rows, groups, (overRow, q) => {
    kahanZero(f, k);
    overRow(() => {
      f.get(q).v128Load(0).set(d);
      kahanAdd(f, k, d);
    });
    horizontal(f, k.sum, 'add');
    f.get(invDim).f32Mul().tee(m).f32x4Splat().set(mean);
    // The padding lanes take the mean, so they add nothing to the variance.
    f.get(dim).set(i);
    f.block(() => {
      f.get(i).get(groups).i32Const(4).i32Mul().i32LtU().i32Eqz().brIf(0);
      f.loop(() => {
        f.get(p).get(i).i32Const(4).i32Mul().i32Add().get(m).f32Store(0);
        f.get(i).i32Const(1).i32Add().tee(i).get(groups).i32Const(4).i32Mul().i32LtU().brIf(0);
      });
    });
    kahanZero(f, k);
    overRow(() => {
      f.get(q).v128Load(0).get(mean).f32x4Sub().set(d);
      f.get(d).get(d).f32x4Mul().set(d);
      kahanAdd(f, k, d);
    });
    f.f32Const(1);
    horizontal(f, k.sum, 'add');
    f.get(invDim).f32Mul().get(eps).f32Add().f32Sqrt().f32Div().f32x4Splat().set(inv);
    // mp walks the modulation rows beside q.
    f.i32Const(0).set(mp);
    overRow(() => {
      f.get(q);
      f.get(q).v128Load(0).get(mean).f32x4Sub().get(inv).f32x4Mul();
      splat(f, 1);
      f.get(scale).get(mp).i32Add().v128Load(0).f32x4Add().f32x4Mul();
      f.get(shift).get(mp).i32Add().v128Load(0).f32x4Add();
      f.v128Store(0);
      f.get(mp).i32Const(16).i32Add().set(mp);
    });
  });
}
