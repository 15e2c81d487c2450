// kernels/webgpu/attention.ts against the CPU backend, on both paths: head_dim 16, 32, 64, 72 and 6 (not a
// multiple of 4), token counts of 1, below one tile, not dividing the tile, and several tiles; and the
// other layouts: heads merged in the output, q, k, v read in place from a packed projection.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as op from '../../../core/ops.js';
import { splitHeads } from '../../../kernels/attention-layout.js';
import { attentionKernel, type AttentionPath } from '../../../kernels/webgpu/attention.js';
import { expectParity, kernelBackends, rand, withOverrides } from './parity.js';

const pair = await kernelBackends();

if (pair) {
  const { gpu } = pair;
  const paths: AttentionPath[] = ['tiled', ...(gpu.caps.subgroupSize ? ['subgroup' as const] : [])];
  // [BH, T, hd]
  const shapes: [number, number, number][] = [[1, 1, 16], [2, 5, 16], [3, 37, 16], [2, 70, 16], [2, 37, 72], [1, 70, 72], [1, 130, 32], [2, 33, 64], [2, 9, 6]];
  for (const path of paths) {
    for (const [bh, t, hd] of shapes) {
      test(`attention bh=${bh} T=${t} hd=${hd} (${path} path)`, async () => {
        await withOverrides(gpu, { attention: path }, async () => {
          const q = rand([bh, t, hd], 1), k = rand([bh, t, hd], 2), v = rand([bh, t, hd], 3);
          await expectParity(pair, 'attention', (q, k, v) => op.attention(q, k, v, hd ** -0.5), [q, k, v]);
        });
      });
    }
    if (path === 'subgroup') {
      // The default takes Q = 1 or 2 queries per lane at these lengths; Q = 5 and 16 cover the blocks of
      // queries in the P·V update (a partial one for 5) and the query rows past T in a workgroup.
      for (const [queries, [bh, t, hd]] of [[5, [2, 70, 72]], [16, [1, 130, 16]]] as const) {
        test(`attention bh=${bh} T=${t} hd=${hd} (subgroup path, ${queries} queries per lane)`, async () => {
          await withOverrides(gpu, { attention: path, attentionQueriesPerLane: queries }, async () => {
            const q = rand([bh, t, hd], 7), k = rand([bh, t, hd], 8), v = rand([bh, t, hd], 9);
            await expectParity(pair, 'attention', (q, k, v) => op.attention(q, k, v, hd ** -0.5), [q, k, v]);
          });
        });
      }
    }
    for (const [B, H, t, hd] of [[2, 3, 37, 16], [1, 2, 70, 72], [2, 2, 9, 6]]) {
      test(`attention B=${B} H=${H} T=${t} hd=${hd}, heads merged and packed (${path} path)`, async () => {
        await withOverrides(gpu, { attention: path }, async () => {
          const shape = [B * H, t, hd];
          await expectParity(pair, 'attention merged', (q, k, v) => op.attention(q, k, v, hd ** -0.5, H), [rand(shape, 1), rand(shape, 2), rand(shape, 3)]);
          await expectParity(pair, 'attentionPacked', (qkv) => op.attentionPacked(qkv, H, hd ** -0.5), [rand([B, t, 3 * H * hd], 4)]);
        });
      });
    }
    test(`attention with peaked scores stays exact (${path} path)`, async () => {
      await withOverrides(gpu, { attention: path }, async () => {
        // Large logits: without the running max, exp would overflow.
        const q = rand([2, 37, 16], 4, 30), k = rand([2, 37, 16], 5, 30), v = rand([2, 37, 16], 6);
        await expectParity(pair, 'attention', (q, k, v) => op.attention(q, k, v, 0.25), [q, k, v]);
      });
    });
  }

  test('attention kernels are specialised per shape, scale and layout, not per head count', () => {
    const layout = (bh: number, t: number, merged = false) => ({ batch: bh, heads: 1, tokens: t, headDim: 72, q: splitHeads(1, t, 72), k: splitHeads(1, t, 72), v: splitHeads(1, t, 72), merged });
    const a = attentionKernel(layout(4, 37), 0.1, gpu.caps, 'tiled'), b = attentionKernel(layout(8, 37), 0.1, gpu.caps, 'tiled');
    assert.is(a.key, b.key);
    assert.equal([a.grid[1], b.grid[1]], [4, 8]);
    assert.is.not(a.key, attentionKernel(layout(4, 38), 0.1, gpu.caps, 'tiled').key);
    assert.is.not(a.key, attentionKernel(layout(4, 37, true), 0.1, gpu.caps, 'tiled').key);
  });
}

test.run();
