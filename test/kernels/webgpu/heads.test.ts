// kernels/webgpu/heads.ts against the CPU backend: one and two streams, heads at an offset inside a wider
// projection (FLUX's fused linear1), odd numbers of rotation pairs, per-image and shared tables, with and
// without norms, and more rows than one grid row of workgroups holds.

import { test } from 'uvu';
import * as op from '../../../core/ops.js';
import type { Tensor } from '../../../core/tensor.js';
import { expectParity, kernelBackends, rand, type Input } from './parity.js';

const pair = await kernelBackends();

function table(batch: number, tokens: number, hd: number, seed: number): Input {
  const [angles] = rand([batch, tokens, hd / 2], seed, 30);
  return [Float32Array.from({ length: angles.length * 2 }, (_, i) => (i % 2 ? Math.sin : Math.cos)(angles[i >> 1])), [batch, tokens, hd / 2, 2]];
}

if (pair) {
  const cases: { name: string; B: number; H: number; hd: number; streams: { L: number; W: number; offset: number }[]; tableBatch: number | null }[] = [
    { name: 'two streams, per-image table', B: 2, H: 3, hd: 20, streams: [{ L: 4, W: 180, offset: 60 }, { L: 7, W: 180, offset: 60 }], tableBatch: 2 },
    { name: 'one wide stream, shared table', B: 1, H: 2, hd: 6, streams: [{ L: 5, W: 40, offset: 12 }], tableBatch: 1 },
    { name: 'v: no norm, no table', B: 2, H: 4, hd: 8, streams: [{ L: 3, W: 96, offset: 64 }, { L: 2, W: 96, offset: 64 }], tableBatch: null },
    { name: 'gather with an odd head dim (DiT-style q/k/v split)', B: 2, H: 4, hd: 15, streams: [{ L: 5, W: 180, offset: 120 }], tableBatch: null },
    { name: 'many rows', B: 2, H: 24, hd: 128, streams: [{ L: 16, W: 3 * 3072, offset: 0 }, { L: 200, W: 3 * 3072, offset: 0 }], tableBatch: 1 },
  ];
  for (const c of cases) {
    test(`attentionHeads: ${c.name}`, async () => {
      const T = c.streams.reduce((a, s) => a + s.L, 0), norms = c.tableBatch !== null;
      const inputs: Input[] = [
        ...c.streams.map((s, i) => rand([c.B, s.L, s.W], 10 + i)),
        ...(norms ? c.streams.map((_, i) => rand([c.hd], 20 + i)) : []),
        ...(c.tableBatch !== null ? [table(c.tableBatch, T, c.hd, 7)] : []),
      ];
      const run = (...ts: Tensor[]) => {
        const n = c.streams.length;
        const sources = c.streams.map((s, i) => ({ x: ts[i], offset: s.offset, norm: norms ? ts[n + i] : null }));
        return op.attentionHeads(sources, c.H, c.hd, c.tableBatch !== null ? ts[ts.length - 1] : null, 1e-6);
      };
      await expectParity(pair, c.name, run, inputs, 1e-5);
    });
  }
}

test.run();
