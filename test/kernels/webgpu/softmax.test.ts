// kernels/webgpu/softmax.ts against the CPU backend: short and long rows, large logits (no overflow).

import { test } from 'uvu';
import * as op from '../../../core/ops.js';
import type { Tensor } from '../../../core/tensor.js';
import { softmaxKernel } from '../../../kernels/webgpu/softmax.js';
import { expectParity, kernelBackends, rand } from './parity.js';

const pair = await kernelBackends();

if (pair) {
  for (const [rows, dim, scale] of [[1, 1, 1], [3, 70, 10], [5, 256, 1], [2, 1000, 30], [7, 2049, 3]]) {
    test(`softmax ${rows} rows of ${dim} (logits x${scale})`, async () => {
      await expectParity(pair, 'softmax', op.softmax, [rand([rows, dim], dim, scale)], 1e-5);
    });
  }

  test('both row plans (tree in workgroup memory, subgroup) on this adapter', async () => {
    const plans = [{ ...pair.gpu.caps, emulated: false }, ...(pair.gpu.caps.subgroupSize ? [{ ...pair.gpu.caps, emulated: true }] : [])];
    for (const caps of plans) {
      for (const dim of [70, 2049]) {
        const run = (x: Tensor) => (pair.backend(x) === pair.gpu ? pair.gpu.run(softmaxKernel(3, dim, caps), [x], x.shape) : op.softmax(x));
        await expectParity(pair, `softmax ${dim}`, run, [rand([3, dim], 4, 10)], 1e-5);
      }
    }
  });
}

test.run();
