// Plain-loop reference implementations in float64 for the op tests: written for clarity, independent
// of every backend's kernels, so a test compares a backend against the definition, not against itself.
// The error measure is core/accuracy.ts's maxRelErr, shared with the benchmarks.

export function randn(n: number, seed: number): Float32Array {
  // Deterministic xorshift32 + Box-Muller: tests must not depend on Math.random.
  let s = seed >>> 0 || 1;
  const uniform = () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  return out;
}

export function refLinear(x: Float32Array, w: Float32Array, b: Float32Array | null, m: number, k: number, n: number): Float64Array {
  const y = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = b ? b[j] : 0;
      for (let kk = 0; kk < k; kk++) s += x[i * k + kk] * w[j * k + kk];
      y[i * n + j] = s;
    }
  }
  return y;
}

export const refGelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
export const refSilu = (v: number) => v / (1 + Math.exp(-v));

export function refSoftmaxRow(row: ArrayLike<number>): number[] {
  const max = Math.max(...Array.from(row));
  const e = Array.from(row, (v) => Math.exp(v - max));
  const sum = e.reduce((a, v) => a + v, 0);
  return e.map((v) => v / sum);
}

export function refAttention(q: Float32Array, k: Float32Array, v: Float32Array, bh: number, t: number, d: number, scale: number): Float64Array {
  const o = new Float64Array(bh * t * d);
  for (let h = 0; h < bh; h++) {
    for (let i = 0; i < t; i++) {
      const scores = [];
      for (let j = 0; j < t; j++) {
        let s = 0;
        for (let c = 0; c < d; c++) s += q[(h * t + i) * d + c] * k[(h * t + j) * d + c];
        scores.push(s * scale);
      }
      const p = refSoftmaxRow(scores);
      for (let c = 0; c < d; c++) {
        let s = 0;
        for (let j = 0; j < t; j++) s += p[j] * v[(h * t + j) * d + c];
        o[(h * t + i) * d + c] = s;
      }
    }
  }
  return o;
}

/** PyTorch's Conv2d, stride 1, zero padding p: x [N, C, H, W], w [O, C, kh, kw] -> [N, O, oh, ow]. */
export function refConv2d(
  x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number> | null,
  [n, c, h, wd]: number[], [o, , kh, kw]: number[], p: number,
): Float64Array {
  const oh = h + 2 * p - kh + 1, ow = wd + 2 * p - kw + 1;
  const y = new Float64Array(n * o * oh * ow);
  for (let i = 0; i < n; i++)
    for (let oc = 0; oc < o; oc++)
      for (let oy = 0; oy < oh; oy++)
        for (let ox = 0; ox < ow; ox++) {
          let s = b ? b[oc] : 0;
          for (let ic = 0; ic < c; ic++)
            for (let ky = 0; ky < kh; ky++)
              for (let kx = 0; kx < kw; kx++) {
                const iy = oy + ky - p, ix = ox + kx - p;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                s += x[((i * c + ic) * h + iy) * wd + ix] * w[((oc * c + ic) * kh + ky) * kw + kx];
              }
          y[((i * o + oc) * oh + oy) * ow + ox] = s;
        }
  return y;
}

/** PyTorch's GroupNorm over x [N, C, S] with affine weight and bias [C], then SiLU if asked. */
export function refGroupNorm(
  x: ArrayLike<number>, n: number, c: number, s: number, groups: number, eps: number,
  weight: ArrayLike<number>, bias: ArrayLike<number>, silu = false,
): Float64Array {
  const y = new Float64Array(n * c * s);
  const per = c / groups, size = per * s;
  for (let g = 0; g < n * groups; g++) {
    const run = Array.from({ length: size }, (_, i) => x[g * size + i]);
    const mean = run.reduce((a, v) => a + v, 0) / size;
    const variance = run.reduce((a, v) => a + (v - mean) ** 2, 0) / size;
    for (let i = 0; i < size; i++) {
      const ch = (g % groups) * per + Math.floor(i / s);
      const v = ((run[i] - mean) / Math.sqrt(variance + eps)) * weight[ch] + bias[ch];
      y[g * size + i] = silu ? refSilu(v) : v;
    }
  }
  return y;
}
