// Elementwise kernels: broadcast add/sub/mul, GELU and SiLU, and the weighted sums that forecast skipped
// steps. (DiT's gated residual is the epilogue of the matmul before it: kernels/webgpu/matmul.ts.)
//
// One invocation computes one output element; a workgroup is 256 of them in a row. These ops read and
// write every element once and do a few FLOPs each, so they are bound by memory bandwidth and the only
// thing worth optimising is the index arithmetic: all shapes and strides are baked into the source,
// so "i / 1152u" compiles to a multiply-shift, and an operand that is not broadcast is read at the
// output index itself. All three ops come from one generator, `mapKernel` (kernels/webgpu/kernel.ts): an op
// is a list of inputs, each with the WGSL expression of its index, and the expression that combines them.
//
// The activation functions come from activations.ts, the same WGSL the matmul epilogue includes, so
// `linear(..., 'gelu')` and `gelu(linear(...))` agree to the last bit.

import type { BinaryOp, UnaryOp } from '../../core/backend.js';
import type { Shape } from '../../core/shape.js';
import { broadcastStrides } from '../strides.js';
import { ACTIVATIONS_WGSL } from './activations.js';
import { mapKernel, u32, type Kernel, type KernelCaps } from './kernel.js';

/**
 * The WGSL index of an operand read through broadcast strides of `outShape`: the output index i is
 * split into coordinates (innermost first) and each coordinate times the operand's stride is summed.
 * Dims where the operand is stretched (stride 0) cost nothing, and an operand with the output's own
 * shape is read at i directly.
 */
function broadcastIndex(shape: Shape, outShape: Shape): string {
  const strides = broadcastStrides(shape, outShape);
  const size = shape.reduce((a, d) => a * d, 1);
  const outSize = outShape.reduce((a, d) => a * d, 1);
  if (size === outSize) return 'i';
  if (size === 1) return '0u';
  // Coordinate d of the output is (i / below[d]) % outShape[d], where below[d] is the product of the dims after d.
  const terms: string[] = [];
  let below = 1;
  for (let d = outShape.length - 1; d >= 0; d--) {
    if (strides[d] !== 0 && outShape[d] !== 1) {
      const coord = below === 1 ? `i % ${u32(outShape[d])}` : d === 0 ? `i / ${u32(below)}` : `(i / ${u32(below)}) % ${u32(outShape[d])}`;
      terms.push(strides[d] === 1 ? `(${coord})` : `(${coord}) * ${u32(strides[d])}`);
    }
    below *= outShape[d];
  }
  return terms.join(' + ');
}

const BINARY_EXPR: Record<BinaryOp, string> = { add: 'a_v + b_v', sub: 'a_v - b_v', mul: 'a_v * b_v' };

/** A shape with its last dim counted in vec4s. */
const inVec4 = (shape: Shape): number[] => shape.map((d, i) => (i === shape.length - 1 ? d / 4 : d));

/** out = a op b with NumPy broadcasting to `outShape`. */
export function binaryKernel(op: BinaryOp, aShape: Shape, bShape: Shape, outShape: Shape, caps: KernelCaps): Kernel {
  const size = outShape.reduce((x, d) => x * d, 1);
  const last = outShape[outShape.length - 1];
  const numel = (s: Shape) => s.reduce((x, d) => x * d, 1);
  // vec4s work when every operand either spans the output's last dim or is a single value (splat).
  const spans = (s: Shape) => s.length > 0 && s[s.length - 1] === last;
  const vec = last % 4 === 0 && [aShape, bShape].every((s) => numel(s) === 1 || spans(s));
  const input = (name: string, shape: Shape) => {
    if (!vec) return { name, index: broadcastIndex(shape, outShape) };
    if (numel(shape) === 1) return { name, index: '0u' };
    return { name, index: broadcastIndex(inVec4(shape), inVec4(outShape)), vec4: true };
  };
  const a = input('a', aShape), b = input('b', bShape);
  // A single value read as f32 is splatted to a vec4 by WGSL's vector-scalar arithmetic.
  return mapKernel(
    `binary|${op}|${aShape.join('x')}|${bShape.join('x')}|${outShape.join('x')}`,
    vec ? size / 4 : size,
    [a, b],
    BINARY_EXPR[op],
    caps,
    { vec4: vec },
  );
}

/** out = f(x) for f = gelu or silu. */
export function unaryKernel(op: UnaryOp, size: number, caps: KernelCaps): Kernel {
  const vec = size % 4 === 0;
  return mapKernel(`unary|${op}`, vec ? size / 4 : size, [{ name: 'x', index: 'i', vec4: vec }], `${op}${vec ? '4' : ''}(x_v)`, caps, {
    prelude: ACTIVATIONS_WGSL,
    vec4: vec,
  });
}

/**
 * The most terms one linearCombination dispatch takes: the shader binds the output, the weights and a
 * running sum besides them, and a few more bindings buy little once one pass reads 8 inputs.
 */
export function combinationTerms(caps: KernelCaps): number {
  return Math.max(1, Math.min(8, caps.maxStorageBuffers - 3));
}

/**
 * out = [acc +] w0 * x0 + w1 * x1 + ... over tensors of `size` elements, summed left to right as a
 * chain of mul and add ops would. A dispatch has `slots` inputs, of which the first n count: the
 * buffer `w` holds n and then the weights, and the slots past n (bound to any tensor) are skipped by
 * a select, so every forecast of a shape shares two pipelines (with and without acc) whatever its
 * number of terms; compiling one per count cost lavapipe about a second on first use. Longer sums run
 * as several dispatches, each adding its terms to the previous one's output (acc).
 */
export function linearCombinationKernel(size: number, slots: number, accumulate: boolean, caps: KernelCaps): Kernel {
  const vec = size % 4 === 0;
  const type = vec ? 'vec4<f32>' : 'f32';
  const xs = Array.from({ length: slots }, (_, j) => ({ name: `x${j}`, index: 'i', vec4: vec }));
  const inputs = [{ name: 'w', index: '0u' }, ...(accumulate ? [{ name: 'acc', index: 'i', vec4: vec }] : []), ...xs];
  let sum = accumulate ? 'acc_v + w[1] * x0_v' : 'w[1] * x0_v';
  for (let j = 1; j < slots; j++) sum = `term(${sum}, ${u32(j)}, x${j}_v)`;
  return mapKernel(`linearCombination|${slots}${accumulate ? '+acc' : ''}`, vec ? size / 4 : size, inputs, sum, caps, {
    vec4: vec,
    // w_v = w[0] is the number of terms in use (an f32, exact for any count).
    prelude: `fn term(s: ${type}, j: u32, x: ${type}) -> ${type} { return select(s, s + w[j + 1u] * x, f32(j) < w[0]); }`,
  });
}
