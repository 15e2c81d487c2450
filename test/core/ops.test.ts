// Every op on every backend (see test/backends.ts) against a plain float64 reference.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Backend } from '../../core/backend.js';
import * as op from '../../core/ops.js';
import { tidy, type Tensor } from '../../core/tensor.js';
import { testBackends } from '../backends.js';
import { maxRelErr } from '../../core/accuracy.js';
import { randn, refAttention, refConv2d, refGelu, refGroupNorm, refLinear, refSilu, refSoftmaxRow } from '../reference.js';

const backends = await testBackends();

async function values(t: Tensor): Promise<number[]> {
  return Array.from(await t.read());
}

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  const err = maxRelErr(actual, expected);
  assert.ok(err <= tol, `${what}: relative error ${err} > ${tol}`);
}

for (const be of backends) {
  const up = (data: number[] | Float32Array, shape: number[]) => be.upload(Float32Array.from(data), shape, 'f32');
  const name = (s: string) => `${be.name}: ${s}`;

  // Sizes chosen to hit every edge of the 4x4 register blocks and of GPU tiles.
  for (const [m, k, n] of [[1, 7, 5], [3, 33, 17], [4, 8, 4], [67, 130, 45], [2, 96, 576], [130, 64, 260]]) {
    for (const act of ['none', 'gelu', 'silu'] as const) {
      test(name(`linear ${m}x${k}x${n} ${act}`), async () => {
        const x = randn(m * k, m + k), w = randn(n * k, n * 7), b = randn(n, 3);
        const f = act === 'gelu' ? refGelu : act === 'silu' ? refSilu : (v: number) => v;
        const expected = refLinear(x, w, b, m, k, n).map(f);
        close(await values(op.linear(up(x, [m, k]), up(w, [n, k]), up(b, [n]), act)), expected, 1e-5, 'linear');
      });
    }
  }

  test(name('linear without bias keeps leading dims'), async () => {
    const x = randn(2 * 3 * 8, 1), w = randn(5 * 8, 2);
    const y = op.linear(up(x, [2, 3, 8]), up(w, [5, 8]));
    assert.equal(y.shape, [2, 3, 5]);
    close(await values(y), refLinear(x, w, null, 6, 8, 5), 1e-5, 'linear');
  });

  test(name('binary ops broadcast'), async () => {
    const a = randn(2 * 3 * 4, 5), b = randn(3 * 1, 6);
    const ta = up(a, [2, 3, 4]), tb = up(b, [3, 1]);
    const expect = (f: (x: number, y: number) => number) =>
      Array.from(a, (v, i) => f(v, b[Math.floor(i / 4) % 3]));
    close(await values(op.add(ta, tb)), expect((x, y) => x + y), 1e-6, 'add');
    close(await values(op.sub(ta, tb)), expect((x, y) => x - y), 1e-6, 'sub');
    close(await values(op.mul(ta, tb)), expect((x, y) => x * y), 1e-6, 'mul');
    close(await values(op.mul(ta, op.scalar(ta, 3))), Array.from(a, (v) => 3 * v), 1e-6, 'scalar');
    assert.throws(() => op.add(ta, up([1, 2], [2])), /cannot broadcast/);
  });

  // 1, a few, and more terms than one WebGPU dispatch takes (8); odd and vec4-sized tensors.
  for (const [terms, size] of [[1, 7], [3, 12], [20, 130]]) {
    test(name(`linearCombination of ${terms} terms of ${size}`), async () => {
      const xs = Array.from({ length: terms }, (_, j) => randn(size, 40 + j));
      const weights = Array.from({ length: terms }, (_, j) => Math.cos(j) * (j + 1));
      const expected = Array.from({ length: size }, (_, i) => xs.reduce((s, x, j) => s + weights[j] * x[i], 0));
      const y = op.linearCombination(xs.map((x) => up(x, [size])), weights);
      close(await values(y), expected, 1e-6, 'linearCombination');
    });
  }

  test(name('linearCombination equals the chain of mul and add ops, bit for bit'), async () => {
    const xs = Array.from({ length: 11 }, (_, j) => up(randn(36, 60 + j), [4, 9]));
    const weights = xs.map((_, j) => 1 / (j + 3) - 0.2);
    const chain = tidy(() => xs.reduce<Tensor | null>((acc, x, j) => {
      const term = op.mul(x, op.scalar(x, weights[j]));
      return acc === null ? term : op.add(acc, term);
    }, null)!);
    assert.equal(await values(op.linearCombination(xs, weights)), await values(chain));
  });

  test(name('linearCombination refuses mismatched terms'), () => {
    const a = up([1, 2, 3], [3]), b = up([1, 2], [2]);
    assert.throws(() => op.linearCombination([a, b], [1, 1]), /\[2\] does not match \[3\]/);
    assert.throws(() => op.linearCombination([a], [1, 2]), /1 tensors but 2 weights/);
    assert.throws(() => op.linearCombination([], []), /no terms/);
    assert.throws(() => op.linearCombination([a], [NaN]), /weight NaN is not finite/);
  });

  test(name('gelu and silu'), async () => {
    const x = randn(50, 9).map((v) => 4 * v);
    close(await values(op.gelu(up(x, [50]))), Array.from(x, refGelu), 1e-6, 'gelu');
    close(await values(op.silu(up(x, [50]))), Array.from(x, refSilu), 1e-6, 'silu');
  });

  test(name('layerNorm and layerNormModulate'), async () => {
    const [B, T, D] = [2, 3, 37];
    const x = randn(B * T * D, 11).map((v) => 3 * v + 1);
    const shift = randn(B * D, 12), scale = randn(B * D, 13);
    const norm = (r: number) => {
      const row = Array.from(x.subarray(r * D, (r + 1) * D));
      const mean = row.reduce((a, v) => a + v, 0) / D;
      const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / D;
      return row.map((v) => (v - mean) / Math.sqrt(variance + 1e-6));
    };
    const plain = Array.from({ length: B * T }, (_, r) => norm(r)).flat();
    const modulated = plain.map((v, i) => {
      const b = Math.floor(i / (T * D)), d = i % D;
      return v * (1 + scale[b * D + d]) + shift[b * D + d];
    });
    close(await values(op.layerNorm(up(x, [B, T, D]), 1e-6)), plain, 1e-5, 'layerNorm');
    // The modulation as an adaLN outputs it: rows of [scale | other | shift], chunks read in place.
    const other = randn(B * D, 14);
    const mod = up(Float32Array.from({ length: B * 3 * D }, (_, i) => {
      const b = Math.floor(i / (3 * D)), c = Math.floor(i / D) % 3, d = i % D;
      return [scale, other, shift][c][b * D + d];
    }), [B, 3 * D]);
    close(await values(op.layerNormModulate(up(x, [B, T, D]), mod, 2, 0, 1e-6)), modulated, 1e-5, 'modulate');
    assert.throws(() => op.layerNormModulate(up(x, [B, T, D]), up(shift.subarray(0, D), [1, D]), 0, 0, 1e-6), /modulation \[1, 37\] does not fit x \[2, 3, 37\]: expected \[2, k \* 37\]/);
    assert.throws(() => op.layerNormModulate(up(x, [B, T, D]), mod, 0, 3, 1e-6), /chunk 3 is out of range for 3 chunks of 37/);
  });

  test(name('rmsNorm'), async () => {
    const [R, D] = [5, 19];
    const x = randn(R * D, 21).map((v) => 2 * v + 0.5), w = randn(D, 22);
    const expected = Array.from({ length: R * D }, (_, i) => {
      const r = Math.floor(i / D), row = x.subarray(r * D, (r + 1) * D);
      const ms = row.reduce((a, v) => a + v * v, 0) / D;
      return (x[i] / Math.sqrt(ms + 1e-6)) * w[i % D];
    });
    close(await values(op.rmsNorm(up(x, [R, D]), up(w, [D]), 1e-6)), expected, 1e-5, 'rmsNorm');
    assert.throws(() => op.rmsNorm(up(x, [R, D]), up(w.subarray(1), [D - 1]), 1e-6), /does not fit/);
  });

  // Two streams [B, L_s, W_s] with heads at an offset, joined text first; norms per stream; the rotation
  // as a complex product (x0 + i x1) e^{ia} with a per-image table and a shared one; and v (neither).
  for (const tableBatch of [2, 1]) {
    test(name(`attentionHeads: split, RMSNorm, RoPE and join of two streams (table for ${tableBatch})`), async () => {
      const [B, H, hd] = [2, 3, 6];
      const streams = [{ L: 2, W: 3 * H * hd + 5, offset: H * hd }, { L: 3, W: H * hd + 2, offset: 1 }];
      const T = 5;
      const xs = streams.map((st, i) => randn(B * st.L * st.W, 40 + i));
      const norms = streams.map((_, i) => randn(hd, 50 + i));
      const angles = randn(tableBatch * T * (hd / 2), 32).map((v) => 40 * v);
      const table = Float32Array.from({ length: angles.length * 2 }, (_, i) => (i % 2 ? Math.sin : Math.cos)(angles[i >> 1]));
      const expected = (normed: boolean, rotated: boolean) => {
        const out: number[] = [];
        for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) {
          let t = 0;
          streams.forEach((st, s) => {
            for (let l = 0; l < st.L; l++, t++) {
              const base = (b * st.L + l) * st.W + st.offset + h * hd;
              const row = Array.from(xs[s].subarray(base, base + hd));
              const inv = normed ? 1 / Math.sqrt(row.reduce((a, v) => a + v * v, 0) / hd + 1e-6) : 1;
              const y = row.map((v, d) => (normed ? v * inv * norms[s][d] : v));
              for (let p = 0; p < hd / 2; p++) {
                const a = angles[((tableBatch === 1 ? 0 : b) * T + t) * (hd / 2) + p];
                const [c, sn] = rotated ? [Math.cos(a), Math.sin(a)] : [1, 0];
                out.push(c * y[2 * p] - sn * y[2 * p + 1], sn * y[2 * p] + c * y[2 * p + 1]);
              }
            }
          });
        }
        return out;
      };
      const sources = (normed: boolean) => streams.map((st, s) => ({ x: up(xs[s], [B, st.L, st.W]), offset: st.offset, norm: normed ? up(norms[s], [hd]) : null }));
      const qk = op.attentionHeads(sources(true), H, hd, up(table, [tableBatch, T, hd / 2, 2]), 1e-6);
      assert.equal(qk.shape, [B * H, T, hd]);
      close(await values(qk), expected(true, true), 1e-5, 'normed and rotated');
      close(await values(op.attentionHeads(sources(false), H, hd, null, 1e-6)), expected(false, false), 1e-7, 'plain split');
    });
  }

  test(name('attentionHeads refuses sources and tables that do not fit'), () => {
    const x = up(randn(2 * 3 * 8, 1), [2, 3, 8]);
    assert.throws(() => op.attentionHeads([{ x, offset: 4, norm: null }], 2, 4, null, 1e-6), /2 heads of 4 from feature 4 do not fit \[2, 3, 8\]/);
    assert.throws(() => op.attentionHeads([{ x, offset: 0, norm: up(randn(3, 2), [3]) }], 2, 4, null, 1e-6), /norm \[3\] does not match the head dim 4/);
    assert.throws(() => op.attentionHeads([{ x, offset: 0, norm: null }], 2, 4, up(randn(3 * 3 * 2, 2), [1, 3, 3, 2]), 1e-6), /table \[1, 3, 3, 2\] does not fit 3 tokens of head dim 4: expected \[2 or 1, 3, 2, 2\]/);
    assert.throws(() => op.attentionHeads([{ x, offset: 0, norm: null }, { x: up(randn(8, 1), [1, 1, 8]), offset: 0, norm: null }], 2, 4, null, 1e-6), /every source must be \[2, L, W\]/);
  });

  test(name('linearGatedResidual'), async () => {
    const [B, T, K, D] = [2, 5, 7, 6];
    const x = randn(B * T * D, 1), h = randn(B * T * K, 2), w = randn(D * K, 3), b = randn(D, 4), mod = randn(B * 2 * D, 5);
    const y = refLinear(h, w, b, B * T, K, D);
    // The gate is the second chunk of each row of mod [B, 2D].
    const expected = Array.from(x, (v, i) => v + mod[Math.floor(i / (T * D)) * 2 * D + D + (i % D)] * y[i]);
    const run = (gate: number, hShape = [B, T, K], wShape = [D, K]) =>
      op.linearGatedResidual(up(x, [B, T, D]), up(mod, [B, 2 * D]), gate, up(h, hShape), up(w, wShape), up(b, [D]));
    close(await values(run(1)), expected, 1e-5, 'linearGatedResidual');
    assert.throws(() => run(2), /chunk 2 is out of range for 2 chunks of 6/);
    assert.throws(() => run(1, [B * T, K]), /h \[10, 7\] does not match x \[2, 5, 6\]: expected \[2, 5, K\]/);
    assert.throws(() => run(1, [B, T, K], [K, D]), /weight \[7, 6\] does not map h \[2, 5, 7\] to x \[2, 5, 6\]: expected \[6, 7\]/);
  });

  test(name('softmax'), async () => {
    const x = randn(3 * 70, 4).map((v) => 10 * v);
    const expected = [0, 1, 2].flatMap((r) => refSoftmaxRow(x.subarray(r * 70, (r + 1) * 70)));
    close(await values(op.softmax(up(x, [3, 70]))), expected, 1e-6, 'softmax');
  });

  for (const [bh, t, d] of [[1, 1, 16], [2, 5, 16], [3, 37, 72], [2, 70, 64], [1, 130, 32]]) {
    test(name(`attention bh=${bh} T=${t} hd=${d}`), async () => {
      const q = randn(bh * t * d, 1), k = randn(bh * t * d, 2), v = randn(bh * t * d, 3);
      const scale = d ** -0.5;
      close(await values(op.attention(up(q, [bh, t, d]), up(k, [bh, t, d]), up(v, [bh, t, d]), scale)), refAttention(q, k, v, bh, t, d, scale), 1e-5, 'attention');
    });
  }

  test(name('attention with heads merged, and packed: exactly the split, attend, permute path'), async () => {
    const [B, H, T, hd] = [2, 3, 37, 8], D = H * hd;
    const qkv = up(randn(B * T * 3 * D, 5), [B, T, 3 * D]);
    const [q, k, v] = [0, D, 2 * D].map((offset) => op.attentionHeads([{ x: qkv, offset, norm: null }], H, hd, null, 0));
    const split = op.attention(q, k, v, 0.3);
    const permuted = await values(op.permute(split.reshape([B, H, T, hd]), [0, 2, 1, 3]));
    const merged = op.attention(q, k, v, 0.3, H);
    assert.equal(merged.shape, [B, T, D]);
    assert.equal(await values(merged), permuted);
    const packed = op.attentionPacked(qkv, H, 0.3);
    assert.equal(packed.shape, [B, T, D]);
    assert.equal(await values(packed), permuted);
    assert.throws(() => op.attention(q, k, v, 0.3, 4), /6 heads do not merge in groups of 4/);
    assert.throws(() => op.attentionPacked(qkv, 5, 0.3), /expected qkv \[B, T, 3 \* 5 \* hd\], got \[2, 37, 72\]/);
  });

  test(name('embedding'), async () => {
    const table = randn(5 * 3, 1);
    const ids = be.upload(Int32Array.from([4, 0, 2]), [3], 'i32');
    const expected = [4, 0, 2].flatMap((i) => Array.from(table.subarray(i * 3, i * 3 + 3)));
    assert.equal(await values(op.embedding(up(table, [5, 3]), ids)), Array.from(Float32Array.from(expected)));
  });

  test(name('permute, slice, chunk, concat'), async () => {
    const x = up(Array.from({ length: 24 }, (_, i) => i), [2, 3, 4]);
    // out[c][a][b] = x[a][b][c]
    const p = op.permute(x, [2, 0, 1]);
    assert.equal(p.shape, [4, 2, 3]);
    assert.equal(await values(p), Array.from({ length: 24 }, (_, i) => {
      const c = Math.floor(i / 6), a = Math.floor(i / 3) % 2, b = i % 3;
      return a * 12 + b * 4 + c;
    }));
    assert.equal(await values(op.slice(x, 1, 1, 3)), [4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23]);
    const [lo, hi] = op.chunk(x, 2, -1);
    assert.equal(await values(lo), [0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21]);
    assert.equal(await values(op.concat([lo, hi], 2)), Array.from({ length: 24 }, (_, i) => i));
    assert.equal(await values(op.concat([x, x], 0)), [...Array(24).keys(), ...Array(24).keys()]);
    const ids = be.upload(Int32Array.from([1, 2, 3, 4, 5, 6]), [2, 3], 'i32');
    assert.equal(await values(op.permute(ids, [1, 0])), [1, 4, 2, 5, 3, 6]);
    assert.throws(() => op.chunk(x, 3, 2), /does not split/);
    assert.throws(() => op.slice(x, 0, 1, 3), /out of bounds/);
  });

  test(name('patchify is the (c, py, px) flattening of a stride-p convolution'), async () => {
    const [N, C, H, W, p] = [2, 3, 4, 6, 2];
    const x = Float32Array.from({ length: N * C * H * W }, (_, i) => i);
    const out = await values(op.patchify(up(x, [N, C, H, W]), p));
    const gw = W / p;
    const expected: number[] = [];
    for (let n = 0; n < N; n++)
      for (let ty = 0; ty < H / p; ty++)
        for (let tx = 0; tx < gw; tx++)
          for (let c = 0; c < C; c++)
            for (let py = 0; py < p; py++)
              for (let px = 0; px < p; px++) expected.push(x[((n * C + c) * H + ty * p + py) * W + tx * p + px]);
    assert.equal(out, expected);
  });

  test(name('unpatchify reads tokens as (py, px, c), the einsum nhwpqc->nchpwq'), async () => {
    const [N, C, gh, gw, p] = [2, 3, 2, 3, 2];
    const x = Float32Array.from({ length: N * gh * gw * p * p * C }, (_, i) => i);
    const out = await values(op.unpatchify(up(x, [N, gh * gw, p * p * C]), p, C, gh, gw));
    for (let n = 0; n < N; n++)
      for (let c = 0; c < C; c++)
        for (let hh = 0; hh < gh; hh++)
          for (let py = 0; py < p; py++)
            for (let ww = 0; ww < gw; ww++)
              for (let px = 0; px < p; px++) {
                const got = out[((n * C + c) * gh * p + hh * p + py) * gw * p + ww * p + px];
                const want = x[((((n * gh + hh) * gw + ww) * p + py) * p + px) * C + c];
                assert.is(got, want);
              }
  });

  // [x shape, w shape, padding]: 3x3 pad 1 and 1x1 pad 0 (the decoder's), no padding, a 3x5 kernel
  // with padding 2, and 144 output pixels (more than one of the CPU's 64-pixel blocks).
  const convs: [number[], number[], number][] = [
    [[1, 3, 5, 7], [4, 3, 3, 3], 1], [[2, 5, 6, 4], [6, 5, 1, 1], 0], [[1, 2, 4, 4], [3, 2, 3, 3], 0],
    [[2, 3, 4, 6], [5, 3, 3, 5], 2], [[1, 4, 12, 12], [9, 4, 3, 3], 1],
  ];
  for (const [xs, ws, p] of convs) {
    test(name(`conv2d ${xs.join('x')} * ${ws.join('x')} padding ${p}`), async () => {
      const x = randn(xs.reduce((a, d) => a * d), 1), w = randn(ws.reduce((a, d) => a * d), 2), b = randn(ws[0], 3);
      const y = op.conv2d(up(x, xs), up(w, ws), up(b, [ws[0]]), p);
      assert.equal(y.shape, [xs[0], ws[0], xs[2] + 2 * p - ws[2] + 1, xs[3] + 2 * p - ws[3] + 1]);
      close(await values(y), refConv2d(x, w, b, xs, ws, p), 1e-5, 'with bias');
      close(await values(op.conv2d(up(x, xs), up(w, ws), null, p)), refConv2d(x, w, null, xs, ws, p), 1e-5, 'without bias');
    });
  }

  test(name('conv2d refuses what does not fit'), () => {
    const x = up(randn(2 * 3 * 4 * 4, 1), [2, 3, 4, 4]);
    assert.throws(() => op.conv2d(x, up(randn(2 * 2 * 9, 1), [2, 2, 3, 3]), null, 1), /weight \[2, 2, 3, 3\] does not take inputs \[2, 3, 4, 4\]/);
    assert.throws(() => op.conv2d(x, up(randn(2 * 3 * 9, 1), [2, 3, 3, 3]), up([1], [1]), 1), /bias \[1\] does not fit/);
    assert.throws(() => op.conv2d(x, up(randn(2 * 3 * 9, 1), [2, 3, 3, 3]), null, 0.5), /padding must be a non-negative integer/);
    assert.throws(() => op.conv2d(x, up(randn(2 * 3 * 36, 1), [2, 3, 6, 6]), null, 0), /a 6x6 kernel with padding 0 does not fit a 4x4 input/);
  });

  // [N, C, spatial, groups, silu]: one channel per group, odd spatial sizes, and vec4-sized ones.
  for (const [n, c, sp, groups, silu] of [[2, 6, [5], 3, false], [1, 4, [3, 3], 4, true], [2, 8, [4, 4], 4, true], [1, 64, [6, 10], 32, false]] as const) {
    test(name(`groupNorm [${n}, ${c}, ${sp.join(', ')}] in ${groups} groups${silu ? ' + SiLU' : ''}`), async () => {
      const s = sp.reduce((a, d) => a * d, 1);
      // Far from zero mean: the variance must be taken around the mean.
      const x = randn(n * c * s, c).map((v) => 2 * v + 30), wt = randn(c, 2), b = randn(c, 3);
      const y = op.groupNorm(up(x, [n, c, ...sp]), groups, 1e-6, up(wt, [c]), up(b, [c]), silu);
      assert.equal(y.shape, [n, c, ...sp]);
      close(await values(y), refGroupNorm(x, n, c, s, groups, 1e-6, wt, b, silu), 1e-4, 'groupNorm');
    });
  }

  test(name('groupNorm refuses channels that do not split into the groups'), () => {
    const x = up(randn(12, 1), [1, 6, 2]);
    assert.throws(() => op.groupNorm(x, 4, 1e-6, up(randn(6, 1), [6]), up(randn(6, 2), [6])), /6 channels do not split into 4 groups/);
    assert.throws(() => op.groupNorm(x, 3, 1e-6, up(randn(4, 1), [4]), up(randn(6, 2), [6])), /affine parameter \[4\] does not fit 6 channels/);
  });

  test(name('upsampleNearest2x copies each value into a 2x2 square'), async () => {
    const x = up(Array.from({ length: 2 * 2 * 3 }, (_, i) => i), [1, 2, 2, 3]);
    const y = op.upsampleNearest2x(x);
    assert.equal(y.shape, [1, 2, 4, 6]);
    const expected: number[] = [];
    for (let c = 0; c < 2; c++) for (let oy = 0; oy < 4; oy++) for (let ox = 0; ox < 6; ox++) expected.push(c * 6 + (oy >> 1) * 3 + (ox >> 1));
    assert.equal(await values(y), expected);
    assert.throws(() => op.upsampleNearest2x(up([1, 2], [1, 2])), /expected x \[N, C, H, W\]/);
  });

  test(name('flagNonFinite sets bit j of flags[index] for each tensor j holding NaN or Inf'), async () => {
    const flags = be.upload(new Int32Array(6), [6], 'i32');
    // Finite extremes must not count: the largest f32, -0, a subnormal.
    const finite = up([3.4028234e38, -0, 1e-40, -1, 7], [5]);
    const nanLast = up([1, 2, 3, 4, NaN], [5]);
    const negInfFirst = up([-Infinity, 0, 0], [3]);
    // All sizes multiples of 4 (WebGPU's vec4 path), and one spanning several workgroups.
    const posInf = up([0, 0, 0, 0, 0, 0, Infinity, 0], [2, 4]);
    const finite8 = up([1, 2, 3, 4, 5, 6, 7, 8], [8]);
    const long = new Float32Array(1001);
    long[1000] = NaN;
    op.flagNonFinite([finite], flags, 0);
    op.flagNonFinite([finite, nanLast], flags, 1);
    op.flagNonFinite([negInfFirst, finite, nanLast], flags, 2);
    op.flagNonFinite([nanLast], flags, 2);
    op.flagNonFinite([finite8, posInf], flags, 3);
    op.flagNonFinite([up(long, [1001]), up([], [0])], flags, 5);
    assert.equal(Array.from(await flags.read()), [0, 2, 5, 2, 0, 1]);
    assert.throws(() => op.flagNonFinite([finite], flags, 6), /index 6 is out of range for 6 flags/);
    assert.throws(() => op.flagNonFinite([finite], finite, 0), /flags must be an i32 vector/);
    assert.throws(() => op.flagNonFinite([], flags, 0), /takes 1 to 4 tensors, got 0/);
  });

  test(name('ops on empty tensors give empty tensors of the right shape'), async () => {
    const e = up([], [0, 4]);
    const check = async (t: Tensor, shape: number[]) => {
      assert.equal(t.shape, shape);
      assert.equal(await values(t), []);
    };
    await check(op.add(e, up([1, 2, 3, 4], [1, 4])), [0, 4]);
    await check(op.gelu(e), [0, 4]);
    await check(op.linear(e, up(randn(12, 1), [3, 4]), up([1, 2, 3], [3]), 'silu'), [0, 3]);
    await check(op.linearCombination([e, e], [1, 2]), [0, 4]);
    await check(op.layerNorm(e, 1e-6), [0, 4]);
    await check(op.softmax(e), [0, 4]);
    await check(op.permute(e, [1, 0]), [4, 0]);
    await check(op.slice(up([1, 2, 3], [3]), 0, 1, 1), [0]);
    await check(op.concat([e, e], 0), [0, 4]);
    assert.equal(await values(op.concat([e, up([5, 6, 7, 8], [1, 4])], 0)), [5, 6, 7, 8]);
    const b = up([], [0, 2, 4]), g = up([], [0, 4]);
    await check(op.linearGatedResidual(b, g, 0, up([], [0, 2, 3]), up(randn(12, 1), [4, 3])), [0, 2, 4]);
    await check(op.layerNormModulate(b, g, 0, 0, 1e-6), [0, 2, 4]);
    await check(op.attention(b, b, b, 0.5), [0, 2, 4]);
    await check(op.embedding(up([1, 2], [1, 2]), be.upload(new Int32Array(0), [0], 'i32')), [0, 2]);
    await check(op.patchify(up([], [0, 1, 4, 4]), 2), [0, 4, 4]);
    await check(op.unpatchify(up([], [0, 4, 4]), 2, 1, 2, 2), [0, 1, 4, 4]);
    await check(op.conv2d(up([], [0, 2, 3, 3]), up(randn(36, 1), [2, 2, 3, 3]), up([1, 2], [2]), 1), [0, 2, 3, 3]);
    await check(op.groupNorm(up([], [0, 4, 2, 2]), 2, 1e-6, up([1, 1, 1, 1], [4]), up([0, 0, 0, 0], [4]), true), [0, 4, 2, 2]);
    await check(op.upsampleNearest2x(up([], [0, 1, 2, 2])), [0, 1, 4, 4]);
    const flags = be.upload(new Int32Array(1), [1], 'i32');
    op.flagNonFinite([e], flags, 0);
    assert.equal(await values(flags), [0]);
    await be.sync();
  });

  test(name('tidy releases intermediates and keeps the result'), async () => {
    const released: unknown[] = [];
    const original = be.release.bind(be);
    (be as Backend).release = (s) => { released.push(s); original(s); };
    try {
      const x = up([1, 2, 3], [3]);
      const y = tidy(() => op.add(op.mul(x, x), x));
      assert.is(released.length, 1, 'only x*x is released');
      assert.equal(await values(y), [2, 6, 12]);
    } finally {
      delete (be as Partial<{ release: unknown }>).release;
    }
  });
}

test.run();
