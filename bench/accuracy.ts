// How far a benchmarked result is from the truth: the error measure every benchmark row reports.

/** max|a - b| / max|b|. */
export function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`result has ${a.length} values, the reference ${b.length}`);
  let d = 0, s = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return d / s;
}

/** The CPU result's error against float64 on a sample of outputs. */
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
