// The timestep sinusoid of DiT, FLUX and Qwen-Image (each puts an MLP after it; FLUX also embeds its
// guidance scale this way, and multiplies times in [0, 1] by 1000 first):
//   freqs_i = exp(-ln(10000) * i / 128), args = t * freqs, emb = [cos(args), sin(args)]  (cos first)
// Qwen-Image (diffusers' Timesteps with flip_sin_to_cos, scale=1000) gives the same [cos, sin] but
// scales after the product: args = 1000 * (t * freqs), rounded twice; `scale` selects that order.
// The official code computes it in float32 even for a float64 model, so every step here is rounded to
// f32 (Math.fround) in the same order as PyTorch's ops: at t = 999 the arguments reach ~999, where one
// f32 ulp is 6e-5, so this rounding is visible in the output, not a nicety.

export const FREQUENCY_SIZE = 256;
const MAX_PERIOD = 10000;

/**
 * [t.length, 256] row-major. t is the DDPM index (0..999) or, for FLUX, t * 1000. With `scale` the
 * arguments are fround(scale * fround(t * freqs)) (diffusers' get_timestep_embedding(scale=...)).
 */
export function timestepSinusoid(t: ArrayLike<number>, scale = 1): Float32Array {
  const half = FREQUENCY_SIZE / 2;
  const c = Math.fround(-Math.log(MAX_PERIOD));
  const freqs = new Float64Array(half);
  for (let i = 0; i < half; i++) freqs[i] = Math.fround(Math.exp(Math.fround(Math.fround(c * i) / half)));
  const out = new Float32Array(t.length * FREQUENCY_SIZE);
  for (let n = 0; n < t.length; n++) {
    const tn = Math.fround(t[n]);
    for (let i = 0; i < half; i++) {
      // fround(1 * a) is a: scale 1 leaves DiT's and FLUX's arguments bit for bit as they were.
      const arg = Math.fround(scale * Math.fround(tn * freqs[i]));
      out[n * FREQUENCY_SIZE + i] = Math.cos(arg);
      out[n * FREQUENCY_SIZE + half + i] = Math.sin(arg);
    }
  }
  return out;
}
