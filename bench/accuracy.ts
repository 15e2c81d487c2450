// The benchmarks' float64 references on a sample of outputs: the CPU rows' error, where there is no
// other backend's result to compare with, and computing every output in float64 would outlast the
// benchmark. The measure is core/accuracy.ts's, as everywhere.

import { maxRelErr } from '../core/accuracy.js';

/** y = x · w^T (x [M, K], w [N, K]) against float64 dot products on 64 outputs. */
export function matmulSampleErr(x: Float32Array, w: Float32Array, out: Float32Array, m: number, k: number, n: number): number {
  const idx = Array.from({ length: 64 }, (_, i) => (i * 7919) % (m * n));
  const exact = idx.map((o) => {
    const i = Math.floor(o / n), j = o % n;
    let s = 0;
    for (let kk = 0; kk < k; kk++) s += x[i * k + kk] * w[j * k + kk];
    return s;
  });
  return maxRelErr(idx.map((o) => out[o]), exact);
}

/** softmax(q k^T * scale) v over [BH, T, hd] against float64 on 16 query rows. */
export function attentionSampleErr(q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, bh: number, t: number, hd: number, scale: number): number {
  const got: number[] = [], exact: number[] = [];
  for (let r = 0; r < 16; r++) {
    const row = (r * 7919) % (bh * t); // one query row: head * t + query
    const head = Math.floor(row / t);
    const scores = Array.from({ length: t }, (_, j) => {
      let s = 0;
      for (let d = 0; d < hd; d++) s += q[row * hd + d] * k[(head * t + j) * hd + d];
      return s * scale;
    });
    const max = Math.max(...scores);
    const p = scores.map((s) => Math.exp(s - max));
    const sum = p.reduce((a, b) => a + b, 0);
    for (let d = 0; d < hd; d++) {
      let o = 0;
      for (let j = 0; j < t; j++) o += p[j] * v[(head * t + j) * hd + d];
      exact.push(o / sum);
      got.push(out[row * hd + d]);
    }
  }
  return maxRelErr(got, exact);
}
