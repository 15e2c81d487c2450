// core/cpu/backend.ts: DITTO_CPU_KERNELS, and the linear layer on the simd kernels split over threads
// equals the TypeScript kernels' (the per-kernel parity is test/kernels/cpu/wasm/matmul.test.ts).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { maxRelErr } from '../../../core/accuracy.js';
import { CpuBackend, cpuKernels } from '../../../core/cpu/backend.js';
import { UserError } from '../../../core/errors.js';
import * as op from '../../../core/ops.js';
import { detectMatmulVariant } from '../../../kernels/cpu/wasm/matmul.js';
import { randn } from '../../reference.js';

const simd = detectMatmulVariant() !== null;

/** Runs `fn` on a 2-thread backend of each kernel set (where this runtime has simd), then closes both. */
async function onBoth(fn: (ts: CpuBackend, wasm: CpuBackend) => Promise<void>): Promise<void> {
  if (!simd) return;
  const ts = new CpuBackend(2, 'ts'), wasm = new CpuBackend(2, 'simd');
  try {
    await fn(ts, wasm);
  } finally {
    await ts.pool.close();
    await wasm.pool.close();
  }
}

test('DITTO_CPU_KERNELS: ts or simd; unset or empty is simd where WebAssembly SIMD validates; anything else is a one-line error', () => {
  assert.is(cpuKernels('ts'), 'ts');
  assert.is(cpuKernels(' ts '), 'ts');
  assert.is(cpuKernels(undefined), simd ? 'simd' : 'ts');
  assert.is(cpuKernels(''), simd ? 'simd' : 'ts');
  if (simd) assert.is(cpuKernels('simd'), 'simd');
  for (const bad of ['wasm', 'SIMD', '1']) {
    try {
      cpuKernels(bad);
      assert.unreachable(`${bad} accepted`);
    } catch (e) {
      assert.ok(e instanceof UserError);
      assert.is((e as Error).message, `DITTO_CPU_KERNELS=${bad}: give ts (TypeScript loops) or simd (WebAssembly SIMD), or unset it to use simd where the runtime has it`);
    }
  }
});

test('linear on 2 threads: the simd kernels equal the TypeScript ones at DiT shapes, the adaLN shape and odd ones', () => onBoth(async (ts, wasm) => {
  assert.is(wasm.kernels, 'simd');
  for (const [m, k, n, act] of [[512, 384, 1152, 'none'], [64, 384, 1536, 'gelu'], [2, 384, 2304, 'none'], [33, 17, 130, 'silu'], [1, 1, 1, 'none']] as const) {
    const x = randn(m * k, 1), w = randn(n * k, 2), b = randn(n, 3);
    const run = async (be: CpuBackend) => {
      const y = op.linear(be.upload(x, [m, k], 'f32'), be.upload(w, [n, k], 'f32'), be.upload(b, [n], 'f32'), act);
      return (await y.read()) as Float32Array;
    };
    const err = maxRelErr(await run(wasm), await run(ts));
    assert.ok(err <= 1e-5, `${m}x${k}x${n} ${act}: relative error ${err.toExponential(2)}`);
  }
}));

test('simd linear packs a weight once and keeps the panels with its storage: reuse, a reshaped view, a released and reused buffer', () => onBoth(async (ts, wasm) => {
  const [m, k, n] = [9, 24, 40];
  const x = randn(m * k, 1), w1 = randn(n * k, 2), w2 = randn(n * k, 3);
  const expectSame = async (got: Float32Array, want: Float32Array, what: string) => {
    const err = maxRelErr(got, want);
    assert.ok(err <= 1e-5, `${what}: relative error ${err.toExponential(2)}`);
  };
  const linear = async (be: CpuBackend, xs: Float32Array, ws: Float32Array, wShape: [number, number]) =>
    (await op.linear(be.upload(xs, [m, wShape[1]], 'f32'), be.upload(ws, wShape, 'f32')).read()) as Float32Array;
  const w = wasm.upload(w1, [n, k], 'f32'), xw = wasm.upload(x, [m, k], 'f32');
  const first = (await op.linear(xw, w).read()) as Float32Array;
  await expectSame(first, await linear(ts, x, w1, [n, k]), 'first call');
  await expectSame((await op.linear(xw, w).read()) as Float32Array, first, 'second call (cached panels)');
  // The same storage as a [n / 2, 2k] weight: packed anew at that shape.
  const x2 = randn(m * 2 * k, 4);
  const viewed = (await op.linear(wasm.upload(x2, [m, 2 * k], 'f32'), w.reshape([n / 2, 2 * k])).read()) as Float32Array;
  await expectSame(viewed, await linear(ts, x2, w1, [n / 2, 2 * k]), 'reshaped view');
  // Released: its buffer (and its panels' buffer) return to the pool; a new weight reusing them is packed anew.
  w.dispose();
  await expectSame(await linear(wasm, x, w2, [n, k]), await linear(ts, x, w2, [n, k]), 'new weight in a reused buffer');
}));

test('linearGatedResidual on 2 threads: the simd epilogue equals the TypeScript linear then residual', () => onBoth(async (ts, wasm) => {
  const [B, T, K, N] = [2, 37, 45, 70], W = 3 * N;
  const x = randn(B * T * N, 1), mod = randn(B * W, 2), h = randn(B * T * K, 3), w = randn(N * K, 4), b = randn(N, 5);
  const run = async (be: CpuBackend) => {
    const y = be.linearGatedResidual(be.upload(x, [B, T, N], 'f32'), be.upload(mod, [B, W], 'f32'), N, be.upload(h, [B, T, K], 'f32'), be.upload(w, [N, K], 'f32'), be.upload(b, [N], 'f32'));
    return (await y.read()) as Float32Array;
  };
  const err = maxRelErr(await run(wasm), await run(ts));
  assert.ok(err <= 1e-5, `relative error ${err.toExponential(2)}`);
}));

test('attention on 2 threads: the simd products equal the TypeScript ones', () => onBoth(async (ts, wasm) => {
  const [bh, t, d] = [12, 256, 64];
  const q = randn(bh * t * d, 1), k = randn(bh * t * d, 2), v = randn(bh * t * d, 3);
  const run = async (be: CpuBackend) => {
    const up = (x: Float32Array) => be.upload(x, [bh, t, d], 'f32');
    return (await op.attention(up(q), up(k), up(v), 0.125).read()) as Float32Array;
  };
  const err = maxRelErr(await run(wasm), await run(ts));
  assert.ok(err <= 1e-5, `relative error ${err.toExponential(2)}`);
}));

test.run();
