// The activation functions of the WebGPU backend, as WGSL: one definition that the elementwise
// kernels and the matmul epilogue both include, so a fused `linear(..., 'gelu')` and a separate
// `gelu(linear(...))` agree to the last bit.

/**
 * GELU (tanh approximation, PyTorch's approximate="tanh") and SiLU, for f32 and vec4<f32>. tanh is
 * written out through exp of a non-positive argument: builtin tanh is exp(2u)-based on some drivers and
 * returns inf/inf = NaN for large u, where this form saturates to +-1.
 */
function activationsFor(suffix: string, t: string): string {
  return /* wgsl */ `
fn gelu${suffix}(v: ${t}) -> ${t} {
  let u = 0.7978845608028654f * (v + 0.044715f * v * v * v);
  let e = exp(-2.0f * abs(u));
  let t = sign(u) * (1.0f - e) / (1.0f + e);
  return 0.5f * v * (1.0f + t);
}
fn silu${suffix}(v: ${t}) -> ${t} {
  return v / (1.0f + exp(-v));
}`;
}

/** gelu, silu (f32) and gelu4, silu4 (vec4<f32>). */
export const ACTIVATIONS_WGSL = activationsFor('', 'f32') + activationsFor('4', 'vec4<f32>');
