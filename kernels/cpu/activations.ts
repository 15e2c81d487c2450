// The activation functions of the CPU backend: the elementwise ops and the matmul epilogue call
// these same functions, so a fused `linear(..., 'gelu')` and a separate `gelu(linear(...))` agree.

import type { Activation } from '../../core/backend.js';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** GELU, tanh approximation (PyTorch's approximate="tanh"). */
export function gelu(v: number): number {
  return 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)));
}

export function silu(v: number): number {
  return v / (1 + Math.exp(-v));
}

export function activate(act: Activation, v: number): number {
  return act === 'gelu' ? gelu(v) : act === 'silu' ? silu(v) : v;
}
