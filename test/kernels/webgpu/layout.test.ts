// kernels/webgpu/layout.ts against the CPU backend, bit-exact: permute (with the dim merging), slice, concat,
// embedding, patchify and unpatchify, nearest-neighbour upsampling, on f32 and i32 tensors.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as op from '../../../core/ops.js';
import { simplifyPermute } from '../../../kernels/webgpu/layout.js';
import { expectParity, kernelBackends, rand, type Input } from './parity.js';

const pair = await kernelBackends();

const ints = (shape: number[]): Input => [Int32Array.from({ length: shape.reduce((a, d) => a * d, 1) }, (_, i) => i * 7 - 50), shape];

test('simplifyPermute drops size-1 dims and merges dims that stay together', () => {
  assert.equal(simplifyPermute([2, 3, 4], [0, 1, 2]), { shape: [24], perm: [0] });
  assert.equal(simplifyPermute([2, 3, 4], [2, 0, 1]), { shape: [6, 4], perm: [1, 0] });
  assert.equal(simplifyPermute([2, 1, 3, 4], [1, 0, 3, 2]), { shape: [2, 3, 4], perm: [0, 2, 1] });
  // DiT's qkv split: [N, T, 3, H, hd] -> [3, N, H, T, hd].
  assert.equal(simplifyPermute([2, 16, 3, 6, 16], [2, 0, 3, 1, 4]), { shape: [2, 16, 3, 6, 16], perm: [2, 0, 3, 1, 4] });
  assert.equal(simplifyPermute([1, 1], [1, 0]), { shape: [], perm: [] });
});

if (pair) {
  const perms: [number[], number[]][] = [
    [[2, 3, 4], [2, 0, 1]], [[2, 3, 4], [0, 1, 2]], [[5, 7], [1, 0]], [[2, 1, 3, 4], [1, 3, 0, 2]], [[2, 7, 3, 4, 5], [2, 0, 3, 1, 4]], [[1], [0]], [[3, 2, 2, 2, 2, 3], [5, 4, 3, 2, 1, 0]],
    // The last dim stays last and is a multiple of 4: moved as vec4s.
    [[3, 5, 8], [1, 0, 2]], [[2, 3, 4, 8], [0, 2, 1, 3]], [[2, 16, 3, 6, 16], [2, 0, 3, 1, 4]],
  ];
  for (const [shape, perm] of perms) {
    test(`permute [${shape}] by [${perm}], f32 and i32`, async () => {
      await expectParity(pair, 'f32', (x) => op.permute(x, perm), [rand(shape, 1)], 0);
      await expectParity(pair, 'i32', (x) => op.permute(x, perm), [ints(shape)], 0);
    });
  }

  test('slice along every axis, f32 and i32', async () => {
    const shape = [3, 4, 5];
    for (let axis = 0; axis < 3; axis++) {
      for (const [s, e] of [[0, 1], [1, shape[axis]], [1, 2], [0, shape[axis]]]) {
        await expectParity(pair, `axis ${axis} ${s}:${e}`, (x) => op.slice(x, axis, s, e), [rand(shape, axis)], 0);
        await expectParity(pair, `i32 axis ${axis} ${s}:${e}`, (x) => op.slice(x, axis, s, e), [ints(shape)], 0);
      }
    }
  });

  test('concat of three along every axis, f32 and i32', async () => {
    for (let axis = 0; axis < 3; axis++) {
      const shapes = [1, 2, 3].map((n) => [2, 3, 4].map((d, i) => (i === axis ? n : d)));
      await expectParity(pair, `axis ${axis}`, (a, b, c) => op.concat([a, b, c], axis), shapes.map((s, i) => rand(s, i)), 0);
      await expectParity(pair, `i32 axis ${axis}`, (a, b, c) => op.concat([a, b, c], axis), shapes.map((s) => ints(s)), 0);
    }
  });

  test('embedding of ids of any shape', async () => {
    const ids: Input = [Int32Array.from([4, 0, 2, 2, 10, 3]), [2, 3]];
    await expectParity(pair, 'embedding', (t, i) => op.embedding(t, i), [rand([11, 37], 1), ids], 0);
    await expectParity(pair, 'embedding (vec4 rows)', (t, i) => op.embedding(t, i), [rand([11, 8], 1), ids], 0);
  });

  for (const [n, c, h, w, p] of [[2, 3, 4, 6, 2], [1, 4, 8, 8, 4], [2, 4, 6, 6, 1], [1, 3, 16, 8, 8]]) {
    test(`patchify and unpatchify [${n}, ${c}, ${h}, ${w}] with p=${p}`, async () => {
      await expectParity(pair, 'patchify', (x) => op.patchify(x, p), [rand([n, c, h, w], 1)], 0);
      const gh = h / p, gw = w / p;
      await expectParity(pair, 'unpatchify', (x) => op.unpatchify(x, p, c, gh, gw), [rand([n, gh * gw, p * p * c], 2)], 0);
    });
  }

  for (const shape of [[1, 1, 1, 1], [2, 3, 5, 7], [1, 4, 8, 8]]) {
    test(`upsampleNearest2x [${shape}], f32 and i32`, async () => {
      await expectParity(pair, 'f32', (x) => op.upsampleNearest2x(x), [rand(shape, 1)], 0);
      await expectParity(pair, 'i32', (x) => op.upsampleNearest2x(x), [ints(shape)], 0);
    });
  }
}

test.run();
