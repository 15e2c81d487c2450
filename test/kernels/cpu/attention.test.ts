// kernels/cpu/attention.ts on the WebAssembly SIMD products against the TypeScript ones (the
// reference): token counts and head sizes that do not divide the 4x8 register block or the 64- and
// 256-query blocks, several heads, heads read in place from a qkv projection, and row ranges as the
// thread pool splits them.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { maxRelErr } from '../../../core/accuracy.js';
import { packedHeads, splitHeads } from '../../../kernels/attention-layout.js';
import { attentionRows, type AttentionArgs } from '../../../kernels/cpu/attention.js';
import { matmulVariant } from '../../../kernels/cpu/wasm/matmul.js';
import { randn } from '../../reference.js';

test('simd equals ts: T, D of 1, 3, 17, 64, 70, 130 over 2 heads, whole and split row ranges', () => {
  if (!matmulVariant()) return;
  for (const [heads, T, D] of [[2, 1, 1], [2, 3, 5], [2, 17, 64], [2, 70, 17], [1, 130, 64], [3, 64, 8], [1, 300, 9]]) {
    const n = heads * T * D;
    const s = splitHeads(1, T, D);
    const layout = { batch: heads, heads: 1, tokens: T, headDim: D, q: s, k: s, v: s, merged: false };
    const args: AttentionArgs = { q: randn(n, T), k: randn(n, T + 1), v: randn(n, T + 2), o: new Float32Array(n), layout, scale: 1 / Math.sqrt(D) };
    const rows = heads * T;
    for (const cuts of [[0, rows], [0, Math.floor(rows / 3), rows]]) {
      const want = new Float32Array(n), got = new Float32Array(n);
      for (let i = 0; i + 1 < cuts.length; i++) {
        attentionRows({ ...args, o: want }, cuts[i], cuts[i + 1]);
        attentionRows({ ...args, o: got, simd: true }, cuts[i], cuts[i + 1]);
      }
      const err = maxRelErr(got, want);
      assert.ok(err <= 1e-5, `${heads}x${T}x${D} rows ${cuts}: relative error ${err.toExponential(2)}`);
    }
  }
});

test('simd equals ts with the heads read from a qkv projection [B, T, 3 H hd] and written merged', () => {
  if (!matmulVariant()) return;
  const [B, H, T, D] = [2, 3, 37, 11], W = 3 * H * D;
  const layout = { batch: B, heads: H, tokens: T, headDim: D, q: packedHeads(T, W, D, 0), k: packedHeads(T, W, D, H * D), v: packedHeads(T, W, D, 2 * H * D), merged: true };
  const qkv = randn(B * T * W, 9);
  const args: AttentionArgs = { q: qkv, k: qkv, v: qkv, o: new Float32Array(0), layout, scale: 0.3 };
  const rows = B * H * T, want = new Float32Array(B * T * H * D), got = new Float32Array(B * T * H * D);
  attentionRows({ ...args, o: want }, 0, rows);
  attentionRows({ ...args, o: got, simd: true }, 0, 50);
  attentionRows({ ...args, o: got, simd: true }, 50, rows);
  const err = maxRelErr(got, want);
  assert.ok(err <= 1e-5, `relative error ${err.toExponential(2)}`);
});

test.run();
