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

/** Where a modulated LayerNorm reads shift and scale: rows of a table [B, width], one per `tokens` rows of x, at these columns. */
export interface ModulationLayout {
  tokens: number;
  width: number;
  shift: number;
  scale: number;
}

/**
 * LayerNorm of `rows` rows of length `dim`. With `modulation`, row r reads shift and scale from row
 * floor(r / tokens) of the modulation table (an adaLN output, its chunks read in place).
 */
export function layerNormKernel(rows: number, dim: number, eps: number, modulation: ModulationLayout | null, caps: KernelCaps): Kernel {
  const plan = rowPlan(dim, caps);
  const { W, per } = plan;
  const { grid, index } = flatGrid(rows, caps.maxGridDim);
  const m = modulation;
  const modKey = m ? `${m.tokens}:${m.width}:${m.shift}:${m.scale}` : '-';
  return {
    key: `layerNorm|${rows}x${dim}|${eps}|${modKey}|${W}${plan.subgroup ? 's' : ''}`,
    grid,
    wgsl: () => /* wgsl */ `${plan.subgroup ? 'enable subgroups;' : ''}
@group(0) @binding(0) var<storage, read> x: array<f32>;
${m ? `@group(0) @binding(1) var<storage, read> modulation: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;` : '@group(0) @binding(1) var<storage, read_write> out: array<f32>;'}
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
${m ? `  let m = (row / ${u32(m.tokens)}) * ${u32(m.width)};` : ''}
  for (var j = 0u; j < ${u32(per)}; j++) {
    let d = lid + j * ${u32(W)};
    if (d < D) {
      out[base + d] = ${m ? `(v[j] - mean) * inv * (1.0f + modulation[m + ${u32(m.scale)} + d]) + modulation[m + ${u32(m.shift)} + d]` : '(v[j] - mean) * inv'};
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
