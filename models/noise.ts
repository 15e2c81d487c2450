// Seeded Gaussian noise, so a (class, seed) pair gives the same image on every run and every backend.
// xoshiro128** for uniforms (small, fast, well-tested) and Box-Muller for normals.

function xoshiro128ss(seed: number): () => number {
  // SplitMix32 expands the seed into the four state words.
  let s = seed >>> 0;
  const split = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split(), b = split(), c = split(), d = split();
  return () => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a; d ^= b; b ^= c; a ^= d; c ^= t;
    d = rotl(d, 11);
    return result / 4294967296;
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** n standard normal f32 values from `seed`. */
export function gaussian(n: number, seed: number): Float32Array {
  const uniform = xoshiro128ss(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    // 1 - u keeps the log argument in (0, 1].
    const r = Math.sqrt(-2 * Math.log(1 - uniform()));
    const theta = 2 * Math.PI * uniform();
    out[i] = r * Math.cos(theta);
    if (i + 1 < n) out[i + 1] = r * Math.sin(theta);
  }
  return out;
}

/** Noise for a batch: sample b gets gaussian(size, seeds[b]), so each image depends on its own seed only. */
export function batchNoise(seeds: readonly number[], size: number): Float32Array {
  const out = new Float32Array(seeds.length * size);
  seeds.forEach((seed, b) => out.set(gaussian(size, seed), b * size));
  return out;
}
