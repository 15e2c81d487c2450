// kernels/webgpu/rope.ts against the CPU backend: per-image and shared tables, head sizes with an odd
// number of pairs, and more pairs than one grid row of workgroups holds.

import { test } from 'uvu';
import * as op from '../../../core/ops.js';
import { expectParity, kernelBackends, rand } from './parity.js';

const pair = await kernelBackends();

if (pair) {
  for (const [b, h, l, d, tableBatch] of [[2, 3, 7, 6, 2], [2, 2, 5, 20, 1], [1, 24, 300, 128, 1]]) {
    test(`rope [${b}, ${h}, ${l}, ${d}], table for ${tableBatch}`, async () => {
      const [angles] = rand([tableBatch, l, d / 2], d, 30);
      const table = Float32Array.from({ length: angles.length * 2 }, (_, i) => (i % 2 ? Math.sin : Math.cos)(angles[i >> 1]));
      await expectParity(pair, 'rope', (x, t) => op.rope(x, t), [rand([b, h, l, d], l), [table, [tableBatch, l, d / 2, 2]]], 1e-6);
    });
  }
}

test.run();
