// kernels/webgpu/groupnorm.ts against the CPU backend: groups of one and of several channels, spatial
// sizes that are and are not multiples of 4 (vec4 and scalar sweeps), runs shorter and far longer than
// the workgroup, with and without the fused SiLU, both row plans (tree in workgroup memory, subgroup),
// and values far from zero mean.

import { test } from 'uvu';
import * as op from '../../../core/ops.js';
import type { Tensor } from '../../../core/tensor.js';
import { groupNormKernel } from '../../../kernels/webgpu/groupnorm.js';
import { expectParity, kernelBackends, rand } from './parity.js';

const pair = await kernelBackends();

if (pair) {
  // [N, C, H, W, groups]: the last is a decoder's final level at 64x64 (8 channels x 4096 per run).
  const shapes: [number, number, number, number, number][] = [[1, 4, 1, 1, 4], [2, 6, 3, 5, 3], [2, 64, 4, 4, 32], [1, 32, 7, 9, 32], [1, 256, 64, 64, 32]];
  for (const [n, c, h, w, groups] of shapes) {
    test(`groupNorm [${n}, ${c}, ${h}, ${w}] in ${groups} groups, with and without SiLU`, async () => {
      const x = rand([n, c, h, w], c, 3), wt = rand([c], 2), b = rand([c], 3);
      await expectParity(pair, 'plain', (x, wt, b) => op.groupNorm(x, groups, 1e-6, wt, b), [x, wt, b], 1e-5);
      await expectParity(pair, 'silu', (x, wt, b) => op.groupNorm(x, groups, 1e-6, wt, b, true), [x, wt, b], 1e-5);
    });
  }

  test('both row plans (tree in workgroup memory, subgroup) on this adapter', async () => {
    const plans = [{ ...pair.gpu.caps, emulated: false }, ...(pair.gpu.caps.subgroupSize ? [{ ...pair.gpu.caps, emulated: true }] : [])];
    for (const caps of plans) {
      for (const [n, c, h, w, groups] of [[2, 6, 3, 5, 3], [1, 64, 16, 16, 32]]) {
        const run = (x: Tensor, wt: Tensor, b: Tensor) =>
          pair.backend(x) === pair.gpu
            ? pair.gpu.run(groupNormKernel(n, c, h * w, groups, 1e-6, true, caps), [x, wt, b], x.shape)
            : op.groupNorm(x, groups, 1e-6, wt, b, true);
        await expectParity(pair, `${caps.emulated ? 'subgroup' : 'tree'} [${n}, ${c}, ${h}, ${w}]`, run, [rand([n, c, h, w], 1), rand([c], 2), rand([c], 3)], 1e-5);
      }
    }
  });

  test('groupNorm of values with a large mean (two-pass variance)', async () => {
    const [data, shape] = rand([2, 8, 6, 6], 5);
    await expectParity(pair, 'shifted', (x, wt, b) => op.groupNorm(x, 4, 1e-6, wt, b), [[data.map((v) => 1000 + v), shape], rand([8], 2), rand([8], 3)], 1e-4);
  });
}

test.run();
