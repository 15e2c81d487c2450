import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cholesky, choleskySolve, projectionResiduals, regularisedCholesky, submatrix } from '../../../predictors/fit/linalg.js';
import { randn } from '../../reference.js';

/** A^T A for a random m x n A: symmetric positive definite when m >= n. */
function spd(n: number, m: number, seed: number): { g: Float64Array; vecs: Float32Array[] } {
  const vecs = Array.from({ length: n }, (_, i) => randn(m, seed + i));
  const g = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) g[i * n + j] = vecs[i]!.reduce((a, v, k) => a + v * vecs[j]![k]!, 0);
  return { g, vecs };
}

test('Cholesky solves, and a leading block of the factor solves the leading block', () => {
  const n = 6;
  const { g } = spd(n, 10, 1);
  const l = cholesky(g, n)!;
  for (const t of [6, 4, 1]) {
    const b = Array.from({ length: t }, (_, i) => i - 1.5);
    const x = choleskySolve(l, n, b, t);
    for (let i = 0; i < t; i++) {
      let s = 0;
      for (let j = 0; j < t; j++) s += g[i * n + j]! * x[j]!;
      assert.ok(Math.abs(s - b[i]!) < 1e-9, `t=${t} row ${i}`);
    }
  }
  assert.is(cholesky(Float64Array.from([1, 2, 2, 1]), 2), null, 'indefinite');
  assert.ok(regularisedCholesky(Float64Array.from([1, 1, 1, 1]), 2, 0).ridge > 0, 'singular: the ridge grows');
  assert.equal(Array.from(submatrix(Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]), 3, [0, 2])), [1, 3, 7, 9]);
});

test('projection residuals equal explicit Gram-Schmidt, and a dependent vector has residual 0', () => {
  const n = 5, m = 9;
  const { vecs } = spd(n, m, 3);
  vecs.push(Float32Array.from(vecs[0]!, (v, k) => 2 * v - vecs[2]![k]!)); // in the span
  const N = vecs.length;
  const g = new Float64Array(N * N);
  for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) g[i * N + j] = vecs[i]!.reduce((a, v, k) => a + v * vecs[j]![k]!, 0);
  const res = projectionResiduals(g, N);
  const basis: Float64Array[] = [];
  vecs.forEach((v, i) => {
    const r = Float64Array.from(v);
    for (const q of basis) {
      const dot = r.reduce((a, x, k) => a + x * q[k]!, 0);
      r.forEach((_, k) => (r[k] -= dot * q[k]!));
    }
    const norm = Math.hypot(...r);
    assert.ok(Math.abs(res[i]! - norm) < 1e-5 * Math.hypot(...v), `vector ${i}: ${res[i]} vs ${norm}`);
    if (norm > 1e-6) basis.push(r.map((x) => x / norm));
  });
  assert.is(res[N - 1], 0);
});

test.run();
