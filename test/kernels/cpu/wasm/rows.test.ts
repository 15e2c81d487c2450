// kernels/cpu/wasm/rows.ts (and the row kernels of math.ts it drives) against the TypeScript kernels,
// the references: GELU/SiLU (kernels/cpu/activations.ts), softmax (elementwise.ts, and the attention's
// scaled softmax), LayerNorm with and without DiT's modulate and GroupNorm with and without SiLU
// (elementwise.ts), at lengths and row sizes
// that do not divide 4, rows longer than one chunk, and ranges split as the thread pool splits them.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { maxRelErr } from '../../../../core/accuracy.js';
import { gelu, silu } from '../../../../kernels/cpu/activations.js';
import * as elementwise from '../../../../kernels/cpu/elementwise.js';
import { matmulVariant } from '../../../../kernels/cpu/wasm/matmul.js';
import { groupNormRange, layerNormRange, softmaxRange, softmaxRowsSimd, unaryRange } from '../../../../kernels/cpu/wasm/rows.js';
import { randn } from '../../../reference.js';

const simd = matmulVariant() !== null;
const TOL = 1e-5;

function expectClose(got: Float32Array, want: Float32Array, what: string): void {
  assert.ok(got.every(Number.isFinite), `${what}: non-finite values`);
  const err = maxRelErr(got, want);
  assert.ok(err <= TOL, `${what}: relative error ${err.toExponential(2)}`);
}

/** Runs `run` over [0, n) whole and in three uneven parts, as threads would. */
function splits(n: number): number[][] {
  return [[0, n], [0, Math.floor(n / 3), Math.floor((2 * n) / 3) + 1, n].filter((v, i, a) => i === 0 || v > a[i - 1])];
}

test('gelu and silu equal the TypeScript activations: lengths 1, 3, 5, 4099, 70000 (two chunks); values from -30 to 30', () => {
  if (!simd) return;
  for (const n of [1, 3, 5, 4099, 70000]) {
    // randn scaled so both tails (where exp over- or underflows) are hit.
    const x = randn(n, n).map((v, i) => (i % 7 === 0 ? v * 10 : v));
    for (const [op, f] of [['gelu', gelu], ['silu', silu]] as const) {
      const want = x.map(f);
      for (const cuts of splits(n)) {
        const got = new Float32Array(n).fill(NaN);
        for (let i = 0; i + 1 < cuts.length; i++) unaryRange({ op, x, out: got }, cuts[i], cuts[i + 1]);
        expectClose(got, want, `${op} n=${n} cuts ${cuts}`);
      }
    }
  }
});

test('gelu and silu on non-finite and extreme inputs stay non-finite where the reference is, and finite where it is', () => {
  if (!simd) return;
  const x = Float32Array.from([Infinity, -Infinity, NaN, 1e30, -1e30, 3e38, -3e38, 88, -88, 1e-30, -1e-30, 0]);
  for (const [op, f] of [['gelu', gelu], ['silu', silu]] as const) {
    const got = new Float32Array(x.length);
    unaryRange({ op, x, out: got }, 0, x.length);
    x.forEach((v, i) => {
      const want = Math.fround(f(v));
      assert.is(Number.isFinite(got[i]), Number.isFinite(want), `${op}(${v}) = ${got[i]}, reference ${want}`);
      if (Number.isFinite(want)) assert.ok(Math.abs(got[i] - want) <= 1e-6 * Math.max(1, Math.abs(want)), `${op}(${v}) = ${got[i]}, reference ${want}`);
    });
  }
});

test('softmax rows equal the TypeScript softmax: row sizes 1, 3, 6, 17, 257, 70000 (a row longer than a chunk)', () => {
  if (!simd) return;
  for (const [rows, dim] of [[5, 1], [7, 3], [9, 6], [33, 17], [10, 257], [2, 70000]]) {
    const x = randn(rows * dim, dim).map((v) => v * 4);
    const want = new Float32Array(rows * dim);
    elementwise.softmax(x, want, dim);
    for (const cuts of splits(rows)) {
      const got = new Float32Array(rows * dim).fill(NaN);
      for (let i = 0; i + 1 < cuts.length; i++) softmaxRange({ x, out: got, dim }, cuts[i], cuts[i + 1]);
      expectClose(got, want, `softmax ${rows}x${dim} cuts ${cuts}`);
    }
  }
});

test('the attention softmax: scaled, in place, rows of a scores block', () => {
  if (!simd) return;
  const [rows, dim, scale] = [13, 70, 0.125];
  const x = randn(rows * dim, 5).map((v) => v * 20);
  const want = new Float32Array(rows * dim);
  elementwise.softmax(x.map((v) => v * scale), want, dim);
  const got = x.slice();
  softmaxRowsSimd(got, got, dim, scale, 0, rows);
  expectClose(got, want, 'scaled softmax');
});

test('layerNorm rows equal the TypeScript LayerNorm, with and without modulate: dims 1, 3, 6, 17, 384, 70001', () => {
  if (!simd) return;
  for (const [batch, tokens, dim] of [[2, 3, 1], [2, 5, 3], [3, 4, 6], [2, 9, 17], [2, 20, 384], [1, 2, 70001]]) {
    const rows = batch * tokens;
    // A large common offset: the variance pass must not lose it to the padding lanes.
    const x = randn(rows * dim, dim).map((v, i) => v + (i % 2 === 0 ? 30 : 0));
    const width = 3 * dim + 2, table = randn(batch * width, 7);
    const mods = [null, { table, width, shift: 1, scale: dim + 2 }];
    for (const mod of mods) {
      const want = new Float32Array(rows * dim);
      elementwise.layerNorm(x, want, rows, dim, 1e-6, mod && { ...mod, rowsPerBatch: tokens });
      for (const cuts of splits(rows)) {
        const got = new Float32Array(rows * dim).fill(NaN);
        for (let i = 0; i + 1 < cuts.length; i++) layerNormRange({ x, out: got, dim, eps: 1e-6, mod, rowsPerBatch: tokens }, cuts[i], cuts[i + 1]);
        expectClose(got, want, `layerNorm ${batch}x${tokens}x${dim} modulate=${mod !== null} cuts ${cuts}`);
      }
    }
  }
});

test('groupNorm equals the TypeScript GroupNorm, with and without SiLU: spatial sizes 1, 5, 21, 64 (not dividing 4 or a channel per vector), offset groups', () => {
  if (!simd) return;
  for (const [images, channels, spatial, groups] of [[1, 2, 1, 1], [2, 6, 5, 3], [2, 8, 21, 2], [1, 64, 64, 32], [3, 4, 7, 4]]) {
    const n = images * channels * spatial;
    const x = randn(n, spatial + channels).map((v, i) => v * 3 + (Math.floor(i / spatial) % 3) * 20);
    const weight = randn(channels, 1), bias = randn(channels, 2);
    for (const silu of [false, true]) {
      const want = new Float32Array(n);
      elementwise.groupNorm(x, want, images, channels, spatial, groups, 1e-6, weight, bias, silu);
      for (const cuts of splits(images * groups)) {
        const got = new Float32Array(n).fill(NaN);
        for (let i = 0; i + 1 < cuts.length; i++) groupNormRange({ x, out: got, channels, spatial, groups, eps: 1e-6, weight, bias, silu }, cuts[i], cuts[i + 1]);
        expectClose(got, want, `groupNorm ${images}x${channels}x${spatial} groups ${groups} silu=${silu} cuts ${cuts}`);
      }
    }
  }
});

test.run();
