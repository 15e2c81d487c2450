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

test('linear on 2 threads: the simd kernels equal the TypeScript ones at DiT shapes, the adaLN shape and odd ones', async () => {
  if (!simd) return;
  const ts = new CpuBackend(2, 'ts'), wasm = new CpuBackend(2, 'simd');
  try {
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
  } finally {
    await ts.pool.close();
    await wasm.pool.close();
  }
});

test('attention on 2 threads: the simd products equal the TypeScript ones', async () => {
  if (!simd) return;
  const ts = new CpuBackend(2, 'ts'), wasm = new CpuBackend(2, 'simd');
  try {
    const [bh, t, d] = [12, 256, 64];
    const q = randn(bh * t * d, 1), k = randn(bh * t * d, 2), v = randn(bh * t * d, 3);
    const run = async (be: CpuBackend) => {
      const up = (x: Float32Array) => be.upload(x, [bh, t, d], 'f32');
      return (await be.attention(up(q), up(k), up(v), 0.125).read()) as Float32Array;
    };
    const err = maxRelErr(await run(wasm), await run(ts));
    assert.ok(err <= 1e-5, `relative error ${err.toExponential(2)}`);
  } finally {
    await ts.pool.close();
    await wasm.pool.close();
  }
});

test.run();
