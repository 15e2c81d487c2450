// kernels/webgpu/layernorm.ts against the CPU backend: row lengths below, at and above the workgroup size
// (up to 8 values per invocation), with and without DiT's modulate, and rows far from zero mean; and
// RMSNorm, the same row kernel with one reduction.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as op from '../../../core/ops.js';
import type { Tensor } from '../../../core/tensor.js';
import { rowPlan } from '../../../kernels/webgpu/kernel.js';
import { layerNormKernel } from '../../../kernels/webgpu/layernorm.js';
import { expectParity, kernelBackends, rand } from './parity.js';

const pair = await kernelBackends();

if (pair) {
  test('row plans: on GPUs at most 8 values per invocation up to 256 invocations; one subgroup on lavapipe', () => {
    const gpuCaps = { ...pair.gpu.caps, emulated: false };
    assert.equal([1, 256, 257, 1152, 4096].map((d) => rowPlan(d, gpuCaps).W), [32, 32, 64, 256, 256]);
    assert.is(rowPlan(1152, gpuCaps).per, 5);
    const cpuCaps = { ...pair.gpu.caps, emulated: true, subgroupSize: 8 };
    assert.equal(rowPlan(1152, cpuCaps), { W: 8, per: 144, subgroup: true });
  });

  for (const dim of [1, 5, 37, 256, 1152, 2500]) {
    test(`layerNorm rows of ${dim}`, async () => {
      const x = rand([2, 3, dim], dim, 3);
      await expectParity(pair, 'plain', (x) => op.layerNorm(x, 1e-6), [x], 1e-5);
      await expectParity(pair, 'modulate', (x, mod) => op.layerNormModulate(x, mod, 2, 0, 1e-6), [x, rand([2, 3 * dim], 2)], 1e-5);
    });
  }

  test('both row plans (tree in workgroup memory, subgroup) on this adapter', async () => {
    const plans = [{ ...pair.gpu.caps, emulated: false }, ...(pair.gpu.caps.subgroupSize ? [{ ...pair.gpu.caps, emulated: true }] : [])];
    for (const caps of plans) {
      for (const dim of [37, 1152]) {
        const x = rand([2, 3, dim], dim, 3);
        // Modulated: shift and scale as chunks 2 and 0 of an adaLN output [2, 3 * dim].
        const modulation = { tokens: 3, width: 3 * dim, shift: 2 * dim, scale: 0 };
        const run = (modulate: boolean) => (x: Tensor, mod?: Tensor) =>
          pair.backend(x) === pair.gpu
            ? pair.gpu.run(layerNormKernel(6, dim, 1e-6, modulate ? modulation : null, caps), modulate ? [x, mod!] : [x], x.shape)
            : modulate ? op.layerNormModulate(x, mod!, 2, 0, 1e-6) : op.layerNorm(x, 1e-6);
        await expectParity(pair, `plain ${dim}`, run(false), [x], 1e-5);
        await expectParity(pair, `modulate ${dim}`, run(true), [x, rand([2, 3 * dim], 2)], 1e-5);
      }
    }
  });

  for (const dim of [12, 37, 128, 2500]) {
    test(`rmsNorm rows of ${dim}`, async () => {
      await expectParity(pair, 'rms', (x, w) => op.rmsNorm(x, w, 1e-6), [rand([2, 3, 4, dim], dim, 3), rand([dim], 7)], 1e-5);
    });
  }

  test('layerNorm of rows with a large mean (two-pass variance)', async () => {
    const [data, shape] = rand([4, 300], 5);
    const shifted = data.map((v) => 1000 + v);
    await expectParity(pair, 'shifted', (x) => op.layerNorm(x, 1e-6), [[shifted, shape]], 1e-4);
  });
}

test.run();
