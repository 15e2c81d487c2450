// kernels/webgpu/matmul.ts against the CPU backend: every path (tiled, subgroup where the adapter has fixed-size
// subgroups, small-M), sizes that do and do not divide the blocks, K not a multiple of 4, bias, GELU/SiLU,
// and the gated-residual epilogue.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as op from '../../../core/ops.js';
import type { Tensor } from '../../../core/tensor.js';
import { chooseMatmulPath, matmulKernel, type MatmulPath, type MatmulProblem } from '../../../kernels/webgpu/matmul.js';
import { maxRelErr } from '../../../core/accuracy.js';
import { refLinear } from '../../reference.js';
import { expectParity, kernelBackends, rand, withOverrides } from './parity.js';

const pair = await kernelBackends();

const problem = (m: number, n: number, k: number): MatmulProblem =>
  ({ batch: 1, m, n, k, bLayout: 'nk', bBatched: false, bias: true, act: 'none', alpha: 1 });

if (pair) {
  const { gpu } = pair;
  // A forced 'smallM' applies where M <= 8 (the default path elsewhere).
  const paths: (MatmulPath | undefined)[] = [undefined, 'tiled', 'smallM', ...(gpu.caps.subgroupSize ? ['subgroup' as const] : [])];

  test('on GPUs the small-M path takes M <= 8; the subgroup path is the default for every M on CPU-emulated adapters', () => {
    const gpuCaps = { ...gpu.caps, emulated: false };
    assert.is(chooseMatmulPath(problem(2, 576, 96), gpuCaps), 'smallM');
    assert.is(chooseMatmulPath(problem(8, 64, 64), gpuCaps), 'smallM');
    assert.is(chooseMatmulPath(problem(9, 64, 64), gpuCaps), 'tiled');
    assert.ok(matmulKernel(problem(2, 576, 96), gpuCaps).key.startsWith('matmul.smallM|'));
    const emulated = { ...gpu.caps, emulated: true, subgroupSize: 8 };
    for (const m of [2, 9]) assert.is(chooseMatmulPath(problem(m, 64, 64), emulated), 'subgroup');
  });

  // [M, K, N]: 1x7x5 and 3x33x17 hit every edge; 67x130x45 edges in all three dims with K % 4 = 2;
  // 2x96x576 is the adaLN shape of the small-M path; 64x64x64 divides the tiles (no edge code at all).
  const shapes: [number, number, number][] = [[1, 7, 5], [3, 33, 17], [8, 32, 20], [9, 32, 20], [67, 130, 45], [2, 96, 576], [64, 64, 64], [130, 64, 260]];
  for (const path of paths) {
    for (const [m, k, n] of shapes) {
      test(`linear ${m}x${k}x${n} (${path ?? 'default'} path)`, async () => {
        await withOverrides(gpu, { matmul: path }, async () => {
          const x = rand([m, k], m + k), w = rand([n, k], n), b = rand([n], 3);
          await expectParity(pair, 'with bias', (x, w, b) => op.linear(x, w, b), [x, w, b]);
          await expectParity(pair, 'without bias', (x, w) => op.linear(x, w), [x, w]);
        });
      });
    }
    test(`linear with the gated-residual epilogue (${path ?? 'default'} path)`, async () => {
      await withOverrides(gpu, { matmul: path }, async () => {
        // [B, T, K, N]: 2 rows take the small-M path by default; 3x37 rows and N = 45 have edges
        // everywhere; N = 96 stores vec4s on the tiled path, the gate read at column offset 96.
        for (const [B, T, K, N] of [[2, 1, 32, 20], [3, 37, 130, 45], [2, 33, 64, 96]]) {
          const inputs = [rand([B, T, N], 1), rand([B, 3 * N], 2), rand([B, T, K], 3), rand([N, K], 4), rand([N], 5)];
          await expectParity(pair, `${B}x${T}x${K}x${N}`, (x, mod, h, w, b) => op.linearGatedResidual(x, mod, 1, h, w, b), inputs);
          await expectParity(pair, `${B}x${T}x${K}x${N} without bias`, (x, mod, h, w) => op.linearGatedResidual(x, mod, 2, h, w), inputs.slice(0, 4));
        }
      });
    });
    for (const act of ['gelu', 'silu'] as const) {
      test(`linear 67x130x45 and 2x96x576 ${act} (${path ?? 'default'} path)`, async () => {
        await withOverrides(gpu, { matmul: path }, async () => {
          for (const [m, k, n] of [[67, 130, 45], [2, 96, 576]]) {
            // Scaled up so the activations see large arguments too.
            await expectParity(pair, `${m}x${k}x${n}`, (x, w, b) => op.linear(x, w, b, act), [rand([m, k], 1, 2), rand([n, k], 2), rand([n], 3)]);
          }
        });
      });
    }
  }

  test('the tiled path with another block shape (8x8 per invocation)', async () => {
    await withOverrides(gpu, { matmul: 'tiled', tiled: { bm: 64, bn: 32, bk: 8, tm: 8, tn: 8 } }, async () => {
      await expectParity(pair, '67x130x45', (x, w, b) => op.linear(x, w, b, 'gelu'), [rand([67, 130], 1), rand([45, 130], 2), rand([45], 3)]);
    });
  });

  for (const path of paths) {
    // The small-M kernel takes no batch.
    if (path === undefined || path === 'smallM') continue;
    test(`batched matmul, B as [N,K] and [K,N], alpha (${path} path)`, async () => {
      await withOverrides(gpu, { matmul: path }, async () => {
        const [batch, m, k, n] = [3, 37, 21, 19];
        const a = rand([batch, m, k], 1), bt = rand([batch, n, k], 2), b = rand([batch, k, n], 3);
        const expect = (bMat: (i: number, kk: number, j: number) => number, alpha: number) => {
          const out = new Float64Array(batch * m * n);
          for (let i = 0; i < batch; i++)
            for (let r = 0; r < m; r++)
              for (let j = 0; j < n; j++) {
                let s = 0;
                for (let kk = 0; kk < k; kk++) s += a[0][(i * m + r) * k + kk] * bMat(i, kk, j);
                out[(i * m + r) * n + j] = alpha * s;
              }
          return out;
        };
        const ta = gpu.upload(a[0], a[1], 'f32');
        const t1 = gpu.matmul(ta, gpu.upload(bt[0], bt[1], 'f32'), { transposeB: true, alpha: 0.5 });
        assert.equal(t1.shape, [batch, m, n]);
        const e1 = maxRelErr(await t1.read(), expect((i, kk, j) => bt[0][(i * n + j) * k + kk], 0.5));
        assert.ok(e1 < 1e-5, `B as [N,K]: ${e1}`);
        const t2 = gpu.matmul(ta, gpu.upload(b[0], b[1], 'f32'), { transposeB: false });
        const e2 = maxRelErr(await t2.read(), expect((i, kk, j) => b[0][(i * k + kk) * n + j], 1));
        assert.ok(e2 < 1e-5, `B as [K,N]: ${e2}`);
        assert.throws(() => gpu.matmul(ta, ta, { transposeB: false }), /do not multiply/);
      });
    });
  }

  test('linear on large activations stays finite (GELU/SiLU saturate, no inf/inf)', async () => {
    const x = new Float32Array([100, -100, 50, -50, 0, 1e-3]);
    const w = new Float32Array([1]);
    for (const act of ['gelu', 'silu'] as const) {
      const y = await op.linear(gpu.upload(x, [6, 1], 'f32'), gpu.upload(w, [1, 1], 'f32'), null, act).read();
      const want = Array.from(x, (v) => (act === 'gelu' ? 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))) : v / (1 + Math.exp(-v))));
      assert.ok(maxRelErr(y, want) < 1e-6, `${act}: ${Array.from(y)}`);
    }
  });

  test('reference check of the default path against float64', async () => {
    const [m, k, n] = [33, 40, 24];
    const x = rand([m, k], 7), w = rand([n, k], 8), b = rand([n], 9);
    const y: Tensor = op.linear(gpu.upload(x[0], x[1], 'f32'), gpu.upload(w[0], w[1], 'f32'), gpu.upload(b[0], b[1], 'f32'));
    assert.ok(maxRelErr(await y.read(), refLinear(x[0] as Float32Array, w[0] as Float32Array, b[0] as Float32Array, m, k, n)) < 1e-5);
  });
}

test.run();
