// kernels/webgpu/elementwise.ts against the CPU backend: broadcasting in every direction, GELU/SiLU over a wide
// range of arguments, the weighted sums (their values: test/core/ops.test.ts).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as op from '../../../core/ops.js';
import { binaryKernel, combinationTerms, linearCombinationKernel } from '../../../kernels/webgpu/elementwise.js';
import { BASELINE_CAPS } from '../../../kernels/webgpu/kernel.js';
import { expectParity, kernelBackends, rand } from './parity.js';

const pair = await kernelBackends();

if (pair) {
  const broadcasts: [number[], number[]][] = [
    [[2, 3, 4], [2, 3, 4]], [[2, 3, 4], [3, 1]], [[4], [2, 3, 4]], [[2, 1, 4], [1, 3, 1]], [[1], [5, 7]], [[5, 7], [1]], [[3, 1, 5], [3, 4, 5]],
    [[1000], [1000]], [[1], [6, 8]], [[2, 1, 8], [3, 8]], [[7], [7]],
  ];
  for (const [a, b] of broadcasts) {
    test(`add, sub, mul broadcast [${a}] with [${b}]`, async () => {
      const x = rand(a, 1), y = rand(b, 2);
      await expectParity(pair, 'add', op.add, [x, y], 1e-6);
      await expectParity(pair, 'sub', op.sub, [x, y], 1e-6);
      await expectParity(pair, 'mul', op.mul, [x, y], 1e-6);
    });
  }

  test('operands are indexed directly where they match the output, in vec4s where rows allow', () => {
    const scalar = binaryKernel('add', [2, 3, 5], [5], [2, 3, 5], pair.gpu.caps).wgsl();
    assert.match(scalar, /a\[i\]/);
    assert.match(scalar, /b\[\(i % 5u\)\]/);
    const vec = binaryKernel('add', [2, 3, 8], [8], [2, 3, 8], pair.gpu.caps).wgsl();
    assert.match(vec, /var<storage, read> a: array<vec4<f32>>/);
    assert.match(vec, /b\[\(i % 2u\)\]/);
  });

  test('gelu and silu over [-30, 30] (and a size past one workgroup)', async () => {
    const x = rand([3000], 3, 10);
    await expectParity(pair, 'gelu', op.gelu, [x], 1e-6);
    await expectParity(pair, 'silu', op.silu, [x], 1e-6);
    const big = new Float32Array([-1e4, -100, -30, 0, 30, 100, 1e4]);
    await expectParity(pair, 'gelu large', op.gelu, [[big, [7]]], 1e-6);
    await expectParity(pair, 'silu large', op.silu, [[big, [7]]], 1e-6);
  });

  test('weighted sums: up to 8 terms a dispatch (5 within WebGPU\'s minimum of 8 bindings), summed left to right', () => {
    assert.is(combinationTerms(BASELINE_CAPS), 5);
    assert.is(combinationTerms({ ...BASELINE_CAPS, maxStorageBuffers: 1000 }), 8);
    const first = linearCombinationKernel(12, 3, false, pair.gpu.caps), later = linearCombinationKernel(12, 3, true, pair.gpu.caps);
    assert.match(first.wgsl(), /out\[i\] = term\(term\(w\[1\] \* x0_v, 1u, x1_v\), 2u, x2_v\);/);
    assert.match(later.wgsl(), /out\[i\] = term\(term\(acc_v \+ w\[1\] \* x0_v, 1u, x1_v\), 2u, x2_v\);/);
    assert.is.not(first.key, later.key);
  });

  test('a forecast of 3 terms and one of 7 share one pipeline', async () => {
    const xs = Array.from({ length: 7 }, (_, j) => pair.gpu.upload(new Float32Array(16).fill(j + 1), [16], 'f32'));
    const before = pair.gpu.stats().pipelinesCompiled;
    const a = op.linearCombination(xs.slice(0, 3), [1, 2, 3]);
    const compiled = pair.gpu.stats().pipelinesCompiled;
    const b = op.linearCombination(xs, [1, 1, 1, 1, 1, 1, 1]);
    assert.ok(compiled - before <= 1);
    assert.is(pair.gpu.stats().pipelinesCompiled, compiled);
    assert.equal(Array.from(await a.read()), new Array(16).fill(1 + 4 + 9));
    assert.equal(Array.from(await b.read()), new Array(16).fill(28));
  });
}

test.run();
