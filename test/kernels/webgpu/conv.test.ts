// conv2d on WebGPU (the matmul kernels with A read as im2col, kernels/webgpu/matmul.ts) against the CPU
// backend: every path (tiled, subgroup where the adapter has fixed-size subgroups), 3x3 padding 1 and
// 1x1 padding 0 like the VAE decoder's, sizes where pixels, channels and K = C*kh*kw do and do not
// divide the blocks, a non-square kernel, several images, and a reference check against float64.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as op from '../../../core/ops.js';
import { maxRelErr } from '../../../core/accuracy.js';
import { chooseMatmulPath, matmulKernel, type MatmulPath, type MatmulProblem } from '../../../kernels/webgpu/matmul.js';
import { refConv2d } from '../../reference.js';
import { expectParity, kernelBackends, rand, withOverrides } from './parity.js';

const pair = await kernelBackends();

if (pair) {
  const { gpu } = pair;
  const paths: (MatmulPath | undefined)[] = [undefined, 'tiled', ...(gpu.caps.subgroupSize ? ['subgroup' as const] : [])];

  test('a conv never takes the small-M path, and its key names its geometry', () => {
    const conv: MatmulProblem = {
      batch: 1, m: 4, n: 8, k: 36, bLayout: 'nk', bBatched: false, bias: true, act: 'none', alpha: 1,
      conv: { channels: 4, height: 2, width: 2, kernelH: 3, kernelW: 3, padding: 1 },
    };
    assert.is.not(chooseMatmulPath(conv, gpu.caps), 'smallM');
    assert.match(matmulKernel(conv, gpu.caps).key, /conv 4x2x2 k3x3 p1/);
    assert.throws(() => matmulKernel(conv, gpu.caps, { path: 'smallM' }), /small-M/);
  });

  // [x shape, w shape, padding]. 64 = 8x8 pixels and K = 16*9 = 144 divide the tiled blocks (64, 16);
  // 7x9 = 63 pixels, K = 5*9 = 45 and 6 channels divide nothing; K = 3*9 = 27 is no multiple of 4
  // (scalar weight loads); 4 channels at 2x2 is the decoder's smallest; 130 pixels span three tiles.
  const shapes: [number[], number[], number][] = [
    [[1, 16, 8, 8], [64, 16, 3, 3], 1], [[2, 5, 7, 9], [6, 5, 3, 3], 1], [[1, 3, 6, 5], [10, 3, 3, 3], 1],
    [[2, 4, 2, 2], [8, 4, 3, 3], 1], [[1, 8, 10, 13], [36, 8, 1, 1], 0], [[2, 12, 5, 5], [20, 12, 1, 1], 0],
    [[1, 4, 6, 7], [5, 4, 3, 3], 0], [[1, 4, 5, 6], [7, 4, 3, 5], 2],
  ];
  for (const path of paths) {
    for (const [xs, ws, p] of shapes) {
      test(`conv2d ${xs.join('x')} * ${ws.join('x')} padding ${p} (${path ?? 'default'} path)`, async () => {
        await withOverrides(gpu, { matmul: path }, async () => {
          const x = rand(xs, 1), w = rand(ws, 2, 0.3), b = rand([ws[0]], 3);
          await expectParity(pair, 'with bias', (x, w, b) => op.conv2d(x, w, b, p), [x, w, b], 1e-5);
          await expectParity(pair, 'without bias', (x, w) => op.conv2d(x, w, null, p), [x, w], 1e-5);
        });
      });
    }
  }

  test('the tiled path with another block shape (8x8 per invocation)', async () => {
    await withOverrides(gpu, { matmul: 'tiled', tiled: { bm: 64, bn: 32, bk: 8, tm: 8, tn: 8 } }, async () => {
      await expectParity(pair, '2x5x7x9 * 6x5x3x3', (x, w, b) => op.conv2d(x, w, b, 1), [rand([2, 5, 7, 9], 1), rand([6, 5, 3, 3], 2), rand([6], 3)], 1e-5);
    });
  });

  test('the subgroup path with fewer rows per subgroup', async () => {
    if (!gpu.caps.subgroupSize) return;
    const S = gpu.caps.subgroupSize;
    await withOverrides(gpu, { matmul: 'subgroup', subgroup: { tm: S, tn: 1 } }, async () => {
      await expectParity(pair, '1x8x10x13 * 36x8x3x3', (x, w, b) => op.conv2d(x, w, b, 1), [rand([1, 8, 10, 13], 1), rand([36, 8, 3, 3], 2), rand([36], 3)], 1e-5);
    });
  });

  test('reference check of the default path against float64', async () => {
    const xs = [2, 6, 9, 7], ws = [11, 6, 3, 3];
    const x = rand(xs, 7), w = rand(ws, 8), b = rand([11], 9);
    const y = op.conv2d(gpu.upload(x[0], xs, 'f32'), gpu.upload(w[0], ws, 'f32'), gpu.upload(b[0], [11], 'f32'), 1);
    assert.ok(maxRelErr(await y.read(), refConv2d(x[0], w[0], b[0], xs, ws, 1)) < 1e-5);
  });
}

test.run();
