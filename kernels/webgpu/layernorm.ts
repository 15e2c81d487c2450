// LayerNorm over the last dim (no affine parameters), optionally fused with DiT's modulate, and
// RMSNorm with a learned scale (FLUX's and Qwen-Image's query/key norms):
//   layer: y = (x - mean) / sqrt(var + eps) * (1 + scale[b]) + shift[b]      (biased variance, like PyTorch)
//   rms:   y = x / sqrt(mean(x^2) + eps) * weight[d]
//
// One workgroup normalises one row of D elements. Invocation t holds elements t, t + W, t + 2W, ... of
// the row in registers (W = workgroup size, `per` = ceil(D / W) values each), so the row is read from
// memory once even though it is used three times. LayerNorm reduces across the workgroup twice, for
// the mean and then the variance around it: the two-pass form, because the one-pass E[x^2] - E[x]^2
// cancels catastrophically when |mean| is large next to the spread. RMSNorm needs only the one sum of
// squares. W and the kind of reduction (a tree in workgroup memory, or subgroup operations on
// lavapipe) come from `rowPlan` in kernels/webgpu/kernel.ts.

import { f32, flatGrid, rowLoad, rowPlan, rowReduce, u32, type Kernel, type KernelCaps } from './kernel.js';

/**
 * LayerNorm of `rows` rows of length `dim`. With `modulateTokens` set, shift and scale are [B, dim]
 * and row r uses batch entry floor(r / modulateTokens).
 */
export function layerNormKernel(rows: number, dim: number, eps: number, modulateTokens: number | null, caps: KernelCaps): Kernel {
  const plan = rowPlan(dim, caps);
  const { W, per } = plan;
  const { grid, index } = flatGrid(rows, caps.maxGridDim);
  const modulate = modulateTokens !== null;
  return {
    key: `layerNorm|${rows}x${dim}|${eps}|${modulateTokens}|${W}${plan.subgroup ? 's' : ''}`,
    grid,
    wgsl: () => /* wgsl */ `${plan.subgroup ? 'enable subgroups;' : ''}
@group(0) @binding(0) var<storage, read> x: array<f32>;
${modulate ? `@group(0) @binding(1) var<storage, read> shift: array<f32>;
@group(0) @binding(2) var<storage, read> scale: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;` : '@group(0) @binding(1) var<storage, read_write> out: array<f32>;'}
${rowReduce('sum', plan, 'add')}

const D = ${u32(dim)};
@compute @workgroup_size(${W})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  var s = 0.0f;
  ${rowLoad(plan, rows, index, '0.0f', 's += v[j];')}
  let mean = sum(s, lid, half) / f32(D);
  var q = 0.0f;
  for (var j = 0u; j < ${u32(per)}; j++) {
    let d = lid + j * ${u32(W)};
    let c = select(0.0f, v[j] - mean, d < D);
    q += c * c;
  }
  let inv = inverseSqrt(sum(q, lid, half) / f32(D) + ${f32(eps)});
  if (row >= ${u32(rows)}) { return; }
${modulate ? `  let m = (row / ${u32(modulateTokens!)}) * D;` : ''}
  for (var j = 0u; j < ${u32(per)}; j++) {
    let d = lid + j * ${u32(W)};
    if (d < D) {
      out[base + d] = ${modulate ? '(v[j] - mean) * inv * (1.0f + scale[m + d]) + shift[m + d]' : '(v[j] - mean) * inv'};
    }
  }
}`,
  };
}

/** RMSNorm of `rows` rows of length `dim` with a learned scale `weight` [dim]. */
export function rmsNormKernel(rows: number, dim: number, eps: number, caps: KernelCaps): Kernel {
  const plan = rowPlan(dim, caps);
  const { W, per } = plan;
  const { grid, index } = flatGrid(rows, caps.maxGridDim);
  return {
    key: `rmsNorm|${rows}x${dim}|${eps}|${W}${plan.subgroup ? 's' : ''}`,
    grid,
    wgsl: () => /* wgsl */ `${plan.subgroup ? 'enable subgroups;' : ''}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
${rowReduce('sum', plan, 'add')}

const D = ${u32(dim)};
@compute @workgroup_size(${W})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  var q = 0.0f;
  ${rowLoad(plan, rows, index, '0.0f', 'q += v[j] * v[j];')}
  let inv = inverseSqrt(sum(q, lid, half) / f32(D) + ${f32(eps)});
  if (row >= ${u32(rows)}) { return; }
  for (var j = 0u; j < ${u32(per)}; j++) {
    let d = lid + j * ${u32(W)};
    if (d < D) {
      out[base + d] = v[j] * inv * weight[d];
    }
  }
}`,
  };
}
