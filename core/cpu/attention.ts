// The CPU's attention: o = softmax(q k^T * scale) v for q, k, v [BH, T, hd], one query row at a time.
//
// A query row's T scores fit in a small scratch array, so the full T x T matrix never exists; the
// softmax is exact (max-subtracted) because the whole row is known before normalising. The score loop
// takes 4 keys per pass (4 independent accumulators); the P·V loop streams rows of v contiguously.
// Threads split the flattened (head, query) rows, so even one head with many tokens parallelises.

export interface AttentionArgs {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  o: Float32Array;
  tokens: number;
  headDim: number;
  scale: number;
}

/** Computes output rows [rowStart, rowEnd) of the flattened [BH * T] query rows. */
export function attentionRows(a: AttentionArgs, rowStart: number, rowEnd: number): void {
  const { q, k, v, o, tokens: T, headDim: D, scale } = a;
  const scores = new Float64Array(T);
  const acc = new Float64Array(D);
  for (let row = rowStart; row < rowEnd; row++) {
    const head = Math.floor(row / T);
    const qo = row * D;
    const kv = head * T * D;
    let max = -Infinity;
    let j = 0;
    for (; j + 4 <= T; j += 4) {
      const k0 = kv + j * D, k1 = k0 + D, k2 = k1 + D, k3 = k2 + D;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let d = 0; d < D; d++) {
        const qd = q[qo + d];
        s0 += qd * k[k0 + d]; s1 += qd * k[k1 + d]; s2 += qd * k[k2 + d]; s3 += qd * k[k3 + d];
      }
      scores[j] = s0 * scale; scores[j + 1] = s1 * scale; scores[j + 2] = s2 * scale; scores[j + 3] = s3 * scale;
      max = Math.max(max, scores[j], scores[j + 1], scores[j + 2], scores[j + 3]);
    }
    for (; j < T; j++) {
      const k0 = kv + j * D;
      let s = 0;
      for (let d = 0; d < D; d++) s += q[qo + d] * k[k0 + d];
      scores[j] = s * scale;
      max = Math.max(max, scores[j]);
    }
    let sum = 0;
    acc.fill(0);
    for (let jj = 0; jj < T; jj++) {
      const p = Math.exp(scores[jj] - max);
      sum += p;
      const vo = kv + jj * D;
      for (let d = 0; d < D; d++) acc[d] += p * v[vo + d];
    }
    const inv = 1 / sum;
    for (let d = 0; d < D; d++) o[qo + d] = acc[d] * inv;
  }
}
